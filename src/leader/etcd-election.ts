/**
 * Leader election on etcd: the leader is whoever created the key
 * `<prefix>leader` (value: its `LeaderInfo` as JSON) attached to its own etcd
 * lease. The key disappears when that lease is revoked (graceful resign) or
 * expires (a leader that stopped renewing), and only then can another process
 * create it. A leader stops issuing before its lease can have expired: its
 * issuing deadline counts from when its last successful renewal was SENT.
 * The full argument is in docs/architecture.md ("Leader mode").
 *
 * Over 400 lines on purpose: the renewal loop, the deadline and the campaign
 * share one term's state, and the safety argument can only be checked by
 * reading them together; the etcd calls are the first part, behind one interface.
 */
import type { Namespace } from 'etcd3';
import { EtcdLeaseInvalidError } from 'etcd3';
import { withTimeout } from '../store/shared-store.js';
import {
  electionSettings,
  parseLeaderInfo,
  type LeaderElection,
  type LeaderElectionOptions,
  type LeaderInfo,
  type LeaderListener,
  type LeaderRole,
} from './election.js';

/** The key under the store's prefix that names the leader. */
export const LEADER_KEY = 'leader';

/**
 * Share of the TTL given up for clocks that run at different rates: this
 * process measures the TTL with its clock, etcd's leader with its own. Real
 * clocks differ by far less than 0.1 %; 5 % also absorbs a VM whose clock
 * runs slow for a while, at the price of 100 ms of a 2 s TTL.
 */
export const CLOCK_RATE_MARGIN = 0.05;
/**
 * Fixed time given up in addition: a value whose `mayIssue()` check passed
 * just before the deadline still has to be written to its socket, and a timer
 * or event-loop delay must not turn that into an overlap with the next leader.
 */
export const FIXED_MARGIN_MS = 150;
/** Longest wait for one etcd call of the election (the renewal loop must keep its rhythm). */
const MAX_CALL_MS = 2_000;
const MIN_CALL_MS = 500;
/** Campaigns after a leader key disappeared start after a random delay up to this, so not all followers hit etcd at once. */
const CAMPAIGN_JITTER_MS = 200;

/** The leader key as read from etcd. */
export interface LeaderRecord {
  readonly value: string;
  /** etcd lease id (decimal text) the key is attached to. */
  readonly lease: string;
}

export type LeaderKeyEvent = { readonly type: 'put'; readonly record: LeaderRecord } | { readonly type: 'delete' };

/**
 * The etcd calls the election makes, one place so tests can wrap them (a
 * renewal whose reply arrives late). Every call may reject; the election bounds each with its own timeout.
 */
export interface EtcdElectionCalls {
  /** Grants a lease; etcd may raise the TTL to its minimum. */
  grant(ttlSeconds: number): Promise<{ readonly id: string; readonly ttlSeconds: number }>;
  /** Renews a lease once. @returns the TTL etcd restarted, 0 when the lease no longer exists. */
  keepAlive(leaseId: string): Promise<number>;
  /** Revokes a lease (its keys are deleted at once); a lease that no longer exists is not an error. */
  revoke(leaseId: string): Promise<void>;
  /** Creates the leader key with `value` on the lease if it does not exist; otherwise reads it. */
  campaign(leaseId: string, value: string): Promise<{ readonly created: boolean; readonly record: LeaderRecord | undefined }>;
  /** Reads the leader key; undefined when nobody leads. */
  read(): Promise<LeaderRecord | undefined>;
  /** Watches the leader key from now on; etcd3 reconnects a broken watch by itself. */
  watch(onEvent: (event: LeaderKeyEvent) => void, onError: (error: unknown) => void): Promise<{ cancel(): Promise<void> }>;
}

interface TxnReply {
  readonly succeeded: boolean;
  readonly responses: ReadonlyArray<{ response_range?: { kvs?: ReadonlyArray<{ value: Buffer; lease: string }> } }>;
}

/**
 * The real calls on an etcd3 namespace (the store's prefix).
 * @param keepAliveTimeoutMs a renewal stream that has not answered by then is cancelled
 */
