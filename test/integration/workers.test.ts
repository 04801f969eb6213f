/**
 * `--workers N`: an owner process (store, ZeroMQ, admin) and N worker
 * processes serving HTTP and line (one-shot TCP stays in the owner). Real processes on LMDB:
 * values unique across workers; kill -9 of a worker (restarted) and of the
 * owner (workers exit with it) never repeat a value; a graceful stop burns
 * nothing (a restart fills the slots no process issued, then continues right
 * after the highest value); admin floors reach
 * every worker; the owner answers --max-sequences for all; the data directory
 * lock still refuses a second server.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createTempDir, removeTempDirs, startServer, stopAllServers, type ServerProcess } from '../helpers/server-process.js';
import { delay, waitUntil } from '../helpers/wait.js';
import { nextValue } from '../helpers/zmq-client.js';

afterEach(async () => {
  await stopAllServers();
});

afterAll(async () => {
  await removeTempDirs();
});

const TOKEN = 'workers-test-token-0123456789';

function hostPort(address: string): { host: string; port: number } {
  const index = address.lastIndexOf(':');
  return { host: address.slice(0, index), port: Number(address.slice(index + 1)) };
}

/** One long-lived line-protocol connection; requests are pipelined and answered in order. */
class LineClient {
  private buffer = '';
  private readonly waiting: Array<{ resolve: (line: string) => void; reject: (error: Error) => void }> = [];
  private closedError: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let newline = this.buffer.indexOf('\n');
      while (newline >= 0) {
        const line = this.buffer.slice(0, newline);
        this.buffer = this.buffer.slice(newline + 1);
        this.waiting.shift()?.resolve(line);
        newline = this.buffer.indexOf('\n');
      }
    });
    const fail = (): void => {
      this.closedError ??= new Error('line connection closed');
      for (const waiter of this.waiting.splice(0)) waiter.reject(this.closedError);
    };
    socket.on('close', fail);
    socket.on('error', fail);
  }

  static open(address: string): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(hostPort(address), () => resolve(new LineClient(socket)));
      socket.once('error', reject);
    });
  }

  /** `count` pipelined `NEXT name` requests; resolves with the reply lines (values or `ERR …`). */
  request(name: string, count = 1): Promise<string[]> {
    if (this.closedError) return Promise.reject(this.closedError);
    const replies = Array.from({ length: count }, () => new Promise<string>((resolve, reject) => this.waiting.push({ resolve, reject })));
    this.socket.write(`NEXT ${name}\n`.repeat(count));
    return Promise.all(replies);
  }

  close(): void {
    this.socket.destroy();
  }
}

async function httpNext(base: string, name: string): Promise<bigint> {
  const response = await fetch(`${base}/v1/sequences/${name}/next`, { method: 'POST', signal: AbortSignal.timeout(5_000) });
  const body = (await response.json()) as { values?: string[] };
  if (response.status !== 200 || !body.values) throw new Error(`HTTP ${response.status}: ${JSON.stringify(body)}`);
  return BigInt(body.values[0] as string);
}

/** One value from the one-shot TCP protocol (a connection answers one value and closes). */
function oneShot(address: string): Promise<bigint> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(hostPort(address));
    socket.setEncoding('utf8');
    socket.setTimeout(5_000, () => socket.destroy(new Error('one-shot TCP timed out')));
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(BigInt(text.trim())));
    socket.on('error', reject);
  });
}

/** Every value seen per sequence; a value seen twice is recorded as a duplicate. */
class Ledger {
  readonly values = new Map<string, Set<bigint>>();
  readonly duplicates: string[] = [];

  add(name: string, value: bigint): void {
    let seen = this.values.get(name);
    if (!seen) this.values.set(name, (seen = new Set()));
    if (seen.has(value)) this.duplicates.push(`${name} ${value}`);
    seen.add(value);
  }

  count(): number {
    let total = 0;
    for (const seen of this.values.values()) total += seen.size;
    return total;
  }

  highest(name: string): bigint {
    let max = 0n;
    for (const value of this.values.get(name) ?? []) if (value > max) max = value;
    return max;
  }

  lowest(name: string): bigint {
    let min: bigint | undefined;
    for (const value of this.values.get(name) ?? []) if (min === undefined || value < min) min = value;
    return min ?? 0n;
  }
}

