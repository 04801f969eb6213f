/**
 * Runs every command of the migration guides (docs/migrating/*.md) against
 * real servers: the fenced ```sh blocks of each guide are extracted
 * automatically, their realistic literals (hosts, ports, paths, users) are
 * mapped to this test's resources by a small explicit table per guide, and
 * the blocks run in order with `bash -euo pipefail`, with `ticket-server`,
 * `seqgen`, `txn-id-server`, `ticketd`, `tickr` (and `scp`, as a local copy)
 * as shims on PATH. The earlier system's state is built first (a
 * sequences.json above 2^53, a txnid.dat, a Tickr and a Flickr table, a
 * PostgreSQL sequence); then the test asserts that the switch issued above
 * everything the earlier system issued, and that the rollback left the
 * earlier system's state above everything ticket-server issued.
 *
 * Block markers (comment lines at the top of a block, part of the guide):
 * - `# on HOST`: the block runs on that machine (the table maps HOST's paths and ports);
 * - `# starts a server`: one long-running command, run in the background until
 *   its `ready` log line, stopped with SIGTERM by a later `# with the servers stopped`
 *   block or at the end;
 * - `# with the servers stopped`: every server this guide started is stopped first.
 * Consecutive blocks on different machines run at the same time, as they would
 * on separate machines (and to keep the run short).
 *
 * A guide whose block count changed, or whose commands still hold a literal
 * the table does not map (an address, a path under /var/lib or /etc), fails:
 * a command added to a guide needs this test to know about it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, cleanEnvironment, collectOutput, createTempDir, parseLogLines, removeTempDirs } from '../helpers/server-process.js';
import {
  dbAvailable,
  destroyAllDbServers,
  emptyStoreUri,
  freePorts,
  startEtcd,
  startMariadb,
  startPostgres,
  type DbServer,
  type EtcdCluster,
} from '../helpers/db-servers.js';

const GUIDES_DIR = join(PROJECT_ROOT, 'docs', 'migrating');
/** How long one command block may run (they are short: takeover, dump, curl, mysql). */
const BLOCK_TIMEOUT_MS = 30_000;
/** How long a server block may take to print its `ready` line. */
const READY_TIMEOUT_MS = 20_000;
/** How long a stopped server may take to exit before it is SIGKILLed. */
const STOP_TIMEOUT_MS = 10_000;
const MAX_OUTPUT_CHARS = 1024 * 1024;
/** Literals of the guides that must never reach bash unmapped (they name machines and paths that do not exist here). */
const UNMAPPED_LITERAL = /\b10\.0\.0\.\d+|\b[a-z0-9-]+\.example\b|\/var\/lib\/|\/etc\/|\be\d:2379\b|\bseqgen\d:/;

const TWO_POW_53 = 2n ** 53n;

// ---------------------------------------------------------------------------
// Extracting and running the blocks
// ---------------------------------------------------------------------------

interface Block {
  readonly text: string;
  readonly host: string | undefined;
  readonly startsServer: boolean;
  readonly needsServersStopped: boolean;
}

/** The ```sh blocks of a guide, in order, with their markers. */
export function extractBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  for (const match of markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    const text = match[1] as string;
    const markers = text.split('\n').filter((line) => line.startsWith('# '));
    const host = markers.map((line) => /^# on ([a-z0-9-]+)/.exec(line)?.[1]).find((found) => found !== undefined);
    blocks.push({
      text,
      host,
      startsServer: markers.includes('# starts a server'),
      needsServersStopped: markers.includes('# with the servers stopped'),
    });
  }
  return blocks;
}

/** One mapping: `literal` becomes `replacement`, only on `host` when given. Applied in order. */
type Substitution = readonly [literal: string, replacement: string, host?: string];

function substitute(block: Block, table: readonly Substitution[]): string {
  let text = block.text;
  for (const [literal, replacement, host] of table) {
    if (host !== undefined && host !== block.host) continue;
    text = text.split(literal).join(replacement);
  }
  // Comment lines are the reader's, not bash's: they may name hosts freely.
  const commands = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n');
  const leftover = UNMAPPED_LITERAL.exec(commands);
  if (leftover !== null) throw new Error(`block has a literal the substitution table does not map: "${leftover[0]}" in\n${text}`);
  return text;
}

