/**
 * The service's calls to its store, each bounded by the store timeout:
 * admin calls (`callStore`) and the issuing path's reservations
 * (`Reservations`: the one reservation in flight per sequence, its stall
 * timer, failure backoff and the moving average of the store's answer time).
 * When to reserve and what to do with a lease that lands stay with the service.
 */
import { TicketError } from '../core/errors.js';
import type { Lease, Store } from '../store/store.js';
import { failWaiters, type SequenceState } from './sequence-state.js';
import type { ServiceLogger, ServiceObserver } from './service-options.js';

/** Backoff after a failed reservation: 100 ms doubling up to 5 s. */
const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 5_000;

/**
 * Runs a store call bounded by `timeoutMs`, with every failure as EUNAVAILABLE.
 * @throws TicketError EUNAVAILABLE when the store fails or does not answer in time (`cause` kept)
 */
export async function callStore<T>(call: () => Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      call(),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new TicketError('EUNAVAILABLE', 'store did not answer in time')), timeoutMs);
      }),
    ]);
  } catch (error) {
    if (error instanceof TicketError) throw error;
    throw new TicketError('EUNAVAILABLE', 'store unreachable', { cause: error });
  } finally {
    clearTimeout(timer);
  }
}

/** Starts reservations and keeps the store's answer time. */
export class Reservations {
  /** Moving average of how long a reservation takes, in ms (for the reserve-ahead point). */
  latencyMs = 1;

  constructor(
    private readonly store: Store,
    private readonly timeoutMs: number,
    private readonly now: () => number,
    private readonly logger: ServiceLogger,
    private readonly observer: ServiceObserver | undefined,
  ) {}

  /**
   * Reserves `count` slots of `seq` from `atLeast` on and sets `seq.reserving`
   * until the store answers; the caller makes sure none is in flight. Past the
   * store timeout the sequence is marked stalled and its waiters fail with
   * EUNAVAILABLE (the reservation keeps going). On success `landed` gets the
   * lease; on failure the waiters fail with EUNAVAILABLE and the next
   * reservation waits (100 ms doubling up to 5 s).
   */
  start(seq: SequenceState, count: bigint, atLeast: bigint | undefined, landed: (lease: Lease) => void): void {
    const timer = setTimeout(() => {
      if (!seq.reserving) return;
      seq.stalled = true;
      this.logger.warn({ sequence: seq.name, timeoutMs: this.timeoutMs }, 'store reservation is slow');
      failWaiters(seq, new TicketError('EUNAVAILABLE', 'store is not answering and no lease is left'));
    }, this.timeoutMs);
    timer.unref();

    const startedAt = performance.now();
    seq.reserving = this.store.reserve(seq.name, count, atLeast).then(
      (lease) => {
        clearTimeout(timer);
        const elapsedMs = performance.now() - startedAt;
        this.latencyMs += (elapsedMs - this.latencyMs) / 8;
        this.observer?.reserved(lease.end - lease.start, elapsedMs / 1000);
        seq.reserving = undefined;
        seq.stalled = false;
        seq.failures = 0;
        seq.retryAt = 0;
        landed(lease);
      },
      (error: unknown) => {
        clearTimeout(timer);
        seq.reserving = undefined;
        seq.stalled = false;
        seq.failures++;
        seq.retryAt = this.now() + Math.min(RETRY_BASE_MS * 2 ** (seq.failures - 1), RETRY_MAX_MS);
        this.observer?.reserveFailed();
        this.logger.error({ err: error, sequence: seq.name, failures: seq.failures }, 'store reservation failed');
        failWaiters(seq, new TicketError('EUNAVAILABLE', 'store unreachable and no lease left', { cause: error }));
      },
    );
  }
}
