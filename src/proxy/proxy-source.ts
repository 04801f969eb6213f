/**
 * Proxy mode (SPEC §8): a `TicketSource` that forwards ticket requests to
 * upstream servers, so every protocol the process serves works unchanged.
 *
 * It never forwards `last`: a client of a proxy cannot move an upstream
 * (the seeds' isolation rule), and admin requests are never forwarded at all.
 * Names are checked here first, so a bad request never costs an upstream trip.
 *
 * A single-value request for a sequence with no upstream request in flight
 * goes out at once. While one is in flight, further single-value requests for
 * that sequence are gathered until the end of the event-loop turn and go out
 * as one counted request (at most 1000 values), handed out in arrival order.
 * Under load this turns many upstream round trips into one; when idle it adds
 * no delay.
 */
import { TicketError } from '../core/errors.js';
import { DEFAULT_SEQUENCE, validateSequenceName } from '../core/names.js';
import { MAX_COUNT } from '../core/request.js';
import type { TicketSource } from '../core/ticket-source.js';
import { UpstreamPool, type PoolOptions, type UpstreamStats } from '../client/pool.js';
import { newerTicket, type Ticket } from '../core/ticket.js';

interface Waiting {
  readonly last: Ticket | undefined;
  resolve(value: Ticket): void;
  reject(error: unknown): void;
}

/** Settings of a proxy source: the pool's, plus whether `last` goes upstream. */
export interface ProxyOptions extends PoolOptions {
  /**
   * Forward clients' `last`. Off for proxy mode (a client of a proxy cannot
   * move an upstream); on for leader mode's followers, which are servers of the
   * same cluster answering for their leader. Default false.
   */
  readonly forwardLast?: boolean;
}

/** Forwards to upstream ZeroMQ servers with failover. */
export class ProxySource implements TicketSource {
  private readonly pool: UpstreamPool;
  /** Single-value requests per sequence waiting for this turn's upstream request. */
  private readonly gathering = new Map<string, Waiting[]>();
  /** Upstream requests in flight per sequence (single-value traffic only). */
  private readonly inflight = new Map<string, number>();
  /** Highest value handed out of sequence `default`, for Tickr's `last_ticket`. */
  private lastDefault: Ticket | undefined;
  private readonly forwardLast: boolean;

  /** @throws TypeError for no upstreams or an unsupported URI */
  constructor(upstreams: readonly string[], options: ProxyOptions = {}) {
    this.pool = new UpstreamPool(upstreams, options);
    this.forwardLast = options.forwardLast ?? false;
  }

  nextValue(name: string, last?: Ticket): Promise<Ticket> {
    validateSequenceName(name);
    const sent = this.forwardLast ? last : undefined;
    return new Promise((resolve, reject) => {
      if (!this.inflight.has(name)) {
        this.forward(name, [{ last: sent, resolve, reject }]);
        return;
      }
      let waiting = this.gathering.get(name);
      if (waiting === undefined || waiting.length >= MAX_COUNT) {
        waiting = [];
        this.gathering.set(name, waiting);
        const batch = waiting;
        setImmediate(() => this.forward(name, batch));
      }
      waiting.push({ last: sent, resolve, reject });
    });
  }

  async next(name: string, count: number, last?: Ticket): Promise<Ticket[]> {
    validateSequenceName(name);
    const result = await this.pool.request({ name, count, last: this.forwardLast ? last : undefined });
    const values = Array.isArray(result) ? result : [result];
    if (name === DEFAULT_SEQUENCE) this.noteDefault(values[values.length - 1]);
    return values;
  }

  lastValue(name: string): Ticket | undefined {
    return name === DEFAULT_SEQUENCE ? this.lastDefault : undefined;
  }

  private noteDefault(value: Ticket | undefined): void {
    if (value !== undefined) this.lastDefault = newerTicket(this.lastDefault, value);
  }

  /** Sends one upstream request for a gathered batch and hands its values out in order. */
  private forward(name: string, batch: Waiting[]): void {
    if (this.gathering.get(name) === batch) this.gathering.delete(name);
    this.inflight.set(name, (this.inflight.get(name) ?? 0) + 1);
    const count = batch.length === 1 ? undefined : batch.length;
    // One upstream request for the batch carries the highest `last` among them: a jump one needs is made for all.
    let last: Ticket | undefined;
    for (const waiting of batch) if (waiting.last !== undefined) last = newerTicket(last, waiting.last);
    const done = (): void => {
      const left = (this.inflight.get(name) ?? 1) - 1;
      if (left === 0) this.inflight.delete(name);
      else this.inflight.set(name, left);
    };
    this.pool.request({ name, count, last }).finally(done).then(
      (result) => {
        const values = Array.isArray(result) ? result : [result];
        if (name === DEFAULT_SEQUENCE) this.noteDefault(values[values.length - 1]);
        batch.forEach((waiting, index) => {
          const value = values[index];
          if (value === undefined) waiting.reject(new TicketError('EINTERNAL', 'upstream sent fewer values than asked'));
          else waiting.resolve(value);
        });
      },
      (error: unknown) => {
        for (const waiting of batch) waiting.reject(error);
      },
    );
  }

  /** Per-upstream counters. */
  stats(): UpstreamStats[] {
    return this.pool.stats();
  }

  close(): void {
    this.pool.close();
  }
}
