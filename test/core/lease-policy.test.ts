import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { MAX_BLOCK_LIMIT, nextLeaseSize, slotsBeforeRefill } from '../../src/core/lease-policy.js';

const maxBlockArb = fc.oneof(fc.integer({ min: 1, max: 20_000 }), fc.integer({ min: 1, max: MAX_BLOCK_LIMIT }));

/** maxBlock and a previous lease size within [1, maxBlock]. */
const sizesArb = maxBlockArb.chain((maxBlock) =>
  fc.record({ maxBlock: fc.constant(maxBlock), previous: fc.integer({ min: 1, max: maxBlock }) }),
);

const issuedArb = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 2_000_000_000 }));
const elapsedArb = fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 86_400_000 }));

function clamp(value: number, low: number, high: number): number {
  return Math.min(Math.max(value, low), high);
}

describe('nextLeaseSize', () => {
  it('always returns an integer from 1 to maxBlock', () => {
    fc.assert(
      fc.property(
        maxBlockArb,
        fc.integer({ min: 1, max: MAX_BLOCK_LIMIT }),
        issuedArb,
        elapsedArb,
        (maxBlock, previous, issued, elapsedMs) => {
          const size = nextLeaseSize(previous, issued, elapsedMs, maxBlock);
          expect(Number.isInteger(size)).toBe(true);
          expect(size).toBeGreaterThanOrEqual(1);
          expect(size).toBeLessThanOrEqual(maxBlock);
        },
      ),
    );
  });

  it('never grows more than ×8 in one step', () => {
    fc.assert(
      fc.property(sizesArb, issuedArb, elapsedArb, ({ maxBlock, previous }, issued, elapsedMs) => {
        expect(nextLeaseSize(previous, issued, elapsedMs, maxBlock)).toBeLessThanOrEqual(previous * 8);
      }),
    );
  });

  it('never shrinks below half in one step', () => {
    fc.assert(
      fc.property(sizesArb, issuedArb, elapsedArb, ({ maxBlock, previous }, issued, elapsedMs) => {
        expect(nextLeaseSize(previous, issued, elapsedMs, maxBlock)).toBeGreaterThanOrEqual(Math.floor(previous / 2));
      }),
    );
  });

  it('converges to the steady rate per second, clamped to [1, maxBlock]', () => {
    fc.assert(
      fc.property(sizesArb, fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 2 * MAX_BLOCK_LIMIT })), ({ maxBlock, previous }, rate) => {
        let size = previous;
        // ×8 reaches 10^9 from 1 in 10 steps, ÷2 comes down in 30: 64 is plenty.
        for (let step = 0; step < 64; step++) size = nextLeaseSize(size, rate, 1000, maxBlock);
        expect(size).toBe(clamp(rate, 1, maxBlock));
      }),
    );
  });

  it('holds a lease size that already matches the rate', () => {
    expect(nextLeaseSize(500, 500, 1000, 10_000)).toBe(500);
  });

  it('sizes for targetSeconds of demand', () => {
    // 100 per second for 5 seconds is 500, within ×8 of 100.
    expect(nextLeaseSize(100, 100, 1000, 10_000, 5)).toBe(500);
  });
});

describe('slotsBeforeRefill', () => {
  it('issues a lease of one slot fully before refilling', () => {
    expect(slotsBeforeRefill(1)).toBe(0);
  });

  it('refills a lease of 10 with 2 slots left', () => {
    expect(slotsBeforeRefill(10)).toBe(8);
  });

  it('is an integer in [0, size) that leaves at least 20 % (rounded up) of the lease', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: MAX_BLOCK_LIMIT })), (size) => {
        const before = slotsBeforeRefill(size);
        expect(Number.isInteger(before)).toBe(true);
        expect(before).toBeGreaterThanOrEqual(0);
        expect(before).toBeLessThan(size);
        expect(size - before).toBeGreaterThanOrEqual(Math.ceil(size / 5));
      }),
    );
  });
});

describe('slotsBeforeRefill under high demand', () => {
  it('reserves earlier when more than 20 % would be asked for during a reservation', () => {
    expect(slotsBeforeRefill(10_000, 0)).toBe(8_000);
    expect(slotsBeforeRefill(10_000, 5_000)).toBe(5_000);
  });

  it('reserves at once when a whole lease would go while a reservation is on its way', () => {
    expect(slotsBeforeRefill(10_000, 50_000)).toBe(0);
  });

  it('never asks to issue a negative number of slots or the whole lease first', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.double({ min: 0, max: 1e9, noNaN: true }), (size, needed) => {
        const before = slotsBeforeRefill(size, needed);
        expect(Number.isInteger(before)).toBe(true);
        expect(before).toBeGreaterThanOrEqual(0);
        expect(before).toBeLessThan(size);
      }),
    );
  });
});
