/**
 * Slots kept for later: ranges below a sequence's counter that were reserved
 * and never issued, which an embedded store hands out again before it moves
 * its counter.
 *
 * Only `--workers` makes them. Its processes' leases interleave (worker A holds
 * [1,100), B [100,200)); at a graceful stop B's unissued tail goes back to the
 * counter, but A's tail [60,100) lies below a value B issued, and a counter
 * cannot take it back. An embedded store (one owner process, a directory lock)
 * keeps such a tail instead, so a clean restart loses no number: the next
 * reservations of the sequence take the kept ranges first, lowest first, then
 * the counter moves again. Shared stores keep nothing (another server may have
 * reserved above the tail); there the tail stays a gap, as a counter allows.
 *
 * Pure functions over a sorted list, used by the LMDB and memory stores inside
 * one transaction each.
 */
import { FIRST_SLOT, planReservation, type Lease } from './store.js';

/** A range of slots `[start, end)`, `start < end`. */
export interface SlotRange {
  readonly start: bigint;
  readonly end: bigint;
}

/** Most ranges kept per sequence; past it the lowest are dropped (they become gaps, never repeats). */
export const MAX_KEPT_RANGES = 1_000;

/** What a store records for a sequence: its counter (next slot) and the kept ranges below it, ascending. */
export interface SlotBook {
  readonly counter: bigint;
  readonly kept: readonly SlotRange[];
}

/**
 * Reads the stored text of kept ranges (`start-end` pairs, comma-separated,
 * ascending). Anything malformed yields no ranges: a range that cannot be
 * read is a gap, never a value handed out twice.
 */
export function parseKeptRanges(text: string | undefined): SlotRange[] {
  if (text === undefined || text === '') return [];
  const ranges: SlotRange[] = [];
  let previousEnd = 0n;
  for (const pair of text.split(',')) {
    const match = /^([0-9]{1,19})-([0-9]{1,19})$/.exec(pair);
    if (!match) return [];
    const start = BigInt(match[1] as string);
    const end = BigInt(match[2] as string);
    if (start < FIRST_SLOT || start >= end || start < previousEnd) return [];
    ranges.push({ start, end });
    previousEnd = end;
  }
  return ranges;
}

/** The stored text of `ranges`; undefined when there are none (the record is removed). */
export function formatKeptRanges(ranges: readonly SlotRange[]): string | undefined {
  return ranges.length === 0 ? undefined : ranges.map((range) => `${range.start}-${range.end}`).join(',');
}

/**
 * A reservation from a book with kept ranges. `atLeast` (a floor, a drift jump)
 * first drops the kept slots below it. Then a reservation of `count` > 0 takes
 * the lowest kept range (as much of it as `count` asks, never more than the
 * range: the lease may be shorter than asked); with none left, or `count` 0,
 * the counter moves as in `planReservation`.
 * @param counter the stored next slot; undefined for a sequence the store does not have
 */
export function reserveFromBook(counter: bigint | undefined, kept: readonly SlotRange[], count: bigint, atLeast?: bigint): { lease: Lease; book: SlotBook } {
  let ranges = kept;
  if (atLeast !== undefined && ranges.length > 0) {
    ranges = ranges.filter((range) => range.end > atLeast).map((range) => (range.start < atLeast ? { start: atLeast, end: range.end } : range));
  }
  const first = ranges[0];
  if (count > 0n && first !== undefined && counter !== undefined) {
    const end = first.start + count < first.end ? first.start + count : first.end;
    const rest = end === first.end ? ranges.slice(1) : [{ start: end, end: first.end }, ...ranges.slice(1)];
    return { lease: { start: first.start, end }, book: { counter, kept: rest } };
  }
  const lease = planReservation(counter, count, atLeast);
  // A counter raised above kept slots (a floor) leaves none below it.
  return { lease, book: { counter: lease.end, kept: ranges.filter((range) => range.end <= lease.end) } };
}

/**
 * Takes the unissued slots `[from, end)` back: at the counter it lowers the
 * counter (and then again over kept ranges that now end at it); below it they
 * are kept for the next reservations. Refused (undefined) for a sequence the
 * store does not have, an empty or reversed range, a range reaching above the
 * counter, and a range overlapping one already kept (both would be a slot
 * handed out twice).
 */
export function keepInBook(counter: bigint | undefined, kept: readonly SlotRange[], from: bigint, end: bigint): SlotBook | undefined {
  if (counter === undefined || from < FIRST_SLOT || from >= end || end > counter) return undefined;
  if (kept.some((range) => range.start < end && from < range.end)) return undefined;
  if (end === counter) {
    const ranges = [...kept];
    let next = from;
    for (let top = ranges.at(-1); top !== undefined && top.end === next; top = ranges.at(-1)) {
      next = top.start;
      ranges.pop();
    }
    return { counter: next, kept: ranges };
  }
  const ranges: SlotRange[] = [];
  let added: SlotRange = { start: from, end };
  let placed = false;
  for (const range of kept) {
    if (placed) ranges.push(range);
    else if (range.end === added.start) added = { start: range.start, end: added.end };
    else if (range.start === added.end) {
      ranges.push({ start: added.start, end: range.end });
      placed = true;
    } else if (range.start > added.end) {
      ranges.push(added, range);
      placed = true;
    } else ranges.push(range);
  }
  if (!placed) ranges.push(added);
  return { counter, kept: ranges.length > MAX_KEPT_RANGES ? ranges.slice(ranges.length - MAX_KEPT_RANGES) : ranges };
}
