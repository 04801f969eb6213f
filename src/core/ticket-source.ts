/**
 * What every protocol calls. A TicketService, a proxy and a leader forwarder
 * all implement it, so a protocol never knows who issues its tickets.
 */

/** Issues tickets. Results are synchronous when a lease has room, a promise otherwise. */
export interface TicketSource {
  /**
   * One value of `name`. `last` is the last value the client saw (drift).
   * Errors: EBADNAME, ENOSEQ, ELIMIT, EJUMP, EXHAUSTED, EUNAVAILABLE.
   */
  nextValue(name: string, last?: bigint): bigint | Promise<bigint>;
  /** `count` (1–1000) values of `name`, increasing. Same errors as `nextValue`. */
  next(name: string, count: number, last?: bigint): bigint[] | Promise<bigint[]>;
  /** Last value this process handed out for `name`, if it knows (Tickr's `last_ticket`). */
  lastValue?(name: string): bigint | undefined;
}
