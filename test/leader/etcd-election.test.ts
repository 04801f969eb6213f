/**
 * Leader election on a real three-node etcd cluster: one leader at a time,
 * hand-over on resign and on a silent leader, and the safety property of
 * leader mode — a leader that cannot renew stops issuing BEFORE anyone else
 * becomes leader. Times are measured with `performance.now()` (all elections
 * run in this one process, so their clocks compare) and only their ORDER is
 * asserted, never a duration.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { Etcd3 } from 'etcd3';
import { createStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';
import type { LeaderElection, LeaderElectionOptions, LeaderRole } from '../../src/leader/election.js';
import { EtcdElection, etcdElectionCalls, type EtcdElectionCalls } from '../../src/leader/etcd-election.js';
import { dbAvailable, destroyAllDbServers, startEtcd, type EtcdCluster } from '../helpers/db-servers.js';

/** Below etcd's minimum, so etcd raises it (2 s with its default election timeout): the fastest hand-over it allows. */
const TTL_SECONDS = 1;
const WAIT_MS = 20_000;

afterAll(async () => {
  await destroyAllDbServers();
});

/** Polls `condition` every 10 ms until it holds; fails after `timeoutMs`. */
async function waitFor(what: string, condition: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (let i = 0; i < timeoutMs / 10 + 1; i++) {
    if (condition()) return;
    if (performance.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** When each election gained and lost leadership (monotonic ms). */
interface Timeline {
  gained: number[];
  lost: number[];
}

function track(election: LeaderElection): Timeline {
  const timeline: Timeline = { gained: [], lost: [] };
  let previous: LeaderRole = election.role;
  election.onChange((role) => {
    const at = performance.now();
    if (role === 'leader' && previous !== 'leader') timeline.gained.push(at);
    if (role !== 'leader' && previous === 'leader') timeline.lost.push(at);
    previous = role;
  });
  return timeline;
}

describe.skipIf(!dbAvailable('etcd'))('etcd leader election', () => {
  let cluster: EtcdCluster;
  let prefixes = 0;
  const stores: Store[] = [];
  const elections: LeaderElection[] = [];
  const clients: Etcd3[] = [];
  const warnings: string[] = [];

  beforeAll(async () => {
    cluster = await startEtcd({ nodes: 3 });
  }, 120_000);

  afterEach(async () => {
    for (const election of elections.splice(0)) await election.close().catch(() => undefined);
    for (const store of stores.splice(0)) await store.close().catch(() => undefined);
    for (const client of clients.splice(0)) client.close();
    warnings.length = 0;
  });

  afterAll(async () => {
    await cluster?.destroy();
  });

  function freshPrefix(): string {
    return `/election-${process.pid}-${++prefixes}/`;
  }

  /** An election on its own store (own etcd client) over `hosts` (`etcd://…` without prefix). */
  async function electionOn(hosts: string, prefix: string, options: LeaderElectionOptions = {}): Promise<{ election: LeaderElection; store: Store }> {
    const store = await createStore(`${hosts}${prefix.replace(/\/$/, '')}`, { operationTimeoutMs: 3_000, poolTimeoutMs: 2_000 });
    stores.push(store);
    await store.open();
    if (store.createElection === undefined) throw new Error('the etcd store has no createElection');
    const election = store.createElection({ ttlSeconds: TTL_SECONDS, onWarning: (message) => warnings.push(message), ...options });
    elections.push(election);
    return { election, store };
  }

  function leaders(list: readonly LeaderElection[]): LeaderElection[] {
    return list.filter((election) => election.role === 'leader');
  }

  it('elects exactly one of three, and the others see the same leader', async () => {
    const prefix = freshPrefix();
    const three = await Promise.all(
      ['a', 'b', 'c'].map(async (id) => (await electionOn(cluster.uri, prefix, { id, http: `http://${id}.test:6412/` })).election),
    );
    await Promise.all(three.map((election) => election.start()));
    await waitFor('one leader and two followers that know it', () => {
      const [leader] = leaders(three);
      return leaders(three).length === 1 && three.every((e) => e.leader !== undefined && e.leader.id === leader?.leader?.id);
    });
    const leader = leaders(three)[0] as LeaderElection;
    expect(leader.mayIssue()).toBe(true);
    expect(three.map((e) => e.epoch).sort()).toEqual([0, 0, 1]);
    expect(leader.leader?.http).toBe(`http://${leader.leader?.id ?? ""}.test:6412/`);
    for (const other of three.filter((e) => e !== leader)) {
      expect(other.role).toBe('follower');
      expect(other.mayIssue()).toBe(false);
      expect(other.leader).toEqual(leader.leader);
    }
    // The harness's etcd has a minimum TTL of 2 s; asking for 1 s must be noticed, not ignored.
    expect(warnings.some((message) => message.includes('raised the leader TTL'))).toBe(true);
  });

  it('hands over at once on resign; the resigned one is a follower that may not issue', async () => {
    const prefix = freshPrefix();
    const three = await Promise.all(['a', 'b', 'c'].map(async (id) => (await electionOn(cluster.uri, prefix, { id })).election));
    await Promise.all(three.map((election) => election.start()));
    await waitFor('a leader', () => leaders(three).length === 1);
    const old = leaders(three)[0] as LeaderElection;
    const others = three.filter((e) => e !== old);
    const otherTimelines = others.map(track);
    // Without the revoke its lease (and key) would outlive this deadline; with it another leads well before.
    const heldUntil = old.issuingDeadline;
    const resignedAt = performance.now();
    await old.resign();
    expect(old.mayIssue()).toBe(false);
    await waitFor('another leader', () => leaders(others).length === 1);
    const next = leaders(others)[0] as LeaderElection;
    const gainedAt = Math.min(...otherTimelines.flatMap((t) => t.gained));
    console.log(`resign hand-over took ${(gainedAt - resignedAt).toFixed(0)} ms; the old lease would have lasted beyond +${(heldUntil - resignedAt).toFixed(0)} ms`);
    expect(gainedAt).toBeLessThan(heldUntil);
    expect(old.role).toBe('follower');
    expect(old.mayIssue()).toBe(false);
    expect(next.mayIssue()).toBe(true);
    await waitFor('the resigned one to see the new leader', () => old.leader?.id === next.leader?.id);
    // It does not campaign again: still a follower after a few renewal periods.
    await sleep(1_500);
    expect(old.role).toBe('follower');
    expect(leaders(three)).toEqual([next]);
  });

  /**
   * A leader goes silent (`silence`), two followers wait: one of them takes
   * over after the TTL, and the old one may not issue by then.
   */
  async function replaceSilentLeader(first: LeaderElection, silence: () => Promise<void>, prefix: string): Promise<void> {
    await first.start();
    await waitFor('the first to lead', () => first.role === 'leader');
    const firstTimeline = track(first);
    const others = await Promise.all(['b', 'c'].map(async (id) => (await electionOn(cluster.uri, prefix, { id })).election));
    let mayIssueWhenReplaced: boolean | undefined;
    const otherTimelines = others.map((election) => {
      election.onChange((role) => {
        if (role === 'leader') mayIssueWhenReplaced ??= first.mayIssue();
      });
      return track(election);
    });
    await Promise.all(others.map((election) => election.start()));
    await waitFor('followers', () => others.every((e) => e.role === 'follower'));

    const silencedAt = performance.now();
    await silence();
    await waitFor('a new leader', () => leaders(others).length === 1);
    const gainedAt = Math.min(...otherTimelines.flatMap((t) => t.gained));
    console.log(`silent leader told at +${((firstTimeline.lost[0] ?? NaN) - silencedAt).toFixed(0)} ms, replaced at +${(gainedAt - silencedAt).toFixed(0)} ms`);
    expect(mayIssueWhenReplaced).toBe(false);
    expect(first.mayIssue()).toBe(false);
    expect(firstTimeline.lost.length).toBe(1);
    expect(firstTimeline.lost[0]).toBeLessThan(gainedAt);
  }

  it('replaces a leader whose etcd client was closed without resigning, only after it stopped issuing', async () => {
    const prefix = freshPrefix();
    const first = await electionOn(cluster.uri, prefix, { id: 'first' });
    // No renewal, no revoke; etcd3 still delivers the watch's events, so it may learn of the key's expiry that way.
    await replaceSilentLeader(first.election, () => first.store.close(), prefix);
  });

  it('replaces a leader cut off from etcd entirely (calls and watch) only after its own deadline stopped it', async () => {
    const prefix = freshPrefix();
    const client = new Etcd3({ hosts: cluster.uri.replace('etcd://', '').split(',') });
    clients.push(client);
    const real = etcdElectionCalls(client.namespace(prefix));
    let cut = false;
    const check = (): void => {
      if (cut) throw new Error('cut off from etcd');
    };
    const calls: EtcdElectionCalls = {
      grant: async (ttl) => (check(), real.grant(ttl)),
      keepAlive: async (id) => (check(), real.keepAlive(id)),
      revoke: async (id) => (check(), real.revoke(id)),
      campaign: async (id, value) => (check(), real.campaign(id, value)),
      read: async () => (check(), real.read()),
      watch: (onEvent, onError) =>
        real.watch(
          (event) => {
            if (!cut) onEvent(event);
          },
          onError,
        ),
    };
    const first = new EtcdElection(calls, { id: 'first', ttlSeconds: TTL_SECONDS });
    elections.push(first);
    await replaceSilentLeader(
      first,
      async () => {
        cut = true;
      },
      prefix,
    );
  });

  it('stops an isolated leader from issuing before any other is elected', async () => {
    const [isolated, second, third] = cluster.members;
    if (isolated === undefined || second === undefined || third === undefined) throw new Error('expected three members');
    const prefix = freshPrefix();
    const leader = await electionOn(isolated.uri, prefix, { id: 'isolated' });
    await leader.election.start();
    await waitFor('the isolated one to lead', () => leader.election.role === 'leader');
    const leaderTimeline = track(leader.election);
    const others = [
      (await electionOn(second.uri, prefix, { id: 'second' })).election,
      (await electionOn(third.uri, prefix, { id: 'third' })).election,
    ];
    const otherTimelines = others.map(track);
    await Promise.all(others.map((election) => election.start()));
    await waitFor('followers', () => others.every((e) => e.role === 'follower'));

    // Sample mayIssue() as the issuing path would, to learn when it turned false.
    let turnedFalseAt: number | undefined;
    let lastDeadline = leader.election.issuingDeadline;
    const sampler = setInterval(() => {
      if (leader.election.mayIssue()) lastDeadline = Math.max(lastDeadline, leader.election.issuingDeadline);
      else turnedFalseAt ??= performance.now();
    }, 2);
    try {
      const stoppedAt = performance.now();
      await isolated.stop();
      await waitFor('another leader', () => leaders(others).length === 1, 40_000);
      const gainedAt = Math.min(...otherTimelines.flatMap((t) => t.gained));
      console.log(
        `isolated leader: may issue until +${(lastDeadline - stoppedAt).toFixed(0)} ms, sampled false at +${((turnedFalseAt ?? NaN) - stoppedAt).toFixed(0)} ms, ` +
          `told at +${((leaderTimeline.lost[0] ?? NaN) - stoppedAt).toFixed(0)} ms; next leader at +${(gainedAt - stoppedAt).toFixed(0)} ms`,
      );
      expect(turnedFalseAt).toBeDefined();
      expect(lastDeadline).toBeLessThan(gainedAt);
      expect(turnedFalseAt as number).toBeLessThan(gainedAt);
      expect(leaderTimeline.lost[0]).toBeLessThan(gainedAt);
      expect(leader.election.mayIssue()).toBe(false);
      expect(leader.election.role).not.toBe('leader');
    } finally {
      clearInterval(sampler);
      await isolated.start();
    }
  }, 90_000);

  it('never lets a late renewal reply extend the deadline past its send time plus the TTL', async () => {
    const client = new Etcd3({ hosts: cluster.uri.replace('etcd://', '').split(',') });
    clients.push(client);
    const real = etcdElectionCalls(client.namespace(freshPrefix()));
    let delayNext = false;
    let delayed: { sentAt: number; ttlSeconds: number; answeredAt: number } | undefined;
    const calls: EtcdElectionCalls = {
      ...real,
      async keepAlive(leaseId) {
        if (delayed !== undefined) throw new Error('renewals fail after the late one');
        if (!delayNext) return real.keepAlive(leaseId);
        const sentAt = performance.now();
        const ttlSeconds = await real.keepAlive(leaseId);
        // Late, but within the election's call timeout, so the reply is used.
        await sleep(700);
        delayed = { sentAt, ttlSeconds, answeredAt: performance.now() };
        return ttlSeconds;
      },
    };
    const election = new EtcdElection(calls, { ttlSeconds: TTL_SECONDS, onWarning: (message) => warnings.push(message) });
    elections.push(election);
    await election.start();
    await waitFor('leadership', () => election.role === 'leader');
    delayNext = true;
    await waitFor('the late renewal', () => delayed !== undefined);
    await sleep(20);
    const late = delayed as { sentAt: number; ttlSeconds: number; answeredAt: number };
    const deadline = election.issuingDeadline;
    console.log(`late reply: sent +0, answered +${(late.answeredAt - late.sentAt).toFixed(0)} ms, deadline +${(deadline - late.sentAt).toFixed(0)} ms`);
    expect(Number.isFinite(deadline)).toBe(true);
    expect(deadline).toBeLessThanOrEqual(late.sentAt + late.ttlSeconds * 1000);
    // Later renewals fail: it stops at that deadline, not later.
    await waitFor('leadership lost', () => election.role !== 'leader');
    expect(election.mayIssue()).toBe(false);
  });
});
