import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { TicketError } from '../../src/core/errors.js';
import { MAX_INSTANCES, MAX_VALUE, SlotMap, driftTarget, type Numbering } from '../../src/core/numbering.js';

// Offsets a real deployment uses, and offsets so close to 2^63 − 1 that the
// last slots (or even the first) fall past the maximum.
const offsetArb = fc.oneof(
  fc.bigInt({ min: 1n, max: 1_000_000_000_000n }),
  fc.bigInt({ min: MAX_VALUE - 1_000_000n, max: MAX_VALUE }),
);

const numberingArb: fc.Arbitrary<Numbering> = fc
  .integer({ min: 1, max: 64 })
  .chain((instances) =>
    fc.record({ instance: fc.integer({ min: 1, max: instances }), instances: fc.constant(instances), offset: offsetArb }),
  );

/** Numberings whose first slot is a valid value, so valueOf(1) ≤ MAX_VALUE. */
const usableNumberingArb = numberingArb.filter((n) => new SlotMap(n).maxSlot >= 1n);

const slotArb = fc.bigInt({ min: 1n, max: 1_000_000_000_000_000n });

/** SPEC §3 stated independently of SlotMap: v ≥ O and (v − O) mod N = i − 1. */
function specOwns(n: Numbering, value: bigint): boolean {
  return value >= n.offset && (value - n.offset) % BigInt(n.instances) === BigInt(n.instance - 1);
}

