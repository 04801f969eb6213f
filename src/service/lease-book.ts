/**
 * The lease book of one sequence: which durably reserved slots it holds and
 * where it stands among them. Pure bookkeeping — no store, no timers, no
 * promises — so the rule that makes values unique ("issue only from a lease,
 * only forward, never twice") lives in one small place that a property test
 * checks against a model (`test/service/lease-book.test.ts`).
 *
 * The current lease is kept as values (`nextValue`/`endValue`) so the
 * service's hot path can issue with a compare and an add on the book's own
 * fields; queued leases are kept as slots, as the store handed them out.
 * Every function takes the `SlotMap` of the numbering instead of storing it,
 * which keeps a book as small as its fields.
 */
import { TicketError } from '../core/errors.js';
import type { SlotMap } from '../core/numbering.js';
import type { Lease } from '../store/store.js';

/**
 * Tells `promote` how many slots of a newly current lease of `size` slots to
 * issue before the next lease should be reserved (the service's reserve-ahead
 * policy; `slotsBeforeRefill`). Must return an integer in [0, size).
 */
export type RefillPlan = (size: number) => number;

/**
 * State of one sequence's leases. The service's per-sequence state extends
 * it, so the hot path reads these fields without an extra indirection.
 * Change it only through the functions of this module (the hot path's
 * single-value issue is the one exception, documented at `TicketService.nextValue`).
 */
export class LeaseBook {
  /** Value issued next while it is below `endValue` (current lease, as values). */
  nextValue = 0n;
  /** First value past the current lease, clamped to the last usable slot. */
  endValue = 0n;
  /** The service reserves the next lease once `nextValue` reaches this. */
  refillValue = 0n;
  /** Unclamped end slot of the current lease (what the store recorded), for hand-back. */
  endSlot = 0n;
  /** Leases reserved ahead, oldest first, in slots. */
  readonly queued: Lease[] = [];
  /** A lease has been received, so the position is known. */
  known = false;
  /** Highest slot end ever received (or raised to by a floor). */
  highestSlot = 0n;
  /** The store's counter is past the last usable slot: no future lease can help. */
  limitReached = false;
  /** Lowest slot an admin floor allows; leases below it are trimmed on `accept`. */
  floorSlot = 0n;
  /** Last slot this sequence may issue (its `max` setting); the numbering's own limit applies too. */
  maxSlot = NO_LIMIT;
}

/** `maxSlot` of a sequence without a `max` of its own. */
export const NO_LIMIT = 1n << 64n;

/** Last slot `book` may issue: its own limit or the numbering's, whichever is lower. */
export function lastSlot(book: LeaseBook, map: SlotMap): bigint {
  return book.maxSlot < map.maxSlot ? book.maxSlot : map.maxSlot;
}

/**
 * Sets the last slot the sequence may issue (a changed `max`); a lower one cuts
 * the current lease short at once, so nothing above it is issued from now on.
 */
export function limitTo(book: LeaseBook, map: SlotMap, maxSlot: bigint): void {
  book.maxSlot = maxSlot;
  const limit = lastSlot(book, map);
  if (book.nextValue < book.endValue && map.slotOf(book.endValue) > limit + 1n) {
    book.endValue = map.valueOf(limit + 1n);
    if (book.refillValue > book.endValue) book.refillValue = book.endValue;
  }
  book.limitReached = book.highestSlot > limit;
}

/** Slot this sequence would issue next (the highest slot received when nothing is held). */
export function positionSlot(book: LeaseBook, map: SlotMap): bigint {
  if (book.nextValue < book.endValue) return map.slotOf(book.nextValue);
  const first = book.queued[0];
  return first ? first.start : book.highestSlot;
}

/** Slots left in held leases, clamped to what can be issued. */
export function available(book: LeaseBook, map: SlotMap): bigint {
  let total = book.nextValue < book.endValue ? (book.endValue - book.nextValue) / map.step : 0n;
  const limit = lastSlot(book, map) + 1n;
  for (const lease of book.queued) {
    const end = lease.end < limit ? lease.end : limit;
    if (end > lease.start) total += end - lease.start;
  }
  return total;
}

