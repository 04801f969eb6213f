/**
 * The TicketService operations behind the admin port (SPEC §6.3):
 * `createSequence` (the way to create a sequence in strict mode, within
 * `--max-sequences`), `raiseFloor` (the next value is above the floor; never
 * lowers; durable in the store; applies to leases already held and to a
 * lease that was in flight when the floor was raised) and `lastValue`
 * (Tickr's `last_ticket`).
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_VALUE, type Numbering } from '../../src/core/numbering.js';
import { TicketService, type TicketServiceOptions } from '../../src/service/ticket-service.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { DelegatingStore } from '../helpers/delegating-store.js';
import { expectCode } from '../helpers/ticket-errors.js';
import type { Lease, Store } from '../../src/store/store.js';

const ONE: Numbering = { instance: 1, instances: 1, offset: 1n };

/**
 * A MemoryStore whose reservations of one or more slots can be held: while
 * `holding`, `reserve(name, n > 0)` waits until `releaseHeld()`. With `early`
 * the lease is taken from the inner store at once (so a floor raised
 * meanwhile lies above it) and only its answer is held back. Reservations of
 * 0 slots (floors, creation) always pass.
 */
class HoldingStore extends DelegatingStore {
  override readonly kind = 'holding';
  override readonly description = 'holding memory store (test)';
  holding = false;
  early = true;
  failing = false;
  readonly reserves: Array<{ name: string; count: bigint; atLeast: bigint | undefined }> = [];
  private readonly held: Array<() => void> = [];

  override async reserve(name: string, count: bigint, atLeast?: bigint): Promise<Lease> {
    this.reserves.push({ name, count, atLeast });
    if (this.failing) throw new Error('store down (test)');
    if (!this.holding || count === 0n) return this.inner.reserve(name, count, atLeast);
    if (this.early) {
      const lease = await this.inner.reserve(name, count, atLeast);
      await new Promise<void>((resolve) => this.held.push(resolve));
      return lease;
    }
    await new Promise<void>((resolve) => this.held.push(resolve));
    return this.inner.reserve(name, count, atLeast);
  }

  /** Reservations waiting now. */
  get heldCount(): number {
    return this.held.length;
  }

  /** Stops holding and lets every held reservation answer. */
  releaseHeld(): void {
    this.holding = false;
    for (const resolve of this.held.splice(0)) resolve();
  }
}

const services: TicketService[] = [];

afterEach(async () => {
  for (const service of services.splice(0)) await service.close();
});

type Settings = Omit<TicketServiceOptions, 'store' | 'numbering'> & { store?: Store; numbering?: Numbering };

async function startService(settings: Settings = {}): Promise<TicketService> {
  const service = new TicketService({ ...settings, store: settings.store ?? new MemoryStore(), numbering: settings.numbering ?? ONE });
  services.push(service);
  await service.start();
  return service;
}

async function stored(store: Store): Promise<Map<string, bigint>> {
  const result = new Map<string, bigint>();
  for await (const { name, next } of store.list()) result.set(name, next);
  return result;
}

async function issue(service: TicketService, name: string, count: number): Promise<bigint[]> {
  const values: bigint[] = [];
  for (let index = 0; index < count; index++) values.push((await service.nextValue(name)) as bigint);
  return values;
}