interface RunContext {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const liveServers = new Set<ChildProcess>();

function spawnBash(script: string, context: RunContext): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } {
  // Its own process group, so SIGTERM/SIGKILL reach the server even when bash did not exec it.
  const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: context.cwd, env: context.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const { out, err } = collectOutput(child, MAX_OUTPUT_CHARS);
  const exited = new Promise<number | null>((resolveExit) => {
    child.once('close', (code) => resolveExit(code));
    child.once('error', () => resolveExit(null));
  });
  return { child, out, err, exited };
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

async function runBlock(script: string, context: RunContext): Promise<Outcome> {
  const run = spawnBash(script, context);
  liveServers.add(run.child);
  const timer = setTimeout(() => signalGroup(run.child, 'SIGKILL'), BLOCK_TIMEOUT_MS);
  const code = await run.exited;
  clearTimeout(timer);
  liveServers.delete(run.child);
  return { code, stdout: run.out(), stderr: run.err() };
}

interface RunningServer {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly script: string;
  out(): string;
  err(): string;
}

async function startBlock(script: string, context: RunContext): Promise<RunningServer> {
  const run = spawnBash(script, context);
  liveServers.add(run.child);
  void run.exited.then(() => liveServers.delete(run.child));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (parseLogLines(run.out()).some((line) => line.msg === 'ready')) return { ...run, script };
    const exitedFirst = run.child.exitCode !== null || run.child.signalCode !== null;
    if (exitedFirst || Date.now() >= deadline) {
      signalGroup(run.child, 'SIGKILL');
      await run.exited;
      throw new Error(`server block ${exitedFirst ? 'exited before' : 'was not'} ready:\n${script}\n--- stdout ---\n${run.out()}\n--- stderr ---\n${run.err()}`);
    }
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 50));
  }
}

async function stopServer(server: RunningServer): Promise<number | null> {
  signalGroup(server.child, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(server.child, 'SIGKILL'), STOP_TIMEOUT_MS);
  const code = await server.exited;
  clearTimeout(timer);
  return code;
}

/** What a guide's blocks printed, by block index (server blocks: their stdout once stopped). */
type Outputs = Map<number, string>;

/**
 * Splits the blocks into steps run one after the other. Consecutive blocks
 * of the same kind (commands or servers) on different machines (`# on HOST`,
 * no HOST twice) form one step and run at the same time, as they would on
 * separate machines; a `# with the servers stopped` block starts a new step.
 */
function steps(blocks: readonly Block[]): number[][] {
  const result: number[][] = [];
  for (const [index, block] of blocks.entries()) {
    const current = result.at(-1);
    const first = current === undefined ? undefined : blocks[current[0] as number];
    const joins =
      current !== undefined &&
      first !== undefined &&
      block.host !== undefined &&
      first.host !== undefined &&
      !block.needsServersStopped &&
      block.startsServer === first.startsServer &&
      current.every((other) => blocks[other]?.host !== block.host);
    if (joins) current.push(index);
    else result.push([index]);
  }
  return result;
}

/**
 * Runs a guide's blocks in order (see `steps`). `beforeStop` runs before the
 * first `# with the servers stopped` block, while the servers still serve.
 */
