/**
 * The one narrow interface every back end implements. A store persists, per
 * sequence, the next unreserved slot; reserving a lease moves it forward
 * atomically and durably. Stores know nothing of values or protocols.
 */
import type { Numbering } from '../core/numbering.js';
import type { LeaderElection, LeaderElectionOptions } from '../leader/election.js';

/** What every back end may be told besides its URI. */
export interface StoreOptions {
  /** The store must already hold data (read-only commands such as `dump`). */
  readonly mustExist?: boolean;
  /** Shared stores: connections in the pool (default 4). */
  readonly poolSize?: number;
  /** Shared stores: how long to wait for a connection, in ms (default 5000). */
  readonly poolTimeoutMs?: number;
  /** Shared stores: an operation that takes longer fails, so a hung store never blocks forever (default 10000 ms). */
  readonly operationTimeoutMs?: number;
  /** Shared stores: told about settings that weaken durability (e.g. `synchronous_commit=off`). */
  readonly onWarning?: (message: string) => void;
}

/** A block of slots `[start, end)` that a store has durably handed to its caller. */
export interface Lease {
  readonly start: bigint;
  readonly end: bigint;
}

/** One sequence as a store records it: the next slot nobody holds yet. */
export interface StoredSequence {
  readonly name: string;
  readonly next: bigint;
}

/** One sequence's settings as a store keeps them: JSON text written by the service, opaque to the store. */
export interface StoredSettings {
  readonly name: string;
  readonly settings: string;
}

/** Longest settings text a store accepts (the service writes far less). */
export const MAX_SETTINGS_LENGTH = 4096;

/** Result of a health probe; `detail` is safe to show (no credentials). */
export interface StoreHealth {
  readonly ok: boolean;
  readonly detail?: string;
}

/**
 * Raised when the store was used with another numbering (SPEC §3): reusing
 * its slots under a different instance, instances or offset could repeat values.
 */
export class NumberingMismatchError extends Error {
  readonly code = 'NUMBERING_MISMATCH' as const;
  readonly recorded: Numbering;
  readonly requested: Numbering;

  constructor(recorded: Numbering, requested: Numbering, where: string) {
    const show = (n: Numbering): string =>
      `--instance ${n.instance} --instances ${n.instances} --offset ${n.offset}`;
    super(
      `${where} was used with ${show(recorded)}, but this start asks for ${show(requested)}. ` +
        'Reusing its slots under another numbering could issue a value twice, so the server refuses to start. ' +
        `Either start with ${show(recorded)}, or renumber safely: stop every instance, run ` +
        '`ticket-server dump > instance-K.json` on each, start each instance with the new numbering on a new, empty ' +
        'data directory and run `ticket-server restore instance-*.json` there (restore raises every sequence above ' +
        'the highest value any instance may have issued).',
    );
    this.name = 'NumberingMismatchError';
    this.recorded = recorded;
    this.requested = requested;
  }
}

/** Raised when another process already holds a store that allows only one (the embedded store). */
export class StoreLockedError extends Error {
  readonly code = 'STORE_LOCKED' as const;
  constructor(message: string) {
    super(message);
    this.name = 'StoreLockedError';
  }
}

/**
 * A durable counter of slots per sequence.
 *
 * Contract (checked by `test/store-contract.ts` for every back end):
 * - `reserve` is atomic: concurrent callers never receive overlapping leases;
 * - a lease is returned only after it is durable (survives kill -9 and, for
 *   stores that promise it, power loss);
 * - a lease starts no lower than `atLeast` and never below any earlier lease's end;
 * - `release` lowers the counter only when nobody reserved after the lease.
 */
/** Unissued slots below the counter that an embedded store keeps for later (`--workers` at a graceful stop). */
export interface KeptSlots {
  /**
   * Takes the unissued slots `[from, end)` back: at the counter it lowers the
   * counter, below it they are kept and handed out by the next reservations,
   * lowest first. False when refused (no such sequence, a range above the
   * counter or overlapping one already kept).
   */
  keep(name: string, from: bigint, end: bigint): Promise<boolean>;
  /** Forgets the kept slots of `name` (a deleted sequence created again continues above its old values). */
  drop(name: string): Promise<void>;
}

