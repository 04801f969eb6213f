import type { Ticket } from '../core/ticket.js';

/**
 * A connection to one server, whatever its protocol. The pool above it
 * handles failover; a transport only sends one request and waits, bounded.
 */

/** One ticket request as the client sends it. */
export interface TicketRequest {
  readonly name: string;
  /** Undefined for the single-value form. */
  readonly count: number | undefined;
  readonly last: Ticket | undefined;
}

/** A connection to one server. */
export interface Transport {
  readonly uri: string;
  /**
   * Sends one request; resolves with one value (single form) or an array.
   * @throws TicketError ETIMEOUT after `timeoutMs`, the server's code for its errors,
   *   EUNAVAILABLE when the request could not be sent.
   */
  request(request: TicketRequest, timeoutMs: number): Promise<Ticket | Ticket[]>;
  /** Fails every pending request and frees the connection. */
  close(): void;
}
