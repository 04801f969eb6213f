/**
 * The one store contract suite (STYLE.md §3), run by every back end's test
 * file: `runStoreContract('memory', { create })`. Each back end adds only its
 * own differences in its own file.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import type { Numbering } from '../src/core/numbering.js';
import {
  MAX_SETTINGS_LENGTH,
  NumberingMismatchError,
  type KeptSlots,
  type Lease,
  type Store,
  type StoredSequence,
  type StoredSettings,
} from '../src/store/store.js';

/** What a back end hands the suite for one test. */
export interface StoreFixture {
  /** An opened, empty store. */
  readonly store: Store;
  /**
   * Opens a new store over the same data, after the test closed `store`.
   * Omitted by stores that do not outlive their object (`memory:`).
   */
  readonly reopen?: () => Promise<Store>;
  /** Closes every store the fixture opened and removes its data. */
  readonly cleanup: () => Promise<void>;
}

export interface StoreContractOptions {
  readonly create: () => Promise<StoreFixture>;
  /**
   * An embedded store (one process): it keeps unissued slots below its counter
   * (`unissued`) and must pass the kept-slots cases. A shared store must not
   * keep any (another server may have reserved above them).
   */
  readonly keepsSlots: boolean;
}

async function listAll(store: Store): Promise<StoredSequence[]> {
  const result: StoredSequence[] = [];
  for await (const sequence of store.list()) result.push(sequence);
  return result;
}

function byStart(a: Lease, b: Lease): number {
  return a.start < b.start ? -1 : a.start > b.start ? 1 : 0;
}

/** Leases sorted by start must tile [from, from + total) exactly: no overlap, no hole. */
function expectContiguous(leases: readonly Lease[], sizes: readonly bigint[], from: bigint): void {
  const sorted = [...leases].sort(byStart);
  let expected = from;
  for (const lease of sorted) {
    expect(lease.start).toBe(expected);
    expect(lease.end).toBeGreaterThanOrEqual(lease.start);
    expected = lease.end;
  }
  expect(expected).toBe(from + sizes.reduce((sum, size) => sum + size, 0n));
}

const NUMBERING: Numbering = { instance: 2, instances: 3, offset: 100n };

