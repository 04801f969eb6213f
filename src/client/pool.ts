/**
 * Several servers behind one `request`: spreads requests round-robin over
 * healthy servers, fails over to the next one when a server times out or
 * cannot issue, marks a server down after consecutive failures and probes it
 * back. Used by the client and by proxy mode.
 */
import { TicketError, type ErrorCode } from '../core/errors.js';
import { checkToken, type TicketReply, type TicketRequest, type Transport, type TransportSecurity } from './transport.js';
import { HttpTransport } from './http-transport.js';
import { LineTransport } from './line-transport.js';
import { LazyTransport } from './lazy-transport.js';
import type { Ticket } from '../core/ticket.js';

/** Settings of a pool; every field has a default (the security fields: none). */
export interface PoolOptions extends TransportSecurity {
  /** Time one server gets to answer one request, in ms. Default 1000. */
  readonly timeout?: number;
  /** Consecutive failures after which a server is skipped. Default 2. */
  readonly downAfter?: number;
  /** How long a down server is skipped before one request probes it, in ms. Default 1000. */
  readonly probeInterval?: number;
  /** Told when a server goes down or comes back. */
  readonly onStateChange?: (uri: string, state: 'down' | 'up', error?: unknown) => void;
  /** Clock in ms, injectable for tests. */
  readonly now?: () => number;
  /** Transport factory, injectable for tests; default by URI scheme. */
  readonly connect?: (uri: string) => Transport;
}

/** Counters of one upstream, for logs and metrics. */
export interface UpstreamStats {
  readonly uri: string;
  readonly up: boolean;
  readonly requests: number;
  readonly failures: number;
}

/** Errors after which another server may still succeed. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set(['ETIMEOUT', 'EUNAVAILABLE', 'EXHAUSTED', 'EINTERNAL']);
/** Errors that say the server did not answer (as opposed to answering with an error). */
const SILENT: ReadonlySet<ErrorCode> = new Set(['ETIMEOUT']);

/** Largest number of servers one pool accepts. */
export const MAX_SERVERS = 64;

class Upstream {
  readonly transport: Transport;
  consecutiveFailures = 0;
  downUntil = 0;
  requests = 0;
  failures = 0;
  constructor(transport: Transport) {
    this.transport = transport;
  }
}

/** Opens the ZeroMQ transport, loading zeromq's native addon on first use. */
async function loadZmqTransport(uri: string, security: TransportSecurity): Promise<Transport> {
  const { ZmqTransport } = await import('./zmq-transport.js');
  return new ZmqTransport(uri, security);
}

/**
 * Checks a server URI and opens its transport: `tcp://` ZeroMQ,
 * `http://` or `https://` the HTTP API, `line://` the long-lived TCP protocol;
 * `security` carries the token, CA and Curve keys those need.
 * The ZeroMQ transport loads lazily (only a client of a tcp:// server loads
 * zeromq); the others use only Node's own modules and load with the client.
 * @throws TypeError for an unsupported scheme or a malformed URI
 */
export function defaultConnect(uri: string, security: TransportSecurity = {}): Transport {
  checkToken(security.token);
  if (/^tcp:\/\/[^\s/]+:[0-9]{1,5}$/.test(uri)) return new LazyTransport(uri, (target) => loadZmqTransport(target, security));
  if (/^https?:\/\/[^\s/]+:[0-9]{1,5}(\/[^\s]*)?$/.test(uri)) return new HttpTransport(uri, security);
  if (uri.startsWith('line://')) return new LineTransport(uri, security);
  throw new TypeError(
    `unsupported server URI "${uri}": expected tcp://HOST:PORT (ZeroMQ), http[s]://HOST:PORT[/base path] (HTTP API) or line://HOST:PORT (long-lived TCP)`,
  );
}

/** A set of servers answering ticket requests with failover. */
export class UpstreamPool {
  private readonly upstreams: Upstream[];
  private readonly timeout: number;
  private readonly downAfter: number;
  private readonly probeInterval: number;
  private readonly onStateChange: PoolOptions['onStateChange'];
  private readonly now: () => number;
  private cursor = 0;
  private closed = false;

