/**
 * Sequence definitions in the service: periods counted on their own with an
 * injected clock (year ends in Pacific/Kiritimati and America/Los_Angeles,
 * a DST change, a leap day), across a restart of the embedded store and
 * across two servers sharing PostgreSQL; formats and check digits; `last` as
 * a ticket; the rules that refuse a change that could repeat a value; and
 * deleting a sequence (its tombstone keeps the counter).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { computeCheck } from '../../src/core/check-digits.js';
import type { Numbering } from '../../src/core/numbering.js';
import { checkChange, mergeSettings, parseSettingsChange, SequenceDefinition, DEFAULT_SETTINGS } from '../../src/core/sequence-definitions.js';
import { SlotMap } from '../../src/core/numbering.js';
import type { Ticket } from '../../src/core/ticket.js';
import { TicketService, type TicketServiceOptions } from '../../src/service/ticket-service.js';
import { LmdbStore } from '../../src/store/lmdb-store.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { createStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';
import { dbAvailable, destroyAllDbServers, emptyStoreUri, startPostgres, type DbServer } from '../helpers/db-servers.js';
import { expectCode } from '../helpers/ticket-errors.js';

const ONE: Numbering = { instance: 1, instances: 1, offset: 1n };
const INVOICE = { period: 'yearly', format: 'INV-{yyyy}-{value:6}{check}', check: 'luhn' };

/** A clock tests move by hand. */
class Clock {
  constructor(public ms: number) {}
  readonly now = (): number => this.ms;
  set(iso: string): void {
    this.ms = Date.parse(iso);
  }
}

const services: TicketService[] = [];
const directories: string[] = [];

async function startService(store: Store, clock: Clock, options: Partial<TicketServiceOptions> = {}): Promise<TicketService> {
  const service = new TicketService({ store, numbering: ONE, now: clock.now, ...options });
  services.push(service);
  await service.start();
  return service;
}

async function stopAll(): Promise<void> {
  for (const service of services.splice(0)) {
    await service.close();
    await service.store.close();
  }
}

afterEach(stopAll);
afterAll(async () => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
  await destroyAllDbServers();
});

/** Splits `INV-2027-0000018` into year, value and check digit, and checks the Luhn digit. */
function readInvoice(ticket: Ticket): { year: string; value: bigint } {
  expect(typeof ticket).toBe('string');
  const match = /^INV-(\d{4})-(\d{6,})(\d)$/.exec(ticket as string);
  expect(match, String(ticket)).not.toBeNull();
  const [, year, digits, check] = match as unknown as [string, string, string, string];
  const value = BigInt(digits);
  expect(computeCheck('luhn', value.toString())).toBe(check);
  return { year, value };
}

async function issue(service: TicketService, name: string, count: number): Promise<Ticket[]> {
  const tickets: Ticket[] = [];
  for (let index = 0; index < count; index++) tickets.push(await service.nextValue(name));
  return tickets;
}

describe('settings changes (pure rules)', () => {
  const map = new SlotMap(ONE);
  const MAX = (1n << 63n) - 1n;

  it('merges: fields left out keep their value, null resets one', () => {
    const first = mergeSettings(DEFAULT_SETTINGS, parseSettingsChange({ period: 'monthly', format: '{period}-{value}', max: '500' }));
    const second = mergeSettings(first, parseSettingsChange({ check: 'damm', max: null }));
    expect(second).toEqual({ period: 'monthly', format: '{period}-{value}', check: 'damm', timezone: 'UTC' });
  });

  it.each([
    ['an unknown field', { colour: 'blue' }],
    ['a period that does not exist', { period: 'weekly' }],
    ['a check that does not exist', { check: 'crc32' }],
    ['a time zone that does not exist', { timezone: 'Mars/Olympus_Mons' }],
    ['a negative max', { max: -1 }],
    ['a max of 0', { max: '0' }],
    ['a format that is a number', { format: 7 }],
    ['force that is not a boolean', { force: 'yes' }],
    ['an array', ['period']],
  ])('refuses %s with EBADREQ', async (_label, body) => {
    await expectCode(() => parseSettingsChange(body), 'EBADREQ');
  });

  it.each([
    ['a yearly period with a format that cannot show the year', { period: 'yearly', format: 'N{value}' }],
    ['a period without any format', { period: 'daily' }],
    ['a format without {value}', { format: 'INV-{yyyy}' }],
    ['a format with an unknown field', { format: '{value}-{hh}' }],
    ['a format with a space', { format: 'INV {value}' }],
    ['{check} without a check kind', { format: '{value}{check}' }],
  ])('refuses %s with EBADREQ when compiled', async (_label, body) => {
    const settings = mergeSettings(DEFAULT_SETTINGS, parseSettingsChange(body));
    await expectCode(() => new SequenceDefinition('s', settings, map, MAX), 'EBADREQ');
  });

  it('refuses a max below what was reserved, and a new look once values were issued; allows plain → lettered format', async () => {
    const plain = DEFAULT_SETTINGS;
    const lettered = mergeSettings(plain, parseSettingsChange({ format: 'N-{value}' }));
    const digitsOnly = mergeSettings(plain, parseSettingsChange({ check: 'luhn' }));
    const compile = (settings: typeof plain): SequenceDefinition => new SequenceDefinition('s', settings, map, MAX);
    const used = { used: true, reservedUpTo: 40n };
    await expectCode(() => checkChange(plain, { ...plain, max: 39n }, compile({ ...plain, max: 39n }), used), 'EBADREQ');
    expect(() => checkChange(plain, { ...plain, max: 40n }, compile({ ...plain, max: 40n }), used)).not.toThrow();
    // 12 then a Luhn digit reads "125": could equal an old plain 125. Refused.
    await expectCode(() => checkChange(plain, digitsOnly, compile(digitsOnly), used), 'EBADREQ');
    expect(() => checkChange(plain, lettered, compile(lettered), used)).not.toThrow();
    const relettered = mergeSettings(lettered, parseSettingsChange({ format: 'M-{value}' }));
    await expectCode(() => checkChange(lettered, relettered, compile(relettered), used), 'EBADREQ');
    // Nothing issued yet: any look.
    expect(() => checkChange(lettered, relettered, compile(relettered), { used: false, reservedUpTo: undefined })).not.toThrow();
  });
});