export function runStoreContract(label: string, options: StoreContractOptions): void {
  describe(`${label} store contract`, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fixture = await options.create();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    describe('reserve', () => {
      it('starts a fresh sequence at slot 1', async () => {
        expect(await store.reserve('fresh', 5n)).toEqual({ start: 1n, end: 6n });
      });

      it('hands out consecutive reservations back to back', async () => {
        const first = await store.reserve('orders', 3n);
        const second = await store.reserve('orders', 10n);
        const third = await store.reserve('orders', 1n);
        expect([first, second, third]).toEqual([
          { start: 1n, end: 4n },
          { start: 4n, end: 14n },
          { start: 14n, end: 15n },
        ]);
      });

      it('gives 200 concurrent reservations of one name disjoint leases that tile the counter', async () => {
        const sizes = Array.from({ length: 200 }, (_, index) => BigInt((index % 7) + 1));
        const leases = await Promise.all(sizes.map((size) => store.reserve('busy', size)));
        leases.forEach((lease, index) => expect(lease.end - lease.start).toBe(sizes[index]));
        expectContiguous(leases, sizes, 1n);
        const total = sizes.reduce((sum, size) => sum + size, 0n);
        expect(await store.reserve('busy', 1n)).toEqual({ start: 1n + total, end: 2n + total });
      });

      it('keeps concurrent reservations of different names independent', async () => {
        const names = ['a', 'b', 'c'];
        const calls = Array.from({ length: 90 }, (_, index) => ({ name: names[index % 3] as string, size: BigInt((index % 4) + 1) }));
        const leases = await Promise.all(calls.map(({ name, size }) => store.reserve(name, size)));
        for (const name of names) {
          const own = calls.flatMap((call, index) => (call.name === name ? [index] : []));
          expectContiguous(
            own.map((index) => leases[index] as Lease),
            own.map((index) => (calls[index] as { size: bigint }).size),
            1n,
          );
        }
      });

      it('jumps to atLeast when it is above the counter', async () => {
        await store.reserve('jump', 3n);
        expect(await store.reserve('jump', 2n, 100n)).toEqual({ start: 100n, end: 102n });
        expect(await store.reserve('jump', 1n)).toEqual({ start: 102n, end: 103n });
      });

      it('ignores atLeast at or below the counter', async () => {
        await store.reserve('jump', 10n);
        expect(await store.reserve('jump', 2n, 5n)).toEqual({ start: 11n, end: 13n });
        expect(await store.reserve('jump', 2n, 13n)).toEqual({ start: 13n, end: 15n });
      });

      it('applies atLeast to a fresh sequence', async () => {
        expect(await store.reserve('late', 4n, 50n)).toEqual({ start: 50n, end: 54n });
      });

      it('raises the counter with count 0 and atLeast', async () => {
        await store.reserve('floor', 3n);
        expect(await store.reserve('floor', 0n, 40n)).toEqual({ start: 40n, end: 40n });
        expect(await store.reserve('floor', 1n)).toEqual({ start: 40n, end: 41n });
      });

      it('never lowers the counter with count 0 and a lower atLeast', async () => {
        await store.reserve('floor', 30n);
        expect(await store.reserve('floor', 0n, 5n)).toEqual({ start: 31n, end: 31n });
        expect(await store.reserve('floor', 1n)).toEqual({ start: 31n, end: 32n });
      });

      it('creates a sequence at slot 1 with count 0 and no atLeast', async () => {
        expect(await store.reserve('created', 0n)).toEqual({ start: 1n, end: 1n });
        expect(await listAll(store)).toEqual([{ name: 'created', next: 1n }]);
        expect(await store.reserve('created', 2n)).toEqual({ start: 1n, end: 3n });
      });

      it('keeps names that differ only in case apart', async () => {
        await store.reserve('Orders', 5n);
        expect(await store.reserve('orders', 1n)).toEqual({ start: 1n, end: 2n });
      });
    });

    describe('release', () => {
      it('gives the slots back when nobody reserved after the lease', async () => {
        const lease = await store.reserve('seq', 10n);
        expect(await store.release('seq', 4n, lease.end)).toBe(true);
        expect(await store.reserve('seq', 3n)).toEqual({ start: 4n, end: 7n });
      });

      it('refuses to release an older lease after a newer reservation', async () => {
        const older = await store.reserve('seq', 10n);
        const newer = await store.reserve('seq', 10n);
        expect(await store.release('seq', 5n, older.end)).toBe(false);
        expect(await listAll(store)).toEqual([{ name: 'seq', next: newer.end }]);
        expect(await store.reserve('seq', 1n)).toEqual({ start: newer.end, end: newer.end + 1n });
      });

      it('releases the newest lease and then the one before it, newest first', async () => {
        const older = await store.reserve('seq', 10n);
        const newer = await store.reserve('seq', 10n);
        expect(await store.release('seq', newer.start, newer.end)).toBe(true);
        expect(await store.release('seq', 6n, older.end)).toBe(true);
        expect(await store.reserve('seq', 1n)).toEqual({ start: 6n, end: 7n });
      });

      it('refuses to release a sequence that does not exist, creating nothing', async () => {
        expect(await store.release('ghost', 1n, 5n)).toBe(false);
        expect(await listAll(store)).toEqual([]);
      });
    });

    describe(options.keepsSlots ? 'kept slots (an embedded store)' : 'kept slots (a shared store keeps none)', () => {
      if (!options.keepsSlots) {
        it('has no kept slots: a tail below the counter cannot come back', () => {
          expect(store.unissued).toBeUndefined();
          expect(store.shared).toBe(true);
        });
        return;
      }

      it('hands slots kept below the counter out first, lowest first, then moves the counter again', async () => {
        expect(store.unissued).toBeDefined();
        expect(store.shared).toBe(false);
        const kept = store.unissued as KeptSlots;
        const a = await store.reserve('k', 10n); // [1, 11): issued 1..3
        const b = await store.reserve('k', 10n); // [11, 21): issued 11..14
        expect(await kept.keep('k', 15n, b.end)).toBe(true); // at the counter: lowers it
        expect(await kept.keep('k', 4n, a.end)).toBe(true); // below it: kept
        expect(await listAll(store)).toEqual([{ name: 'k', next: 15n }]);
        expect(await store.reserve('k', 5n)).toEqual({ start: 4n, end: 9n });
        expect(await store.reserve('k', 5n)).toEqual({ start: 9n, end: 11n });
        expect(await store.reserve('k', 5n)).toEqual({ start: 15n, end: 20n });
      });

      it('refuses slots that are not below the counter or overlap kept ones, and an unknown sequence, changing nothing', async () => {
        const kept = store.unissued as KeptSlots;
        await store.reserve('k', 20n);
        expect(await kept.keep('k', 5n, 10n)).toBe(true);
        expect(await kept.keep('k', 8n, 12n)).toBe(false);
        expect(await kept.keep('k', 15n, 22n)).toBe(false);
        expect(await kept.keep('ghost', 1n, 2n)).toBe(false);
        expect(await store.has('ghost')).toBe(false);
        expect(await store.reserve('k', 100n)).toEqual({ start: 5n, end: 10n });
        expect(await store.reserve('k', 1n)).toEqual({ start: 21n, end: 22n });
      });

      it('drops kept slots below a floor or a jump, and all of them on drop', async () => {
        const kept = store.unissued as KeptSlots;
        await store.reserve('f', 50n);
        expect(await kept.keep('f', 10n, 20n)).toBe(true);
        expect(await kept.keep('f', 30n, 40n)).toBe(true);
        expect(await store.reserve('f', 0n, 35n)).toEqual({ start: 51n, end: 51n }); // a floor
        expect(await store.reserve('f', 2n, 37n)).toEqual({ start: 37n, end: 39n }); // a jump
        expect(await store.reserve('f', 100n)).toEqual({ start: 39n, end: 40n });
        expect(await store.reserve('f', 1n)).toEqual({ start: 51n, end: 52n });
        await store.reserve('d', 50n);
        expect(await kept.keep('d', 10n, 20n)).toBe(true);
        await kept.drop('d');
        expect(await store.reserve('d', 1n)).toEqual({ start: 51n, end: 52n });
      });

      it('keeps kept slots across close and reopen', async (context) => {
        const kept = store.unissued as KeptSlots;
        if (!fixture.reopen) return context.skip(`${label} does not outlive its object`);
        await store.reserve('k', 30n);
        expect(await kept.keep('k', 3n, 9n)).toBe(true);
        await store.close();
        const reopened = await fixture.reopen();
        expect(await reopened.reserve('k', 10n)).toEqual({ start: 3n, end: 9n });
        expect(await reopened.reserve('k', 1n)).toEqual({ start: 31n, end: 32n });
      });
    });

    describe('has', () => {
      it('knows a sequence only once it was reserved or created, and keeps names apart by case', async () => {
        expect(await store.has('made')).toBe(false);
        await store.reserve('made', 0n);
        await store.reserve('Other', 3n);
        expect(await store.has('made')).toBe(true);
        expect(await store.has('Other')).toBe(true);
        expect(await store.has('other')).toBe(false);
        expect(await store.has('mad')).toBe(false);
      });
    });

    describe('list', () => {
      it('yields nothing for an empty store', async () => {
        expect(await listAll(store)).toEqual([]);
      });

      it('yields every sequence with its next slot, in name order', async () => {
        await store.reserve('b', 5n);
        await store.reserve('a', 2n);
        await store.reserve('C', 1n);
        await store.reserve('a', 1n);
        expect(await listAll(store)).toEqual([
          { name: 'C', next: 2n },
          { name: 'a', next: 4n },
          { name: 'b', next: 6n },
        ]);
      });

      it('orders names by their UTF-8 bytes, so every back end lists alike', async () => {
        // UTF-16 order would put the emoji (a surrogate pair, 0xD83D…) before U+FF61;
        // UTF-8 order (LMDB, PostgreSQL "C", etcd) puts U+FF61 (0xEF…) before it (0xF0…).
        for (const name of ['😀', '\uff61', 'é', 'z']) await store.reserve(name, 1n);
        const names = (await listAll(store)).map((sequence) => sequence.name);
        expect(names).toEqual(['z', 'é', '\uff61', '😀']);
      });

      it('keeps multibyte names intact', async () => {
        const name = '€'.repeat(42);
        await store.reserve(name, 7n);
        expect(await listAll(store)).toEqual([{ name, next: 8n }]);
      });
    });

    describe('settings', () => {
      const listSettings = async (from: Store): Promise<StoredSettings[]> => {
        const all: StoredSettings[] = [];
        for await (const entry of from.listSettings()) all.push(entry);
        return all;
      };

      it('reads back what was written, replaces it, and removes it', async () => {
        expect(await store.readSettings('inv')).toBeUndefined();
        await store.writeSettings('inv', '{"period":"yearly"}');
        expect(await store.readSettings('inv')).toBe('{"period":"yearly"}');
        await store.writeSettings('inv', '{"period":"monthly"}');
        expect(await store.readSettings('inv')).toBe('{"period":"monthly"}');
        await store.writeSettings('inv', undefined);
        expect(await store.readSettings('inv')).toBeUndefined();
        // Removing what is not there is not an error.
        await expect(store.writeSettings('inv', undefined)).resolves.toBeUndefined();
      });

      it('keeps settings apart from counters: writing settings creates no sequence and moves nothing', async () => {
        await store.writeSettings('only-settings', '{}');
        expect(await store.has('only-settings')).toBe(false);
        await store.reserve('counted', 3n);
        await store.writeSettings('counted', '{"max":"9"}');
        expect(await store.reserve('counted', 1n)).toEqual({ start: 4n, end: 5n });
        expect(await listAll(store)).toEqual([{ name: 'counted', next: 5n }]);
      });

      it('lists every sequence with settings in UTF-8 byte order, multibyte text intact', async () => {
        const text = JSON.stringify({ format: 'Rechnung-€-{value}' });
        for (const name of ['😀', '\uff61', 'b', 'a']) await store.writeSettings(name, text);
        expect(await listSettings(store)).toEqual(['a', 'b', '\uff61', '😀'].map((name) => ({ name, settings: text })));
      });

      it('refuses a settings text over the limit and keeps the old one', async () => {
        await store.writeSettings('big', '{}');
        await expect(store.writeSettings('big', 'x'.repeat(MAX_SETTINGS_LENGTH + 1))).rejects.toBeInstanceOf(RangeError);
        expect(await store.readSettings('big')).toBe('{}');
      });

      it('keeps settings across close and reopen', async (context) => {
        if (!fixture.reopen) return context.skip(`${label} does not outlive its object`);
        await store.writeSettings('kept', '{"check":"luhn"}');
        await store.close();
        const reopened = await fixture.reopen();
        expect(await reopened.readSettings('kept')).toBe('{"check":"luhn"}');
        expect(await listSettings(reopened)).toEqual([{ name: 'kept', settings: '{"check":"luhn"}' }]);
      });
    });

    describe('fence', () => {
      it('accepts the numbering it recorded', async () => {
        await store.fence(NUMBERING);
        await expect(store.fence({ ...NUMBERING })).resolves.toBeUndefined();
      });

      it.each<[string, Numbering]>([
        ['instance', { ...NUMBERING, instance: 1 }],
        ['instances', { ...NUMBERING, instances: 4 }],
        ['offset', { ...NUMBERING, offset: 101n }],
      ])('refuses a numbering with another %s', async (_label, other) => {
        await store.fence(NUMBERING);
        const error: unknown = await store.fence(other).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(error).toBeInstanceOf(NumberingMismatchError);
        expect((error as NumberingMismatchError).recorded).toEqual(NUMBERING);
        expect((error as NumberingMismatchError).requested).toEqual(other);
      });
    });

    describe('health and close', () => {
      it('reports ok while open', async () => {
        expect((await store.health()).ok).toBe(true);
      });

      it('can be closed twice', async () => {
        await store.close();
        await expect(store.close()).resolves.toBeUndefined();
      });
    });

    describe('reopen', () => {
      it('keeps every sequence and its next slot across close and reopen', async (context) => {
        if (!fixture.reopen) return context.skip(`${label} does not outlive its object`);
        await store.reserve('kept', 12n);
        await store.reserve('other', 3n, 500n);
        await store.close();
        const reopened = await fixture.reopen();
        expect(await listAll(reopened)).toEqual([
          { name: 'kept', next: 13n },
          { name: 'other', next: 503n },
        ]);
        expect(await reopened.reserve('kept', 1n)).toEqual({ start: 13n, end: 14n });
      });

      it('keeps a released tail released across close and reopen', async (context) => {
        if (!fixture.reopen) return context.skip(`${label} does not outlive its object`);
        await store.reserve('kept', 12n);
        expect(await store.release('kept', 5n, 13n)).toBe(true);
        await store.close();
        const reopened = await fixture.reopen();
        expect(await reopened.reserve('kept', 1n)).toEqual({ start: 5n, end: 6n });
      });

      it('keeps the numbering fence across close and reopen', async (context) => {
        if (!fixture.reopen) return context.skip(`${label} does not outlive its object`);
        await store.fence(NUMBERING);
        await store.close();
        const reopened = await fixture.reopen();
        await expect(reopened.fence({ ...NUMBERING, instance: 3 })).rejects.toBeInstanceOf(NumberingMismatchError);
        await expect(reopened.fence(NUMBERING)).resolves.toBeUndefined();
      });
    });
  });
}
