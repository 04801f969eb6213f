/**
 * Per-sequence state of the service: the lease book plus what only the
 * service needs (waiters, the one reservation in flight, demand, counters).
 */
import type { TicketError } from '../core/errors.js';
import { nextLeaseSize } from '../core/lease-policy.js';
import type { SlotMap } from '../core/numbering.js';
import { LeaseBook, available, lastSlot, type RefillPlan } from './lease-book.js';
import type { SequenceDefinition } from '../core/sequence-definitions.js';
import type { SequenceSnapshot } from './service-options.js';


/** A request that could not be answered at once; answered in FIFO order per sequence. */
export interface Waiter {
  readonly count: number;
  readonly last: bigint | undefined;
  /** Slot a drift jump decided on before this request had to wait; kept so the jump is not lost. */
  floor: bigint | undefined;
  readonly single: boolean;
  resolve(value: bigint | bigint[]): void;
  reject(error: unknown): void;
}

/** What `tryServe` needs before it can answer: more slots, maybe from `atLeast` on. */
export interface Shortfall {
  readonly slots: number;
  readonly atLeast: bigint | undefined;
}

/**
 * Per-sequence state: its lease book (extended, so the hot path reads the
 * book's fields directly) plus waiters, reservation and demand. Fields are
 * public to the service only.
 */
export class SequenceState extends LeaseBook {
  readonly name: string;
  readonly waiters: Waiter[] = [];
  reserving: Promise<void> | undefined;
  /** The in-flight reservation outlived the store timeout. */
  stalled = false;
  leaseSize = 1;
  issuedSinceReserve = 0;
  lastReserveAt: number;
  retryAt = 0;
  failures = 0;
  issued = 0;
  lastIssued: bigint | undefined;
  /** A sequence with a format or period: how its values look and count (undefined: plain numbers). */
  definition: SequenceDefinition | undefined;
  /** A periodic sequence: the counter of the period it issues in now, and that period's key. */
  counter: SequenceState | undefined;
  periodKey: string | undefined;
  /** The last ticket text issued, for formatted sequences (Tickr's `last_ticket`, status). */
  lastTicket: string | undefined;
  /** Reserve-ahead point of a lease this sequence makes current; follows its own demand. */
  readonly planRefill: RefillPlan;

  constructor(name: string, now: number, planRefill: (seq: SequenceState, size: number) => number) {
    super();
    this.name = name;
    this.lastReserveAt = now;
    this.planRefill = (size) => planRefill(this, size);
  }
}

/** Rejects every waiting request of `seq` with `error`, in order. */
export function failWaiters(seq: SequenceState, error: TicketError): void {
  const waiters = seq.waiters.splice(0);
  for (const waiter of waiters) waiter.reject(error);
}

/** Read-only view of one sequence (a periodic one shows its current period's counter). */
export function snapshotOf(seq: SequenceState, map: SlotMap): SequenceSnapshot {
  const counter = seq.counter ?? seq;
  return {
    name: seq.name,
    lastIssued: seq.definition !== undefined ? seq.lastTicket : seq.lastIssued,
    ...(seq.periodKey !== undefined ? { period: seq.periodKey } : {}),
    issued: seq.issued,
    leaseRemaining: available(counter, map),
    leaseSize: counter.leaseSize,
  };
}

/**
 * Slots to reserve next for `seq`: the lease policy's size for its demand
 * since the previous reservation (which starts a new measurement), at least
 * `slots`, at most `maxBlock`, and never far past the last usable slot.
 */
export function sizeNextLease(
  seq: SequenceState,
  map: SlotMap,
  slots: number,
  atLeast: bigint | undefined,
  maxBlock: number,
  now: number,
): bigint {
  const size = nextLeaseSize(seq.leaseSize, seq.issuedSinceReserve, now - seq.lastReserveAt, maxBlock);
  seq.leaseSize = size;
  seq.issuedSinceReserve = 0;
  seq.lastReserveAt = now;
  let count = BigInt(Math.min(Math.max(size, slots), maxBlock));
  const from = atLeast !== undefined && atLeast > seq.highestSlot ? atLeast : seq.highestSlot;
  const room = lastSlot(seq, map) + 1n - (from > 1n ? from : 1n);
  if (room < count) count = room > 1n ? room : 1n;
  return count;
}