export function etcdElectionCalls(keys: Namespace, keepAliveTimeoutMs = MAX_CALL_MS): EtcdElectionCalls {
  const recordOf = (kv: { value: Buffer; lease: string } | undefined): LeaderRecord | undefined =>
    kv === undefined ? undefined : { value: kv.value.toString('utf8'), lease: String(kv.lease) };
  return {
    async grant(ttlSeconds) {
      const reply = await keys.leaseClient.leaseGrant({ TTL: ttlSeconds });
      return { id: String(reply.ID), ttlSeconds: Number(reply.TTL) };
    },
    async keepAlive(leaseId) {
      // A keepalive is a stream in etcd's API; one request and its one answer, then it is closed.
      const stream = await keys.leaseClient.leaseKeepAlive();
      return new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => {
          stream.cancel();
          reject(new Error(`etcd did not answer a lease renewal within ${keepAliveTimeoutMs} ms`));
        }, keepAliveTimeoutMs);
        timer.unref();
        const finish = (): void => {
          clearTimeout(timer);
          stream.end();
        };
        stream.on('data', (reply) => {
          finish();
          resolve(Number(reply.TTL));
        });
        stream.on('error', (error) => {
          finish();
          reject(error);
        });
        stream.on('end', () => {
          finish();
          reject(new Error('etcd closed the lease renewal stream without an answer'));
        });
        stream.write({ ID: leaseId });
      });
    },
    async revoke(leaseId) {
      try {
        await keys.leaseClient.leaseRevoke({ ID: leaseId });
      } catch (error) {
        if (!(error instanceof EtcdLeaseInvalidError)) throw error;
      }
    },
    async campaign(leaseId, value) {
      const reply = (await keys
        .if(LEADER_KEY, 'Create', '==', 0)
        .then(keys.put(LEADER_KEY).value(value).lease(leaseId))
        .else(keys.get(LEADER_KEY))
        .commit()) as TxnReply;
      if (reply.succeeded) return { created: true, record: { value, lease: leaseId } };
      return { created: false, record: recordOf(reply.responses[0]?.response_range?.kvs?.[0]) };
    },
    async read() {
      const reply = await keys.get(LEADER_KEY).exec();
      return recordOf(reply.kvs[0]);
    },
    async watch(onEvent, onError) {
      const watcher = await keys.watch().key(LEADER_KEY).create();
      watcher.on('put', (kv) => {
        const record = recordOf(kv);
        if (record !== undefined) onEvent({ type: 'put', record });
      });
      watcher.on('delete', () => onEvent({ type: 'delete' }));
      watcher.on('error', onError);
      return { cancel: () => watcher.cancel() };
    },
  };
}

/** One etcd lease of this process and what it is good for. */
interface Term {
  readonly leaseId: string;
  renewing: boolean;
}

function sameLeader(a: LeaderInfo | undefined, b: LeaderInfo | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.id === b.id && a.since === b.since && a.http === b.http && a.zmq === b.zmq && a.line === b.line;
}

/**
 * `LeaderElection` on etcd. Normally made by `EtcdStore.createElection`, on the store's client and prefix.
 *
 * Algorithm, one lease ("term") at a time:
 * - grant a lease (TTL = `ttlSeconds`, or etcd's minimum if higher); the
 *   issuing deadline is `sendTime + TTL × (1 − 5 %) − 150 ms`;
 * - every TTL/3 renew it, noting when each renewal was SENT; a successful
 *   reply moves the deadline to `sendTime + TTL × (1 − 5 %) − 150 ms` (never
 *   back); a failed or late one leaves it where it was;
 * - campaign: create `<prefix>leader` on the lease if absent, else read it
 *   and follow its owner; a watch on the key (and a read every TTL/3) notices
 *   a new leader or a deleted key at once, and a campaign follows a deletion;
 * - at the deadline, or when the key is gone or owned by another lease, the
 *   term ends: `mayIssue()` is false from that instant (it reads the clock),
 *   listeners are told, the lease is revoked best-effort and never used again.
 */
