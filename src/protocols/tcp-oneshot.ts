/**
 * TCP, one number per connection (SPEC §6.4; txn-id-server): on accept the
 * server writes `<value>\n` of its sequence and closes; on failure `-1\n`.
 * Nothing the client sends is used. Connections are bounded by
 * `maxConnections`, and every connection is dropped at the latest after the
 * idle timeout, so half-open or chattering clients cannot hold slots.
 */
import type { Socket } from 'node:net';
import { toTicketError } from '../core/errors.js';
import type { ProtocolStats } from '../core/protocol-stats.js';
import type { Ticket } from '../core/ticket.js';
import type { TicketSource } from '../core/ticket-source.js';
import type { HostPort, ProtocolServer } from './protocol-server.js';
import { TcpListener } from './tcp-listener.js';
import type { ProtocolLogger } from './zmq.js';

/** Options of the one-shot server. */
export interface OneShotServerOptions {
  readonly sequence: string;
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  readonly stats?: ProtocolStats | undefined;
}

const FAILURE = '-1\n';

/**
 * Writes the reply and closes. Closing right after the kernel took the bytes
 * sends them and then FIN (no shutdown call first); only a reply the kernel
 * could not take at once waits for 'drain'. The fixed deadline does not apply
 * to that wait: a reply of at most 20 bytes always fits a fresh socket's buffer.
 */
function answer(socket: Socket, text: string): void {
  if (socket.destroyed) return;
  socket.write(text);
  if (socket.writableLength === 0) socket.destroy();
  else socket.destroySoon();
}

/** The one-shot TCP server. */
export class OneShotServer implements ProtocolServer {
  readonly name = 'tcp';
  private readonly listener: TcpListener;

  constructor(source: TicketSource, logger: ProtocolLogger, options: OneShotServerOptions) {
    const { sequence, stats, idleTimeoutMs } = options;
    const failed = (socket: Socket, error: unknown): void => {
      stats?.countError('tcp', toTicketError(error).code);
      answer(socket, FAILURE);
    };
    // Per connection: no read is ever started (pauseOnConnect: what the client sends is never
    // read), Nagle stays on (one write, then close), and a value that is ready at once (a warm
    // lease) costs no timer and no closure.
    this.listener = new TcpListener(
      'tcp',
      logger,
      options.maxConnections,
      (socket) => {
        let result: Ticket | Promise<Ticket>;
        try {
          result = source.nextValue(sequence);
        } catch (error) {
          failed(socket, error);
          return;
        }
        if (!(result instanceof Promise)) {
          stats?.countIssued('tcp', 1);
          answer(socket, `${result}\n`);
          return;
        }
        // A fixed deadline while the value is worked out (a lease to wait for, proxy mode).
        const deadline = setTimeout(() => socket.destroy(), idleTimeoutMs);
        deadline.unref();
        result.then(
          (value) => {
            clearTimeout(deadline);
            stats?.countIssued('tcp', 1);
            answer(socket, `${value}\n`);
          },
          (error: unknown) => {
            clearTimeout(deadline);
            failed(socket, error);
          },
        );
      },
      { pauseOnConnect: true, noDelay: false },
    );
  }

  /** Listens; returns `host:port` actually bound. */
  listen(address: HostPort): Promise<string> {
    return this.listener.listen(address.host, address.port);
  }

  /** Stops accepting, closes every connection. */
  close(): Promise<void> {
    return this.listener.close();
  }
}
