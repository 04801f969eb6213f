/**
 * What the shared back ends (PostgreSQL, MySQL/MariaDB, etcd) have in common:
 * defaults, bounded waits, and the names of their tables and keys. The
 * schema is documented in docs/stores.md; change both together.
 */
import type { StoreOptions } from './store.js';
import type { Numbering } from '../core/numbering.js';
import { NumberingMismatchError, StoreMissingError, decodeNumbering, sameNumbering, type StoreHealth } from './store.js';

/** Table of sequences: `name` (bytes order, case-sensitive) → `next_slot`, the next slot nobody holds. */
export const SEQUENCES_TABLE = 'ticket_server_sequences';
/** Table of store-wide records: `numbering` (SPEC §3 fence). */
export const META_TABLE = 'ticket_server_meta';

/** Table of per-sequence settings (name → settings JSON). */
export const SETTINGS_TABLE = 'ticket_server_settings';
export const NUMBERING_KEY = 'numbering';
/** Rows or keys read per round trip by `list()`. */
export const LIST_PAGE = 1000;

export const DEFAULT_POOL_SIZE = 4;
export const DEFAULT_POOL_TIMEOUT_MS = 5_000;
export const DEFAULT_OPERATION_TIMEOUT_MS = 10_000;
/** Health probes answer within this, whatever the operation timeout. */
export const HEALTH_TIMEOUT_MS = 2_000;

export interface SharedSettings {
  readonly poolSize: number;
  readonly poolTimeoutMs: number;
  readonly operationTimeoutMs: number;
  readonly warn: (message: string) => void;
  readonly mustExist: boolean;
}

export function sharedSettings(options: StoreOptions): SharedSettings {
  return {
    poolSize: options.poolSize ?? DEFAULT_POOL_SIZE,
    poolTimeoutMs: options.poolTimeoutMs ?? DEFAULT_POOL_TIMEOUT_MS,
    operationTimeoutMs: options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS,
    warn: options.onWarning ?? (() => undefined),
    mustExist: options.mustExist ?? false,
  };
}

/** Raised when a store operation did not finish in time; the store may still have done it (a gap, never a repeat). */
export class StoreTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms} ms`);
    this.name = 'StoreTimeoutError';
  }
}

/**
 * Settles with `promise` or rejects after `ms`. A driver call that hangs (a
 * partitioned server) must not hold a sequence's one reservation forever.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new StoreTimeoutError(what, ms)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Raised when a shared store cannot be opened; names the store (never its password) and the driver's reason. */
export class StoreOpenError extends Error {
  readonly code = 'STORE_OPEN_FAILED' as const;
  constructor(description: string, cause: unknown) {
    super(`cannot open the store ${description}: ${messageOf(cause)}`, { cause });
    this.name = 'StoreOpenError';
  }
}

/** Adds the store's name to a driver error from `open`; the store's own errors pass unchanged. */
export function openFailure(description: string, error: unknown): Error {
  return error instanceof StoreMissingError ? error : new StoreOpenError(description, error);
}

/**
 * The fence of a shared store, after the record was written if absent: the
 * numbering the store holds must be the one this server starts with.
 * @param where the store, as a message names it (no password)
 * @throws NumberingMismatchError
 */
export function checkNumbering(recordedText: string | undefined, requested: Numbering, where: string): void {
  if (recordedText === undefined) throw new Error(`${where} lost its numbering record`);
  const recorded = decodeNumbering(recordedText);
  if (!sameNumbering(recorded, requested)) throw new NumberingMismatchError(recorded, requested, where);
}

/** A health answer from one probe of the database; never throws, never shows a password. */
export async function probeHealth(description: string, probe: () => Promise<unknown>): Promise<StoreHealth> {
  try {
    await probe();
    return { ok: true, detail: `${description} answers` };
  } catch (error) {
    return { ok: false, detail: `${description}: ${messageOf(error)}` };
  }
}

/** The message of an unknown thrown value, for health details. */
export function messageOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return messageOf(error.errors[0]);
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
