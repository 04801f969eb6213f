/**
 * A ticket as protocols carry it: a plain number (`bigint`) for plain
 * sequences, or a text for sequences with a format, a period or a check
 * digit ("INV-2026-000123-7"). Plain sequences stay bigints end to end, so
 * their hot path never builds a string it does not write.
 */
import { TicketError } from './errors.js';
import { parseValue } from './request.js';

/** A value as issued: a number, or the formatted text of one. */
export type Ticket = bigint | string;

/** Longest formatted ticket (a template's output is refused above it). */
export const MAX_TICKET_TEXT = 64;

const DIGITS = /^[0-9]{1,19}$/;
// Printable text only: no control characters (C0, DEL, C1), so a ticket never breaks a line protocol.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** A ticket's text as it goes on the wire. */
export function ticketText(ticket: Ticket): string {
  return typeof ticket === 'bigint' ? ticket.toString() : ticket;
}

/** A ticket as a JSON string literal (formatted text may hold quotes or backslashes). */
export function ticketJson(ticket: Ticket): string {
  return typeof ticket === 'bigint' ? `"${ticket}"` : JSON.stringify(ticket);
}

/**
 * The newer of two tickets a client saw: the larger number; for formatted
 * tickets (which do not compare as numbers) the one seen later.
 */
export function newerTicket(seen: Ticket | undefined, latest: Ticket): Ticket {
  return typeof seen === 'bigint' && typeof latest === 'bigint' && seen > latest ? seen : latest;
}

/**
 * Reads a value from a server's reply: base-10 digits become a bigint, other
 * text (a formatted ticket) stays text.
 * @throws TicketError EINTERNAL for anything that is neither
 */
export function readTicket(text: unknown): Ticket {
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_TICKET_TEXT || CONTROL.test(text)) {
    throw new TicketError('EINTERNAL', 'server sent a value that is neither a number nor a ticket text');
  }
  return DIGITS.test(text) ? BigInt(text) : text;
}

/**
 * Parses `last` from a request: base-10 digits give a number (as `parseLast`:
 * "0" means unknown), a JSON number too; other text up to 64 printable
 * characters is kept as a formatted ticket for the sequence to read (a plain
 * sequence refuses it).
 * @throws TicketError EBADREQ for anything else
 */
export function parseLastTicket(input: unknown): Ticket | undefined {
  if (input === undefined || input === null) return undefined;
  if (typeof input === 'string' && !DIGITS.test(input)) {
    if (input.length === 0 || input.length > MAX_TICKET_TEXT || CONTROL.test(input)) {
      throw new TicketError('EBADREQ', `last must be a value or a ticket of at most ${MAX_TICKET_TEXT} printable characters`);
    }
    return input;
  }
  const value = parseValue(input, 'last');
  return value === 0n ? undefined : value;
}