describe('periods with an injected clock', () => {
  it('restarts at 1 at the new year in Pacific/Kiritimati (UTC+14), at local midnight, not UTC midnight', async () => {
    const clock = new Clock(Date.parse('2026-12-31T09:59:58Z')); // 23:59:58 on 31 Dec in Kiritimati
    const service = await startService(new MemoryStore(), clock);
    await service.settings.define('INV', { ...INVOICE, timezone: 'Pacific/Kiritimati' });
    const before = (await issue(service, 'INV', 5)).map(readInvoice);
    expect(before.map((ticket) => ticket.year)).toEqual(['2026', '2026', '2026', '2026', '2026']);
    expect(before.map((ticket) => ticket.value)).toEqual([1n, 2n, 3n, 4n, 5n]);
    clock.set('2026-12-31T09:59:59.999Z'); // last millisecond of the year there
    expect(readInvoice(await service.nextValue('INV'))).toEqual({ year: '2026', value: 6n });
    clock.set('2026-12-31T10:00:00Z'); // 1 January 2027, 00:00 in Kiritimati; still 2026 in UTC
    const after = (await issue(service, 'INV', 3)).map(readInvoice);
    expect(after).toEqual([
      { year: '2027', value: 1n },
      { year: '2027', value: 2n },
      { year: '2027', value: 3n },
    ]);
    expect(service.describe('INV')?.period).toBe('2027');
  });

  it('counts 31 Dec in America/Los_Angeles in the old year until 08:00 UTC on 1 Jan', async () => {
    const clock = new Clock(Date.parse('2027-01-01T07:59:59Z')); // 23:59:59 on 31 Dec 2026 in Los Angeles
    const service = await startService(new MemoryStore(), clock);
    await service.settings.define('INV', { ...INVOICE, timezone: 'America/Los_Angeles' });
    expect(readInvoice(await service.nextValue('INV'))).toEqual({ year: '2026', value: 1n });
    clock.set('2027-01-01T08:00:00Z');
    expect(readInvoice(await service.nextValue('INV'))).toEqual({ year: '2027', value: 1n });
    // A request of several values is in one period.
    const values = await service.next('INV', 3);
    expect(values.map(readInvoice).map((ticket) => ticket.value)).toEqual([2n, 3n, 4n]);
  });

  it('changes the day at local midnight across a DST change and a leap day (daily, America/Los_Angeles)', async () => {
    const clock = new Clock(Date.parse('2026-03-08T07:59:59Z')); // 23:59:59 on 7 Mar (PST); DST starts at 02:00 on 8 Mar
    const service = await startService(new MemoryStore(), clock);
    await service.settings.define('D', { period: 'daily', timezone: 'America/Los_Angeles', format: '{period}/{value}' });
    expect(await service.nextValue('D')).toBe('2026-03-07/1');
    clock.set('2026-03-08T08:00:00Z'); // 00:00 on 8 Mar
    expect(await service.nextValue('D')).toBe('2026-03-08/1');
    clock.set('2026-03-09T06:59:59Z'); // 23:59:59 PDT on 8 Mar (a 23-hour day)
    expect(await service.nextValue('D')).toBe('2026-03-08/2');
    clock.set('2026-03-09T07:00:00Z');
    expect(await service.nextValue('D')).toBe('2026-03-09/1');
    clock.set('2028-02-29T07:59:59Z'); // 23:59:59 on 28 Feb 2028 (PST)
    expect(await service.nextValue('D')).toBe('2028-02-28/1');
    clock.set('2028-02-29T08:00:00Z');
    expect(await service.nextValue('D')).toBe('2028-02-29/1');
    clock.set('2028-03-01T08:00:00Z');
    expect(await service.nextValue('D')).toBe('2028-03-01/1');
  });

  it('continues a period after a restart on the embedded store, and starts the next at 1, without a repeat', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'ticket-periods-'));
    directories.push(directory);
    const clock = new Clock(Date.parse('2026-12-31T23:59:00Z'));
    const openLmdb = async (): Promise<Store> => {
      const store = new LmdbStore(directory);
      await store.open();
      return store;
    };
    const first = await startService(await openLmdb(), clock);
    await first.settings.define('INV', INVOICE);
    const seen = new Set<Ticket>(await issue(first, 'INV', 20));
    // A crash would lose the unissued rest of the lease; a graceful stop hands it back.
    await stopAll();
    const second = await startService(await openLmdb(), clock);
    const continued = await issue(second, 'INV', 5);
    expect(continued.map(readInvoice).map((ticket) => ticket.value)).toEqual([21n, 22n, 23n, 24n, 25n]);
    clock.set('2027-01-01T00:00:00Z');
    const next = await issue(second, 'INV', 5);
    expect(next.map(readInvoice)).toEqual([1n, 2n, 3n, 4n, 5n].map((value) => ({ year: '2027', value })));
    for (const ticket of [...continued, ...next]) {
      expect(seen.has(ticket)).toBe(false);
      seen.add(ticket);
    }
    // Back in 2026 (a clock set back): the 2026 counter continues; it never starts over.
    clock.set('2026-12-31T23:59:30Z');
    expect(readInvoice(await second.nextValue('INV'))).toEqual({ year: '2026', value: 26n });
  });

  it('reads last as a ticket: one of this period moves the counter, one of another period is ignored, a wrong one is refused', async () => {
    const clock = new Clock(Date.parse('2026-06-01T00:00:00Z'));
    const service = await startService(new MemoryStore(), clock);
    await service.settings.define('INV', INVOICE);
    const first = readInvoice(await service.nextValue('INV'));
    expect(first.value).toBe(1n);
    const ahead = `INV-2026-000500${computeCheck('luhn', '500')}`;
    expect(readInvoice(await service.nextValue('INV', ahead))).toEqual({ year: '2026', value: 501n });
    const lastYear = `INV-2025-009000${computeCheck('luhn', '9000')}`;
    expect(readInvoice(await service.nextValue('INV', lastYear))).toEqual({ year: '2026', value: 502n });
    const wrongCheck = `INV-2026-009000${(Number(computeCheck('luhn', '9000')) + 1) % 10}`;
    await expectCode(() => service.nextValue('INV', wrongCheck), 'EBADREQ');
    await expectCode(() => service.nextValue('INV', 'ORD-2026-0000018'), 'EBADREQ');
    expect(readInvoice(await service.nextValue('INV'))).toEqual({ year: '2026', value: 503n });
    // A plain sequence refuses a text last and stays where it was.
    expect(await service.nextValue('plain')).toBe(1n);
    await expectCode(() => service.nextValue('plain', ahead), 'EBADREQ');
    expect(await service.nextValue('plain')).toBe(2n);
  });
});

