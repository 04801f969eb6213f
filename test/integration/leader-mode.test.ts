/**
 * Leader mode on a real three-node etcd cluster: three ticket-server
 * processes elect one issuer; followers redirect HTTP clients (307) and
 * forward ZeroMQ, line and one-shot TCP to it. Values then increase strictly
 * across the cluster, across a kill -9 and a graceful stop of the leader, and
 * an isolated leader stops issuing before another one starts.
 *
 * Every loop is bounded in requests and time. Pauses are measured and
 * printed; only generous liveness bounds are asserted, never a timing.
 */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startServer, stopAllServers, urlOf, type ServerProcess } from '../helpers/server-process.js';
import { dbAvailable, destroyAllDbServers, freePorts, startEtcd, type DbServer, type EtcdCluster } from '../helpers/db-servers.js';
import { nextValue as zmqNext } from '../helpers/zmq-client.js';
import { delay, waitUntil } from '../helpers/wait.js';

const TTL_SECONDS = 2;
const SEQUENCE = 'invoices';
const REQUEST_TIMEOUT_MS = 5_000;

afterEach(async () => {
  await stopAllServers();
});

afterAll(async () => {
  await stopAllServers();
  await destroyAllDbServers();
});

interface Node {
  readonly label: string;
  readonly server: ServerProcess;
  readonly http: string;
  readonly admin: string;
  readonly line: string;
  readonly tcp: string;
}

function logAddress(server: ServerProcess, protocol: 'line' | 'tcp'): string {
  const line = server.logLines().find((entry) => entry.msg === 'listening' && entry.protocol === protocol);
  if (typeof line?.address !== 'string') throw new Error(`${protocol} is not listening`);
  return line.address;
}

async function serve(label: string, storeUri: string, extra: readonly string[] = []): Promise<Node> {
  const server = await startServer([
    '--store', storeUri,
    '--leader', '--leader-ttl', String(TTL_SECONDS),
    '--max-block', '50',
    '--line', '127.0.0.1:0',
    '--tcp', '127.0.0.1:0',
    '--tcp-sequence', SEQUENCE,
    ...extra,
  ]);
  return { label, server, http: urlOf(server, 'http'), admin: urlOf(server, 'admin'), line: logAddress(server, 'line'), tcp: logAddress(server, 'tcp') };
}

interface LeaderView {
  role: string;
  id: string | null;
  http: string | null;
  zmq: string | null;
}

