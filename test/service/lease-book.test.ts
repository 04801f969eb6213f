/**
 * The lease book against a model: a plain ascending list of the slots the
 * book holds. Random runs of accept / take / skipTo / raiseFloorSlot /
 * withdraw must never issue a value outside an accepted lease, never repeat
 * one, only increase, only skip forward, and withdraw must return exactly the
 * slots that were held and not issued.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_VALUE, SlotMap } from '../../src/core/numbering.js';
import {
  LeaseBook,
  accept,
  available,
  positionSlot,
  raiseFloorSlot,
  skipTo,
  take,
  withdraw,
} from '../../src/service/lease-book.js';
import type { Lease } from '../../src/store/store.js';

type Operation =
  | { readonly kind: 'accept'; readonly gap: number; readonly size: number }
  | { readonly kind: 'take'; readonly count: number }
  | { readonly kind: 'skipTo'; readonly delta: number }
  | { readonly kind: 'floor'; readonly delta: number }
  | { readonly kind: 'withdraw' };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('accept' as const), gap: fc.nat(4), size: fc.nat(12) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('take' as const), count: fc.integer({ min: 1, max: 15 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('skipTo' as const), delta: fc.integer({ min: -4, max: 20 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('floor' as const), delta: fc.integer({ min: -4, max: 20 }) }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'withdraw' as const }), weight: 1 },
);

/** A numbering far from the top, or one whose last usable slot is a few dozen slots away. */
const numbering = fc
  .integer({ min: 1, max: 4 })
  .chain((instances) =>
    fc.record({
      instances: fc.constant(instances),
      instance: fc.integer({ min: 1, max: instances }),
      offset: fc.oneof(fc.constant(1n), fc.bigInt({ min: MAX_VALUE - 200n, max: MAX_VALUE - 100n })),
    }),
  );

const noRefill = (): number => 0;

function slotsOf(leases: readonly Lease[]): bigint[] {
  const slots: bigint[] = [];
  for (const lease of leases) for (let slot = lease.start; slot < lease.end; slot++) slots.push(slot);
  return slots;
}

describe('lease book', () => {
  it('issues only unissued slots of accepted leases, in order, and withdraw returns exactly the rest', () => {
    fc.assert(
      fc.property(numbering, fc.array(operation, { maxLength: 60 }), (chosen, operations) => {
        const map = new SlotMap(chosen);
        const book = new LeaseBook();
        const usable = (slot: bigint): boolean => slot <= map.maxSlot;
        // The model: slots held and not issued, ascending (only usable ones can be issued).
        let held: bigint[] = [];
        let floor = 0n;
        let storeNext = 1n; // a store never hands out a slot below an earlier lease's end
        let lastValue: bigint | undefined;
        let lastPosition = 0n;
        const issued = new Set<bigint>();
        const accepted = new Set<bigint>();

        for (const op of operations) {
          switch (op.kind) {
            case 'accept': {
              const lease = { start: storeNext + BigInt(op.gap), end: storeNext + BigInt(op.gap + op.size) };
              storeNext = lease.end;
              accept(book, map, lease, noRefill);
              for (const slot of slotsOf([lease])) {
                if (slot < floor) continue;
                held.push(slot);
                accepted.add(slot);
              }
              break;
            }
            case 'take': {
              const usableHeld = held.filter(usable);
              expect(available(book, map)).toBe(BigInt(usableHeld.length));
              if (usableHeld.length < op.count) break; // the service asks the store instead
              const values = take(book, map, op.count, noRefill);
              expect(values).toEqual(usableHeld.slice(0, op.count).map((slot) => map.valueOf(slot)));
              for (const value of values) {
                expect(map.owns(value) && value <= MAX_VALUE).toBe(true);
                expect(accepted.has(map.slotOf(value))).toBe(true);
                expect(issued.has(value)).toBe(false);
                if (lastValue !== undefined) expect(value).toBeGreaterThan(lastValue);
                issued.add(value);
                lastValue = value;
              }
              const lastSlot = map.slotOf(values[values.length - 1] as bigint);
              held = held.filter((slot) => slot > lastSlot);
              break;
            }
            case 'skipTo': {
              const target = BigInt(Math.max(1, Number(positionSlot(book, map)) + op.delta));
              const reached = skipTo(book, map, target);
              held = held.filter((slot) => slot >= target);
              // Unusable slots count as held here only while the current lease runs to them.
              if (held.some(usable)) expect(reached).toBe(true);
              if (!reached) held = [];
              break;
            }
            case 'floor': {
              const slot = BigInt(Math.max(1, Number(positionSlot(book, map)) + op.delta));
              raiseFloorSlot(book, map, slot);
              if (slot > floor) floor = slot;
              held = held.filter((entry) => entry >= slot);
              break;
            }
            case 'withdraw': {
              const returned = withdraw(book, map);
              for (let index = 1; index < returned.length; index++) {
                expect((returned[index] as Lease).start).toBeGreaterThanOrEqual((returned[index - 1] as Lease).end);
              }
              const slots = slotsOf(returned);
              expect(slots.filter(usable)).toEqual(held.filter(usable));
              for (const slot of slots) expect(issued.has(map.valueOf(slot))).toBe(false);
              expect(available(book, map)).toBe(0n);
              held = [];
              break;
            }
          }
          expect(available(book, map)).toBe(BigInt(held.filter(usable).length));
          if (book.known) {
            const position = positionSlot(book, map);
            expect(position).toBeGreaterThanOrEqual(lastPosition);
            lastPosition = position;
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('trims a lease to the admin floor and never moves back for a lower one', () => {
    const map = new SlotMap({ instance: 1, instances: 1, offset: 1n });
    const book = new LeaseBook();
    accept(book, map, { start: 1n, end: 11n }, noRefill);
    expect(raiseFloorSlot(book, map, 5n)).toBe(true);
    expect(raiseFloorSlot(book, map, 3n)).toBe(false);
    expect(take(book, map, 2, noRefill)).toEqual([5n, 6n]);
    withdraw(book, map);
    raiseFloorSlot(book, map, 20n);
    accept(book, map, { start: 11n, end: 31n }, noRefill);
    expect(take(book, map, 1, noRefill)).toEqual([20n]);
    expect(available(book, map)).toBe(10n);
  });

  it('sets the reserve-ahead point from the plan when a lease becomes current', () => {
    const map = new SlotMap({ instance: 2, instances: 3, offset: 10n });
    const book = new LeaseBook();
    accept(book, map, { start: 1n, end: 11n }, (size) => size - 2);
    expect(book.nextValue).toBe(11n);
    expect(book.refillValue).toBe(11n + 8n * 3n);
  });
});
