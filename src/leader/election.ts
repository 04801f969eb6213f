/**
 * Leader mode's election, independent of the store that runs it. One server
 * of those sharing a store leads and issues; the others follow.
 */

/** Who leads, as the leader advertised itself. */
export interface LeaderInfo {
  /** Unique per server process. */
  readonly id: string;
  /** Public HTTP URL followers redirect HTTP clients to. */
  readonly http?: string | undefined;
  /** ZeroMQ endpoint followers forward the other protocols to. */
  readonly zmq?: string | undefined;
  /** When it became leader (ISO time, its own clock). */
  readonly since: string;
}

/** This server's part: leading, following a known leader, or looking for one. */
export type LeaderRole = 'leader' | 'follower' | 'candidate';

/** How a server advertises itself when it leads. */
export interface ElectionOptions {
  /** Leadership lease in whole seconds. */
  readonly ttlSeconds: number;
  /** This server, without `since` (set when it wins). */
  readonly self: Omit<LeaderInfo, 'since'>;
}

/** An election through a store. */
export interface LeaderElection {
  /** Starts campaigning and observing; resolves once the first role is known (or after a bound). */
  start(): Promise<void>;
  /**
   * True only while this process leads AND its issuing deadline has not passed:
   * one clock read, no allocation — it sits on the issuing hot path.
   */
  mayIssue(): boolean;
  readonly role: LeaderRole;
  /** The current leader as last seen (this server when it leads); undefined when none is known. */
  readonly leader: LeaderInfo | undefined;
  /** Told on every change of role or leader. */
  onChange(listener: (role: LeaderRole, leader: LeaderInfo | undefined) => void): void;
  /** Gives leadership up at once, so another server takes over well under the TTL. */
  resign(): Promise<void>;
  close(): Promise<void>;
}