/**
 * Line and HTTP load on `names` until `stop()` (bounded by `maxMs`): connections
 * that break (a worker was killed) are reopened; errors are counted, values recorded.
 */
function runLoad(server: ServerProcess, names: readonly string[], ledger: Ledger, maxMs = 30_000): { stop: () => Promise<void>; errors: () => number } {
  let running = true;
  let errors = 0;
  const deadline = Date.now() + maxMs;
  const lineLoop = async (index: number): Promise<void> => {
    let client: LineClient | undefined;
    while (running && Date.now() < deadline) {
      const name = names[index % names.length] as string;
      try {
        client ??= await LineClient.open(server.endpoints.line as string);
        for (const reply of await client.request(name, 8)) {
          if (/^[0-9]+$/.test(reply)) ledger.add(name, BigInt(reply));
          else errors++;
        }
      } catch {
        errors++;
        client?.close();
        client = undefined;
        await delay(20);
      }
      index++;
    }
    client?.close();
  };
  const httpLoop = async (index: number): Promise<void> => {
    while (running && Date.now() < deadline) {
      const name = names[index++ % names.length] as string;
      try {
        ledger.add(name, await httpNext(server.endpoints.http as string, name));
      } catch {
        errors++;
        await delay(20);
      }
    }
  };
  const loops = [0, 1, 2, 3].map((index) => lineLoop(index)).concat([0, 1].map((index) => httpLoop(index)));
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
    errors: () => errors,
  };
}