async function runGuide(
  file: string,
  expectedBlocks: number,
  table: readonly Substitution[],
  context: RunContext,
  beforeStop: (outputs: Outputs) => Promise<void>,
): Promise<Outputs> {
  const blocks = extractBlocks(await readFile(join(GUIDES_DIR, file), 'utf8'));
  expect(blocks.length, `${file}: sh blocks (update this test when a guide gains or loses one)`).toBe(expectedBlocks);
  const scripts = blocks.map((block) => substitute(block, table));
  const outputs: Outputs = new Map();
  const timings: string[] = [];
  const running: RunningServer[] = [];
  let stoppedOnce = false;
  const stopAll = async (): Promise<void> => {
    const stopping = running.splice(0);
    const codes = await Promise.all(stopping.map((server) => stopServer(server)));
    for (const [index, server] of stopping.entries()) {
      expect(codes[index], `${file}: a server stopped with SIGTERM exits 0:\n${server.script}\n${server.err()}`).toBe(0);
    }
  };
  try {
    for (const step of steps(blocks)) {
      const first = blocks[step[0] as number] as Block;
      const started = performance.now();
      const label = step.map((index) => index + 1).join('+');
      if (first.needsServersStopped) {
        if (!stoppedOnce) await beforeStop(outputs);
        stoppedOnce = true;
        await stopAll();
      }
      if (first.startsServer) {
        const settled = await Promise.allSettled(step.map((index) => startBlock(scripts[index] as string, context)));
        for (const result of settled) if (result.status === 'fulfilled') running.push(result.value);
        for (const result of settled) if (result.status === 'rejected') throw result.reason;
        timings.push(`${label} (servers ready): ${(performance.now() - started).toFixed(0)} ms`);
        continue;
      }
      const outcomes = await Promise.all(step.map((index) => runBlock(scripts[index] as string, context)));
      for (const [position, index] of step.entries()) {
        const outcome = outcomes[position] as Outcome;
        const script = scripts[index] as string;
        expect(outcome.code, `${file} block ${index + 1} failed:\n${script}\n--- stdout ---\n${outcome.stdout}\n--- stderr ---\n${outcome.stderr}`).toBe(0);
        outputs.set(index, outcome.stdout);
      }
      timings.push(`${label}: ${(performance.now() - started).toFixed(0)} ms`);
    }
    if (!stoppedOnce) await beforeStop(outputs);
    await stopAll();
    console.log(`${file}: ${timings.join(', ')}`);
  } finally {
    for (const server of running) signalGroup(server.child, 'SIGKILL');
  }
  return outputs;
}

// ---------------------------------------------------------------------------
// Shared resources
// ---------------------------------------------------------------------------

/** Every decimal number a block printed on its own or in JSON (not the digits of a name such as `tickets64`). */
function numbersIn(text: string): bigint[] {
  return [...text.matchAll(/(?<![\w.])\d{1,19}(?![\w.])/g)].map((match) => BigInt(match[0]));
}

function maxOf(values: readonly bigint[]): bigint {
  expect(values.length).toBeGreaterThan(0);
  return values.reduce((a, b) => (b > a ? b : a));
}

let shimDir: string;
let context: RunContext;
let etcdStarting: Promise<EtcdCluster> | undefined;
let sqlStarting: Promise<[DbServer, DbServer]> | undefined;

