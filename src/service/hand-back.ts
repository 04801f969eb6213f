/**
 * Handing unissued leases back to the store (graceful stop, leadership lost),
 * so a clean restart or a new leader loses no number.
 */
import type { Lease, Store } from '../store/store.js';
import type { ServiceLogger } from './service-options.js';

/** Sequences handed back at once: enough for LMDB to batch many into one commit, few enough for a pool's queue. */
const HAND_BACK_CONCURRENCY = 64;

/** One sequence's withdrawn leases, oldest first. */
export interface WithdrawnLeases {
  readonly name: string;
  readonly leases: Lease[];
}

/**
 * Releases each sequence's leases newest first, stopping at the first the
 * store refuses (someone reserved after it) or fails on; a failure is logged,
 * never thrown. With `mayKeep`, an embedded store takes them with
 * `unissued.keep`: a lease below its counter (one taken from kept slots) is
 * kept for later, not lost. Up to `HAND_BACK_CONCURRENCY` sequences go back at
 * once (each in its own order): LMDB commits the calls of one turn in one
 * transaction, so a stop with many sequences pays an fsync per batch, not per
 * lease, and a shared store's pool gets a bounded queue.
 * @returns the number of slots handed back
 */
export async function releaseLeases(store: Store, logger: ServiceLogger, withdrawn: WithdrawnLeases[], mayKeep: boolean): Promise<bigint> {
  const kept = mayKeep ? store.unissued : undefined;
  const releaseOne = async ({ name, leases }: WithdrawnLeases): Promise<bigint> => {
    let slots = 0n;
    // Newest first: the store's counter sits at the end of the newest lease.
    for (let index = leases.length - 1; index >= 0; index--) {
      const lease = leases[index] as Lease;
      try {
        const taken = kept !== undefined ? await kept.keep(name, lease.start, lease.end) : await store.release(name, lease.start, lease.end);
        if (!taken) break;
        slots += lease.end - lease.start;
      } catch (error) {
        logger.warn({ err: error, sequence: name }, 'could not hand a lease back');
        break;
      }
    }
    return slots;
  };
  let released = 0n;
  let next = 0;
  const runner = async (): Promise<void> => {
    while (next < withdrawn.length) {
      // Not `released += await …`: that reads `released` before the wait, and runners would overwrite each other.
      const count = await releaseOne(withdrawn[next++] as WithdrawnLeases);
      released += count;
    }
  };
  await Promise.all(Array.from({ length: Math.min(HAND_BACK_CONCURRENCY, withdrawn.length) }, runner));
  return released;
}

/** Waits until every promise settled or `timeoutMs` passed, whichever comes first. Never throws. */
export async function settleWithin(promises: Array<Promise<unknown>>, timeoutMs: number): Promise<void> {
  if (promises.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(promises),
    new Promise((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
}