describe('settings changes on a live sequence', () => {
  it('applies max at once, refuses one below what was issued, and --js-safe caps every sequence at 2^53 - 1', async () => {
    const clock = new Clock(Date.now());
    const service = await startService(new MemoryStore(), clock, { maxValue: 2n ** 53n - 1n });
    await service.next('m', 10);
    await expectCode(() => service.settings.define('m', { max: 5 }), 'EBADREQ');
    await service.settings.define('m', { max: 12 });
    expect(await service.next('m', 2)).toEqual([11n, 12n]);
    await expectCode(() => service.nextValue('m'), 'EXHAUSTED');
    await service.raiseFloor('safe', 2n ** 53n - 3n, true);
    expect(await service.next('safe', 2)).toEqual([2n ** 53n - 2n, 2n ** 53n - 1n]);
    await expectCode(() => service.nextValue('safe'), 'EXHAUSTED');
  });

  it('refuses a new look once values were issued and leaves everything as it was', async () => {
    const clock = new Clock(Date.parse('2026-06-01T00:00:00Z'));
    const service = await startService(new MemoryStore(), clock);
    await service.settings.define('INV', INVOICE);
    await issue(service, 'INV', 3);
    await expectCode(() => service.settings.define('INV', { format: 'INV{yyyy}{value:6}{check}' }), 'EBADREQ');
    await expectCode(() => service.settings.define('INV', { period: 'monthly', format: '{period}-{value}' }), 'EBADREQ');
    expect((await service.settings.describe('INV')).settings).toMatchObject({ format: INVOICE.format, period: 'yearly' });
    expect(readInvoice(await service.nextValue('INV')).value).toBe(4n);
    // The time zone may change: each period keeps its own counter.
    await service.settings.define('INV', { timezone: 'Pacific/Kiritimati' });
    expect(readInvoice(await service.nextValue('INV')).value).toBe(5n);
    // Plain numbers may get a lettered format: no new ticket can equal an old number.
    expect(await service.next('orders', 2)).toEqual([1n, 2n]);
    await service.settings.define('orders', { format: 'ORD-{value:5}' });
    expect(await service.nextValue('orders')).toBe('ORD-00003');
  });

  it('deletes a sequence: it stops counting toward the limit, and a new one under its name continues above', async () => {
    const clock = new Clock(Date.now());
    const store = new MemoryStore();
    const service = await startService(store, clock, { maxSequences: 2 });
    expect(await service.next('a', 3)).toEqual([1n, 2n, 3n]);
    await service.nextValue('b');
    await expectCode(() => service.nextValue('c'), 'ELIMIT');
    await service.settings.remove('a');
    expect(await service.nextValue('c')).toBe(1n);
    await expectCode(() => service.settings.remove('a'), 'ENOSEQ');
    await service.settings.remove('c');
    expect(await service.nextValue('a')).toBe(4n);
    // After a restart the tombstone still frees its place.
    await service.close();
    services.splice(services.indexOf(service), 1);
    const again = await startService(store, clock, { maxSequences: 2 });
    expect(again.sequenceCount).toBe(2);
    await expectCode(() => again.nextValue('c'), 'ELIMIT');
    await again.settings.remove('b');
    expect(await again.nextValue('c')).toBe(2n);
  });

  it('drops the slots an embedded store kept below a deleted sequence, so its new life starts above its old values', async () => {
    const clock = new Clock(Date.now());
    const store = new MemoryStore();
    await store.reserve('k', 40n); // values 1..40 went out (say, through --workers)
    expect(await store.unissued?.keep('k', 10n, 20n)).toBe(true); // 10..19 were never issued
    const service = await startService(store, clock);
    expect(await service.nextValue('k')).toBe(10n);
    await service.settings.remove('k');
    expect(await service.nextValue('k')).toBe(41n);
  });
});