/** `promise`, with its rejection observed now (it is awaited later), so it is never reported as unhandled. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

async function writeShim(name: string, body: string): Promise<void> {
  const path = join(shimDir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
}

beforeAll(async () => {
  shimDir = await createTempDir('migrating-docs-bin-');
  const cli = join(PROJECT_ROOT, 'dist', 'cli');
  await writeShim('ticket-server', `exec "${process.execPath}" "${join(cli, 'main.js')}" "$@"`);
  for (const command of ['seqgen', 'txn-id-server', 'ticketd', 'tickr']) {
    await writeShim(command, `exec "${process.execPath}" "${join(cli, `${command}.js`)}" "$@"`);
  }
  // The guides copy files between machines; here every machine is a directory of this one.
  await writeShim('scp', 'exec cp "$@"');
  const cwd = await createTempDir('migrating-docs-cwd-');
  context = { cwd, env: cleanEnvironment({ PATH: `${shimDir}:${process.env.PATH ?? ''}` }) };
  // The databases start while the guides that need none run; their tests await them.
  etcdStarting = dbAvailable('etcd') ? quiet(startEtcd({ nodes: 3 })) : undefined;
  sqlStarting = dbAvailable('mariadb') && dbAvailable('postgres') ? quiet(Promise.all([startMariadb(), startPostgres()])) : undefined;
});

afterEach(async () => {
  for (const child of liveServers) signalGroup(child, 'SIGKILL');
  await new Promise((resolveDelay) => setTimeout(resolveDelay, 100));
});

afterAll(async () => {
  for (const child of liveServers) signalGroup(child, 'SIGKILL');
  // A database still starting (its tests were filtered out or failed early) is registered once started.
  await Promise.allSettled([etcdStarting, sqlStarting]);
  await destroyAllDbServers();
  await removeTempDirs();
});

// ---------------------------------------------------------------------------
// The guides
// ---------------------------------------------------------------------------

describe('migration guides: every command runs', () => {
  it('ticket-server.md: one old Node ticket-server, sequences.json above 2^53', async () => {
    const dir = await createTempDir('migrating-ts-');
    const old = { orders: 1500n, invoices: TWO_POW_53 + 1n };
    await writeFile(join(dir, 'sequences.json'), `{"orders": 1500, "invoices": "${old.invoices}"}\n`);
    const [zmq, admin] = await freePorts(2);
    const table: Substitution[] = [
      ['/var/lib/ticket-server', dir],
      ['10.0.0.11:6410', `127.0.0.1:${zmq}`],
      ['10.0.0.11:6411', `127.0.0.1:${admin}`],
    ];
    const issued: bigint[] = [];
    await runGuide('ticket-server.md', 4, table, context, async (outputs) => {
      const check = numbersIn(outputs.get(2) ?? '');
      expect(check.length).toBe(2);
      expect(check[0]).toBeGreaterThan(old.orders);
      expect(check[1]).toBeGreaterThan(old.invoices);
      issued.push(...check);
    });
    const rolledBack = JSON.parse(await readFile(join(dir, 'sequences.json'), 'utf8')) as Record<string, string>;
    expect(BigInt(rolledBack.orders as string)).toBeGreaterThanOrEqual(issued[0] as bigint);
    expect(BigInt(rolledBack.invoices as string)).toBeGreaterThanOrEqual(issued[1] as bigint);
  });

  it('seqgen.md: three seqgen instances replaced by three seqgen commands, and rolled back', async () => {
    const hosts = ['seqgen1', 'seqgen2', 'seqgen3'];
    const dirs = await Promise.all(hosts.map(() => createTempDir('migrating-seqgen-')));
    // Each instance issued its own class (1, 2, 3 mod 3); the highest per sequence is on different instances.
    const files = [
      { orders: '1498', invoices: `${TWO_POW_53 + 7n}` },
      { orders: '1502', invoices: `${TWO_POW_53 + 2n}` },
      { orders: '1500', invoices: `${TWO_POW_53 + 3n}` },
    ];
    for (const [index, dir] of dirs.entries()) await writeFile(join(dir, 'sequences.json'), `${JSON.stringify(files[index], null, 2)}\n`);
    const oldMax = { orders: 1502n, invoices: TWO_POW_53 + 7n };
    const ports = await freePorts(6);
    const table: Substitution[] = [];
    for (const [index, host] of hosts.entries()) {
      table.push([`${host}:/var/lib/seqgen`, dirs[index] as string]);
      table.push([`10.0.0.1${index + 1}:6410`, `127.0.0.1:${ports[2 * index]}`]);
      table.push([`10.0.0.1${index + 1}:6411`, `127.0.0.1:${ports[2 * index + 1]}`]);
    }
    for (const [index, host] of hosts.entries()) table.push(['/var/lib/seqgen', dirs[index] as string, host]);
    const issued: bigint[] = [];
    await runGuide('seqgen.md', 11, table, context, async (outputs) => {
      const check = numbersIn(outputs.get(6) ?? '');
      expect(check.length).toBe(3);
      // orders from instance 1, invoices from instance 2, orders from instance 3: each above seqgen's highest
      // of all three files (no single file holds all the highest values), each in its instance's class.
      const [orders1, invoices2, orders3] = check as [bigint, bigint, bigint];
      expect(orders1).toBeGreaterThan(oldMax.orders);
      expect(invoices2).toBeGreaterThan(oldMax.invoices);
      expect(orders3).toBeGreaterThan(oldMax.orders);
      expect([orders1 % 3n, invoices2 % 3n, orders3 % 3n]).toEqual([1n, 2n, 0n]);
      issued.push(...check);
    });
    for (const dir of dirs) {
      const rolledBack = JSON.parse(await readFile(join(dir, 'sequences.json'), 'utf8')) as Record<string, string>;
      expect(BigInt(rolledBack.orders as string)).toBeGreaterThanOrEqual(maxOf([issued[0] as bigint, issued[2] as bigint]));
      expect(BigInt(rolledBack.invoices as string)).toBeGreaterThanOrEqual(issued[1] as bigint);
    }
  });

  it('txn-id-server.md: txnid.dat taken over, one-shot TCP above it, rolled back', async () => {
    const dir = await createTempDir('migrating-txnid-');
    const base = 70_000n;
    await writeFile(join(dir, 'txnid.dat'), `${base}|4242|1|\n`);
    const oldBound = (base + 1n) * 65_536n; // everything txn-id-server issued is below this
    const [tcp] = await freePorts(1);
    const table: Substitution[] = [
      ['/etc/txnidserver', dir],
      ['-ip 10.0.0.5 -port 8963', `-ip 127.0.0.1 -port ${tcp}`],
      ['/dev/tcp/10.0.0.5/8963', `/dev/tcp/127.0.0.1/${tcp}`],
    ];
    const issued: bigint[] = [];
    await runGuide('txn-id-server.md', 4, table, context, async (outputs) => {
      const check = numbersIn(outputs.get(2) ?? '');
      expect(check.length).toBe(2);
      for (const value of check) expect(value).toBeGreaterThanOrEqual(oldBound);
      issued.push(...check);
    });
    const match = /^(\d+)\|(\d+)\|(\d+)\|\n?$/.exec(await readFile(join(dir, 'txnid.dat'), 'utf8'));
    expect(match).not.toBeNull();
    // txn-id-server starts at base × 65536: above everything ticket-server issued.
    expect(BigInt(match?.[1] as string) * 65_536n).toBeGreaterThan(maxOf(issued));
  });

  describe.skipIf(!dbAvailable('etcd'))('on a three-node etcd cluster', () => {
    let etcd: EtcdCluster;
    beforeAll(async () => {
      etcd = await (etcdStarting as Promise<EtcdCluster>);
    }, 120_000);

    it('ticketd.md: three ticketd nodes replaced by three ticketd commands in leader mode; curl -L on any node', async () => {
      const members = etcd.uri.replace('etcd://', '').split(',');
      const ports = await freePorts(6);
      const hosts = ['ticketd1', 'ticketd2', 'ticketd3'];
      const table: Substitution[] = [
        ['e1:2379,e2:2379,e3:2379/tickets', `${members.join(',')}/migrating-ticketd-${process.pid}`],
      ];
      for (const [index, host] of hosts.entries()) {
        table.push([`10.0.0.2${index + 1}:9001`, `127.0.0.1:${ports[2 * index]}`]);
        table.push([`10.0.0.2${index + 1}:8001`, `127.0.0.1:${ports[2 * index + 1]}`]);
        table.push(['--peer_port 9001', `--peer_port ${ports[2 * index]}`, host]);
      }
      const issued: bigint[] = [];
      const outputs = await runGuide('ticketd.md', 6, table, context, async (blockOutputs) => {
        const check = numbersIn(blockOutputs.get(4) ?? '');
        expect(check.length).toBe(3);
        // ticketd issued random values below 2^31; one leader issues, so they increase strictly, whichever node was asked.
        expect(check[0]).toBeGreaterThan(2n ** 31n - 1n);
        expect(check[1]).toBeGreaterThan(check[0] as bigint);
        expect(check[2]).toBeGreaterThan(check[1] as bigint);
        issued.push(...check);
      });
      // The rollback check prints the lowest value ticketd could collide with: ticket-server's floor is above 2^31.
      const floors = numbersIn(outputs.get(5) ?? '');
      expect(floors.length).toBe(1);
      expect(floors[0]).toBeGreaterThanOrEqual(maxOf(issued));
    });
  });

  describe.skipIf(!dbAvailable('mariadb') || !dbAvailable('postgres'))('on MariaDB and PostgreSQL', () => {
    let mariadb: DbServer;
    let postgres: DbServer;
    beforeAll(async () => {
      [mariadb, postgres] = await (sqlStarting as Promise<[DbServer, DbServer]>);
    }, 120_000);

    function mysqlParts(server: DbServer): { port: string; user: string; password: string; database: string } {
      const url = new URL(server.uri);
      return { port: url.port, user: decodeURIComponent(url.username), password: decodeURIComponent(url.password), database: url.pathname.slice(1) };
    }

    async function withMysql<T>(action: (connection: mysql.Connection) => Promise<T>): Promise<T> {
      const connection = await mysql.createConnection({ uri: mariadb.uri, supportBigNumbers: true, bigNumberStrings: true });
      try {
        return await action(connection);
      } finally {
        await connection.end();
      }
    }

    /** The id the next `REPLACE INTO`/`UPDATE … id + 1` on `table` would hand out. */
    async function nextTableId(table: string): Promise<bigint> {
      return withMysql(async (connection) => {
        await connection.query('SET SESSION information_schema_stats_expiry = 0').catch(() => undefined);
        const [rows] = await connection.query(
          'SELECT AUTO_INCREMENT AS next_id FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
          [table],
        );
        const [maxRows] = await connection.query(`SELECT MAX(id) AS max_id FROM ${table}`);
        const autoIncrement = BigInt((rows as Array<{ next_id: string }>)[0]?.next_id ?? '0');
        const maxId = BigInt((maxRows as Array<{ max_id: string | null }>)[0]?.max_id ?? '0');
        return autoIncrement > maxId + 1n ? autoIncrement : maxId + 1n;
      });
    }

    function mysqlTable(server: DbServer, guideHost: string, guideUser: string, guidePassword: string, guideDatabase: string): Substitution[] {
      const { port, user, password, database } = mysqlParts(server);
      return [
        [`${guideUser}:${guidePassword}@${guideHost}:3306/${guideDatabase}`, `${user}:${password}@127.0.0.1:${port}/${database}`],
        [`-h ${guideHost} -P 3306 -u ${guideUser} -p${guidePassword} ${guideDatabase}`, `-h 127.0.0.1 -P ${port} -u ${user} -p${password} ${database}`],
      ];
    }

    it('tickr.md: a Tickr table at AUTO_INCREMENT 1,000,000 with 2 nodes from 1,000,001; two tickr commands; rolled back', async () => {
      await emptyStoreUri(mariadb);
      await withMysql(async (connection) => {
        await connection.query('DROP TABLE IF EXISTS tickets');
        await connection.query(
          'CREATE TABLE tickets (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, stub CHAR(1) NOT NULL UNIQUE) AUTO_INCREMENT = 1000000',
        );
      });
      // Tickr's arithmetic: node n of 2 from 1,000,001 made (id − 2) × 2 + n + 1,000,001; the next id is 1,000,000.
      const oldMax = (999_999n - 2n) * 2n + 1n + 1_000_001n;
      const { port, user, password, database } = mysqlParts(mariadb);
      const [http1, http2] = await freePorts(2);
      const table: Substitution[] = [
        ...mysqlTable(mariadb, 'db.example', 'tickr', 'tickr-secret', 'tickr'),
        ['TICKR_DATABASE_HOST=db.example:3306', `TICKR_DATABASE_HOST=127.0.0.1:${port}`],
        ['TICKR_DATABASE_USERNAME=tickr ', `TICKR_DATABASE_USERNAME=${user} `],
        ['TICKR_DATABASE_PASSWORD=tickr-secret ', `TICKR_DATABASE_PASSWORD=${password} `],
        ['TICKR_DATABASE_NAME=tickr ', `TICKR_DATABASE_NAME=${database} `],
        ['10.0.0.31:9292', `127.0.0.1:${http1}`],
        ['10.0.0.32:9292', `127.0.0.1:${http2}`],
      ];
      const issued: bigint[] = [];
      await runGuide('tickr.md', 5, table, context, async (outputs) => {
        const check = numbersIn(outputs.get(3) ?? '');
        // one ticket, three tickets, then /status's last_ticket
        expect(check.length).toBe(5);
        for (const value of check) expect(value).toBeGreaterThan(oldMax);
        issued.push(...check);
      });
      // Tickr continues at (next id − 2) × 2 + node + 1,000,001: node 0 is the lowest.
      const next = await nextTableId('tickets');
      expect((next - 2n) * 2n + 1_000_001n).toBeGreaterThan(maxOf(issued));
    });

    it('flickr.md: two MySQL ticket servers and a PostgreSQL sequence, switched and rolled back', async () => {
      await emptyStoreUri(mariadb);
      await emptyStoreUri(postgres);
      await withMysql(async (connection) => {
        await connection.query('DROP TABLE IF EXISTS tickets64');
        await connection.query(
          "CREATE TABLE tickets64 (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, stub CHAR(1) NOT NULL DEFAULT '' UNIQUE)",
        );
        await connection.query(`ALTER TABLE tickets64 AUTO_INCREMENT = ${TWO_POW_53}`);
        await connection.query("REPLACE INTO tickets64 (stub) VALUES ('a')");
      });
      const oldMysqlMax = TWO_POW_53;
      const pgClient = new pg.Client({ connectionString: postgres.uri });
      await pgClient.connect();
      try {
        await pgClient.query('DROP SEQUENCE IF EXISTS order_number_seq');
        await pgClient.query('CREATE SEQUENCE order_number_seq');
        await pgClient.query(`SELECT setval('order_number_seq', ${TWO_POW_53 + 100n})`);
        await pgClient.query("SELECT nextval('order_number_seq')");
      } finally {
        await pgClient.end();
      }
      const oldPgMax = TWO_POW_53 + 101n;
      const pgUrl = new URL(postgres.uri);
      const ports = await freePorts(9);
      const table: Substitution[] = [
        ...mysqlTable(mariadb, 'flickr-db1.example', 'flickr', 'flickr-secret', 'flickr'),
        ...mysqlTable(mariadb, 'flickr-db2.example', 'flickr', 'flickr-secret', 'flickr'),
        [
          'shop:shop-secret@pg.example:5432/shop',
          `${decodeURIComponent(pgUrl.username)}:${decodeURIComponent(pgUrl.password)}@127.0.0.1:${pgUrl.port}${pgUrl.pathname}`,
        ],
      ];
      for (const [index, last] of ['41', '42', '43'].entries()) {
        table.push([`10.0.0.${last}:6410`, `127.0.0.1:${ports[3 * index]}`]);
        table.push([`10.0.0.${last}:6411`, `127.0.0.1:${ports[3 * index + 1]}`]);
        table.push([`10.0.0.${last}:6412`, `127.0.0.1:${ports[3 * index + 2]}`]);
      }
      const issued: bigint[] = [];
      const pgIssued: bigint[] = [];
      const outputs = await runGuide('flickr.md', 9, table, context, async (blockOutputs) => {
        const check = numbersIn(blockOutputs.get(3) ?? '');
        expect(check.length).toBe(2);
        for (const value of check) expect(value).toBeGreaterThan(oldMysqlMax);
        issued.push(...check);
      });
      const pgCheck = numbersIn(outputs.get(7) ?? '');
      expect(pgCheck.length).toBe(1);
      expect(pgCheck[0]).toBeGreaterThan(oldPgMax);
      pgIssued.push(...pgCheck);
      expect(await nextTableId('tickets64')).toBeGreaterThan(maxOf(issued));
      const after = new pg.Client({ connectionString: postgres.uri });
      await after.connect();
      try {
        const { rows } = await after.query<{ next: string }>("SELECT nextval('order_number_seq')::text AS next");
        expect(BigInt(rows[0]?.next as string)).toBeGreaterThan(maxOf(pgIssued));
      } finally {
        await after.end();
      }
    });
  });

  it('the index and the project README name a guide for each of the six, and each guide exists', async () => {
    const index = await readFile(join(GUIDES_DIR, 'README.md'), 'utf8');
    const projectReadme = await readFile(join(PROJECT_ROOT, 'README.md'), 'utf8');
    for (const guide of ['ticket-server.md', 'seqgen.md', 'ticketd.md', 'txn-id-server.md', 'tickr.md', 'flickr.md']) {
      expect(index).toContain(`(${guide})`);
      expect(projectReadme).toContain(`(docs/migrating/${guide})`);
      const text = await readFile(join(GUIDES_DIR, guide), 'utf8');
      expect(text).toMatch(/```sh\n/);
      // The guides stand alone: no contract section numbers, no paths outside the project.
      expect(text).not.toMatch(/SPEC|§|\.\.\/shared/);
    }
  });
});
