import type { Ticket } from './ticket.js';

/** The answer of `checkTicket`. */
export interface TicketCheck {
  readonly valid: boolean;
  /** The value the text names, base-10; null when it is not of the sequence's form. */
  readonly value: string | null;
  /** The period key it belongs to, when the sequence counts per period and the text says which. */
  readonly period: string | null;
}

/**
 * What every protocol calls. A TicketService, a proxy and a leader forwarder
 * all implement it, so a protocol never knows who issues its tickets.
 */

/** Issues tickets. Results are synchronous when a lease has room, a promise otherwise. */
export interface TicketSource {
  /**
   * One value of `name`: a bigint, or a text for a sequence with a format,
   * period or check digit. `last` is the last value the client saw (drift),
   * a number or a formatted ticket of the same sequence.
   * Errors: EBADREQ (a `last` the sequence cannot read), EBADNAME, ENOSEQ, ELIMIT, EJUMP, EXHAUSTED, EUNAVAILABLE.
   */
  nextValue(name: string, last?: Ticket): Ticket | Promise<Ticket>;
  /** `count` (1–1000) values of `name`, increasing. Same errors as `nextValue`. */
  next(name: string, count: number, last?: Ticket): Ticket[] | Promise<Ticket[]>;
  /** Last value this process handed out for `name`, if it knows (Tickr's `last_ticket`). */
  lastValue?(name: string): Ticket | undefined;
  /**
   * Whether `text` is a well-formed number of sequence `name` with a correct
   * check digit (a number read over the phone); not whether it was issued.
   * Errors: EBADNAME, ENOSEQ, EUNAVAILABLE.
   */
  checkTicket?(name: string, text: string): Promise<TicketCheck>;
}
