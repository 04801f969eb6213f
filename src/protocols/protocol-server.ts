/**
 * The one shape every listening protocol has, so that `server.ts` can bind,
 * log and close them in one loop (see its protocol registry): ZeroMQ, one-shot
 * TCP, the line protocol, the public HTTP API and the admin port.
 */
import type { FastifyInstance } from 'fastify';
import { TicketError } from '../core/errors.js';
import { sendError } from './http-common.js';
import { HttpRequestGuard } from './http-backpressure.js';
import { DEFAULT_MAX_REPLY_BYTES } from './line-output.js';

/** A host and port to listen on (port 0: any free port). */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * A protocol listener. `Address` is what it binds to: a {@link HostPort} for
 * TCP and HTTP, a ZeroMQ endpoint string (`tcp://127.0.0.1:6410`) for ZeroMQ.
 */
export interface ProtocolServer<Address = HostPort> {
  /** Protocol name, as in `listening` log lines, `endpoints` and metrics: `zmq`, `http`, `admin`, `tcp`, `line`. */
  readonly name: string;
  /**
   * Binds and starts answering.
   * @returns what was actually bound, with the real port: `host:port` (TCP),
   *   `http://host:port` (HTTP), `tcp://host:port` (ZeroMQ).
   * @throws the listener's error (address in use, …); nothing is left bound.
   */
  listen(address: Address): Promise<string>;
  /** Stops accepting and closes every connection; pending replies get a short grace where the protocol has one. */
  close(): Promise<void>;
}

/** What bounds an HTTP listener against clients that hold connections or never read. */
export interface HttpLimits {
  /** Most open connections; Node closes any beyond at once. Default 10,000. */
  readonly maxConnections: number;
  /**
   * A request's headers and body must arrive within this (else 408 and
   * closed); a connection that sends nothing at all is closed as late.
   * Default 10,000 ms.
   */
  readonly requestTimeoutMs: number;
  /** A keep-alive connection idle this long between requests is closed. Default 60,000 ms (`--idle-timeout`). */
  readonly idleTimeoutMs: number;
  /** Requests one keep-alive connection may carry; 0: no limit. Default 0. */
  readonly maxRequestsPerConnection: number;
  /** Unsent reply bytes of a connection above which its next pipelined request waits. Default 256 KiB. */
  readonly maxReplyBytes: number;
}

/** The defaults of `HttpLimits` (the defaults of the options that set them). */
export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxConnections: 10_000,
  requestTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  maxRequestsPerConnection: 0,
  maxReplyBytes: DEFAULT_MAX_REPLY_BYTES,
};

/**
 * A fastify app as a protocol server; `listen` returns its base URL
 * (`http://127.0.0.1:6412`, `https://…` when the app serves TLS, IPv6 in brackets).
 */
export class FastifyProtocolServer implements ProtocolServer {
  /** Requests whose response has not finished (or been aborted). */
  /** The per-request hooks: one request at a time per connection, and the graceful stop. */
  private readonly guard: HttpRequestGuard;

  constructor(
    readonly name: string,
    /** The app, for embedders and tests (`inject`); not ready yet (hooks are added here). */
    readonly app: FastifyInstance,
    /** `https` when the app was created with TLS; default `http`. */
    private readonly scheme: 'http' | 'https' = 'http',
    limits: HttpLimits = DEFAULT_HTTP_LIMITS,
  ) {
    const server = app.server;
    server.maxConnections = limits.maxConnections;
    // Headers count toward the request's time too: a client sending them byte by byte is also bounded.
    server.headersTimeout = limits.requestTimeoutMs;
    server.requestTimeout = limits.requestTimeoutMs;
    server.keepAliveTimeout = limits.idleTimeoutMs;
    server.maxRequestsPerSocket = limits.maxRequestsPerConnection;
    // fastify's own close destroys every connection (a keep-alive client could otherwise hold it
    // open): a request whose values were already issued would lose its reply. So close first
    // refuses new requests and lets those being answered finish, then lets fastify cut the connections.
    this.guard = new HttpRequestGuard(limits.maxReplyBytes, (reply) => {
      sendError(reply.header('connection', 'close'), new TicketError('EUNAVAILABLE', 'server is stopping'), 503);
    });
    this.guard.install(app);
  }

  async listen(address: HostPort): Promise<string> {
    await this.app.listen({ host: address.host, port: address.port });
    const bound = this.app.server.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
    const host = address.host.includes(':') ? `[${address.host}]` : address.host;
    return `${this.scheme}://${host}:${port}`;
  }

  /** Refuses new requests (503 `EUNAVAILABLE`), waits up to `graceMs` for those being answered, then closes. */
  async close(graceMs = 2000): Promise<void> {
    this.guard.stop();
    await this.guard.idle(graceMs);
    await this.app.close();
  }
}
