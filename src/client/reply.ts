/**
 * Decoding of ticket replies on the client side, shared by every
 * transport whose replies use the `[null, value]` / `[code, message]` shape.
 */
import { TicketError, isErrorCode } from '../core/errors.js';
import { readTicket, type Ticket } from '../core/ticket.js';

/**
 * Turns a parsed reply into values or throws the server's error.
 * @throws TicketError with the server's code (unknown codes become EINTERNAL)
 */
export function decodeReply(reply: unknown): Ticket | Ticket[] {
  if (!Array.isArray(reply) || reply.length !== 2) throw new TicketError('EINTERNAL', 'server sent a malformed reply');
  const [code, payload] = reply as [unknown, unknown];
  if (code !== null) {
    const message = typeof payload === 'string' ? payload : 'server error';
    throw new TicketError(isErrorCode(code) ? code : 'EINTERNAL', message);
  }
  return Array.isArray(payload) ? payload.map(readTicket) : readTicket(payload);
}