export class EtcdElection implements LeaderElection {
  private readonly calls: EtcdElectionCalls;
  private readonly settings: ReturnType<typeof electionSettings>;
  private readonly now: () => number;
  private readonly listeners: LeaderListener[] = [];
  private roleValue: LeaderRole = 'candidate';
  private leaderValue: LeaderInfo | undefined;
  /** True while this process holds the leader key with the current term's lease. */
  private leading = false;
  private deadline = -Infinity;
  private term: Term | undefined;
  /** TTL etcd granted (may be above the one asked for). */
  private ttlMs: number;
  private tickTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private soonTimer: NodeJS.Timeout | undefined;
  private watcher: { cancel(): Promise<void> } | undefined;
  private watching = false;
  private steps: Promise<void> = Promise.resolve();
  private stepQueued = false;
  private started = false;
  private resigned = false;
  private closed = false;
  private renewalFailing = false;
  private epochValue = 0;

  /** @throws LeaderElectionOptionsError for invalid options */
  constructor(calls: EtcdElectionCalls, options: LeaderElectionOptions = {}) {
    this.calls = calls;
    this.settings = electionSettings(options);
    this.now = this.settings.now;
    this.ttlMs = this.settings.ttlSeconds * 1000;
  }

  get role(): LeaderRole {
    return this.roleValue;
  }

  get leader(): LeaderInfo | undefined {
    return this.leaderValue;
  }

  get issuingDeadline(): number {
    return this.leading ? this.deadline : -Infinity;
  }

  get epoch(): number {
    return this.epochValue;
  }

  mayIssue(): boolean {
    return this.leading && this.now() < this.deadline;
  }