describe('SlotMap', () => {
  it('maps the SPEC example: instance 1 of 2 issues 1, 3, 5', () => {
    const map = new SlotMap({ instance: 1, instances: 2, offset: 1n });
    expect([1n, 2n, 3n].map((slot) => map.valueOf(slot))).toEqual([1n, 3n, 5n]);
  });

  it('maps the SPEC example: instance 2 of 2 issues 2, 4, 6', () => {
    const map = new SlotMap({ instance: 2, instances: 2, offset: 1n });
    expect([1n, 2n, 3n].map((slot) => map.valueOf(slot))).toEqual([2n, 4n, 6n]);
  });

  it('maps slot k to O + (i − 1) + (k − 1)·N for an offset other than 1', () => {
    const map = new SlotMap({ instance: 3, instances: 4, offset: 1000n });
    expect([1n, 2n, 3n].map((slot) => map.valueOf(slot))).toEqual([1002n, 1006n, 1010n]);
    expect(map.first).toBe(1002n);
    expect(map.step).toBe(4n);
  });

  it.each<[string, Numbering]>([
    ['instances 0', { instance: 1, instances: 0, offset: 1n }],
    ['instances above MAX_INSTANCES', { instance: 1, instances: MAX_INSTANCES + 1, offset: 1n }],
    ['fractional instances', { instance: 1, instances: 2.5, offset: 1n }],
    ['NaN instances', { instance: 1, instances: Number.NaN, offset: 1n }],
    ['instance 0', { instance: 0, instances: 2, offset: 1n }],
    ['instance above instances', { instance: 3, instances: 2, offset: 1n }],
    ['fractional instance', { instance: 1.5, instances: 2, offset: 1n }],
    ['offset 0', { instance: 1, instances: 1, offset: 0n }],
    ['negative offset', { instance: 1, instances: 1, offset: -5n }],
    ['offset above 2^63 − 1', { instance: 1, instances: 1, offset: MAX_VALUE + 1n }],
  ])('refuses %s with a RangeError', (_label, numbering) => {
    expect(() => new SlotMap(numbering)).toThrow(RangeError);
  });

  it('accepts the extremes of every setting', () => {
    expect(() => new SlotMap({ instance: MAX_INSTANCES, instances: MAX_INSTANCES, offset: MAX_VALUE })).not.toThrow();
    expect(() => new SlotMap({ instance: 1, instances: 1, offset: 1n })).not.toThrow();
  });

  it('never lets two instances of one numbering produce the same value', () => {
    const pairArb = fc
      .integer({ min: 2, max: 64 })
      .chain((instances) =>
        fc.record({
          instances: fc.constant(instances),
          a: fc.integer({ min: 1, max: instances }),
          b: fc.integer({ min: 1, max: instances }),
          offset: offsetArb,
          slotA: slotArb,
          slotB: slotArb,
        }),
      )
      .filter(({ a, b }) => a !== b);
    fc.assert(
      fc.property(pairArb, ({ instances, a, b, offset, slotA, slotB }) => {
        const mapA = new SlotMap({ instance: a, instances, offset });
        const mapB = new SlotMap({ instance: b, instances, offset });
        expect(mapA.valueOf(slotA)).not.toBe(mapB.valueOf(slotB));
        expect(mapB.owns(mapA.valueOf(slotA))).toBe(false);
      }),
    );
  });

  it('gives every value from the offset on to exactly one instance', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.bigInt({ min: 1n, max: 1_000_000_000_000n }),
        fc.bigInt({ min: 0n, max: 1_000_000_000_000n }),
        (instances, offset, distance) => {
          const value = offset + distance;
          const owners = Array.from({ length: instances }, (_, index) => index + 1).filter((instance) =>
            new SlotMap({ instance, instances, offset }).owns(value),
          );
          expect(owners).toHaveLength(1);
        },
      ),
    );
  });

  it('round-trips slot → value → slot', () => {
    fc.assert(
      fc.property(numberingArb, slotArb, (numbering, slot) => {
        const map = new SlotMap(numbering);
        const value = map.valueOf(slot);
        expect(map.owns(value)).toBe(true);
        expect(map.slotOf(value)).toBe(slot);
      }),
    );
  });

  it('round-trips value → slot → value for every value it owns', () => {
    fc.assert(
      fc.property(numberingArb, fc.bigInt({ min: 0n, max: MAX_VALUE }), (numbering, raw) => {
        const map = new SlotMap(numbering);
        // Round down to an owned value at or above the first.
        if (raw < map.first) return;
        const value = raw - ((raw - map.first) % map.step);
        expect(map.valueOf(map.slotOf(value))).toBe(value);
      }),
    );
  });

  it('owns exactly the values SPEC §3 assigns to the instance', () => {
    fc.assert(
      fc.property(numberingArb, fc.bigInt({ min: -10n, max: 2_000_000_000_000n }), (numbering, delta) => {
        const map = new SlotMap(numbering);
        const value = numbering.offset + delta;
        expect(map.owns(value)).toBe(specOwns(numbering, value));
      }),
    );
  });

  it('slotAbove(v) is the slot of the smallest own-class value strictly greater than v', () => {
    fc.assert(
      fc.property(numberingArb, fc.bigInt({ min: -70n, max: 1_000_000_000_000n }), (numbering, delta) => {
        const map = new SlotMap(numbering);
        const v = numbering.offset + delta;
        // Brute force: the first owned value among v+1 … v+N, or the first value when v is further below.
        let expected = map.first;
        if (v >= map.first) {
          for (let candidate = v + 1n; candidate <= v + map.step; candidate++) {
            if (specOwns(numbering, candidate)) {
              expected = candidate;
              break;
            }
          }
        }
        expect(map.valueOf(map.slotAbove(v))).toBe(expected);
      }),
    );
  });

  it('maxSlot is the last slot whose value is at most 2^63 − 1', () => {
    fc.assert(
      fc.property(usableNumberingArb, (numbering) => {
        const map = new SlotMap(numbering);
        expect(map.valueOf(map.maxSlot)).toBeLessThanOrEqual(MAX_VALUE);
        expect(map.valueOf(map.maxSlot + 1n)).toBeGreaterThan(MAX_VALUE);
      }),
    );
  });

  it('maxSlot is 0 when even the first value is past 2^63 − 1', () => {
    const map = new SlotMap({ instance: 3, instances: 3, offset: MAX_VALUE - 1n });
    expect(map.first).toBeGreaterThan(MAX_VALUE);
    expect(map.maxSlot).toBe(0n);
  });

  it('maxSlot at the very top: offset 2^63 − 1 leaves exactly one slot for instance 1', () => {
    expect(new SlotMap({ instance: 1, instances: 4, offset: MAX_VALUE }).maxSlot).toBe(1n);
  });

  it('floorBelow is 0 before anything could be issued', () => {
    fc.assert(
      fc.property(numberingArb, fc.bigInt({ min: -5n, max: 1n }), (numbering, nextSlot) => {
        expect(new SlotMap(numbering).floorBelow(nextSlot)).toBe(0n);
      }),
    );
  });

  it('floorBelow(k + 1) is the value of slot k for every usable slot k', () => {
    fc.assert(
      fc.property(usableNumberingArb, slotArb, (numbering, slot) => {
        const map = new SlotMap(numbering);
        const k = slot > map.maxSlot ? map.maxSlot : slot;
        expect(map.floorBelow(k + 1n)).toBe(map.valueOf(k));
      }),
    );
  });

  it('floorBelow never passes 2^63 − 1, however far the next slot is', () => {
    fc.assert(
      fc.property(numberingArb, fc.bigInt({ min: 2n, max: 1n << 70n }), (numbering, nextSlot) => {
        const map = new SlotMap(numbering);
        const floor = map.floorBelow(nextSlot);
        expect(floor).toBeLessThanOrEqual(MAX_VALUE);
        expect(floor).toBe(map.maxSlot === 0n ? 0n : map.valueOf(nextSlot - 1n > map.maxSlot ? map.maxSlot : nextSlot - 1n));
      }),
    );
  });
});

