/**
 * Proxy mode (SPEC §8): a `TicketSource` that forwards ticket requests to
 * upstream servers, so every protocol the process serves works unchanged.
 *
 * It never forwards `last`: a client of a proxy cannot move an upstream
 * (the seeds' isolation rule), and admin requests are never forwarded at all.
 * Names are checked here first, so a bad request never costs an upstream trip.
 *
 * Single-value requests are gathered as the client's are (client/gathering.ts):
 * one goes out at once when the sequence has nothing in flight, and the ones
 * that arrive meanwhile go out together as one counted request at the end of
 * the turn.
 */
import { DEFAULT_SEQUENCE, validateSequenceName } from '../core/names.js';
import type { TicketSource } from '../core/ticket-source.js';
import { SingleRequestGatherer, type Waiter } from '../client/gathering.js';
import { UpstreamPool, type PoolOptions, type UpstreamStats } from '../client/pool.js';
import { newerTicket, type Ticket } from '../core/ticket.js';

interface Waiting extends Waiter {
  readonly last: Ticket | undefined;
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
  private readonly singles: SingleRequestGatherer<Waiting>;
  /** Highest value handed out of sequence `default`, for Tickr's `last_ticket`. */
  private lastDefault: Ticket | undefined;
  private readonly forwardLast: boolean;

  /** @throws TypeError for no upstreams or an unsupported URI */
  constructor(upstreams: readonly string[], options: ProxyOptions = {}) {
    this.pool = new UpstreamPool(upstreams, options);
    this.forwardLast = options.forwardLast ?? false;
    this.singles = new SingleRequestGatherer((name, batch) => this.forward(name, batch));
  }

  nextValue(name: string, last?: Ticket): Promise<Ticket> {
    validateSequenceName(name);
    const sent = this.forwardLast ? last : undefined;
    return new Promise((resolve, reject) => this.singles.add(name, { last: sent, resolve, reject }));
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

  /** One upstream request for a batch of single-value requests. */
  private async forward(name: string, batch: readonly Waiting[]): Promise<Ticket | Ticket[]> {
    // It carries the highest `last` among them: a jump one needs is made for all.
    let last: Ticket | undefined;
    for (const waiting of batch) if (waiting.last !== undefined) last = newerTicket(last, waiting.last);
    const result = await this.pool.request({ name, count: batch.length === 1 ? undefined : batch.length, last });
    if (name === DEFAULT_SEQUENCE) this.noteDefault(Array.isArray(result) ? result[result.length - 1] : result);
    return result;
  }

  /** Per-upstream counters. */
  stats(): UpstreamStats[] {
    return this.pool.stats();
  }

  close(): void {
    this.pool.close();
  }
}
