/**
 * The one shape every listening protocol has, so that `server.ts` can bind,
 * log and close them in one loop (see its protocol registry): ZeroMQ, one-shot
 * TCP, the line protocol, the public HTTP API and the admin port.
 */
import type { FastifyInstance } from 'fastify';

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
  constructor(
    readonly name: string,
    /** The app, for embedders and tests (`inject`). */
    readonly app: FastifyInstance,
    /** `https` when the app was created with TLS; default `http`. */
    private readonly scheme: 'http' | 'https' = 'http',
  ) {}

  async listen(address: HostPort): Promise<string> {
    await this.app.listen({ host: address.host, port: address.port });
    const bound = this.app.server.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
    const host = address.host.includes(':') ? `[${address.host}]` : address.host;
    return `${this.scheme}://${host}:${port}`;
  }

  close(): Promise<void> {
    return this.app.close();
  }
}
