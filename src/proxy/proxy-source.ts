/**
 * Proxy mode (SPEC §8): a `TicketSource` that forwards ticket requests to
 * upstream servers, so every protocol the process serves works unchanged.
 *
 * It never forwards `last`: a client of a proxy cannot move an upstream
 * (the seeds' isolation rule), and admin requests are never forwarded at all.
 * Names are checked here first, so a bad request never costs an upstream trip.
 */
import { validateSequenceName } from '../core/names.js';
import type { TicketSource } from '../core/ticket-source.js';
import { UpstreamPool, type PoolOptions, type UpstreamStats } from '../client/pool.js';

/** Forwards to upstream ZeroMQ servers with failover. */
export class ProxySource implements TicketSource {
  private readonly pool: UpstreamPool;

  /** @throws TypeError for no upstreams or an unsupported URI */
  constructor(upstreams: readonly string[], options: PoolOptions = {}) {
    this.pool = new UpstreamPool(upstreams, options);
  }

  async nextValue(name: string, _last?: bigint): Promise<bigint> {
    validateSequenceName(name);
    const result = await this.pool.request({ name, count: undefined, last: undefined });
    return typeof result === 'bigint' ? result : (result[0] as bigint);
  }

  async next(name: string, count: number, _last?: bigint): Promise<bigint[]> {
    validateSequenceName(name);
    const result = await this.pool.request({ name, count, last: undefined });
    return typeof result === 'bigint' ? [result] : result;
  }

  /** Per-upstream counters. */
  stats(): UpstreamStats[] {
    return this.pool.stats();
  }

  close(): void {
    this.pool.close();
  }
}
