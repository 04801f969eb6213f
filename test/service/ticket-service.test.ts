import { describe, it, expect, afterEach } from 'vitest';
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TicketError } from '../../src/core/errors.js';
import { MAX_VALUE, SlotMap, type Numbering } from '../../src/core/numbering.js';
import { TicketService, type TicketServiceOptions } from '../../src/service/ticket-service.js';
import { LmdbStore } from '../../src/store/lmdb-store.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { DelegatingStore } from '../helpers/delegating-store.js';
import { expectCode, failure } from '../helpers/ticket-errors.js';
import type { Lease, Store, StoredSequence } from '../../src/store/store.js';

/**
 * A MemoryStore behind a switch: healthy, failing (reserve rejects) or hanging
 * (reserve waits until `resume()`). It records every lease it handed out, so a
 * test can check that each issued value lies in one.
 */
class ControlledStore extends DelegatingStore {
  override readonly kind = 'controlled';
  override readonly description = 'controlled memory store (test)';
  mode: 'healthy' | 'failing' | 'hanging' = 'healthy';
  reserveCalls = 0;
  readonly leases: Array<Lease & { name: string }> = [];
  private readonly hung: Array<() => void> = [];
  private readonly inflight = new Set<Promise<unknown>>();

  override reserve(name: string, count: bigint, atLeast?: bigint): Promise<Lease> {
    this.reserveCalls++;
    const mode = this.mode;
    const run = async (): Promise<Lease> => {
      if (mode === 'failing') throw new Error('connection refused (test outage)');
      if (mode === 'hanging') await new Promise<void>((resolve) => this.hung.push(resolve));
      const lease = await this.inner.reserve(name, count, atLeast);
      this.leases.push({ name, start: lease.start, end: lease.end });
      return lease;
    };
    const promise = run();
    this.inflight.add(promise);
    const forget = (): void => {
      this.inflight.delete(promise);
    };
    promise.then(forget, forget);
    return promise;
  }

  /** Reservations currently waiting in hanging mode. */
  get hanging(): number {
    return this.hung.length;
  }

  /** Lets hung reservations through and makes the store healthy. */
  resume(): void {
    this.mode = 'healthy';
    for (const resolve of this.hung.splice(0)) resolve();
  }

  /** Waits until no reservation is in flight and the service has handled every answer. Not for hanging mode. */
  async settle(): Promise<void> {
    do {
      await Promise.allSettled([...this.inflight]);
      // One macrotask turn: every promise reaction of the service has run by then.
      await new Promise<void>((resolve) => setImmediate(resolve));
    } while (this.inflight.size > 0);
  }

  /** True when `value` (for `map`) lies in a lease this store handed out for `name`. */
  covers(map: SlotMap, name: string, value: bigint): boolean {
    if (!map.owns(value)) return false;
    const slot = map.slotOf(value);
    return this.leases.some((lease) => lease.name === name && lease.start <= slot && slot < lease.end);
  }
}

/** A clock the test moves by hand. */
class ManualClock {
  time = 1_700_000_000_000;
  readonly now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

const services: TicketService[] = [];
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const service of services.splice(0)) await service.close();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type ServiceSettings = Omit<TicketServiceOptions, 'store' | 'numbering'> & { store?: Store; numbering?: Numbering };

const NUMBERING: Numbering = { instance: 2, instances: 3, offset: 100n };

/** Starts a service (store opened here unless the caller did); closed after the test. */
async function startService(settings: ServiceSettings = {}): Promise<TicketService> {
  const store = settings.store ?? new MemoryStore();
  const service = new TicketService({ ...settings, store, numbering: settings.numbering ?? NUMBERING });
  services.push(service);
  await service.start();
  return service;
}

/** Runs a request so that a synchronous throw becomes a rejection. The request starts synchronously. */
async function attempt<T>(request: () => T | Promise<T>): Promise<T> {
  return await request();
}

/** Issues `count` single values one after the other. */
async function issueEach(service: TicketService, name: string, count: number, beforeEach?: () => void): Promise<bigint[]> {
  const values: bigint[] = [];
  for (let index = 0; index < count; index++) {
    beforeEach?.();
    values.push((await service.nextValue(name)) as bigint);
  }
  return values;
}

