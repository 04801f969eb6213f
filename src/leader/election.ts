/**
 * Leader mode's core, independent of the store: several servers share one
 * store, ONE of them (elected through the store, with a lease that expires)
 * issues, the others forward to it. The safety argument is in
 * docs/architecture.md ("Leader mode"); in short, a leader stops issuing
 * before its leadership can have expired in the store, and a new leader is
 * elected only after it did.
 */
import { randomUUID } from 'node:crypto';

/** Who leads, as the leader itself published it. */
export interface LeaderInfo {
  /** Unique per process (a random id unless the server sets one). */
  readonly id: string;
  /** Public HTTP URL of the leader (`--advertise-http`), for redirects. */
  readonly http?: string;
  /** ZeroMQ endpoint of the leader, for forwarding. */
  readonly zmq?: string;
  /** `host:port` of the leader's long-lived TCP protocol, for forwarding. */
  readonly line?: string;
  /** ISO time at which it became leader, by the leader's own clock (for display only). */
  readonly since: string;
}

/**
 * `leader`: elected, and may issue while `mayIssue()` says so;
 * `follower`: another process leads (`leader` says who);
 * `candidate`: nobody is known to lead (campaigning, or the store is unreachable).
 */
export type LeaderRole = 'leader' | 'follower' | 'candidate';

/** Told on every change of role or of the leader seen. */
export type LeaderListener = (role: LeaderRole, leader: LeaderInfo | undefined) => void;

/** What a process publishes about itself when it leads, and how long its leadership lasts. */
export interface LeaderElectionOptions {
  /** This process's id in `LeaderInfo.id`; default: a random UUID. At most 256 characters. */
  readonly id?: string;
  /** Public URLs/endpoints published while leading (`LeaderInfo`); each at most 1,024 characters. */
  readonly http?: string;
  readonly zmq?: string;
  readonly line?: string;
  /**
   * Leadership lifetime in whole seconds without a renewal (the store's lease
   * TTL); a store may raise it to its own minimum (etcd: about 1.5 × its
   * election timeout, 2 s with etcd's defaults). Default 5; 1 to 300.
   * A crashed leader is replaced after about this long; a graceful `resign()` at once.
   */
  readonly ttlSeconds?: number;
  /** Told about renewal failures and other trouble worth a log line; default: nothing. */
  readonly onWarning?: (message: string) => void;
  /** Monotonic clock in milliseconds; default `performance.now`. Tests inject their own. */
  readonly now?: () => number;
}

export const DEFAULT_LEADER_TTL_SECONDS = 5;
export const MAX_LEADER_TTL_SECONDS = 300;
export const MAX_LEADER_ID_LENGTH = 256;
export const MAX_LEADER_ENDPOINT_LENGTH = 1024;

/** Raised for invalid election options; nothing was started. */
export class LeaderElectionOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LeaderElectionOptionsError';
  }
}

/**
 * One process's part in the election.
 *
 * The issuing path calls `mayIssue()` before handing out each value; the
 * service drops every lease it holds when told that leadership was lost
 * (a lease reserved by an earlier term must never be issued from in a later one).
 */
export interface LeaderElection {
  /**
   * Starts campaigning and observing; resolves once the first role is known,
   * or after about one TTL when the store does not answer (role `candidate`;
   * it keeps trying). Never rejects for store trouble.
   */
  start(): Promise<void>;
  /**
   * True only while this process leads AND its issuing deadline has not
   * passed. One clock read, no allocation: it sits on the issuing hot path.
   */
  mayIssue(): boolean;
  readonly role: LeaderRole;
  /** The current leader as last seen (self when leading); undefined when none is known. */
  readonly leader: LeaderInfo | undefined;
  /**
   * Monotonic time (the `now` clock) after which this process must not issue
   * under its current leadership; -Infinity when it has none. For status and tests.
   */
  readonly issuingDeadline: number;
  /**
   * How many times this process has become leader (0 before the first time).
   * A lease reservation started under one epoch and answered under another
   * must be discarded: another leader may have issued higher values in between.
   */
  readonly epoch: number;
  /** Adds a listener for every change of role or leader (gained, lost, another leader seen). */
  onChange(listener: LeaderListener): void;
  /**
   * Gives leadership up at once (another process can take over well under the
   * TTL) and stops campaigning; the process stays a follower that observes
   * the leader until `close()`. Meant for a graceful stop. Never rejects.
   */
  resign(): Promise<void>;
  /** Resigns when leading, stops everything, leaves no timers. Safe to call twice. */
  close(): Promise<void>;
}

/** Validated options with defaults. @throws LeaderElectionOptionsError */
export function electionSettings(options: LeaderElectionOptions): Required<Omit<LeaderElectionOptions, 'http' | 'zmq' | 'line'>> &
  Pick<LeaderElectionOptions, 'http' | 'zmq' | 'line'> {
  const ttlSeconds = options.ttlSeconds ?? DEFAULT_LEADER_TTL_SECONDS;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_LEADER_TTL_SECONDS) {
    throw new LeaderElectionOptionsError(`leader TTL must be a whole number of seconds from 1 to ${MAX_LEADER_TTL_SECONDS}, got ${String(ttlSeconds)}`);
  }
  const id = options.id ?? randomUUID();
  if (id.length === 0 || id.length > MAX_LEADER_ID_LENGTH) {
    throw new LeaderElectionOptionsError(`leader id must have 1 to ${MAX_LEADER_ID_LENGTH} characters`);
  }
  for (const [name, value] of [['http', options.http], ['zmq', options.zmq], ['line', options.line]] as const) {
    if (value !== undefined && (value.length === 0 || value.length > MAX_LEADER_ENDPOINT_LENGTH)) {
      throw new LeaderElectionOptionsError(`leader ${name} endpoint must have 1 to ${MAX_LEADER_ENDPOINT_LENGTH} characters`);
    }
  }
  return {
    id,
    ttlSeconds,
    onWarning: options.onWarning ?? (() => undefined),
    now: options.now ?? (() => performance.now()),
    ...(options.http !== undefined ? { http: options.http } : {}),
    ...(options.zmq !== undefined ? { zmq: options.zmq } : {}),
    ...(options.line !== undefined ? { line: options.line } : {}),
  };
}

/**
 * Reads a leader record published by another process; undefined when it is
 * not a valid `LeaderInfo` (a foreign or damaged value is not trusted for redirects).
 */
export function parseLeaderInfo(text: string): LeaderInfo | undefined {
  if (text.length > 8 * MAX_LEADER_ENDPOINT_LENGTH) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const record = parsed as Record<string, unknown>;
  const optional = (key: string): boolean => record[key] === undefined || typeof record[key] === 'string';
  if (typeof record.id !== 'string' || typeof record.since !== 'string') return undefined;
  if (!optional('http') || !optional('zmq') || !optional('line')) return undefined;
  return {
    id: record.id,
    since: record.since,
    ...(typeof record.http === 'string' ? { http: record.http } : {}),
    ...(typeof record.zmq === 'string' ? { zmq: record.zmq } : {}),
    ...(typeof record.line === 'string' ? { line: record.line } : {}),
  };
}