/** Lets promise reactions and the store's microtasks run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function until(what: string, check: () => boolean, turns = 200): Promise<void> {
  for (let index = 0; index < turns; index++) {
    if (check()) return;
    await turn();
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('TicketService.createSequence', () => {
  it('creates a sequence durably and is idempotent', async () => {
    const store = new MemoryStore();
    const service = await startService({ store });
    expect(service.hasSequence('invoices')).toBe(false);
    expect(await service.createSequence('invoices')).toBe(true);
    expect(service.hasSequence('invoices')).toBe(true);
    expect(service.sequenceCount).toBe(1);
    expect((await stored(store)).has('invoices')).toBe(true);
    expect(await service.createSequence('invoices')).toBe(false);
    expect(service.sequenceCount).toBe(1);
    // Creating reserves nothing: the first value is still the first.
    expect(await service.nextValue('invoices')).toBe(1n);
    // A sequence already in use is not created again.
    expect(await service.createSequence('invoices')).toBe(false);
    expect(await service.nextValue('invoices')).toBe(2n);
  });

  it('refuses bad names with EBADNAME and stores nothing', async () => {
    const store = new MemoryStore();
    const service = await startService({ store });
    for (const name of ['', 'x'.repeat(129), 'a\u0000b', 'tab\there', '\ud800']) {
      await expectCode(() => service.createSequence(name), 'EBADNAME');
    }
    expect(await service.createSequence('x'.repeat(128))).toBe(true);
    expect([...(await stored(store)).keys()]).toEqual(['x'.repeat(128)]);
  });

  it('answers ELIMIT past --max-sequences, counting sequences created by use too', async () => {
    const service = await startService({ maxSequences: 2 });
    expect(await service.createSequence('a')).toBe(true);
    expect(await service.nextValue('b')).toBe(1n);
    await expectCode(() => service.createSequence('c'), 'ELIMIT');
    await expectCode(() => service.nextValue('c'), 'ELIMIT');
    // Existing ones are still fine.
    expect(await service.createSequence('a')).toBe(false);
    expect(await service.createSequence('b')).toBe(false);
    expect(service.sequenceCount).toBe(2);
  });

  it('counts sequences already in the store toward the limit after a restart', async () => {
    const store = new MemoryStore();
    const first = await startService({ store, maxSequences: 1 });
    await first.createSequence('kept');
    await first.close();
    const second = await startService({ store, maxSequences: 1 });
    expect(second.sequenceCount).toBe(1);
    expect(await second.createSequence('kept')).toBe(false);
    await expectCode(() => second.createSequence('another'), 'ELIMIT');
  });

  it('keeps concurrent creations within --max-sequences', async () => {
    const service = await startService({ maxSequences: 1 });
    const results = await Promise.allSettled([service.createSequence('first'), service.createSequence('second')]);
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    expect(service.sequenceCount).toBe(1);
  });

  it('in strict mode creates the only sequences that work, also for a later process', async () => {
    const store = new MemoryStore();
    const service = await startService({ store, strictSequences: true });
    await expectCode(() => service.nextValue('made'), 'ENOSEQ');
    expect(await service.createSequence('made')).toBe(true);
    expect(await service.next('made', 3)).toEqual([1n, 2n, 3n]);
    await expectCode(() => service.nextValue('other'), 'ENOSEQ');
    await expectCode(() => service.next('other', 2), 'ENOSEQ');
    expect(service.hasSequence('other')).toBe(false);
    await service.close();

    const later = await startService({ store, strictSequences: true });
    expect(await later.nextValue('made')).toBeGreaterThan(3n);
    await expectCode(() => later.nextValue('other'), 'ENOSEQ');
  });

  it('answers EUNAVAILABLE before start, after close, and when the store fails', async () => {
    const notStarted = new TicketService({ store: new MemoryStore(), numbering: ONE });
    await expectCode(() => notStarted.createSequence('x'), 'EUNAVAILABLE');
    await expectCode(() => notStarted.raiseFloor('x', 5n), 'EUNAVAILABLE');

    const store = new HoldingStore();
    const service = await startService({ store });
    store.failing = true;
    await expectCode(() => service.createSequence('down'), 'EUNAVAILABLE');
    expect(service.hasSequence('down')).toBe(false);
    store.failing = false;
    expect(await service.createSequence('down')).toBe(true);
    await service.close();
    await expectCode(() => service.createSequence('late'), 'EUNAVAILABLE');
    await expectCode(() => service.raiseFloor('down', 5n), 'EUNAVAILABLE');
  });
});

describe('TicketService.raiseFloor', () => {
  it('makes the next value the smallest of its class above the floor, skipping held leases', async () => {
    const service = await startService();
    expect(await service.next('s', 5)).toEqual([1n, 2n, 3n, 4n, 5n]);
    await until('a lease held ahead', () => (service.snapshot()[0]?.leaseRemaining ?? 0n) > 0n);
    expect(await service.raiseFloor('s', 1000n)).toBe(true);
    const after = await issue(service, 's', 20);
    expect(after[0]).toBe(1001n);
    expect(after.every((value) => value > 1000n)).toBe(true);
  });

  it('respects the numbering: instance 2 of 3 with offset 100', async () => {
    const service = await startService({ numbering: { instance: 2, instances: 3, offset: 100n } });
    expect(await service.nextValue('n')).toBe(101n);
    await service.raiseFloor('n', 150n);
    // 101 + 3k > 150 → 152
    expect(await service.nextValue('n')).toBe(152n);
    await service.raiseFloor('n', 152n);
    expect(await service.nextValue('n')).toBe(155n);
  });

  it('is durable in the store: a later service starts above the floor', async () => {
    const store = new MemoryStore();
    const service = await startService({ store });
    await issue(service, 'd', 3);
    await service.raiseFloor('d', 5000n);
    expect((await stored(store)).get('d')).toBeGreaterThanOrEqual(5001n);
    // A sequence this process never touched.
    expect(await service.raiseFloor('untouched', 700n)).toBe(true);
    expect((await stored(store)).get('untouched')).toBe(701n);
    await service.close();

    const later = await startService({ store });
    expect(await later.nextValue('d')).toBeGreaterThan(5000n);
    expect(await later.nextValue('untouched')).toBe(701n);
  });

  it('never lowers: a floor at or below the position changes nothing', async () => {
    const store = new MemoryStore();
    const service = await startService({ store });
    await service.raiseFloor('low', 1000n);
    expect(await issue(service, 'low', 5)).toEqual([1001n, 1002n, 1003n, 1004n, 1005n]);
    const counter = (await stored(store)).get('low');
    expect(await service.raiseFloor('low', 10n)).toBe(false);
    expect(await service.raiseFloor('low', 0n)).toBe(false);
    expect(await service.raiseFloor('low', 1005n)).toBe(false);
    expect((await stored(store)).get('low')).toBe(counter);
    expect(await service.nextValue('low')).toBe(1006n);
  });

  it('answers false when the counter already stood exactly at the floor (nothing moved)', async () => {
    const store = new MemoryStore();
    const service = await startService({ store });
    // Never used by this service, so no lease book to move: only the store's counter tells.
    expect(await service.raiseFloor('exact', 500n)).toBe(true);
    expect(await service.raiseFloor('exact', 500n)).toBe(false);
    expect((await stored(store)).get('exact')).toBe(501n);
    expect(await service.nextValue('exact')).toBe(501n);
  });

  it('trims a lease that was in flight when the floor was raised', async () => {
    const store = new HoldingStore();
    const service = await startService({ store });
    store.holding = true;
    const pending = service.next('t', 5);
    await until('the first reservation held', () => store.heldCount === 1);
    // The held lease [1, 6) was already taken from the store: the floor lies above it.
    expect(await service.raiseFloor('t', 100n)).toBe(true);
    store.releaseHeld();
    expect(await pending).toEqual([101n, 102n, 103n, 104n, 105n]);
  });

  it('trims a lease in flight that straddles the floor', async () => {
    const store = new HoldingStore();
    const service = await startService({ store });
    store.holding = true;
    const pending = service.next('t', 5);
    await until('the first reservation held', () => store.heldCount === 1);
    await service.raiseFloor('t', 3n);
    store.releaseHeld();
    const values = (await pending) as bigint[];
    expect(values).toHaveLength(5);
    expect(values.every((value) => value > 3n)).toBe(true);
    expect(values[0]).toBe(4n);
    expect(new Set(values).size).toBe(5);
  });

  it('trims a reserve-ahead lease in flight on a sequence in use', async () => {
    const store = new HoldingStore();
    const service = await startService({ store });
    const before = await issue(service, 'r', 3);
    store.holding = true;
    // Issue from the held lease until the service reserves ahead (held now).
    for (let index = 0; index < 1000 && store.heldCount === 0; index++) before.push((await service.nextValue('r')) as bigint);
    expect(store.heldCount).toBe(1);
    expect(await service.raiseFloor('r', 10_000n)).toBe(true);
    const pending = Promise.all(Array.from({ length: 30 }, async () => service.nextValue('r')));
    store.releaseHeld();
    const after = (await pending) as bigint[];
    expect(after.every((value) => value > 10_000n)).toBe(true);
    expect(new Set([...before, ...after]).size).toBe(before.length + after.length);
  });

  it('applies to a lease reserved after the floor even when the answer is late', async () => {
    const store = new HoldingStore();
    store.early = false;
    const service = await startService({ store });
    store.holding = true;
    const pending = service.nextValue('late');
    await until('the reservation held', () => store.heldCount === 1);
    await service.raiseFloor('late', 50n);
    store.releaseHeld();
    expect(await pending).toBe(51n);
  });

  it('answers ENOSEQ in strict mode for a missing sequence and creates nothing', async () => {
    const store = new MemoryStore();
    const service = await startService({ store, strictSequences: true });
    await expectCode(() => service.raiseFloor('missing', 10n), 'ENOSEQ');
    expect((await stored(store)).has('missing')).toBe(false);
    await service.createSequence('present');
    expect(await service.raiseFloor('present', 10n)).toBe(true);
    expect(await service.nextValue('present')).toBe(11n);
  });

  it('creates a missing sequence outside strict mode, within --max-sequences', async () => {
    const service = await startService({ maxSequences: 1 });
    expect(await service.raiseFloor('first', 10n)).toBe(true);
    expect(service.hasSequence('first')).toBe(true);
    await expectCode(() => service.raiseFloor('second', 10n), 'ELIMIT');
    await expectCode(() => service.raiseFloor('', 10n), 'EBADNAME');
  });

  it('at the top of the range: the last value, then EXHAUSTED', async () => {
    const service = await startService();
    await service.raiseFloor('top', MAX_VALUE - 2n, true);
    expect(await service.next('top', 2)).toEqual([MAX_VALUE - 1n, MAX_VALUE]);
    await expectCode(() => service.nextValue('top'), 'EXHAUSTED');

    await service.raiseFloor('past', MAX_VALUE, true);
    await expectCode(() => service.nextValue('past'), 'EXHAUSTED');
  });

  it('property: after any mix of issuing and floors, values strictly increase and each follows its floors', async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('issue' as const), count: fc.integer({ min: 1, max: 40 }) }),
      fc.record({ kind: fc.constant('floor' as const), floor: fc.bigInt({ min: 0n, max: 5000n }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
        const service = new TicketService({ store: new MemoryStore(), numbering: ONE });
        await service.start();
        try {
          let last = 0n;
          let floor = 0n;
          for (const step of ops) {
            if (step.kind === 'floor') {
              await service.raiseFloor('p', step.floor);
              if (step.floor > floor) floor = step.floor;
              continue;
            }
            const values = (step.count === 1 ? [await service.nextValue('p')] : await service.next('p', step.count)) as bigint[];
            for (const value of values) {
              expect(value).toBeGreaterThan(last);
              expect(value).toBeGreaterThan(floor);
              last = value;
            }
            expect(service.lastValue('p')).toBe(last);
          }
        } finally {
          await service.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('TicketService.lastValue', () => {
  it('is undefined before the first value, then the last value issued', async () => {
    const service = await startService({ numbering: { instance: 2, instances: 3, offset: 100n } });
    expect(service.lastValue('seq')).toBeUndefined();
    expect(await service.nextValue('seq')).toBe(101n);
    expect(service.lastValue('seq')).toBe(101n);
    expect(await service.next('seq', 3)).toEqual([104n, 107n, 110n]);
    expect(service.lastValue('seq')).toBe(110n);
    // Another sequence is independent.
    expect(service.lastValue('other')).toBeUndefined();
    await service.nextValue('other');
    expect(service.lastValue('seq')).toBe(110n);
  });

  it('does not move on failed requests, creation or floors — only on issuing', async () => {
    const service = await startService({ maxJump: 100n });
    await service.next('q', 2);
    await expectCode(() => service.nextValue('q', 1_000_000n), 'EJUMP');
    await expectCode(() => service.next('q', 0), 'EBADREQ');
    expect(service.lastValue('q')).toBe(2n);
    await service.raiseFloor('q', 500n, true);
    expect(service.lastValue('q')).toBe(2n);
    expect(await service.nextValue('q')).toBe(501n);
    expect(service.lastValue('q')).toBe(501n);
    await service.createSequence('created-only');
    expect(service.lastValue('created-only')).toBeUndefined();
  });

  it('starts over after a restart (it is what this process issued)', async () => {
    const store = new MemoryStore();
    const first = await startService({ store });
    await first.next('r', 3);
    await first.close();
    const second = await startService({ store });
    expect(second.lastValue('r')).toBeUndefined();
    expect(await second.nextValue('r')).toBe(4n);
    expect(second.lastValue('r')).toBe(4n);
  });
});
