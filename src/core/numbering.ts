/**
 * Slot ↔ value arithmetic (SPEC §3).
 *
 * A sequence counts slots 1, 2, 3, …; stores persist slots, so the same store
 * layout serves every numbering. Instance `i` of `N` with offset `O` maps slot
 * `k` to `O + (i − 1) + (k − 1)·N`, so instances never share a value.
 */
import { TicketError } from './errors.js';

/** Largest value ever issued: 2^63 − 1, so values fit SQL BIGINT and Java `long`. */
export const MAX_VALUE = (1n << 63n) - 1n;

/** Upper bound for `--instances`: keeps steps small enough for numbers read over the phone. */
export const MAX_INSTANCES = 65_536;

/** The numbering a server issues with. */
export interface Numbering {
  /** 1-based instance number `i`, 1 ≤ i ≤ instances. */
  readonly instance: number;
  /** Number of instances `N` ≥ 1. */
  readonly instances: number;
  /** First value `O` ≥ 1. */
  readonly offset: bigint;
}

/**
 * Precomputed arithmetic for one numbering. Construct once; every method is
 * pure and allocation-light because it sits on the hot path.
 */
export class SlotMap {
  readonly numbering: Numbering;
  /** Distance between two consecutive values of this instance (N). */
  readonly step: bigint;
  /** Value of slot 1: O + (i − 1). */
  readonly first: bigint;
  /** Highest slot whose value is ≤ MAX_VALUE (0 when even slot 1 is too large). */
  readonly maxSlot: bigint;

  /**
   * @throws RangeError when the numbering is out of range (instance outside
   *   1..instances, instances outside 1..MAX_INSTANCES, offset outside 1..MAX_VALUE).
   */
  constructor(numbering: Numbering) {
    const { instance, instances, offset } = numbering;
    if (!Number.isInteger(instances) || instances < 1 || instances > MAX_INSTANCES) {
      throw new RangeError(`instances must be an integer from 1 to ${MAX_INSTANCES}`);
    }
    if (!Number.isInteger(instance) || instance < 1 || instance > instances) {
      throw new RangeError('instance must be an integer from 1 to instances');
    }
    if (offset < 1n || offset > MAX_VALUE) {
      throw new RangeError('offset must be from 1 to 2^63 - 1');
    }
    this.numbering = { instance, instances, offset };
    this.step = BigInt(instances);
    this.first = offset + BigInt(instance - 1);
    this.maxSlot = this.first > MAX_VALUE ? 0n : (MAX_VALUE - this.first) / this.step + 1n;
  }

  /** Value of slot `slot` (slot ≥ 1). May exceed MAX_VALUE; callers check `maxSlot`. */
  valueOf(slot: bigint): bigint {
    return this.first + (slot - 1n) * this.step;
  }

  /** True when `value` belongs to this instance's class. */
  owns(value: bigint): boolean {
    return value >= this.first && (value - this.first) % this.step === 0n;
  }

  /** Slot of a value this instance owns. */
  slotOf(value: bigint): bigint {
    return (value - this.first) / this.step + 1n;
  }

  /** Smallest slot whose value is strictly greater than `value` (slot 1 when `value` is below the first). */
  slotAbove(value: bigint): bigint {
    if (value < this.first) return 1n;
    return (value - this.first) / this.step + 2n;
  }

  /**
   * Highest value that slots below `nextSlot` could have issued, or 0n when
   * none could (`nextSlot` ≤ 1). This is the floor a dump records.
   */
  floorBelow(nextSlot: bigint): bigint {
    if (nextSlot <= 1n) return 0n;
    const last = nextSlot - 1n > this.maxSlot ? this.maxSlot : nextSlot - 1n;
    return last < 1n ? 0n : this.valueOf(last);
  }
}

/**
 * Drift rule (SPEC §3). Given the value this server would issue next and the
 * client's `last`, returns the slot to jump to, or `undefined` for no jump.
 *
 * A jump happens when `next` is more than `drift` below `last`; it lands on
 * the smallest own-class value greater than `last`. `drift` ≤ 0 disables jumping.
 *
 * @throws TicketError EJUMP when the jump would move the sequence by more than `maxJump` values.
 */
export function driftTarget(
  map: SlotMap,
  nextSlot: bigint,
  last: bigint,
  drift: bigint,
  maxJump: bigint,
): bigint | undefined {
  if (drift <= 0n) return undefined;
  const nextValue = map.valueOf(nextSlot);
  if (last - nextValue <= drift) return undefined;
  const target = map.slotAbove(last);
  const distance = map.valueOf(target) - nextValue;
  if (distance > maxJump) {
    throw new TicketError(
      'EJUMP',
      `last ${last} would move the sequence by ${distance}, more than --max-jump ${maxJump}`,
    );
  }
  return target;
}