export interface Store {
  /** Short kind name for logs and status (`lmdb`, `memory`, …). */
  readonly kind: string;
  /** Where the store lives, safe to log (no credentials). */
  readonly description: string;
  /** False for stores that lose everything on exit (`memory:`). */
  readonly durable: boolean;
  /** True for stores that several servers may use at once (SPEC §5.1): others may create sequences. */
  readonly shared: boolean;

  /** Opens connections, files and locks. @throws StoreLockedError when another process holds the store. */
  open(): Promise<void>;

  /**
   * Records the numbering on first use and checks it on every later start.
   * @throws NumberingMismatchError when the store was used with another numbering.
   */
  fence(numbering: Numbering): Promise<void>;

  /**
   * Atomically reserves `count` (≥ 0) slots of `name`, starting no lower than
   * `atLeast` (drift jumps, floors). Creates the sequence when missing. A
   * count of 0 only raises the counter to `atLeast` (never lowers it).
   */
  reserve(name: string, count: bigint, atLeast?: bigint): Promise<Lease>;

  /** Gives back the unissued tail `[from, end)` if nobody reserved after it; false otherwise. */
  release(name: string, from: bigint, end: bigint): Promise<boolean>;

  /**
   * Embedded stores only (undefined elsewhere): slots below the counter that
   * were reserved and never issued, kept for the next reservations (see
   * `unissued.ts`). `reserve` takes kept slots first on such a store.
   */
  readonly unissued?: KeptSlots | undefined;

  /** Whether a sequence exists in the store (it may have been created by another server). */
  has(name: string): Promise<boolean>;

  /** Every sequence with its next unreserved slot, in name order. */
  list(): AsyncIterable<StoredSequence>;

  /** The settings text of a sequence (see `StoredSettings`), if any. */
  readSettings(name: string): Promise<string | undefined>;

  /**
   * Stores (or, with `undefined`, removes) the settings text of a sequence, durably.
   * @throws RangeError when the text is longer than MAX_SETTINGS_LENGTH
   */
  writeSettings(name: string, settings: string | undefined): Promise<void>;

  /** Every sequence's settings, in name order. */
  listSettings(): AsyncIterable<StoredSettings>;

  /** Whether the store answers now. Never throws. */
  health(): Promise<StoreHealth>;

  /** Releases connections, files and locks. Safe to call twice. */
  close(): Promise<void>;

  /**
   * Leader mode: an election among the servers sharing this store, on the
   * store's own connection and key prefix. Only stores that support leader
   * mode have it (etcd). Call after `open()`; close the election before the store.
   * @throws LeaderElectionOptionsError for invalid options; Error when the store is not open
   */
  createElection?(options: LeaderElectionOptions): LeaderElection;
}

/** Raised when a command that only reads finds no store where it was pointed. */
export class StoreMissingError extends Error {
  readonly code = 'STORE_MISSING' as const;
  constructor(message: string) {
    super(message);
    this.name = 'StoreMissingError';
  }
}

/** Slot from which a fresh sequence starts. */
export const FIRST_SLOT = 1n;

/** Computes the lease a reservation yields from the stored next slot; shared by every back end. */
export function planReservation(stored: bigint | undefined, count: bigint, atLeast?: bigint): Lease {
  const current = stored ?? FIRST_SLOT;
  const start = atLeast !== undefined && atLeast > current ? atLeast : current;
  return { start, end: start + count };
}

/** @throws RangeError when a settings text is too long for every store. */
export function checkSettingsLength(settings: string | undefined): void {
  if (settings !== undefined && Buffer.byteLength(settings) > MAX_SETTINGS_LENGTH) {
    throw new RangeError(`sequence settings are limited to ${MAX_SETTINGS_LENGTH} bytes`);
  }
}

/** Serialises a numbering for a store's metadata record. */
export function encodeNumbering(numbering: Numbering): string {
  return JSON.stringify({
    instance: numbering.instance,
    instances: numbering.instances,
    offset: numbering.offset.toString(),
  });
}

/** Reads a numbering back from `encodeNumbering`'s text. */
export function decodeNumbering(text: string): Numbering {
  const parsed = JSON.parse(text) as { instance: number; instances: number; offset: string };
  return { instance: parsed.instance, instances: parsed.instances, offset: BigInt(parsed.offset) };
}

/** True when two numberings issue the same values from the same slots. */
export function sameNumbering(a: Numbering, b: Numbering): boolean {
  return a.instance === b.instance && a.instances === b.instances && a.offset === b.offset;
}