  /** @throws TypeError for an empty list, more than 64 servers, bad options or an unsupported URI */
  constructor(uris: readonly string[], options: PoolOptions = {}) {
    if (!Array.isArray(uris) || uris.length === 0) throw new TypeError('at least one server URI is required');
    if (uris.length > MAX_SERVERS) throw new TypeError(`at most ${MAX_SERVERS} servers`);
    this.timeout = options.timeout ?? 1000;
    this.downAfter = options.downAfter ?? 2;
    this.probeInterval = options.probeInterval ?? 1000;
    for (const [name, value] of [
      ['timeout', this.timeout],
      ['downAfter', this.downAfter],
      ['probeInterval', this.probeInterval],
    ] as const) {
      if (!Number.isInteger(value) || value < 1 || value > 3_600_000) throw new TypeError(`${name} must be an integer from 1 to 3600000`);
    }
    this.onStateChange = options.onStateChange;
    this.now = options.now ?? Date.now;
    const connect = options.connect ?? ((uri: string) => defaultConnect(uri, options));
    const transports: Transport[] = [];
    try {
      for (const uri of uris) {
        if (typeof uri !== 'string') throw new TypeError('server URIs must be strings');
        transports.push(connect(uri));
      }
    } catch (error) {
      for (const transport of transports) transport.close();
      throw error;
    }
    this.upstreams = transports.map((transport) => new Upstream(transport));
  }

  /** Per-server counters. */
  stats(): UpstreamStats[] {
    return this.upstreams.map((upstream) => ({
      uri: upstream.transport.uri,
      up: upstream.consecutiveFailures < this.downAfter,
      requests: upstream.requests,
      failures: upstream.failures,
    }));
  }

  /**
   * Servers in the order to try: a down server that is due a probe first (so
   * a server that came back gets load again even while others are healthy),
   * then healthy ones round-robin, then the resting ones as a last resort.
   */
  private order(): Upstream[] {
    const now = this.now();
    const count = this.upstreams.length;
    const start = this.cursor;
    this.cursor = (this.cursor + 1) % count;
    const healthy: Upstream[] = [];
    const probing: Upstream[] = [];
    const resting: Upstream[] = [];
    for (let offset = 0; offset < count; offset++) {
      const upstream = this.upstreams[(start + offset) % count] as Upstream;
      if (upstream.consecutiveFailures < this.downAfter) healthy.push(upstream);
      else if (upstream.downUntil <= now) probing.push(upstream);
      else resting.push(upstream);
    }
    // One probe per due server and interval: push its next probe out now, so
    // concurrent requests do not all probe it. A probe of a server that is gone
    // fails at once; only a server that accepts but never answers costs the
    // probing request its timeout, once per interval.
    for (const upstream of probing) upstream.downUntil = now + this.probeInterval;
    return [...probing, ...healthy, ...resting];
  }

  /**
   * Sends a request, failing over between servers (each server at most once).
   * @throws TicketError: the server's code for errors no other server could fix
   *   (EBADNAME, EJUMP, ENOSEQ, …); the last server error when every server
   *   failed and one of them answered; ETIMEOUT when none answered in time.
   */
  request(request: TicketRequest & { readonly run: true }): Promise<TicketReply>;
  request(request: TicketRequest): Promise<Ticket | Ticket[]>;
  async request(request: TicketRequest): Promise<TicketReply> {
    if (this.closed) throw new TicketError('EUNAVAILABLE', 'client is closed');
    let answered: TicketError | undefined;
    for (const upstream of this.order()) {
      upstream.requests++;
      try {
        const result = await upstream.transport.request(request, this.timeout);
        this.succeeded(upstream);
        return result;
      } catch (error) {
        const ticketError = error instanceof TicketError ? error : new TicketError('EINTERNAL', undefined, { cause: error });
        if (!RETRYABLE.has(ticketError.code)) {
          this.succeeded(upstream); // it answered: the server is fine, the request is not
          throw ticketError;
        }
        this.failed(upstream, ticketError);
        if (!SILENT.has(ticketError.code)) answered = ticketError;
        if (this.closed) break;
      }
    }
    throw answered ?? new TicketError('ETIMEOUT', `no server answered within ${this.timeout} ms`);
  }

  private succeeded(upstream: Upstream): void {
    if (upstream.consecutiveFailures >= this.downAfter) this.onStateChange?.(upstream.transport.uri, 'up');
    upstream.consecutiveFailures = 0;
    upstream.downUntil = 0;
  }

  private failed(upstream: Upstream, error: TicketError): void {
    upstream.failures++;
    upstream.consecutiveFailures++;
    if (upstream.consecutiveFailures === this.downAfter) {
      upstream.downUntil = this.now() + this.probeInterval;
      this.onStateChange?.(upstream.transport.uri, 'down', error);
    }
  }

  /** Fails pending requests and closes every connection. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const upstream of this.upstreams) upstream.transport.close();
  }
}
