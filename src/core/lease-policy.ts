/**
 * How large the next lease should be (SPEC §4, DESIGN "The hot path").
 *
 * Aim: about one reservation per `targetSeconds` per sequence, so a crash
 * loses little when traffic is low and the store is barely touched when it is
 * high. The size follows the demand measured since the previous reservation,
 * but moves gradually — at most ×8 up and ÷2 down per reservation — so that
 * one burst or one quiet minute does not swing it to an extreme.
 */

/** Upper bound for `--max-block`: one lease can never take more than this many slots. */
export const MAX_BLOCK_LIMIT = 1_000_000_000;

/** Growth and shrink limits per reservation. */
export const GROWTH_FACTOR = 8;
export const SHRINK_FACTOR = 2;

/** Fraction of a lease left when the next one is reserved (Leaf's double buffer). */
export const RESERVE_AHEAD_FRACTION = 0.2;

/**
 * Size of the next lease.
 *
 * @param previous size of the previous lease (≥ 1)
 * @param issued values issued since the previous reservation (≥ 0)
 * @param elapsedMs time since the previous reservation (≥ 0)
 * @param maxBlock `--max-block` (≥ 1)
 * @param targetSeconds desired time between reservations (default 1 s)
 * @returns an integer in [1, maxBlock]
 */
export function nextLeaseSize(
  previous: number,
  issued: number,
  elapsedMs: number,
  maxBlock: number,
  targetSeconds = 1,
): number {
  const rate = issued / (Math.max(elapsedMs, 1) / 1000);
  const wanted = Math.ceil(rate * targetSeconds);
  const low = Math.max(1, Math.floor(previous / SHRINK_FACTOR));
  const high = Math.max(1, previous * GROWTH_FACTOR);
  const smoothed = Math.min(Math.max(wanted, low), high);
  return Math.min(Math.max(smoothed, 1), maxBlock);
}

/**
 * How many slots of a lease of `size` to issue before reserving the next one.
 * The next lease is requested while at least 20 % (rounded up) of the current
 * one is still left (for a lease of one slot: as soon as it is taken) — and
 * earlier when demand is so high that more than that would be issued while a
 * reservation is on its way: `neededDuringReservation` is the caller's
 * estimate of that (rate × reservation latency, with a margin).
 *
 * @returns an integer in [0, size)
 */
export function slotsBeforeRefill(size: number, neededDuringReservation = 0): number {
  const keep = Math.max(Math.ceil(size * RESERVE_AHEAD_FRACTION), Math.ceil(neededDuringReservation));
  return Math.max(0, size - keep);
}
