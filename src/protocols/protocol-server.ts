/**
 * The one shape every listening protocol has, so that `server.ts` can bind,
 * log and close them in one loop (see its protocol registry): ZeroMQ, one-shot
 * TCP, the line protocol, the public HTTP API and the admin port.
 */
import type { FastifyInstance } from 'fastify';
import { TicketError } from '../core/errors.js';
import { sendError } from './http-common.js';

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

/**
 * A fastify app as a protocol server; `listen` returns its base URL
 * (`http://127.0.0.1:6412`, `https://…` when the app serves TLS, IPv6 in brackets).
 */
export class FastifyProtocolServer implements ProtocolServer {
  /** Requests whose response has not finished (or been aborted). */
  private inFlight = 0;
  private stopping = false;
  private drained: (() => void) | undefined;

  constructor(
    readonly name: string,
    /** The app, for embedders and tests (`inject`). */
    readonly app: FastifyInstance,
    /** `https` when the app was created with TLS; default `http`. */
    private readonly scheme: 'http' | 'https' = 'http',
  ) {
    // fastify's own close destroys every connection (a keep-alive client could otherwise hold it
    // open): a request whose values were already issued would lose its reply. So close first
    // refuses new requests and lets those in flight finish, then lets fastify cut the connections.
    app.addHook('onRequest', (_request, reply, done) => {
      if (this.stopping) {
        sendError(reply.header('connection', 'close'), new TicketError('EUNAVAILABLE', 'server is stopping'), 503);
        return;
      }
      this.inFlight++;
      reply.raw.once('close', () => {
        if (--this.inFlight === 0) this.drained?.();
      });
      done();
    });
  }

  async listen(address: HostPort): Promise<string> {
    await this.app.listen({ host: address.host, port: address.port });
    const bound = this.app.server.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
    const host = address.host.includes(':') ? `[${address.host}]` : address.host;
    return `${this.scheme}://${host}:${port}`;
  }

  /** Refuses new requests (503 `EUNAVAILABLE`), waits up to `graceMs` for those in flight, then closes. */
  async close(graceMs = 2000): Promise<void> {
    this.stopping = true;
    if (this.inFlight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
        this.drained = resolve;
      });
      clearTimeout(timer);
    }
    await this.app.close();
  }
}
