/**
 * Kept slots (`src/store/unissued.ts`): an embedded store takes unissued
 * slots below its counter back and hands them out before the counter moves.
 * Under fast-check, any mix of reservations, floors and hand-backs of
 * unissued slots never hands a slot out twice and loses none that was handed
 * back; the stored text reads back, and malformed text keeps nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatKeptRanges, keepInBook, MAX_KEPT_RANGES, parseKeptRanges, reserveFromBook, type SlotBook, type SlotRange } from '../../src/store/unissued.js';

const range = (start: bigint, end: bigint): SlotRange => ({ start, end });

describe('reserveFromBook', () => {
  it('takes the lowest kept range first, never more of it than asked, and moves the counter only when none is left', () => {
    const kept = [range(5n, 8n), range(20n, 30n)];
    const first = reserveFromBook(40n, kept, 2n);
    expect(first.lease).toEqual(range(5n, 7n));
    expect(first.book).toEqual({ counter: 40n, kept: [range(7n, 8n), range(20n, 30n)] });
    // Asking for more than the lowest range holds gives that range only (a shorter lease).
    const second = reserveFromBook(40n, first.book.kept, 100n);
    expect(second.lease).toEqual(range(7n, 8n));
    const third = reserveFromBook(40n, second.book.kept, 100n);
    expect(third.lease).toEqual(range(20n, 30n));
    expect(third.book).toEqual({ counter: 40n, kept: [] });
    expect(reserveFromBook(40n, [], 3n)).toEqual({ lease: range(40n, 43n), book: { counter: 43n, kept: [] } });
  });

  it('drops the kept slots below atLeast (a jump or a floor) and trims the range it falls in', () => {
    const kept = [range(5n, 8n), range(20n, 30n)];
    expect(reserveFromBook(40n, kept, 4n, 25n)).toEqual({ lease: range(25n, 29n), book: { counter: 40n, kept: [range(29n, 30n)] } });
    // A floor (count 0) above every kept slot leaves none, and raises the counter.
    expect(reserveFromBook(40n, kept, 0n, 50n)).toEqual({ lease: range(50n, 50n), book: { counter: 50n, kept: [] } });
    // A floor below the counter keeps what is above it.
    expect(reserveFromBook(40n, kept, 0n, 7n)).toEqual({ lease: range(40n, 40n), book: { counter: 40n, kept: [range(7n, 8n), range(20n, 30n)] } });
  });
});

describe('keepInBook', () => {
  it('lowers the counter for a range at it, then again over kept ranges that end where it lands', () => {
    expect(keepInBook(30n, [range(5n, 10n), range(12n, 20n)], 20n, 30n)).toEqual({ counter: 12n, kept: [range(5n, 10n)] });
    expect(keepInBook(30n, [range(5n, 10n), range(12n, 20n)], 10n, 12n)).toEqual({ counter: 30n, kept: [range(5n, 20n)] });
  });

  it('keeps a range below the counter in order, joining neighbours', () => {
    expect(keepInBook(100n, [], 40n, 50n)).toEqual({ counter: 100n, kept: [range(40n, 50n)] });
    expect(keepInBook(100n, [range(40n, 50n)], 10n, 20n)).toEqual({ counter: 100n, kept: [range(10n, 20n), range(40n, 50n)] });
    expect(keepInBook(100n, [range(10n, 20n), range(40n, 50n)], 60n, 70n)?.kept).toEqual([range(10n, 20n), range(40n, 50n), range(60n, 70n)]);
    expect(keepInBook(100n, [range(10n, 20n), range(40n, 50n)], 20n, 30n)?.kept).toEqual([range(10n, 30n), range(40n, 50n)]);
    expect(keepInBook(100n, [range(10n, 20n), range(40n, 50n)], 30n, 40n)?.kept).toEqual([range(10n, 20n), range(30n, 50n)]);
  });

  it('refuses an unknown sequence, an empty or reversed range, one above the counter, and one overlapping a kept range', () => {
    expect(keepInBook(undefined, [], 1n, 2n)).toBeUndefined();
    expect(keepInBook(100n, [], 5n, 5n)).toBeUndefined();
    expect(keepInBook(100n, [], 6n, 5n)).toBeUndefined();
    expect(keepInBook(100n, [], 0n, 5n)).toBeUndefined();
    expect(keepInBook(100n, [], 90n, 101n)).toBeUndefined();
    expect(keepInBook(100n, [range(10n, 20n)], 15n, 25n)).toBeUndefined();
    expect(keepInBook(100n, [range(10n, 20n)], 5n, 11n)).toBeUndefined();
  });

  it(`keeps at most ${MAX_KEPT_RANGES} ranges, dropping the lowest`, () => {
    let book: SlotBook = { counter: 10_000n, kept: [] };
    for (let index = 0; index <= MAX_KEPT_RANGES; index++) {
      const start = BigInt(index * 3 + 1);
      book = keepInBook(book.counter, book.kept, start, start + 1n) as SlotBook;
    }
    expect(book.kept).toHaveLength(MAX_KEPT_RANGES);
    expect(book.kept[0]).toEqual(range(4n, 5n));
  });
});

describe('stored text', () => {
  it('reads back what it wrote', () => {
    const kept = [range(1n, 2n), range(7n, 9_223_372_036_854_775_807n)];
    expect(formatKeptRanges(kept)).toBe('1-2,7-9223372036854775807');
    expect(parseKeptRanges(formatKeptRanges(kept))).toEqual(kept);
    expect(formatKeptRanges([])).toBeUndefined();
    expect(parseKeptRanges(undefined)).toEqual([]);
  });

  it('keeps nothing from malformed, unordered or overlapping text', () => {
    for (const text of ['x', '1-2,', '2-1', '0-3', '1-5,4-8', '5-8,1-2', '1-2;3-4', '-1-2', '1-99999999999999999999']) {
      expect(parseKeptRanges(text)).toEqual([]);
    }
  });
});

type Step = { kind: 'reserve'; count: number; jump: number | undefined } | { kind: 'handBack'; pick: number; keepFrom: number };

/**
 * A model of one embedded store serving several processes: leases are handed
 * out, some of each is issued, and the unissued tails are handed back in any
 * order. No slot is ever in two leases; every slot handed back is either
 * handed out again or still kept; the counter is above every kept slot.
 */
