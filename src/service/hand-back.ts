/**
 * Handing unissued leases back to the store (graceful stop, leadership lost),
 * so a clean restart or a new leader loses no number.
 */
import type { Lease, Store } from '../store/store.js';
import type { ServiceLogger } from './service-options.js';

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
 * kept for later, not lost.
 * @returns the number of slots handed back
 */
export async function releaseLeases(store: Store, logger: ServiceLogger, withdrawn: WithdrawnLeases[], mayKeep: boolean): Promise<bigint> {
  let released = 0n;
  const kept = mayKeep ? store.unissued : undefined;
  for (const { name, leases } of withdrawn) {
    // Newest first: the store's counter sits at the end of the newest lease.
    for (let index = leases.length - 1; index >= 0; index--) {
      const lease = leases[index] as Lease;
      try {
        const taken = kept !== undefined ? await kept.keep(name, lease.start, lease.end) : await store.release(name, lease.start, lease.end);
        if (!taken) break;
        released += lease.end - lease.start;
      } catch (error) {
        logger.warn({ err: error, sequence: name }, 'could not hand a lease back');
        break;
      }
    }
  }
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