async function leaderView(node: Node): Promise<LeaderView | undefined> {
  try {
    const response = await fetch(`${node.admin}/status?limit=0`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const body = (await response.json()) as { leader: LeaderView };
    return body.leader;
  } catch {
    return undefined;
  }
}

/** Waits until exactly one of `nodes` leads and every one of them knows it; returns the leader. */
async function electedLeader(nodes: readonly Node[]): Promise<Node> {
  let leader: Node | undefined;
  await waitUntil(async () => {
    const views = await Promise.all(nodes.map((node) => leaderView(node)));
    const leading = nodes.filter((_node, index) => views[index]?.role === 'leader');
    if (leading.length !== 1) return false;
    const id = views[nodes.indexOf(leading[0] as Node)]?.id;
    if (!views.every((view) => view?.id === id)) return false;
    leader = leading[0];
    return true;
  }, 'one leader that every server knows');
  return leader as Node;
}

/** One value over HTTP `/v1`, following redirects (fetch re-sends the POST body on 307). */
async function httpNext(node: Node): Promise<bigint> {
  const response = await fetch(`${node.http}/v1/sequences/${SEQUENCE}/next`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ count: 1 }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${node.label}: HTTP ${response.status} ${text.slice(0, 200)}`);
  const values = (JSON.parse(text) as { values: string[] }).values;
  return BigInt(values[0] as string);
}

/** One value over the line protocol (`NEXT name`). */
function lineNext(node: Node): Promise<bigint> {
  return new Promise((resolveValue, reject) => {
    const [host, port] = [node.line.slice(0, node.line.lastIndexOf(':')), Number(node.line.slice(node.line.lastIndexOf(':') + 1))];
    const socket = connect({ host, port });
    let text = '';
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy(new Error('line timeout')));
    socket.on('connect', () => socket.write(`NEXT ${SEQUENCE}\n`));
    socket.on('data', (chunk) => {
      text += chunk.toString('utf8');
      if (text.includes('\n')) {
        socket.destroy();
        if (/^[0-9]+\n/.test(text)) resolveValue(BigInt(text.trim()));
        else reject(new Error(`${node.label}: line answered ${text.trim()}`));
      }
    });
    socket.on('error', reject);
  });
}

/** One value over one-shot TCP. */
function tcpNext(node: Node): Promise<bigint> {
  return new Promise((resolveValue, reject) => {
    const [host, port] = [node.tcp.slice(0, node.tcp.lastIndexOf(':')), Number(node.tcp.slice(node.tcp.lastIndexOf(':') + 1))];
    const socket = connect({ host, port });
    let text = '';
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy(new Error('tcp timeout')));
    socket.on('data', (chunk) => (text += chunk.toString('utf8')));
    socket.on('end', () => {
      if (/^[0-9]+\n$/.test(text)) resolveValue(BigInt(text.trim()));
      else reject(new Error(`${node.label}: one-shot answered ${JSON.stringify(text)}`));
    });
    socket.on('error', reject);
  });
}

function expectStrictlyIncreasing(values: readonly bigint[]): void {
  for (let index = 1; index < values.length; index++) {
    if ((values[index] as bigint) <= (values[index - 1] as bigint)) {
      throw new Error(`value ${index} (${values[index]}) is not above value ${index - 1} (${values[index - 1]})`);
    }
  }
}

/**
 * Asks the nodes in turn (over HTTP, following redirects) until `stop()`;
 * records every value in the order the answers came, and the longest time
 * without a value. Requests are sequential, so values must increase strictly.
 */
async function drive(nodes: () => readonly Node[], stop: () => boolean, limitMs = 60_000): Promise<{ values: bigint[]; failures: number; longestPauseMs: number }> {
  const values: bigint[] = [];
  let failures = 0;
  let lastSuccess = performance.now();
  let longestPauseMs = 0;
  const until = Date.now() + limitMs;
  let turn = 0;
  while (!stop() && Date.now() < until) {
    const list = nodes();
    const node = list[turn++ % list.length] as Node;
    try {
      values.push(await httpNext(node));
      const now = performance.now();
      longestPauseMs = Math.max(longestPauseMs, now - lastSuccess);
      lastSuccess = now;
    } catch {
      failures++;
      await delay(20);
    }
  }
  return { values, failures, longestPauseMs };
}

describe.skipIf(!dbAvailable('etcd'))('leader mode on a three-node etcd cluster', () => {
  let cluster: EtcdCluster;
  let prefixCounter = 0;

  beforeAll(async () => {
    cluster = await startEtcd({ nodes: 3 });
  }, 120_000);

  /** A fresh key prefix per test, so elections and counters never meet. */
  function storeUri(members: readonly DbServer[] = cluster.members): string {
    const hosts = members.map((member) => member.uri.replace('etcd://', '')).join(',');
    return `etcd://${hosts}/leader-test-${process.pid}-${++prefixCounter}`;
  }

  it('elects one leader; values through every server and protocol increase strictly; followers redirect HTTP with 307', async () => {
    const uri = storeUri();
    const nodes = [await serve('a', uri), await serve('b', uri), await serve('c', uri)];
    const leader = await electedLeader(nodes);
    const followers = nodes.filter((node) => node !== leader);
    const follower = followers[0] as Node;

    // A follower answers 307 with the leader's advertised URL, path and query kept.
    const redirect = await fetch(`${follower.http}/v1/sequences/${SEQUENCE}/next?count=2`, { method: 'POST', redirect: 'manual' });
    expect(redirect.status).toBe(307);
    expect(redirect.headers.get('location')).toBe(`${leader.http}/v1/sequences/${SEQUENCE}/next?count=2`);
    const tickr = await fetch(`${follower.http}/tickets/create/3`, { redirect: 'manual' });
    expect(tickr.status).toBe(307);
    expect(tickr.headers.get('location')).toBe(`${leader.http}/tickets/create/3`);
    // The OpenAPI document is the follower's own.
    expect((await fetch(`${follower.http}/openapi.json`)).status).toBe(200);

    const values: bigint[] = [];
    for (let round = 0; round < 20; round++) {
      for (const node of nodes) {
        values.push(await httpNext(node));
        values.push(await zmqNext(node.server.endpoint, SEQUENCE));
        values.push(await lineNext(node));
        values.push(await tcpNext(node));
      }
    }
    expect(values).toHaveLength(240);
    expectStrictlyIncreasing(values);

    // Status and metrics say who leads.
    const view = await leaderView(follower);
    expect(view?.role).toBe('follower');
    expect(view?.http).toBe(leader.http);
    const metrics = await (await fetch(`${leader.admin}/metrics`)).text();
    expect(metrics).toMatch(/^ticket_leader 1$/m);
    const followerMetrics = await (await fetch(`${follower.admin}/metrics`)).text();
    expect(followerMetrics).toMatch(/^ticket_leader 0$/m);
    for (const node of nodes) expect((await fetch(`${node.admin}/readyz`)).status).toBe(200);
  });

  it('stays strictly increasing across a kill -9 of the leader under load and a graceful stop of the next one', async () => {
    const uri = storeUri();
    let nodes = [await serve('a', uri), await serve('b', uri), await serve('c', uri)];
    const first = await electedLeader(nodes);
    let stop = false;
    const load = drive(() => nodes, () => stop);
    await delay(1_000);

    nodes = nodes.filter((node) => node !== first);
    const killedAt = performance.now();
    await first.server.kill();
    const second = await electedLeader(nodes);
    const failoverMs = performance.now() - killedAt;
    await delay(1_000);

    nodes = nodes.filter((node) => node !== second);
    const stoppedAt = performance.now();
    await second.server.stop('SIGTERM');
    await electedLeader(nodes);
    const handoverMs = performance.now() - stoppedAt;
    await delay(1_000);
    stop = true;
    const result = await load;

    console.log(
      `leader mode: ${result.values.length} values, ${result.failures} failed requests, new leader after kill -9 in ${failoverMs.toFixed(0)} ms, ` +
        `after SIGTERM in ${handoverMs.toFixed(0)} ms, longest pause ${result.longestPauseMs.toFixed(0)} ms (ttl ${TTL_SECONDS} s)`,
    );
    expect(result.values.length).toBeGreaterThan(100);
    expectStrictlyIncreasing(result.values);
    expect(new Set(result.values).size).toBe(result.values.length);
    // Liveness only: issuing resumed after both changes (a generous bound, not a timing claim).
    expect(result.longestPauseMs).toBeLessThan(30_000);
  });

  it("replaces a ticketd cluster: three ticketd command lines on etcd elect a leader; POST / on any node, following redirects, increases strictly", async () => {
    const uri = storeUri();
    const peerPorts = await freePorts(3);
    const httpPorts = await freePorts(3);
    const peers = peerPorts.map((port) => `127.0.0.1:${port}`).join(',');
    const nodes = await Promise.all(
      [0, 1, 2].map(async (index) => {
        const server = await startServer(
          [peers, '--peer_port', String(peerPorts[index]), '--http_port', `127.0.0.1:${httpPorts[index]}`, '--store', uri, '--leader-ttl', String(TTL_SECONDS), '--admin', '127.0.0.1:0'],
          { command: 'ticketd' },
        );
        return { label: `ticketd-${index}`, server, http: `http://127.0.0.1:${httpPorts[index]}`, admin: urlOf(server, 'admin'), line: '', tcp: '' } satisfies Node;
      }),
    );
    const leader = await electedLeader(nodes);
    const follower = nodes.find((node) => node !== leader) as Node;
    const redirect = await fetch(`${follower.http}/`, { method: 'POST', redirect: 'manual' });
    expect(redirect.status).toBe(307);
    expect(redirect.headers.get('location')).toBe(`${leader.http}/`);
    const values: bigint[] = [];
    for (let round = 0; round < 10; round++) {
      for (const node of nodes) {
        const response = await fetch(`${node.http}/`, { method: 'POST', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        expect(response.status).toBe(200);
        values.push(BigInt(await response.text()));
      }
    }
    expectStrictlyIncreasing(values);
  });

  it('an isolated leader stops issuing before another server issues', async () => {
    const [m0, m1, m2] = cluster.members as [DbServer, DbServer, DbServer];
    const isolatedUri = storeUri([m0]);
    const isolated = await serve('isolated', isolatedUri);
    const prefix = isolatedUri.split('/').pop() as string;
    await electedLeader([isolated]);
    const others = [
      await serve('b', `etcd://${[m1, m2].map((member) => member.uri.replace('etcd://', '')).join(',')}/${prefix}`),
      await serve('c', `etcd://${[m1, m2].map((member) => member.uri.replace('etcd://', '')).join(',')}/${prefix}`),
    ];
    expect(await electedLeader([isolated, ...others])).toBe(isolated);

    // Direct requests to the isolated leader and to the others, recording when each answer came.
    let stop = false;
    let lastFromIsolated = { value: 0n, at: 0 };
    let issuedByIsolated = 0;
    let refusedByIsolated = 0;
    const isolatedLoop = (async () => {
      while (!stop) {
        try {
          const value = await httpNext(isolated);
          lastFromIsolated = { value, at: performance.now() };
          issuedByIsolated++;
        } catch {
          refusedByIsolated++;
          await delay(20);
        }
      }
    })();
    let firstFromOthers: { value: bigint; sentAt: number } | undefined;
    const othersLoop = (async () => {
      let turn = 0;
      while (!stop) {
        const node = others[turn++ % others.length] as Node;
        const sentAt = performance.now();
        try {
          // Directly to a follower-or-leader, without following a redirect to the isolated server.
          const response = await fetch(`${node.http}/v1/sequences/${SEQUENCE}/next`, { method: 'POST', redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
          if (response.status === 200) {
            const value = BigInt(((await response.json()) as { values: string[] }).values[0] as string);
            if (firstFromOthers === undefined) firstFromOthers = { value, sentAt };
          } else {
            await response.body?.cancel();
            await delay(20);
          }
        } catch {
          await delay(20);
        }
      }
    })();

    await waitUntil(() => issuedByIsolated >= 50, 'the isolated leader issues');
    await m0.stop();
    try {
      await waitUntil(() => firstFromOthers !== undefined, 'another server leads and issues', 60_000);
      await delay(500);
    } finally {
      stop = true;
      await Promise.all([isolatedLoop, othersLoop]);
      await m0.start();
    }
    const next = firstFromOthers as { value: bigint; sentAt: number };
    console.log(
      `isolation: ${issuedByIsolated} values from the isolated leader, the last ${lastFromIsolated.value}; first from the new leader ${next.value}; ` +
        `gap between them ${(next.sentAt - lastFromIsolated.at).toFixed(0)} ms; isolated refused ${refusedByIsolated} requests`,
    );
    // The isolated leader's last answer arrived before the new leader's first request was even sent.
    expect(lastFromIsolated.at).toBeLessThan(next.sentAt);
    expect(next.value).toBeGreaterThan(lastFromIsolated.value);
    expect(refusedByIsolated).toBeGreaterThan(0);
  }, 120_000);
});

describe('leader mode configuration', () => {
  it('refuses --leader without an etcd store, naming the option', async () => {
    const result = await runCli(['--leader', '--store', 'memory:']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--leader/);
    expect(result.stderr).toMatch(/etcd:\/\//);
  });
});