describe.skipIf(!dbAvailable('postgres'))('two servers sharing PostgreSQL', () => {
  let postgres: DbServer;

  it('apply the same settings, cross the year boundary together, and never repeat', async () => {
    postgres = await startPostgres();
    const uri = await emptyStoreUri(postgres);
    const clock = new Clock(Date.parse('2026-12-31T23:59:59Z'));
    const open = async (): Promise<Store> => {
      const store = await createStore(uri, { operationTimeoutMs: 3_000 });
      await store.open();
      return store;
    };
    const a = await startService(await open(), clock, { settingsRefreshMs: 50 });
    const b = await startService(await open(), clock, { settingsRefreshMs: 50 });
    await a.settings.define('INV', INVOICE);
    const seen = new Set<Ticket>();
    const take = async (service: TicketService, count: number): Promise<Array<{ year: string; value: bigint }>> => {
      const tickets = await issue(service, 'INV', count);
      for (const ticket of tickets) {
        expect(seen.has(ticket), String(ticket)).toBe(false);
        seen.add(ticket);
      }
      return tickets.map(readInvoice);
    };
    // B never saw the definition: its first value must already be an invoice number.
    const fromB = await take(b, 5);
    const fromA = await take(a, 5);
    expect([...fromA, ...fromB].every((ticket) => ticket.year === '2026')).toBe(true);
    clock.set('2027-01-01T00:00:00Z');
    const newYear = [...(await take(a, 5)), ...(await take(b, 5))];
    expect(newYear.every((ticket) => ticket.year === '2027')).toBe(true);
    // The first server to reach the new year starts it at 1.
    expect(newYear.map((ticket) => ticket.value)).toContain(1n);

    // A change made through one server reaches the other (read again every 50 ms here).
    await b.settings.define('orders', {});
    expect(await a.nextValue('orders')).toBeTypeOf('bigint');
    await b.settings.define('orders', { max: '1000000' });
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && a.settings.settingsOf('orders')?.max !== '1000000') await new Promise((r) => setTimeout(r, 25));
    expect(a.settings.settingsOf('orders')?.max).toBe('1000000');
  }, 120_000);
});
