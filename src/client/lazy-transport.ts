/**
 * A transport whose implementation loads on first use. The ZeroMQ transport
 * needs zeromq's native addon; a client that only talks http:// or line://
 * (or a program that imports the package and never makes a tcp:// client)
 * must not pay for loading it, nor fail when it cannot load.
 */
import { TicketError } from '../core/errors.js';
import type { TicketReply, TicketRequest, Transport } from './transport.js';

/** Loads the module of a transport and opens it; called once per lazy transport. */
export type TransportLoader = (uri: string) => Promise<Transport>;

/**
 * Stands in for a transport until its module has loaded. Loading starts when
 * the transport is created (so the connection is being made before the first
 * request, as with an eagerly loaded transport); requests made meanwhile wait
 * for it within their own timeout.
 */
export class LazyTransport implements Transport {
  readonly uri: string;
  private inner: Transport | undefined;
  private readonly loaded: Promise<Transport>;
  private closed = false;

  constructor(uri: string, load: TransportLoader) {
    this.uri = uri;
    this.loaded = load(uri).then((transport) => {
      // Closed while loading: nobody will close the transport later, so close it now.
      if (this.closed) transport.close();
      else this.inner = transport;
      return transport;
    });
    // A failed load is reported to each request; it must not also be an unhandled rejection.
    this.loaded.catch(() => undefined);
  }

  /**
   * Sends through the loaded transport; before that, waits for the load,
   * counting the wait against `timeoutMs`.
   * @throws TicketError as the loaded transport does; EUNAVAILABLE when its module cannot load
   *   or the transport was closed
   */
  request(request: TicketRequest, timeoutMs: number): Promise<TicketReply> {
    if (this.inner) return this.inner.request(request, timeoutMs);
    return this.requestWhenLoaded(request, timeoutMs);
  }

  private async requestWhenLoaded(request: TicketRequest, timeoutMs: number): Promise<TicketReply> {
    if (this.closed) throw new TicketError('EUNAVAILABLE', 'client is closed');
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new TicketError('ETIMEOUT', `${this.uri} did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    let transport: Transport;
    try {
      transport = await Promise.race([this.loaded, timeout]);
    } catch (error) {
      if (error instanceof TicketError) throw error;
      throw new TicketError('EUNAVAILABLE', `cannot load the client transport for ${this.uri}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
    if (this.closed) throw new TicketError('EUNAVAILABLE', 'client is closed');
    const left = Math.max(1, Math.round(timeoutMs - (performance.now() - started)));
    return transport.request(request, left);
  }

  /** Closes the loaded transport, or the one still loading as soon as it has loaded. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.inner?.close();
  }
}