describe('under any mix of reservations, jumps and hand-backs', () => {
  it('never hands a slot out twice and loses no slot handed back', () => {
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ kind: fc.constant('reserve' as const), count: fc.integer({ min: 0, max: 12 }), jump: fc.option(fc.integer({ min: 1, max: 120 }), { nil: undefined }) }),
      fc.record({ kind: fc.constant('handBack' as const), pick: fc.nat(), keepFrom: fc.nat(12) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        let counter: bigint | undefined;
        let kept: readonly SlotRange[] = [];
        const handedOut = new Set<bigint>();
        /** Leases out in the world: each may hand back its tail once. */
        const open: SlotRange[] = [];
        /** Slots handed back (kept or at the counter) and not handed out again. */
        const returned = new Set<bigint>();
        let floor = 0n;
        for (const next of steps) {
          if (next.kind === 'reserve') {
            const atLeast = next.jump === undefined ? undefined : BigInt(next.jump);
            const { lease, book } = reserveFromBook(counter, kept, BigInt(next.count), atLeast);
            if (atLeast !== undefined && atLeast > floor) floor = atLeast;
            expect(lease.start).toBeGreaterThanOrEqual(atLeast ?? 1n);
            for (let slot = lease.start; slot < lease.end; slot++) {
              expect(handedOut.has(slot)).toBe(false);
              handedOut.add(slot);
              returned.delete(slot);
            }
            counter = book.counter;
            kept = book.kept;
            if (lease.end > lease.start) open.push(lease);
          } else if (open.length > 0) {
            const lease = open.splice(next.pick % open.length, 1)[0] as SlotRange;
            const from = lease.start + BigInt(next.keepFrom) < lease.end ? lease.start + BigInt(next.keepFrom) : lease.end - 1n;
            const book = keepInBook(counter, kept, from, lease.end);
            expect(book).toBeDefined();
            counter = (book as SlotBook).counter;
            kept = (book as SlotBook).kept;
            for (let slot = from; slot < lease.end; slot++) {
              handedOut.delete(slot);
              returned.add(slot);
            }
          }
          for (let index = 0; index < kept.length; index++) {
            const current = kept[index] as SlotRange;
            expect(current.start).toBeLessThan(current.end);
            expect(current.end).toBeLessThan((counter as bigint) + 1n);
            if (index > 0) expect(current.start).toBeGreaterThan((kept[index - 1] as SlotRange).end - 1n);
          }
          // Every slot handed back and not out again is still reachable: kept, or at or above the counter —
          // unless a jump or floor since moved past it (a gap, by the contract).
          for (const slot of returned) {
            const isKept = kept.some((current) => current.start <= slot && slot < current.end);
            expect(isKept || slot >= (counter as bigint) || slot < floor).toBe(true);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