describe('driftTarget', () => {
  const smallNumberingArb = fc
    .integer({ min: 1, max: 64 })
    .chain((instances) =>
      fc.record({
        instance: fc.integer({ min: 1, max: instances }),
        instances: fc.constant(instances),
        offset: fc.bigInt({ min: 1n, max: 1_000_000_000_000n }),
      }),
    );
  const nextSlotArb = fc.bigInt({ min: 1n, max: 1_000_000_000n });

  it('does not jump while last is at most drift above the next value', () => {
    fc.assert(
      fc.property(
        smallNumberingArb,
        nextSlotArb,
        fc.bigInt({ min: 1n, max: 1000n }),
        fc.bigInt({ min: -1_000_000n, max: 1000n }),
        (numbering, nextSlot, drift, distance) => {
          fc.pre(distance <= drift);
          const map = new SlotMap(numbering);
          const last = map.valueOf(nextSlot) + distance;
          expect(driftTarget(map, nextSlot, last, drift, 1_000_000_000n)).toBeUndefined();
        },
      ),
    );
  });

  it('jumps to the smallest own-class value above last when last is more than drift ahead', () => {
    fc.assert(
      fc.property(
        smallNumberingArb,
        nextSlotArb,
        fc.bigInt({ min: 1n, max: 1000n }),
        fc.bigInt({ min: 1n, max: 100_000_000n }),
        (numbering, nextSlot, drift, excess) => {
          const map = new SlotMap(numbering);
          const last = map.valueOf(nextSlot) + drift + excess;
          const target = driftTarget(map, nextSlot, last, drift, 1_000_000_000n);
          expect(target).toBeDefined();
          const value = map.valueOf(target as bigint);
          expect(value).toBeGreaterThan(last);
          expect(specOwns(numbering, value)).toBe(true);
          // Smallest: the own-class value one step lower is not above last.
          expect(value - map.step).toBeLessThanOrEqual(last);
        },
      ),
    );
  });

  it('allows a jump of exactly maxJump values', () => {
    const map = new SlotMap({ instance: 1, instances: 1, offset: 1n });
    // next value 1; last 1000 → lands on 1001, a move of 1000.
    expect(driftTarget(map, 1n, 1000n, 10n, 1000n)).toBe(1001n);
  });

  it('refuses a jump of more than maxJump values with EJUMP', () => {
    fc.assert(
      fc.property(
        smallNumberingArb,
        nextSlotArb,
        fc.bigInt({ min: 1n, max: 1000n }),
        fc.bigInt({ min: 0n, max: 1_000_000n }),
        fc.bigInt({ min: 1n, max: 1_000_000n }),
        (numbering, nextSlot, drift, maxJump, beyond) => {
          const map = new SlotMap(numbering);
          const nextValue = map.valueOf(nextSlot);
          // Any last at or past nextValue + maxJump lands more than maxJump away.
          const last = nextValue + (maxJump > drift ? maxJump : drift) + beyond;
          let caught: unknown;
          try {
            driftTarget(map, nextSlot, last, drift, maxJump);
          } catch (error) {
            caught = error;
          }
          expect(caught).toBeInstanceOf(TicketError);
          expect((caught as TicketError).code).toBe('EJUMP');
        },
      ),
    );
  });

  it('never jumps when drift is 0 or negative', () => {
    fc.assert(
      fc.property(
        smallNumberingArb,
        nextSlotArb,
        fc.bigInt({ min: -5n, max: 0n }),
        fc.bigInt({ min: 0n, max: MAX_VALUE - 1_000_000_000_000_000n }),
        (numbering, nextSlot, drift, last) => {
          const map = new SlotMap(numbering);
          expect(driftTarget(map, nextSlot, last, drift, 0n)).toBeUndefined();
        },
      ),
    );
  });
});