function leaseSizeOf(service: TicketService, name: string): number {
  const snapshot = service.snapshot().find((sequence) => sequence.name === name);
  if (!snapshot) throw new Error(`no sequence ${name}`);
  return snapshot.leaseSize;
}

function leaseRemainingOf(service: TicketService, name: string): bigint {
  const snapshot = service.snapshot().find((sequence) => sequence.name === name);
  if (!snapshot) throw new Error(`no sequence ${name}`);
  return snapshot.leaseRemaining;
}

describe('TicketService', () => {
  describe('numbering', () => {
    it("issues the numbering's first value first from a fresh sequence", async () => {
      const service = await startService();
      expect(await service.nextValue('orders')).toBe(101n);
    });

    it('issues sequential values one step of `instances` apart', async () => {
      const service = await startService();
      const values = await issueEach(service, 'orders', 50);
      expect(values).toEqual(Array.from({ length: 50 }, (_, index) => 101n + 3n * BigInt(index)));
    });

    it('answers next(name, count) with count increasing values', async () => {
      const service = await startService();
      expect(await service.next('orders', 5)).toEqual([101n, 104n, 107n, 110n, 113n]);
      expect(await service.next('orders', 3)).toEqual([116n, 119n, 122n]);
    });

    it('keeps sequences apart: each starts at the first value', async () => {
      const service = await startService();
      await issueEach(service, 'a', 10);
      expect(await service.nextValue('b')).toBe(101n);
    });
  });

  describe('concurrency', () => {
    it('gives distinct values to many concurrent calls mixing single and counted requests', async () => {
      const store = new ControlledStore();
      const service = await startService({ store });
      const names = ['a', 'b', 'c'];
      const results: Array<bigint | bigint[] | Promise<bigint | bigint[]>> = [];
      for (let index = 0; index < 3000; index++) {
        const name = names[index % 3] as string;
        results.push((index % 5 === 0 ? service.next(name, (index % 17) + 1) : service.nextValue(name)) as bigint | Promise<bigint>);
        // Let the store answer now and then, so that some calls are served synchronously.
        if (index % 200 === 0) await store.settle();
      }
      const synchronous = results.filter((result) => !(result instanceof Promise)).length;
      expect(synchronous).toBeGreaterThan(0);
      expect(synchronous).toBeLessThan(results.length);
      const settled = await Promise.all(results.map((result) => Promise.resolve(result)));
      for (const name of names) {
        const values = settled.filter((_, index) => names[index % 3] === name).flatMap((result) => result);
        expect(new Set(values).size).toBe(values.length);
        for (const value of values) expect(store.covers(service.map, name, value)).toBe(true);
      }
    });

    it('answers the requests of one sequence in arrival order with increasing values', async () => {
      const service = await startService();
      const results: Array<bigint | bigint[] | Promise<bigint | bigint[]>> = [];
      for (let index = 0; index < 500; index++) {
        results.push((index % 3 === 0 ? service.next('a', 4) : service.nextValue('a')) as bigint | Promise<bigint>);
      }
      const values = (await Promise.all(results.map((result) => Promise.resolve(result)))).flatMap((result) => result);
      for (let index = 1; index < values.length; index++) {
        expect(values[index]).toBeGreaterThan(values[index - 1] as bigint);
      }
    });

    it('answers synchronously in steady state because the next lease is reserved ahead', async () => {
      const clock = new ManualClock();
      const service = await startService({ now: clock.now });
      let waited = 0;
      for (let index = 0; index < 3000; index++) {
        clock.advance(1); // 1000 requests per second
        const result = service.nextValue('a');
        if (result instanceof Promise) {
          if (index >= 1000) waited++;
          await result;
        }
        // Time passes between requests: the background reservation gets to run.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      expect(waited).toBe(0);
    });
  });

  describe('drift', () => {
    it('does not jump while last is at most drift ahead of the next value', async () => {
      const service = await startService({ numbering: { instance: 1, instances: 1, offset: 1n }, drift: 10n });
      expect(await service.nextValue('a')).toBe(1n);
      expect(await service.nextValue('a', 12n)).toBe(2n);
    });

    it('jumps past a far-ahead last to the smallest own-class value above it', async () => {
      const service = await startService({ numbering: { instance: 2, instances: 3, offset: 1n }, drift: 30n });
      expect(await service.nextValue('a')).toBe(2n);
      expect(await service.nextValue('a', 1000n)).toBe(1001n);
      expect(await service.nextValue('a')).toBe(1004n);
    });

    it('jumps strictly above a last that is itself of its own class', async () => {
      const service = await startService({ numbering: { instance: 2, instances: 3, offset: 1n }, drift: 30n });
      expect(await service.nextValue('a')).toBe(2n);
      expect(await service.nextValue('a', 1001n)).toBe(1004n);
    });

    it('jumps within a held lease to the value right above last', async () => {
      const clock = new ManualClock();
      const service = await startService({ numbering: { instance: 1, instances: 1, offset: 1n }, drift: 10n, now: clock.now });
      const issued = await issueEach(service, 'a', 200);
      expect(leaseRemainingOf(service, 'a')).toBeGreaterThan(20n);
      const next = (issued.at(-1) as bigint) + 1n;
      expect(await service.nextValue('a', next + 14n)).toBe(next + 15n);
      expect(await service.nextValue('a')).toBe(next + 16n);
    });

    it('applies drift to counted requests', async () => {
      const service = await startService({ numbering: { instance: 1, instances: 1, offset: 1n }, drift: 10n });
      await service.nextValue('a');
      expect(await service.next('a', 3, 500n)).toEqual([501n, 502n, 503n]);
    });

    it('keeps a jump whose target lies just past the held leases while it waits for the store', async () => {
      const service = await startService({ numbering: { instance: 1, instances: 2, offset: 1n }, maxBlock: 1 });
      expect(await service.nextValue('a')).toBe(1n);
      // A request elsewhere gives the reserve-ahead of 'a' (slot 2, value 3) time to land.
      expect(await service.nextValue('b')).toBe(1n);
      // Drift is 20; 24 − 3 = 21 is over it, so the answer must be the smallest odd value above 24.
      expect(await service.nextValue('a', 24n)).toBe(25n);
      expect(await service.next('a', 2, 60n)).toEqual([61n, 63n]);
    });

    it('never jumps when drift is 0', async () => {
      const service = await startService({ numbering: { instance: 1, instances: 1, offset: 1n }, drift: 0n });
      await service.nextValue('a');
      expect(await service.nextValue('a', 1_000_000n)).toBe(2n);
    });

    it('refuses a jump larger than maxJump with EJUMP', async () => {
      const service = await startService({ numbering: { instance: 1, instances: 1, offset: 1n }, drift: 10n, maxJump: 1000n });
      await issueEach(service, 'a', 3);
      await expectCode(() => service.nextValue('a', 5000n), 'EJUMP');
      await expectCode(() => service.next('a', 2, 5000n), 'EJUMP');
    });

    it('leaves the sequence as it was after refusing a jump', async () => {
      const service = await startService({ numbering: { instance: 1, instances: 1, offset: 1n }, drift: 10n, maxJump: 1000n });
      expect(await issueEach(service, 'a', 3)).toEqual([1n, 2n, 3n]);
      await failure(() => service.nextValue('a', 5000n));
      expect(await service.nextValue('a')).toBe(4n);
    });
  });

  describe('sequence rules', () => {
    it('refuses a new name beyond maxSequences with ELIMIT', async () => {
      const service = await startService({ maxSequences: 3 });
      for (const name of ['a', 'b', 'c']) await service.nextValue(name);
      await expectCode(() => service.nextValue('d'), 'ELIMIT');
      await expectCode(() => service.next('d', 2), 'ELIMIT');
    });

    it('keeps serving existing names at the maxSequences limit', async () => {
      const service = await startService({ maxSequences: 2 });
      await service.nextValue('a');
      await service.nextValue('b');
      await failure(() => service.nextValue('c'));
      expect(await service.nextValue('a')).toBe(104n);
    });

    it('counts sequences already in the store toward maxSequences', async () => {
      const store = new MemoryStore();
      await store.reserve('x', 0n);
      await store.reserve('y', 5n);
      const service = await startService({ store, maxSequences: 3 });
      expect(service.sequenceCount).toBe(2);
      await service.nextValue('a');
      await expectCode(() => service.nextValue('b'), 'ELIMIT');
    });

    it('answers ENOSEQ for a name the store does not hold in strict mode', async () => {
      const service = await startService({ strictSequences: true });
      await expectCode(() => service.nextValue('unknown'), 'ENOSEQ');
      await expectCode(() => service.next('unknown', 3), 'ENOSEQ');
    });

    it('serves a sequence created in the store before start in strict mode', async () => {
      const store = new MemoryStore();
      await store.reserve('known', 0n);
      const service = await startService({ store, strictSequences: true });
      expect(await service.nextValue('known')).toBe(101n);
    });

    it('serves, in strict mode on a shared store, a sequence another server created after this one started', async () => {
      const store = new ControlledStore();
      store.shared = true;
      const a = await startService({ store, strictSequences: true });
      const b = await startService({ store, strictSequences: true });
      expect(await a.createSequence('made-on-a')).toBe(true);
      const fromA = await a.next('made-on-a', 3);
      const fromB = await b.next('made-on-a', 3);
      expect(new Set([...fromA, ...fromB]).size).toBe(6);
      expect(await b.raiseFloor('made-on-a', 10_000n)).toBe(true);
      await expectCode(() => b.raiseFloor('never-made', 10n), 'ENOSEQ');
    });

    it('asks a shared store once about an unknown name and answers ENOSEQ without asking again for a second', async () => {
      let now = 1_000_000;
      const store = new ControlledStore();
      store.shared = true;
      const service = await startService({ store, strictSequences: true, now: () => now });
      const before = store.hasCalls;
      await Promise.all([
        expectCode(() => service.nextValue('unknown'), 'ENOSEQ'),
        expectCode(() => service.next('unknown', 2), 'ENOSEQ'),
      ]);
      await expectCode(() => service.nextValue('unknown'), 'ENOSEQ');
      expect(store.hasCalls - before).toBe(1);
      now += 1_001;
      await store.inner.reserve('unknown', 0n);
      expect(await service.nextValue('unknown')).toBe(101n);
      expect(store.hasCalls - before).toBe(2);
    });

    it('looks up at most 64 unknown names at once in a shared store; more answer EUNAVAILABLE and cost no query', async () => {
      const store = new ControlledStore();
      store.shared = true;
      const service = await startService({ store, strictSequences: true });
      const before = store.hasCalls;
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const has = store.has.bind(store);
      store.has = async (name) => {
        store.hasCalls++;
        await gate;
        return has(name);
      };
      const asked = Array.from({ length: 64 }, (_, index) => attempt(() => service.nextValue(`unknown-${index}`)));
      await expectCode(() => service.nextValue('one-too-many'), 'EUNAVAILABLE');
      expect(store.hasCalls - before).toBe(64);
      release();
      for (const answer of asked) await expect(answer).rejects.toMatchObject({ code: 'ENOSEQ' });
    });

    it('answers EUNAVAILABLE, not ENOSEQ, when a shared store cannot say whether a name exists', async () => {
      const store = new ControlledStore();
      store.shared = true;
      const service = await startService({ store, strictSequences: true, storeTimeoutMs: 50 });
      store.has = () => Promise.reject(new Error('connection refused (test outage)'));
      await expectCode(() => service.nextValue('unknown'), 'EUNAVAILABLE');
    });

    it.each([
      ['that is empty', ''],
      ['with a newline', 'a\nb'],
      ['of 129 bytes', 'x'.repeat(129)],
      ['with a lone surrogate', 'a\ud800'],
    ])('answers EBADNAME for a name %s', async (_label, name) => {
      const service = await startService();
      await expectCode(() => service.nextValue(name), 'EBADNAME');
      await expectCode(() => service.next(name, 2), 'EBADNAME');
    });

    it('answers EBADNAME in strict mode on a shared store without asking the store', async () => {
      const store = new ControlledStore();
      store.shared = true;
      const service = await startService({ store, strictSequences: true });
      const before = store.hasCalls;
      await expectCode(() => service.nextValue('bad\nname'), 'EBADNAME');
      await expectCode(() => service.raiseFloor('bad\nname', 10n), 'EBADNAME');
      expect(store.hasCalls - before).toBe(0);
    });

    it('creates nothing for a bad name', async () => {
      const store = new MemoryStore();
      const service = await startService({ store });
      await failure(() => service.nextValue('bad\u0000name'));
      expect(service.sequenceCount).toBe(0);
      expect(service.snapshot()).toEqual([]);
      const listed: StoredSequence[] = [];
      for await (const sequence of store.list()) listed.push(sequence);
      expect(listed).toEqual([]);
    });

    it.each([0, 1001, 1.5, Number.NaN])('answers EBADREQ for count %s', async (count) => {
      const service = await startService();
      await expectCode(() => service.next('a', count), 'EBADREQ');
    });
  });

  describe('exhaustion near 2^63 − 1', () => {
    const NEAR_END: Numbering = { instance: 1, instances: 1, offset: MAX_VALUE - 5n };

    it('issues exactly the last six values, then EXHAUSTED', async () => {
      const service = await startService({ numbering: NEAR_END });
      const values: bigint[] = [];
      let error: TicketError | undefined;
      for (let index = 0; index < 20 && !error; index++) {
        try {
          values.push((await service.nextValue('end')) as bigint);
        } catch (caught) {
          error = caught as TicketError;
        }
      }
      expect(values).toEqual([5n, 4n, 3n, 2n, 1n, 0n].map((below) => MAX_VALUE - below));
      expect(error).toBeInstanceOf(TicketError);
      expect(error?.code).toBe('EXHAUSTED');
    });

    it('stays EXHAUSTED once the end is reached', async () => {
      const service = await startService({ numbering: NEAR_END });
      await issueEach(service, 'end', 6);
      for (let index = 0; index < 3; index++) await expectCode(() => service.nextValue('end'), 'EXHAUSTED');
      await expectCode(() => service.next('end', 1), 'EXHAUSTED');
    });

    it('serves counts up to the end and refuses one that does not fit, issuing nothing for it', async () => {
      const service = await startService({ numbering: NEAR_END });
      expect(await service.next('end', 4)).toEqual([5n, 4n, 3n, 2n].map((below) => MAX_VALUE - below));
      await expectCode(() => service.next('end', 4), 'EXHAUSTED');
      expect(await service.next('end', 2)).toEqual([MAX_VALUE - 1n, MAX_VALUE]);
      await expectCode(() => service.nextValue('end'), 'EXHAUSTED');
    });

    it('refuses a count larger than what is left on a fresh sequence', async () => {
      const service = await startService({ numbering: NEAR_END });
      await expectCode(() => service.next('end', 7), 'EXHAUSTED');
      expect(await service.next('end', 6)).toHaveLength(6);
    });

    it('answers EXHAUSTED for a last at 2^63 − 1', async () => {
      const service = await startService({ numbering: { instance: 1, instances: 1, offset: MAX_VALUE - 1000n }, drift: 10n });
      await service.nextValue('end');
      await expectCode(() => service.nextValue('end', MAX_VALUE), 'EXHAUSTED');
    });

    it('answers EXHAUSTED when even the first value is past 2^63 − 1', async () => {
      const service = await startService({ numbering: { instance: 3, instances: 3, offset: MAX_VALUE - 1n } });
      await expectCode(() => service.nextValue('end'), 'EXHAUSTED');
    });
  });

  describe('lifecycle', () => {
    it('answers EUNAVAILABLE before start()', async () => {
      const service = new TicketService({ store: new MemoryStore(), numbering: NUMBERING });
      await expectCode(() => service.nextValue('a'), 'EUNAVAILABLE');
    });

    it('hands leases back on close() so a new service continues with exactly the next value', async () => {
      const clock = new ManualClock();
      const store = new ControlledStore();
      const first = await startService({ store, now: clock.now });
      const issued = await issueEach(first, 'a', 137);
      await issueEach(first, 'b', 3);
      await store.settle();
      await first.close();
      const second = await startService({ store });
      expect(await second.nextValue('a')).toBe((issued.at(-1) as bigint) + 3n);
      expect(await second.nextValue('b')).toBe(110n);
    });

    it('hands a lease taken from slots an embedded store kept back to them on close(), losing none', async () => {
      const numbering: Numbering = { instance: 1, instances: 1, offset: 1n };
      const store = new MemoryStore();
      await store.reserve('k', 99n); // counter at 100
      expect(await store.unissued?.keep('k', 4n, 30n)).toBe(true);
      const first = await startService({ store, numbering });
      expect(await issueEach(first, 'k', 3)).toEqual([4n, 5n, 6n]);
      await first.close();
      const second = await startService({ store, numbering });
      const values = await issueEach(second, 'k', 24);
      expect(values).toEqual([...Array.from({ length: 23 }, (_, index) => BigInt(7 + index)), 100n]);
    });

    it('answers EUNAVAILABLE after close() for known and new names', async () => {
      const service = await startService();
      await issueEach(service, 'a', 5);
      await service.close();
      await expectCode(() => service.nextValue('a'), 'EUNAVAILABLE');
      await expectCode(() => service.next('a', 2), 'EUNAVAILABLE');
      await expectCode(() => service.nextValue('new'), 'EUNAVAILABLE');
    });

    it('can be closed twice', async () => {
      const service = await startService();
      await service.close();
      await expect(service.close()).resolves.toBeUndefined();
    });

    it('fails requests still waiting on the store with EUNAVAILABLE when closed', async () => {
      const store = new ControlledStore();
      const service = await startService({ store, storeTimeoutMs: 50 });
      store.mode = 'hanging';
      const waiting = failure(() => service.nextValue('a'));
      await service.close();
      expect((await waiting).code).toBe('EUNAVAILABLE');
      store.resume();
    });

    it('does not issue from a reservation that completes after close()', async () => {
      const store = new ControlledStore();
      const service = await startService({ store, storeTimeoutMs: 50 });
      store.mode = 'hanging';
      const waiting = failure(() => service.nextValue('a'));
      expect(store.hanging).toBe(1);
      await service.close(); // gives up on the hung reservation after storeTimeoutMs
      await waiting;
      store.resume();
      await store.settle();
      await expectCode(() => service.nextValue('a'), 'EUNAVAILABLE');
    });
  });

  describe('store outages', () => {
    /** A service that has issued enough to hold leases, with nothing in flight. */
    async function warmService(): Promise<{ service: TicketService; store: ControlledStore; clock: ManualClock; issued: bigint[] }> {
      const clock = new ManualClock();
      const store = new ControlledStore();
      const service = await startService({ store, now: clock.now, maxBlock: 100 });
      const issued = await issueEach(service, 'a', 300);
      await store.settle();
      return { service, store, clock, issued };
    }

    it('keeps issuing from held leases while the store fails', async () => {
      const { service, store } = await warmService();
      const held = leaseRemainingOf(service, 'a');
      expect(held).toBeGreaterThan(0n);
      store.mode = 'failing';
      const values = await issueEach(service, 'a', Number(held));
      expect(values).toHaveLength(Number(held));
    });

    it('answers EUNAVAILABLE once held leases run out while the store fails', async () => {
      const { service, store } = await warmService();
      const held = Number(leaseRemainingOf(service, 'a'));
      store.mode = 'failing';
      await issueEach(service, 'a', held);
      await expectCode(() => service.nextValue('a'), 'EUNAVAILABLE');
      await expectCode(() => service.next('a', 2), 'EUNAVAILABLE');
    });

    it('issues only values from leases the store reserved, through an outage and back', async () => {
      const { service, store, clock, issued } = await warmService();
      store.mode = 'failing';
      const values = [...issued];
      for (let index = 0; index < 200; index++) {
        try {
          values.push((await service.nextValue('a')) as bigint);
        } catch (error) {
          expect((error as TicketError).code).toBe('EUNAVAILABLE');
        }
        clock.advance(50);
      }
      store.mode = 'healthy';
      clock.advance(10_000);
      values.push(...(await issueEach(service, 'a', 200)));
      expect(new Set(values).size).toBe(values.length);
      for (const value of values) expect(store.covers(service.map, 'a', value)).toBe(true);
    });

    it('does not call a failing store again before the backoff has passed', async () => {
      const { service, store } = await warmService();
      store.mode = 'failing';
      await issueEach(service, 'a', Number(leaseRemainingOf(service, 'a')));
      await failure(() => service.nextValue('a'));
      await store.settle();
      const calls = store.reserveCalls;
      for (let index = 0; index < 10; index++) await failure(() => service.nextValue('a'));
      expect(store.reserveCalls).toBe(calls);
    });

    it('tries the store again once the backoff has passed', async () => {
      const { service, store, clock } = await warmService();
      store.mode = 'failing';
      await issueEach(service, 'a', Number(leaseRemainingOf(service, 'a')));
      await failure(() => service.nextValue('a'));
      await store.settle();
      const calls = store.reserveCalls;
      clock.advance(10_000);
      await expectCode(() => service.nextValue('a'), 'EUNAVAILABLE');
      expect(store.reserveCalls).toBe(calls + 1);
    });

    it('recovers once the store is healthy and the backoff has passed', async () => {
      const { service, store, clock, issued } = await warmService();
      store.mode = 'failing';
      const during = await issueEach(service, 'a', Number(leaseRemainingOf(service, 'a')));
      await failure(() => service.nextValue('a'));
      store.mode = 'healthy';
      clock.advance(10_000);
      const after = await service.nextValue('a');
      expect(after).toBeGreaterThan((during.at(-1) ?? issued.at(-1)) as bigint);
      expect(store.covers(service.map, 'a', after as bigint)).toBe(true);
    });

    it('fails a waiting request with EUNAVAILABLE when the store does not answer within storeTimeoutMs', async () => {
      const store = new ControlledStore();
      const service = await startService({ store, storeTimeoutMs: 50 });
      store.mode = 'hanging';
      await expectCode(() => service.nextValue('a'), 'EUNAVAILABLE');
      store.resume();
    });

    it('answers EUNAVAILABLE at once while a reservation is stalled', async () => {
      const store = new ControlledStore();
      const service = await startService({ store, storeTimeoutMs: 50 });
      store.mode = 'hanging';
      await failure(() => service.nextValue('a'));
      const result = attempt(() => service.nextValue('a'));
      // Decided without waiting for the store: the hung reservation is still the only call.
      await expectCode(() => result, 'EUNAVAILABLE');
      expect(store.reserveCalls).toBe(1);
      store.resume();
    });

    it('issues again once a stalled store answers', async () => {
      const store = new ControlledStore();
      const service = await startService({ store, storeTimeoutMs: 50 });
      store.mode = 'hanging';
      await failure(() => service.nextValue('a'));
      store.resume();
      await store.settle();
      const value = await service.nextValue('a');
      expect(value).toBe(101n);
      expect(store.covers(service.map, 'a', value as bigint)).toBe(true);
    });
  });

  describe('lease sizes', () => {
    it('grows the lease size under high demand up to maxBlock and never beyond', async () => {
      const clock = new ManualClock(); // frozen: every value comes "at once"
      const store = new ControlledStore();
      const service = await startService({ store, now: clock.now, maxBlock: 64 });
      let largest = 0;
      for (let index = 0; index < 3000; index++) {
        await service.nextValue('a');
        largest = Math.max(largest, leaseSizeOf(service, 'a'));
      }
      await store.settle();
      expect(largest).toBe(64);
      expect(leaseSizeOf(service, 'a')).toBe(64);
      for (const lease of store.leases) expect(lease.end - lease.start).toBeLessThanOrEqual(64n);
      expect(store.leases.at(-1)).toSatisfy((lease: Lease) => lease.end - lease.start === 64n);
    });

    it('shrinks the lease size when demand falls', async () => {
      const clock = new ManualClock();
      const store = new ControlledStore();
      const service = await startService({ store, now: clock.now, maxBlock: 64 });
      await issueEach(service, 'a', 1000);
      expect(leaseSizeOf(service, 'a')).toBe(64);
      await issueEach(service, 'a', 300, () => clock.advance(60_000)); // one a minute
      expect(leaseSizeOf(service, 'a')).toBe(1);
    });

    it('serves a count larger than maxBlock from several leases, none larger than maxBlock', async () => {
      const store = new ControlledStore();
      const service = await startService({ store, maxBlock: 10 });
      const values = await service.next('a', 1000);
      expect(values).toEqual(Array.from({ length: 1000 }, (_, index) => 101n + 3n * BigInt(index)));
      for (const lease of store.leases) expect(lease.end - lease.start).toBeLessThanOrEqual(10n);
    });
  });

  describe('invariants under random workloads', () => {
    type Operation =
      | { kind: 'one'; name: string }
      | { kind: 'many'; name: string; count: number }
      | { kind: 'last'; name: string; ahead: bigint }
      | { kind: 'tick'; ms: number }
      | { kind: 'outage'; on: boolean }
      | { kind: 'settle' };

    const nameArb = fc.constantFrom('a', 'b');
    const operationArb: fc.Arbitrary<Operation> = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant('one' as const), name: nameArb }), weight: 10 },
      { arbitrary: fc.record({ kind: fc.constant('many' as const), name: nameArb, count: fc.integer({ min: 1, max: 40 }) }), weight: 3 },
      { arbitrary: fc.record({ kind: fc.constant('last' as const), name: nameArb, ahead: fc.bigInt({ min: 0n, max: 300n }) }), weight: 2 },
      { arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 6000 }) }), weight: 2 },
      { arbitrary: fc.record({ kind: fc.constant('outage' as const), on: fc.boolean() }), weight: 1 },
      { arbitrary: fc.constant({ kind: 'settle' as const }), weight: 2 },
    );

    it('never repeats a value, never issues outside a lease, and increases per sequence in arrival order', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(operationArb, { maxLength: 150 }),
          fc.integer({ min: 1, max: 3 }).chain((instances) =>
            fc.record({ instances: fc.constant(instances), instance: fc.integer({ min: 1, max: instances }) }),
          ),
          async (operations, { instances, instance }) => {
            const clock = new ManualClock();
            const store = new ControlledStore();
            const service = new TicketService({
              store,
              numbering: { instance, instances, offset: 1n },
              now: clock.now,
              maxBlock: 50,
              drift: 10n,
            });
            await service.start();
            type Outcome = { ok: true; values: bigint[] } | { ok: false; error: unknown };
            const calls: Array<{ name: string; outcome: Promise<Outcome> }> = [];
            const seen = new Map<string, bigint>();
            const record = (name: string, request: () => bigint | bigint[] | Promise<bigint | bigint[]>): void => {
              const outcome = attempt(request).then(
                (result): Outcome => ({ ok: true, values: [result].flat() }),
                (error: unknown): Outcome => ({ ok: false, error }),
              );
              calls.push({ name, outcome });
            };
            for (const operation of operations) {
              switch (operation.kind) {
                case 'one':
                  record(operation.name, () => service.nextValue(operation.name) as bigint | Promise<bigint>);
                  break;
                case 'many':
                  record(operation.name, () => service.next(operation.name, operation.count) as bigint[] | Promise<bigint[]>);
                  break;
                case 'last': {
                  const last = (seen.get(operation.name) ?? 1n) + operation.ahead;
                  record(operation.name, () => service.nextValue(operation.name, last) as bigint | Promise<bigint>);
                  break;
                }
                case 'tick':
                  clock.advance(operation.ms);
                  break;
                case 'outage':
                  store.mode = operation.on ? 'failing' : 'healthy';
                  break;
                case 'settle': {
                  await store.settle();
                  // Remember what clients have seen so far, as `last` would.
                  for (const { name, outcome } of calls) {
                    const settled = await outcome;
                    const top = settled.ok ? settled.values.at(-1) : undefined;
                    if (top !== undefined && top > (seen.get(name) ?? 0n)) seen.set(name, top);
                  }
                  break;
                }
              }
            }
            const outcomes = await Promise.all(calls.map((call) => call.outcome));
            await service.close();
            const previous = new Map<string, bigint>();
            const all = new Set<string>();
            outcomes.forEach((outcome, index) => {
              const { name } = calls[index] as { name: string };
              if (!outcome.ok) {
                expect(outcome.error).toBeInstanceOf(TicketError);
                expect((outcome.error as TicketError).code).toBe('EUNAVAILABLE');
                return;
              }
              for (const value of outcome.values) {
                expect(value).toBeLessThanOrEqual(MAX_VALUE);
                expect(store.covers(service.map, name, value)).toBe(true);
                expect(value).toBeGreaterThan(previous.get(name) ?? 0n);
                previous.set(name, value);
                const key = `${name}:${value}`;
                expect(all.has(key)).toBe(false);
                all.add(key);
              }
            });
          },
        ),
        { numRuns: 150 },
      );
    });
  });

  describe('over an LmdbStore', () => {
    it('continues after a clean restart with exactly the next value', async () => {
      const directory = await mkdtemp(join(tmpdir(), 'ticket-service-'));
      const store = new LmdbStore(directory);
      cleanups.push(async () => {
        await store.close();
        await rm(directory, { recursive: true, force: true });
      });
      await store.open();
      const first = await startService({ store });
      const issued = [...(await issueEach(first, 'orders', 120)), ...(await first.next('orders', 30))];
      expect(new Set(issued).size).toBe(150);
      await first.close();
      await store.close();

      const reopened = new LmdbStore(directory);
      cleanups.push(() => reopened.close());
      await reopened.open();
      const second = await startService({ store: reopened });
      expect(await second.nextValue('orders')).toBe((issued.at(-1) as bigint) + 3n);
    });
  });
});