function workerPids(server: ServerProcess): number[] {
  return server
    .logLines()
    .filter((line) => line.msg === 'worker ready')
    .map((line) => line.workerPid as number);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Three processes start (and import the server) at once: on a loaded 2-core machine that takes a while. */
const START_TIMEOUT_MS = 45_000;

const WORKER_FLAGS = ['--workers', '2', '--line', '127.0.0.1:0', '--tcp', '127.0.0.1:0'];

describe('--workers 2', () => {
  it('serves line and HTTP from both workers and one-shot TCP from the owner, with values unique across them', async () => {
    const dataDir = await createTempDir();
    const server = await startServer([...WORKER_FLAGS, '--max-block', '20'], { dataDir, startTimeoutMs: START_TIMEOUT_MS });
    // One `ready` line for every process: the workers' listeners and the owner's.
    expect(Object.keys(server.endpoints)).toEqual(['http', 'admin', 'tcp', 'line', 'zmq']);
    const ledger = new Ledger();
    const clients = await Promise.all([0, 1, 2, 3].map(() => LineClient.open(server.endpoints.line as string)));
    for (let round = 0; round < 20; round++) {
      for (const client of clients) for (const reply of await client.request('a', 3)) ledger.add('a', BigInt(reply));
      ledger.add('a', await httpNext(server.endpoints.http as string, 'a'));
      // ZeroMQ is served by the owner's own service, from leases of the same store.
      ledger.add('a', await nextValue(server.endpoint, 'a'));
      ledger.add('default', await oneShot(server.endpoints.tcp as string));
      ledger.add('default', await httpNext(server.endpoints.http as string, 'default'));
    }
    for (const client of clients) client.close();
    expect(ledger.duplicates).toEqual([]);
    expect(ledger.values.get('a')?.size).toBe(20 * (4 * 3 + 2));
    expect(ledger.values.get('default')?.size).toBe(40);

    // The owner's admin port adds up what the workers report once a second.
    const admin = server.endpoints.admin as string;
    let status:
      | { workers: Array<{ ready: boolean; restarts: number }>; sequences: Array<{ name: string; issued: number; last_value: string }>; endpoints: Record<string, string> }
      | undefined;
    await waitUntil(async () => {
      status = (await (await fetch(`${admin}/status`)).json()) as typeof status;
      return status?.sequences.find((sequence) => sequence.name === 'a')?.issued === 280;
    }, '/status counting every worker\'s values of "a"', 10_000);
    expect(status?.sequences.find((sequence) => sequence.name === 'a')?.last_value).toBe(ledger.highest('a').toString());
    expect(status?.workers.map((worker) => [worker.ready, worker.restarts])).toEqual([[true, 0], [true, 0]]);
    expect(Object.keys(status?.endpoints ?? {}).sort()).toEqual(['admin', 'http', 'line', 'tcp', 'zmq']);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/ticket_issued_total\{protocol="line"\} 240\b/);
    expect(metrics).toMatch(/ticket_issued_total\{protocol="tcp"\} 20\b/);

    expect((await server.stop()).code).toBe(0);
    const served = server.logLines().filter((line) => line.msg === 'worker stopping');
    expect(served).toHaveLength(2);
    for (const line of served) {
      const issued = line.issued as Record<string, number>;
      // Both workers took connections of the protocols they serve; one-shot TCP is the owner's.
      expect((issued.line ?? 0) + (issued.http ?? 0)).toBeGreaterThan(0);
      expect(issued.tcp ?? 0).toBe(0);
    }
    console.log(`workers served: ${served.map((line) => JSON.stringify(line.issued)).join(' / ')}`);
  }, 120_000);

  it('restarts a worker killed with -9 under load, and never repeats a value', async () => {
    const dataDir = await createTempDir();
    const server = await startServer([...WORKER_FLAGS, '--max-block', '50'], { dataDir, startTimeoutMs: START_TIMEOUT_MS });
    const [victim] = workerPids(server);
    expect(victim).toBeGreaterThan(0);
    const ledger = new Ledger();
    const load = runLoad(server, ['a', 'b'], ledger);
    await waitUntil(() => ledger.count() >= 500, 'values before the kill', 20_000);
    process.kill(victim as number, 'SIGKILL');
    await waitUntil(() => workerPids(server).length >= 3, 'the killed worker restarted', 20_000);
    const atRestart = ledger.count();
    await waitUntil(() => ledger.count() >= atRestart + 500, 'values after the restart', 20_000);
    await load.stop();
    const restarted = server.logLines().find((line) => line.msg === 'worker ready' && line.restarts === 1);
    expect(restarted?.workerPid).not.toBe(victim);
    // The load's connections moved to the surviving worker; new ones are shared with the restarted one.
    const fresh = await Promise.all([0, 1, 2, 3].map(() => LineClient.open(server.endpoints.line as string)));
    for (const client of fresh) for (const reply of await client.request('a', 4)) ledger.add('a', BigInt(reply));
    for (const client of fresh) client.close();
    expect(server.logLines().some((line) => line.msg === 'worker died; its leases are lost')).toBe(true);
    expect(ledger.duplicates).toEqual([]);
    console.log(`worker kill -9: ${ledger.count()} values, ${load.errors()} failed requests (the killed worker's connections)`);
    expect((await server.stop()).code).toBe(0);
    const restartedServed = server.logLines().find((line) => line.msg === 'worker stopping' && line.pid === restarted?.workerPid);
    expect((restartedServed?.issued as Record<string, number> | undefined)?.line ?? 0).toBeGreaterThan(0);
  }, 150_000);

  it('takes every worker down with an owner killed with -9 under load; a restart never repeats a value', async () => {
    const dataDir = await createTempDir();
    const server = await startServer([...WORKER_FLAGS, '--max-block', '50'], { dataDir, startTimeoutMs: START_TIMEOUT_MS });
    const pids = workerPids(server);
    expect(pids).toHaveLength(2);
    const before = new Ledger();
    const load = runLoad(server, ['a', 'b'], before);
    await waitUntil(() => before.count() >= 500, 'values before the kill', 20_000);
    server.child.kill('SIGKILL');
    await waitUntil(() => pids.every((pid) => !alive(pid)), 'every worker gone after the owner died', 10_000);
    await load.stop();

    const again = await startServer([...WORKER_FLAGS, '--max-block', '50'], { dataDir, startTimeoutMs: START_TIMEOUT_MS });
    const after = new Ledger();
    const secondLoad = runLoad(again, ['a', 'b'], after);
    await waitUntil(() => after.count() >= 200, 'values after the restart', 20_000);
    await secondLoad.stop();
    for (const name of ['a', 'b']) {
      // Every lease the restarted server issues from was reserved after every lease the killed one held.
      expect(after.lowest(name)).toBeGreaterThan(before.highest(name));
    }
    expect(before.duplicates).toEqual([]);
    expect(after.duplicates).toEqual([]);
    expect((await again.stop()).code).toBe(0);
  }, 150_000);

  it('hands every worker\'s leases back on a graceful stop: a restart continues after the highest value and fills every slot not issued, burning none', async () => {
    const MAX_BLOCK = 20;
    const NAMES = ['a', 'b', 'c'];
    const dataDir = await createTempDir();
    const server = await startServer([...WORKER_FLAGS, '--max-block', String(MAX_BLOCK)], { dataDir, startTimeoutMs: START_TIMEOUT_MS });
    const ledger = new Ledger();
    const load = runLoad(server, NAMES, ledger);
    await waitUntil(() => ledger.count() >= 1_500, 'values under load', 30_000);
    await load.stop();
    expect(ledger.duplicates).toEqual([]);
    const issuedBefore = ledger.count();
    expect((await server.stop()).code).toBe(0);
    const summary = server.logLines().find((line) => line.msg === 'leases handed back across processes');
    expect(summary).toBeDefined();
    // Tails below another process's values are kept by LMDB, not lost.
    expect(summary?.gapSlots).toBe('0');
    const kept = BigInt(summary?.keptSlots as string);
    expect(kept).toBeLessThanOrEqual(BigInt(2 * MAX_BLOCK * 3 * NAMES.length));

    // One process on the same data: first the kept slots, lowest first, then right after the highest value.
    const again = await startServer(['--max-block', String(MAX_BLOCK)], { dataDir, startTimeoutMs: START_TIMEOUT_MS });
    const report: string[] = [];
    for (const name of NAMES) {
      const highest = ledger.highest(name);
      let next = 0n;
      let filled = 0;
      for (let guard = 0; guard < 2 * MAX_BLOCK * 3 + 10 && next <= highest; guard++) {
        next = await httpNext(urlOfHttp(again), name);
        if (next <= highest) {
          ledger.add(name, next);
          filled++;
        }
      }
      expect(next).toBe(highest + 1n);
      // Burned: slots from 1 to the highest value issued by neither run.
      const seen = ledger.values.get(name) ?? new Set<bigint>();
      const burned = Number(highest) - seen.size;
      expect(burned).toBe(0);
      report.push(`${name}: highest ${highest}, ${filled} kept slots issued after the restart, then ${next}`);
    }
    expect(ledger.duplicates).toEqual([]);
    console.log(`graceful stop of 2 workers: ${issuedBefore} values; kept ${kept} slots, released ${summary?.releasedSlots as string}, burned 0 (${report.join('; ')})`);
    expect((await again.stop()).code).toBe(0);
  }, 150_000);

  it('applies an admin floor in every worker before the admin call returns', async () => {
    const dataDir = await createTempDir();
    const server = await startServer([...WORKER_FLAGS, '--admin-token', TOKEN], { dataDir, startTimeoutMs: START_TIMEOUT_MS });
    const clients = await Promise.all([0, 1, 2, 3].map(() => LineClient.open(server.endpoints.line as string)));
    // Every connection (and so both workers) now holds a lease of "f" low in the sequence.
    for (const client of clients) expect(BigInt((await client.request('f'))[0] as string)).toBeLessThan(1_000n);
    const response = await fetch(`${server.endpoints.admin as string}/admin/sequences/f/floor`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ floor: '1000' }),
    });
    expect(response.status).toBe(200);
    for (const client of clients) expect(BigInt((await client.request('f'))[0] as string)).toBeGreaterThan(1_000n);
    for (const client of clients) client.close();
    expect((await server.stop()).code).toBe(0);
  }, 120_000);

  it('lets the owner answer --max-sequences for every worker, and still refuses a second server on the data directory', async () => {
    const dataDir = await createTempDir();
    const server = await startServer([...WORKER_FLAGS, '--max-sequences', '2'], { dataDir, startTimeoutMs: START_TIMEOUT_MS });
    const clients = await Promise.all([0, 1, 2, 3].map(() => LineClient.open(server.endpoints.line as string)));
    const replies = await Promise.all(clients.map(async (client, index) => (await client.request(`n${index}`))[0] as string));
    expect(replies.filter((reply) => /^[0-9]+$/.test(reply))).toHaveLength(2);
    expect(replies.filter((reply) => reply.startsWith('ERR ELIMIT'))).toHaveLength(2);
    for (const client of clients) client.close();

    await expect(startServer(['--workers', '2'], { dataDir, startTimeoutMs: START_TIMEOUT_MS })).rejects.toThrow(/exited before ready \(code 1/);
    expect((await server.stop()).code).toBe(0);
  }, 120_000);
});

function urlOfHttp(server: ServerProcess): string {
  return server.endpoints.http as string;
}
