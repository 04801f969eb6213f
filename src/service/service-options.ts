/**
 * The public settings and views of `TicketService`: its options with their
 * defaults, the hooks it calls (logger, observer, leader-mode gate) and the
 * snapshot it returns. Re-exported by `ticket-service.ts`, the public path.
 */
import type { Numbering } from '../core/numbering.js';
import type { Ticket } from '../core/ticket.js';
import type { Store } from '../store/store.js';

/** Minimal logger the service writes to (pino's methods fit). */
export interface ServiceLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** Logs nothing; the default logger. */
export const silentLogger: ServiceLogger = { info() {}, warn() {}, error() {} };

/** Told about store work, for metrics. Called off the hot path only. */
export interface ServiceObserver {
  /** A reservation succeeded: `slots` reserved in `seconds`. */
  reserved(slots: bigint, seconds: number): void;
  /** A reservation failed. */
  reserveFailed(): void;
  /** A drift jump was applied. */
  jumped(): void;
}

/**
 * Leader mode: asked at the moment of issuing whether this server may still
 * issue (it leads and its leadership cannot have expired). Must be cheap.
 */
export interface IssuingGate {
  mayIssue(): boolean;
}

/** Settings of a TicketService; every field but `store` and `numbering` has a default. */
export interface TicketServiceOptions {
  readonly store: Store;
  readonly numbering: Numbering;
  /** Jump when the next value is more than this below `last`; ≤ 0 disables. Default 10 × instances. */
  readonly drift?: bigint;
  /** Largest move one request may cause, in values. Default 1,000,000,000. */
  readonly maxJump?: bigint;
  /** Largest lease in slots. Default 10,000. */
  readonly maxBlock?: number;
  /** Most sequences that may exist. Default 100,000. */
  readonly maxSequences?: number;
  /** Only sequences already in the store exist; others answer ENOSEQ. Default false. */
  readonly strictSequences?: boolean;
  /** A reservation slower than this fails waiting requests with EUNAVAILABLE. Default 5,000 ms. */
  readonly storeTimeoutMs?: number;
  /** Clock in milliseconds, injectable for tests. Default `Date.now`. */
  readonly now?: () => number;
  readonly logger?: ServiceLogger;
  readonly observer?: ServiceObserver;
  /** Leader mode: nothing is issued while the gate is closed (EUNAVAILABLE). Default: always open. */
  readonly gate?: IssuingGate;
  /** Largest value of every sequence (`--js-safe`: 2^53 − 1). Default 2^63 − 1. */
  readonly maxValue?: bigint;
  /**
   * Shared stores: how often the settings of every sequence are read again, so a change made
   * through another server applies here too, in ms. Default 2,000.
   */
  readonly settingsRefreshMs?: number;
}

/** Defaults of SPEC §3–§4. */
export const SERVICE_DEFAULTS = {
  maxJump: 1_000_000_000n,
  maxBlock: 10_000,
  maxSequences: 100_000,
  storeTimeoutMs: 5_000,
} as const;

/** A read-only view of one sequence, for status pages and tests. */
export interface SequenceSnapshot {
  readonly name: string;
  /** Last value issued since start: a number, or the ticket text of a formatted sequence. */
  readonly lastIssued: Ticket | undefined;
  /** The period being counted (`2026`, `2026-11`, `2026-11-30`), for a sequence with a period. */
  readonly period?: string;
  readonly issued: number;
  /** Slots left in held leases. */
  readonly leaseRemaining: bigint;
  readonly leaseSize: number;
}
