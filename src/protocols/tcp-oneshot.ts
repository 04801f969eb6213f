/**
 * TCP, one number per connection (SPEC §6.4; txn-id-server): on accept the
 * server writes `<value>\n` of its sequence and closes; on failure `-1\n`.
 * Nothing the client sends is used. Connections are bounded by
 * `maxConnections`, and every connection is dropped at the latest after the
 * idle timeout, so half-open or chattering clients cannot hold slots.
 */
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

/** The one-shot TCP server. */
export class OneShotServer implements ProtocolServer {
  readonly name = 'tcp';
  private readonly listener: TcpListener;

  constructor(source: TicketSource, logger: ProtocolLogger, options: OneShotServerOptions) {
    const { sequence, stats } = options;
    this.listener = new TcpListener('tcp', logger, options.maxConnections, (socket) => {
      // A fixed deadline, not an idle timer: a peer that keeps sending must not hold its slot.
      const deadline = setTimeout(() => socket.destroy(), options.idleTimeoutMs);
      deadline.unref();
      socket.on('close', () => clearTimeout(deadline));
      socket.resume(); // never read: discard whatever the client sends
      const answer = (text: string): void => {
        if (!socket.destroyed) socket.end(text);
      };
      const failed = (error: unknown): void => {
        stats?.countError('tcp', toTicketError(error).code);
        answer(FAILURE);
      };
      try {
        const result = source.nextValue(sequence);
        const succeeded = (value: Ticket): void => {
          stats?.countIssued('tcp', 1);
          answer(`${value}\n`);
        };
        if (result instanceof Promise) result.then(succeeded, failed);
        else succeeded(result);
      } catch (error) {
        failed(error);
      }
    });
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