  onChange(listener: LeaderListener): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    if (this.started || this.closed) return;
    this.started = true;
    // Without the watch it still learns of changes from its periodic reads, only later.
    await this.bounded(this.ensureWatch(), 'watching the leader key').catch((error: unknown) =>
      this.warn(`cannot watch the leader key yet: ${String(error instanceof Error ? error.message : error)}`),
    );
    const first = this.step();
    this.scheduleTick();
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([first, new Promise<void>((resolve) => (bound = setTimeout(resolve, this.ttlMs)))]);
    clearTimeout(bound);
  }

  async resign(): Promise<void> {
    if (this.closed) return;
    this.resigned = true;
    const term = this.term;
    const wasLeading = this.leading;
    this.dropTerm();
    if (term !== undefined) await this.revoke(term);
    this.setRole('follower', wasLeading ? undefined : this.leaderValue);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.resign();
    this.closed = true;
    for (const timer of [this.tickTimer, this.deadlineTimer, this.soonTimer]) clearTimeout(timer);
    this.tickTimer = this.deadlineTimer = this.soonTimer = undefined;
    const watcher = this.watcher;
    this.watcher = undefined;
    if (watcher !== undefined) await this.bounded(watcher.cancel(), 'stopping the watch').catch(() => undefined);
    await this.steps;
    this.listeners.length = 0;
  }

  // -------------------------------------------------------------------------

  private get callMs(): number {
    return Math.min(MAX_CALL_MS, Math.max(MIN_CALL_MS, this.ttlMs / 2));
  }

  private get renewEveryMs(): number {
    return this.ttlMs / 3;
  }

  private bounded<T>(promise: Promise<T>, what: string): Promise<T> {
    return withTimeout(promise, this.callMs, `etcd (${what})`);
  }

  private warn(message: string): void {
    try {
      this.settings.onWarning(message);
    } catch {
      // a broken logger must not stop the election
    }
  }

  private setRole(role: LeaderRole, leader: LeaderInfo | undefined): void {
    if (this.closed || (role === this.roleValue && sameLeader(leader, this.leaderValue))) return;
    this.roleValue = role;
    this.leaderValue = leader;
    for (const listener of this.listeners) {
      try {
        listener(role, leader);
      } catch (error) {
        this.warn(`a leader-change listener failed: ${String(error)}`);
      }
    }
  }

  private scheduleTick(): void {
    if (this.closed) return;
    clearTimeout(this.tickTimer);
    this.tickTimer = setTimeout(() => this.tick(), this.renewEveryMs);
    this.tickTimer.unref();
  }

  /** Every TTL/3: renew the lease, check or seek leadership, retry a broken watch. */
  private tick(): void {
    if (this.closed) return;
    if (this.term !== undefined && !this.term.renewing) void this.renew(this.term);
    if (!this.watching) void this.bounded(this.ensureWatch(), 'watching the leader key').catch(() => undefined);
    void this.step();
    this.scheduleTick();
  }

  /** A step soon, after a random delay (many followers saw the same deletion). */
  private campaignSoon(): void {
    if (this.closed || this.resigned || this.soonTimer !== undefined) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      void this.step();
    }, Math.random() * CAMPAIGN_JITTER_MS);
    this.soonTimer.unref();
  }

  /** Runs one probe after the ones before it; at most one waits. Never rejects. */
  private step(): Promise<void> {
    if (this.stepQueued) return this.steps;
    this.stepQueued = true;
    this.steps = this.steps.then(async () => {
      this.stepQueued = false;
      if (this.closed) return;
      try {
        await this.probe();
      } catch (error) {
        this.warn(`leader election: ${String(error instanceof Error ? error.message : error)}`);
      }
    });
    return this.steps;
  }

  private async ensureWatch(): Promise<void> {
    if (this.watching || this.closed) return;
    this.watching = true;
    try {
      const watcher = await this.calls.watch(
        (event) => this.onKeyEvent(event),
        (error) => this.warn(`watch of the leader key: ${String(error)}`),
      );
      if (this.closed) await watcher.cancel();
      else this.watcher = watcher;
    } catch (error) {
      this.watching = false;
      throw error;
    }
  }

  private async probe(): Promise<void> {
    if (this.resigned) {
      const record = await this.bounded(this.calls.read(), 'reading the leader key');
      if (!this.closed) this.setRole('follower', record === undefined ? undefined : parseLeaderInfo(record.value));
      return;
    }
    if (this.leading) {
      const term = this.term;
      const record = await this.bounded(this.calls.read(), 'reading the leader key');
      if (!this.leading || term !== this.term) return;
      if (record === undefined) this.endTerm('the leader key disappeared from etcd', undefined);
      else if (record.lease !== term?.leaseId) this.endTerm('another process owns the leader key', record);
      return;
    }
    // A read is cheaper for etcd than the campaign's transaction (which goes through its log): campaign only when nobody leads.
    const current = await this.bounded(this.calls.read(), 'reading the leader key');
    if (this.leading || this.resigned || this.closed) return;
    if (current !== undefined && current.lease !== this.term?.leaseId) {
      this.setRole('follower', parseLeaderInfo(current.value));
      return;
    }
    const term = this.term ?? (await this.newTerm());
    if (term === undefined || term !== this.term || this.now() >= this.deadline) return;
    const mine: LeaderInfo = {
      id: this.settings.id,
      since: new Date().toISOString(),
      ...(this.settings.http !== undefined ? { http: this.settings.http } : {}),
      ...(this.settings.zmq !== undefined ? { zmq: this.settings.zmq } : {}),
      ...(this.settings.line !== undefined ? { line: this.settings.line } : {}),
    };
    const result = await this.bounded(this.calls.campaign(term.leaseId, JSON.stringify(mine)), 'campaigning');
    if (term !== this.term || this.resigned || this.closed) return;
    const record = result.record;
    // The key may be ours from an earlier campaign whose reply timed out: the lease says so.
    if (record !== undefined && record.lease === term.leaseId) {
      if (this.now() >= this.deadline) return;
      this.leading = true;
      this.epochValue++;
      this.setRole('leader', result.created ? mine : (parseLeaderInfo(record.value) ?? mine));
      return;
    }
    this.setRole(record === undefined ? 'candidate' : 'follower', record === undefined ? undefined : parseLeaderInfo(record.value));
    if (record === undefined) this.campaignSoon();
  }

  /** Grants a new lease and makes it the current term. */
  private async newTerm(): Promise<Term | undefined> {
    const sentAt = this.now();
    const granted = await this.bounded(this.calls.grant(this.settings.ttlSeconds), 'granting a lease');
    const term: Term = { leaseId: granted.id, renewing: false };
    if (this.closed || this.resigned || this.term !== undefined) {
      void this.revoke(term);
      return undefined;
    }
    if (!(granted.ttlSeconds > 0)) throw new Error(`etcd granted a lease with TTL ${granted.ttlSeconds}`);
    if (granted.ttlSeconds * 1000 !== this.ttlMs) {
      if (granted.ttlSeconds > this.settings.ttlSeconds) {
        this.warn(`etcd raised the leader TTL from ${this.settings.ttlSeconds} s to its minimum of ${granted.ttlSeconds} s`);
      }
      this.ttlMs = granted.ttlSeconds * 1000;
      this.scheduleTick();
    }
    this.term = term;
    this.extendDeadline(term, sentAt, granted.ttlSeconds);
    return term;
  }

  private async renew(term: Term): Promise<void> {
    term.renewing = true;
    const sentAt = this.now();
    try {
      const ttlSeconds = await this.bounded(this.calls.keepAlive(term.leaseId), 'renewing the lease');
      if (term !== this.term) return;
      if (!(ttlSeconds > 0)) {
        this.endTerm('etcd says the lease expired');
        return;
      }
      this.renewalFailing = false;
      this.extendDeadline(term, sentAt, ttlSeconds);
    } catch (error) {
      if (term === this.term && !this.renewalFailing) {
        this.renewalFailing = true;
        this.warn(`leader lease renewal failed (it keeps trying until the deadline): ${String(error instanceof Error ? error.message : error)}`);
      }
    } finally {
      term.renewing = false;
    }
  }

  /**
   * etcd restarts the TTL when it RECEIVES the renewal, after `sentAt`, so the
   * lease lives at least until `sentAt + TTL` by etcd's clock; this process
   * stops earlier by its own clock, with the margins for clock rates.
   */
  private extendDeadline(term: Term, sentAt: number, ttlSeconds: number): void {
    if (term !== this.term) return;
    const candidate = sentAt + ttlSeconds * 1000 * (1 - CLOCK_RATE_MARGIN) - FIXED_MARGIN_MS;
    if (candidate <= this.deadline) return;
    this.deadline = candidate;
    this.armDeadline();
  }

  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    if (this.closed) return;
    // +1: a timer may fire a fraction of a millisecond early by the clock `mayIssue` reads.
    this.deadlineTimer = setTimeout(() => this.onDeadline(), Math.max(0, this.deadline - this.now()) + 1);
    this.deadlineTimer.unref();
  }

  private onDeadline(): void {
    this.deadlineTimer = undefined;
    if (this.term === undefined) return;
    if (this.now() < this.deadline) {
      this.armDeadline();
      return;
    }
    this.endTerm('the leader lease was not renewed in time');
  }

  /** Forgets the current term at once (mayIssue false from here); no notification, no revoke. */
  private dropTerm(): Term | undefined {
    const term = this.term;
    this.term = undefined;
    this.leading = false;
    this.deadline = -Infinity;
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    return term;
  }

  /** Ends the current term: stop issuing, revoke its lease best-effort, tell listeners when leadership was lost, campaign again on a new lease. */
  private endTerm(reason: string, nowLeading?: LeaderRecord): void {
    const wasLeading = this.leading;
    const term = this.dropTerm();
    if (term !== undefined) void this.revoke(term);
    if (wasLeading) {
      this.warn(`leadership lost: ${reason}`);
      if (nowLeading !== undefined) this.setRole('follower', parseLeaderInfo(nowLeading.value));
      else this.setRole('candidate', undefined);
    }
    this.campaignSoon();
  }

  private async revoke(term: Term): Promise<void> {
    try {
      await this.bounded(this.calls.revoke(term.leaseId), 'revoking the lease');
    } catch (error) {
      // It expires by itself within its TTL.
      this.warn(`could not revoke the leader lease (it expires by itself): ${String(error instanceof Error ? error.message : error)}`);
    }
  }

  private onKeyEvent(event: LeaderKeyEvent): void {
    if (this.closed) return;
    if (event.type === 'delete') {
      if (this.leading) this.endTerm('the leader key was deleted', undefined);
      else if (this.resigned) this.setRole('follower', undefined);
      else {
        this.setRole('candidate', undefined);
        this.campaignSoon();
      }
      return;
    }
    const mine = this.term !== undefined && event.record.lease === this.term.leaseId;
    if (this.leading && !mine) this.endTerm('another process owns the leader key', event.record);
    else if (!this.leading && !mine) this.setRole('follower', parseLeaderInfo(event.record.value));
  }
}
