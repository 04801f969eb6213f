/**
 * What both raw TCP protocols share: a listener with a connection bound,
 * half-open sockets allowed (a client may send and half-close, and still gets
 * its answer), socket errors contained, and a close that drops every
 * connection.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { ProtocolLogger } from './zmq.js';

/** How a listener's connections start; by default with Nagle off, reading. */
export interface TcpListenerOptions {
  /** Disable Nagle (a `setsockopt` per connection). Default true. */
  readonly noDelay?: boolean;
  /** Hand sockets over not reading (a server that never reads saves registering for reads). Default false. */
  readonly pauseOnConnect?: boolean;
}

/** Shared by every socket (no closure per connection): a socket error ends the connection. */
function destroyOnError(this: Socket): void {
  this.destroy();
}

/** A TCP listener that hands each connection to `handle`. */
export class TcpListener {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    label: string,
    logger: ProtocolLogger,
    maxConnections: number,
    handle: (socket: Socket) => void,
    options: TcpListenerOptions = {},
  ) {
    const sockets = this.sockets;
    function forget(this: Socket): void {
      sockets.delete(this);
    }
    const { noDelay = true, pauseOnConnect = false } = options;
    this.server = createServer({ noDelay, pauseOnConnect, allowHalfOpen: true }, (socket) => {
      sockets.add(socket);
      socket.on('error', destroyOnError);
      socket.on('close', forget);
      handle(socket);
    });
    // Node closes connections beyond this at once.
    this.server.maxConnections = maxConnections;
    this.server.on('error', (error) => logger.error({ err: error }, `${label} server error`));
  }

  /** Listens; returns `host:port` actually bound. */
  listen(host: string, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        resolve(typeof address === 'object' && address !== null ? `${address.address}:${address.port}` : `${host}:${port}`);
      });
    });
  }

  /**
   * Stops accepting; gives the open connections up to `graceMs` to end by themselves (a graceful
   * stop lets them write the replies they owe), then destroys what is left.
   */
  async close(graceMs = 0): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (graceMs > 0 && this.sockets.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
    }
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}