/**
 * Moves the position forward to slot `target` within held leases; every held
 * slot below `target` is dropped (a gap, never a repeat). Never moves back.
 * @returns false when no held lease reaches `target` (nothing is held then)
 */
export function skipTo(book: LeaseBook, map: SlotMap, target: bigint): boolean {
  if (book.nextValue < book.endValue) {
    const targetValue = map.valueOf(target);
    if (targetValue < book.endValue) {
      if (targetValue > book.nextValue) book.nextValue = targetValue;
      return true;
    }
    book.nextValue = book.endValue;
  }
  while (book.queued.length > 0) {
    const lease = book.queued[0] as Lease;
    if (lease.end > target) {
      if (lease.start < target) book.queued[0] = { start: target, end: lease.end };
      return true;
    }
    book.queued.shift();
  }
  return false;
}

/**
 * Makes the oldest usable queued lease current; unusable ones (past the last
 * slot) are dropped. Sets `refillValue` from `plan`.
 * @returns true when a lease became current
 */
export function promote(book: LeaseBook, map: SlotMap, plan: RefillPlan): boolean {
  const limit = lastSlot(book, map) + 1n;
  for (let lease = book.queued.shift(); lease !== undefined; lease = book.queued.shift()) {
    const end = lease.end < limit ? lease.end : limit;
    if (lease.start >= end) continue;
    book.nextValue = map.valueOf(lease.start);
    book.endValue = map.valueOf(end);
    book.endSlot = lease.end;
    book.refillValue = book.nextValue + BigInt(plan(Number(end - lease.start))) * map.step;
    return true;
  }
  return false;
}

/**
 * Takes a lease the store reserved into the queue, trimmed to `floorSlot`;
 * promotes it when nothing is current. The store guarantees a lease never
 * starts below an earlier lease's end, so queued leases stay in order.
 */
export function accept(book: LeaseBook, map: SlotMap, reserved: Lease, plan: RefillPlan): void {
  book.known = true;
  const lease = reserved.start < book.floorSlot ? { start: book.floorSlot, end: reserved.end } : reserved;
  if (lease.end > book.highestSlot) book.highestSlot = lease.end;
  if (lease.end > lastSlot(book, map)) book.limitReached = true;
  if (lease.end > lease.start) book.queued.push(lease);
  if (book.nextValue >= book.endValue) promote(book, map, plan);
}

/**
 * Issues `count` values, increasing, from held leases.
 * @throws TicketError EINTERNAL when fewer than `count` are `available` (callers check first;
 *   no value outside a lease ever leaves, and on this error the position may have moved, never back)
 */
export function take(book: LeaseBook, map: SlotMap, count: number, plan: RefillPlan): bigint[] {
  const values = new Array<bigint>(count);
  for (let index = 0; index < count; index++) {
    if (book.nextValue >= book.endValue) {
      promote(book, map, plan);
      if (book.nextValue >= book.endValue) throw new TicketError('EINTERNAL', 'lease accounting error');
    }
    values[index] = book.nextValue;
    book.nextValue += map.step;
  }
  if (book.nextValue >= book.endValue && book.queued.length > 0) promote(book, map, plan);
  return values;
}

/**
 * An admin floor: nothing at or below slot `slot − 1` is issued from now on.
 * Records the floor for later leases and skips held ones forward.
 * @returns true when the position moved
 */
export function raiseFloorSlot(book: LeaseBook, map: SlotMap, slot: bigint): boolean {
  if (slot > book.floorSlot) book.floorSlot = slot;
  if (!book.known || positionSlot(book, map) >= slot) return false;
  if (!skipTo(book, map, slot) && slot > book.highestSlot) book.highestSlot = slot;
  return true;
}

/**
 * Takes every held lease out of service (for hand-back) and returns exactly
 * the unissued slots, oldest first; the current lease's part runs to the end
 * the store recorded. Nothing can be issued from the book afterwards until
 * the next `accept`.
 */
export function withdraw(book: LeaseBook, map: SlotMap): Lease[] {
  const leases: Lease[] = [];
  if (book.nextValue < book.endValue) leases.push({ start: map.slotOf(book.nextValue), end: book.endSlot });
  leases.push(...book.queued.splice(0));
  book.nextValue = book.endValue;
  return leases;
}
