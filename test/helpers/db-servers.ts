/**
 * Throwaway REAL database servers for the store tests: PostgreSQL, MariaDB
 * and etcd (one node or a three-node cluster), each in its own temporary
 * directory, listening on free loopback ports (127.0.0.1 only).
 *
 * Every server is kept in a registry until it is destroyed, so a test file's
 * `afterAll(destroyAllDbServers)` cleans up even after a failed assertion. As
 * a last resort an `exit` hook (and SIGTERM/SIGINT/SIGHUP hooks: vitest ends
 * its fork workers with SIGTERM, which skips `exit` hooks) SIGKILLs every
 * child still running and removes the directories, and every server is
 * spawned through `setpriv --pdeathsig SIGKILL`, so even a SIGKILLed worker
 * leaves no database running (its directories stay in the temp dir then).
 *
 * Each server writes its stdout and stderr (and the output of `initdb` /
 * `mariadb-install-db`) to `server.log` in its temporary directory; a failed
 * start throws an Error that ends with the last 40 lines of that log.
 *
 * Running as root (as the tests do in CI): PostgreSQL refuses to run as root,
 * so `initdb` and `postgres` run as the system user `postgres` through
 * `setpriv` (which execs, so the child we track IS the postmaster); MariaDB
 * runs as root with `--user=root`; etcd does not care.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { accessSync, appendFileSync, closeSync, constants as fsConstants, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import mysql from 'mysql2/promise';

export type DbKind = 'postgres' | 'mariadb' | 'etcd';

export interface DbServer {
  readonly kind: DbKind;
  /** Store URI for ticket-server: `postgres://USER:PASS@127.0.0.1:PORT/DB`, `mysql://USER:PASS@127.0.0.1:PORT/DB`, `etcd://127.0.0.1:P1[,127.0.0.1:P2,...]` */
  readonly uri: string;
  /** Stop gracefully (SIGTERM; SIGINT = "fast shutdown" for PostgreSQL), wait for the exit, SIGKILL after 15 s. Data stays. */
  stop(): Promise<void>;
  /** SIGKILL (PostgreSQL: the postmaster and all its backends, like a crash) and wait for the exit. Data stays. */
  kill(): Promise<void>;
  /** (Re)start after stop/kill on the same port(s) with the same data; resolves when it accepts connections/queries. */
  start(): Promise<void>;
  /** Stop and remove the temp dir. Idempotent. */
  destroy(): Promise<void>;
}

export interface EtcdCluster extends DbServer {
  /**
   * Member i (0-based) as its own handle (stop/kill/start one node). A
   * member's `start()` waits for its `/health`, which needs a quorum; a
   * member's `destroy()` only stops it (the directory belongs to the cluster).
   */
  readonly members: readonly DbServer[];
}

/** Debian package that provides each kind. */
const DEBIAN_PACKAGE: Record<DbKind, string> = { postgres: 'postgresql', mariadb: 'mariadb-server', etcd: 'etcd-server' };

/** User, password and database in the URIs of PostgreSQL and MariaDB. */
const DB_USER = 'ticket';
const DB_PASSWORD = 'ticket-secret';
const DB_NAME = 'tickets';

/** Bounds of every wait. */
const INIT_TIMEOUT_MS = 60_000;
const POSTGRES_READY_TIMEOUT_MS = 30_000;
const MARIADB_READY_TIMEOUT_MS = 60_000;
const ETCD_READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;
const KILL_TIMEOUT_MS = 5_000;
/** How long a cluster stop waits for the etcd leader to notice that its followers are gone. */
const PEER_DETECT_TIMEOUT_MS = 3_000;
const PROBE_INTERVAL_MS = 100;
const PROBE_TIMEOUT_MS = 2_000;
/** Lines of the server log quoted in a startup error. */
const LOG_TAIL_LINES = 40;
/** How often a first start is retried when another process took the port between picking and binding it. */
const PORT_ATTEMPTS = 3;

const isRoot = process.getuid?.() === 0;

// ---------------------------------------------------------------------------
// Finding the binaries
// ---------------------------------------------------------------------------

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Directories searched for a program: PATH, then the usual system directories (PATH in a test runner often lacks the sbin ones). */
function searchDirs(): string[] {
  const fromPath = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  return [...new Set([...fromPath, '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'])];
}

/** First of `names` found (all of the first name's directories before the next name). */
function findProgram(names: readonly string[]): string | undefined {
  const dirs = searchDirs();
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

interface PostgresBinaries {
  readonly initdb: string;
  readonly postgres: string;
}

/** `initdb` and `postgres` from the same directory: /usr/lib/postgresql/<newest>/bin first, then PATH. */
function findPostgres(): PostgresBinaries | undefined {
  const dirs: string[] = [];
  try {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((name) => /^\d+(\.\d+)?$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    for (const version of versions) dirs.push(join('/usr/lib/postgresql', version, 'bin'));
  } catch {
    // no Debian-style installation
  }
  dirs.push(...searchDirs());
  for (const dir of dirs) {
    const initdb = join(dir, 'initdb');
    const postgres = join(dir, 'postgres');
    if (isExecutableFile(initdb) && isExecutableFile(postgres)) return { initdb, postgres };
  }
  return undefined;
}

interface MariadbBinaries {
  readonly installDb: string;
  readonly server: string;
}

function findMariadb(): MariadbBinaries | undefined {
  const installDb = findProgram(['mariadb-install-db', 'mysql_install_db']);
  const server = findProgram(['mariadbd', 'mysqld']);
  return installDb !== undefined && server !== undefined ? { installDb, server } : undefined;
}

interface UserIds {
  readonly uid: number;
  readonly gid: number;
}

/** uid and gid of a system user, or undefined when there is none. */
function userIds(name: string): UserIds | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/** How PostgreSQL is run as root: `setpriv` to the `postgres` user. */
interface RunAs {
  readonly setpriv: string;
  readonly user: string;
  readonly ids: UserIds;
}

const missingCache = new Map<DbKind, string | null>();
let postgresRunAs: RunAs | undefined;

function checkMissing(kind: DbKind): string | null {
  const install = `install the Debian package ${DEBIAN_PACKAGE[kind]}`;
  switch (kind) {
    case 'postgres': {
      if (findPostgres() === undefined) return `initdb and postgres not found in /usr/lib/postgresql/*/bin or PATH: ${install}`;
      if (!isRoot) return null;
      const setpriv = findProgram(['setpriv']);
      if (setpriv === undefined) return 'running as root needs setpriv to run PostgreSQL as the user postgres: install the Debian package util-linux';
      const ids = userIds('postgres');
      if (ids === undefined) return `running as root needs the system user postgres to run PostgreSQL: ${install}`;
      postgresRunAs = { setpriv, user: 'postgres', ids };
      return null;
    }
    case 'mariadb': {
      const found = findMariadb();
      if (found === undefined) return `mariadb-install-db/mysql_install_db and mariadbd/mysqld not found in PATH, /usr/bin or /usr/sbin: ${install}`;
      return null;
    }
    case 'etcd':
      return findProgram(['etcd']) === undefined ? `etcd not found in PATH, /usr/bin or /usr/sbin: ${install}` : null;
  }
}

/** null when available; otherwise a message naming the Debian package to install (postgresql, mariadb-server, etcd-server). */
export function missingBinary(kind: DbKind): string | null {
  let result = missingCache.get(kind);
  if (result === undefined) {
    result = checkMissing(kind);
    missingCache.set(kind, result);
  }
  return result;
}

const warned = new Set<DbKind>();

/**
 * For describe blocks: true when the tests should run. A missing binary
 * throws when `CI=true` (a missing binary in CI is a failure), else it warns
 * once per kind and returns false.
 */
export function dbAvailable(kind: DbKind): boolean {
  const missing = missingBinary(kind);
  if (missing === null) return true;
  if (process.env.CI === 'true') throw new Error(`${kind} tests cannot run in CI: ${missing}`);
  if (!warned.has(kind)) {
    warned.add(kind);
    console.warn(`skipping ${kind} tests: ${missing}`);
  }
  return false;
}

function requireAvailable(kind: DbKind): void {
  const missing = missingBinary(kind);
  if (missing !== null) throw new Error(`cannot start ${kind}: ${missing}`);
}

// ---------------------------------------------------------------------------
// Ports, directories, logs
// ---------------------------------------------------------------------------

/** `count` distinct free loopback ports (all listeners are open at once, so they differ). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolveListen, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolveListen());
      });
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('could not read a free port');
      ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolveClose) => server.close(() => resolveClose()))));
  }
}

/** A temp directory for one server; short enough for a Unix socket path inside it. */
async function makeServerDir(kind: DbKind): Promise<string> {
  const base = tmpdir().length > 60 ? '/tmp' : tmpdir();
  const dir = await mkdtemp(join(base, `ticket-db-${kind}-`));
  serverDirs.add(dir);
  return dir;
}

async function removeServerDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  serverDirs.delete(dir);
}

/** The last `lines` lines of a log file (empty when it cannot be read). */
async function logTail(logFile: string, lines = LOG_TAIL_LINES): Promise<string> {
  try {
    const text = await readFile(logFile, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function failure(message: string, logFile: string): Promise<Error> {
  return new Error(`${message}\n--- last ${LOG_TAIL_LINES} lines of ${logFile} ---\n${await logTail(logFile)}`);
}

/** The log written since byte `offset` (to tell this attempt's bind error from an earlier one). */
function logSince(logFile: string, offset: number): string {
  try {
    return readFileSync(logFile).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

function logSize(logFile: string): number {
  try {
    return statSync(logFile).size;
  } catch {
    return 0;
  }
}

/** The environment without variables that would change where a server or client looks (PGDATA, MYSQL_TCP_PORT, ETCD_*, ...). */
function serverEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(PG|MYSQL|MARIADB|ETCD)/.test(key)) env[key] = value;
  }
  return { ...env, ...extra };
}

const noop = (): void => undefined;

const sleep = (ms: number): Promise<void> => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

// ---------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------

interface Command {
  readonly file: string;
  readonly args: readonly string[];
}

/**
 * Wraps `command` in `setpriv` (which execs, so the child we track is the
 * server itself): `--pdeathsig SIGKILL` so that the kernel kills the server
 * when the process that spawned it dies in any way (even SIGKILLed, when no
 * hook of ours runs), and, as root, `--reuid/--regid` to `runAs`.
 */
function wrap(command: Command, runAs?: RunAs): Command {
  const setpriv = process.platform === 'linux' ? findProgram(['setpriv']) : undefined;
  if (setpriv === undefined) {
    if (runAs !== undefined) throw new Error(`cannot run ${command.file} as ${runAs.user} without setpriv`);
    return command;
  }
  const args = ['--pdeathsig', 'SIGKILL'];
  if (runAs !== undefined) args.push(`--reuid=${runAs.user}`, `--regid=${runAs.user}`, '--init-groups');
  return { file: setpriv, args: [...args, '--', command.file, ...command.args] };
}

/**
 * Every child still running (with whether its own children must be killed
 * with it: the PostgreSQL postmaster) and the temp directories of servers not
 * yet destroyed. Kept on globalThis, with the hooks registered once, so that a
 * module registry reset between test files in one worker neither loses track
 * of a child nor piles up listeners.
 */
interface Registry {
  readonly liveChildren: Map<ChildProcess, { readonly killChildren: boolean }>;
  readonly serverDirs: Set<string>;
}

const REGISTRY_KEY = Symbol.for('ticket-server.test.db-servers');

function registry(): Registry {
  const holder = globalThis as unknown as Record<symbol, Registry | undefined>;
  let found = holder[REGISTRY_KEY];
  if (found === undefined) {
    found = { liveChildren: new Map(), serverDirs: new Set() };
    holder[REGISTRY_KEY] = found;
    const killAll = killAllNow.bind(undefined, found);
    // Synchronous last resort: normally destroyAllDbServers has stopped everything.
    process.on('exit', killAll);
    // A vitest fork worker is ended with SIGTERM, whose default action skips 'exit' hooks: kill the
    // children, then let the signal do what it would have done (--pdeathsig covers SIGKILL).
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      process.once(sig, () => {
        killAll();
        if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
      });
    }
  }
  return found;
}

const { liveChildren, serverDirs } = registry();

function killAllNow(from: Registry): void {
  for (const [child, { killChildren }] of from.liveChildren) killNow(child, killChildren);
  for (const dir of from.serverDirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // best effort: a process just SIGKILLed may still be closing files
    }
  }
  from.serverDirs.clear();
}

/** Direct children of `pid`, from /proc (empty where there is no /proc). */
function childPids(pid: number): number[] {
  const found: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...; comm may contain spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) found.push(Number(entry));
    } catch {
      // the process is gone
    }
  }
  return found;
}

/** True while `pid` exists and is not a zombie. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  // never 0 or negative: those address process groups (-1: every process we may signal)
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * SIGKILLs `child`; with `killChildren` also its children (stopping the
 * parent first so it cannot fork in between). Returns the children killed.
 */
function killNow(child: ChildProcess, killChildren: boolean): number[] {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return [];
  if (!killChildren) {
    signal(pid, 'SIGKILL');
    return [];
  }
  signal(pid, 'SIGSTOP');
  const children = childPids(pid);
  for (const childPid of children) signal(childPid, 'SIGKILL');
  signal(pid, 'SIGKILL');
  return children;
}

interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

function exitedPromise(child: ChildProcess): Promise<ExitStatus> {
  return new Promise<ExitStatus>((resolveExit) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolveExit({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('exit', (code, sig) => resolveExit({ code, signal: sig }));
    // spawn failed (ENOENT, EACCES): there will be no 'exit'
    child.once('error', () => {
      if (child.pid === undefined) resolveExit({ code: null, signal: null });
    });
  });
}

/** Starts `command` with stdout and stderr appended to `logFile` (a header line first). */
function spawnLogged(command: Command, logFile: string, cwd: string, killChildren: boolean): { child: ChildProcess; exited: Promise<ExitStatus> } {
  appendFileSync(logFile, `\n=== ${new Date().toISOString()} ${command.file} ${command.args.join(' ')}\n`);
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command.file, [...command.args], { cwd, env: serverEnv(), stdio: ['ignore', fd, fd], detached: false });
  } finally {
    closeSync(fd);
  }
  const exited = exitedPromise(child);
  liveChildren.set(child, { killChildren });
  void exited.then(() => liveChildren.delete(child));
  return { child, exited };
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<undefined>((resolveTimeout) => {
    timer = setTimeout(() => resolveTimeout(undefined), ms);
  });
  try {
    return await Promise.race([promise, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a one-shot command (initdb, install-db) to completion; throws with the log tail when it fails or hangs. */
async function runLogged(command: Command, logFile: string, cwd: string, timeoutMs: number): Promise<void> {
  const { child, exited } = spawnLogged(command, logFile, cwd, false);
  const status = await withTimeout(exited, timeoutMs);
  if (status === undefined) {
    killNow(child, false);
    await exited;
    throw await failure(`${command.file} did not finish within ${timeoutMs} ms`, logFile);
  }
  if (status.code !== 0) {
    throw await failure(`${command.file} failed (code ${status.code}, signal ${status.signal})`, logFile);
  }
}

/** Waits (bounded) until the given pids are gone. */
async function waitGone(pids: readonly number[]): Promise<void> {
  const attempts = Math.ceil(KILL_TIMEOUT_MS / 50);
  for (let i = 0; i < attempts && pids.some(isAlive); i++) await sleep(50);
}

interface ProcessSpec {
  /** For messages, e.g. `postgres on 127.0.0.1:40123`. */
  readonly name: string;
  readonly logFile: string;
  readonly cwd: string;
  readonly command: () => Command;
  /** Graceful stop signal. */
  readonly stopSignal: NodeJS.Signals;
  /** Kill the children too on SIGKILL (the PostgreSQL postmaster). */
  readonly killChildren: boolean;
  readonly readyTimeoutMs: number;
  /** Resolves when the server answers; rejects (with the reason) while it does not. */
  readonly probe: () => Promise<void>;
}

/** One server process: start (spawn + wait until ready), stop, kill; operations run one at a time. */
class ManagedProcess {
  private running: { child: ChildProcess; exited: Promise<ExitStatus> } | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly spec: ProcessSpec) {}

  get logFile(): string {
    return this.spec.logFile;
  }

  /** pid of the running process (undefined when it is not running). */
  get pid(): number | undefined {
    return this.isRunning() ? this.running?.child.pid : undefined;
  }

  /** Whether the process has children of its own that belong to it (the PostgreSQL postmaster's backends). */
  get killsChildren(): boolean {
    return this.spec.killChildren;
  }

  private serialize<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.queue.then(operation, operation);
    this.queue = result.catch(() => undefined);
    return result;
  }

  start(): Promise<void> {
    return this.serialize(() => this.doStart());
  }

  stop(): Promise<void> {
    return this.serialize(() => this.doStop());
  }

  kill(): Promise<void> {
    return this.serialize(() => this.doKill());
  }

  isRunning(): boolean {
    const child = this.running?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  private async doStart(): Promise<void> {
    if (this.isRunning()) return this.waitReady();
    this.running = spawnLogged(this.spec.command(), this.spec.logFile, this.spec.cwd, this.spec.killChildren);
    try {
      await this.waitReady();
    } catch (error) {
      await this.doKill();
      throw error;
    }
  }

  /** Probes until ready; bounded by the spec's timeout and a matching number of attempts. */
  private async waitReady(): Promise<void> {
    const running = this.running;
    if (running === undefined) throw new Error(`${this.spec.name} is not running`);
    const deadline = Date.now() + this.spec.readyTimeoutMs;
    const maxAttempts = Math.ceil(this.spec.readyTimeoutMs / PROBE_INTERVAL_MS);
    let lastError: unknown;
    let exitStatus: ExitStatus | undefined;
    // Rejects when the process exits, so that a probe stuck in a connect does not delay the failure.
    const died = running.exited.then((status) => {
      exitStatus = status;
      throw new Error('the process exited');
    });
    died.catch(noop);
    for (let attempt = 0; attempt < maxAttempts && Date.now() < deadline; attempt++) {
      if (exitStatus !== undefined) break;
      try {
        const probe = this.spec.probe();
        probe.catch(noop);
        await Promise.race([probe, died]);
        return;
      } catch (error) {
        // keep the probe's own reason, not the "process exited" of the race
        if (exitStatus === undefined) lastError = error;
      }
      await sleep(PROBE_INTERVAL_MS);
    }
    const why =
      exitStatus !== undefined
        ? `exited before it was ready (code ${exitStatus.code}, signal ${exitStatus.signal})`
        : `was not ready within ${this.spec.readyTimeoutMs} ms`;
    const last = lastError instanceof Error ? lastError.message : String(lastError);
    throw await failure(`${this.spec.name} ${why}; last probe error: ${last}`, this.spec.logFile);
  }

  private async doStop(): Promise<void> {
    const running = this.running;
    const pid = running?.child.pid;
    if (running === undefined || pid === undefined || !this.isRunning()) return;
    signal(pid, this.spec.stopSignal);
    const status = await withTimeout(running.exited, STOP_TIMEOUT_MS);
    if (status === undefined) {
      appendFileSync(this.spec.logFile, `\n=== harness: no exit ${STOP_TIMEOUT_MS} ms after ${this.spec.stopSignal}, SIGKILL\n`);
      await this.doKill();
    }
  }

  private async doKill(): Promise<void> {
    const running = this.running;
    if (running === undefined) return;
    const children = killNow(running.child, this.spec.killChildren);
    await running.exited;
    await waitGone(children);
  }
}

/** True when the log written since `offset` says a port was taken (picked free, then grabbed by someone else). */
function portTaken(logFile: string, offset: number): boolean {
  return /address already in use/i.test(logSince(logFile, offset));
}

// ---------------------------------------------------------------------------
// Registry
// ---------------------------------------------------------------------------

const servers = new Set<DbServer>();

/** Destroys every server started by this module (for afterAll). */
export async function destroyAllDbServers(): Promise<void> {
  const all = [...servers];
  const results = await Promise.allSettled(all.map((server) => server.destroy()));
  const errors = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
  if (errors.length > 0) throw new AggregateError(errors, `${errors.length} database server(s) could not be destroyed`);
}

/** The processes behind each handle (for `dbServerPids`). */
const processesOf = new WeakMap<DbServer, readonly ManagedProcess[]>();

/**
 * For the benchmark's CPU accounting: pids of the processes running `server`
 * right now (PostgreSQL: the postmaster and its backends; etcd: every member
 * of a cluster that is running). Empty for a stopped server or a handle not
 * made here.
 */
export function dbServerPids(server: DbServer): number[] {
  const pids: number[] = [];
  for (const proc of processesOf.get(server) ?? []) {
    const pid = proc.pid;
    if (pid === undefined) continue;
    pids.push(pid);
    if (proc.killsChildren) pids.push(...childPids(pid));
  }
  return pids;
}

/**
 * Synchronous last resort for 'exit', signal and watchdog handlers of scripts
 * (the benchmark): SIGKILLs every database server process still running and
 * removes every temp dir not yet destroyed. The same thing the module's own
 * 'exit' hook does.
 */
export function killAllDbServersSync(): void {
  killAllNow(registry());
}

/** First line of `<server binary> --version` for `kind` (e.g. "postgres (PostgreSQL) 15.8"); undefined when it cannot be run. */
export function dbServerVersion(kind: DbKind): string | undefined {
  const file = kind === 'postgres' ? findPostgres()?.postgres : kind === 'mariadb' ? findMariadb()?.server : findProgram(['etcd']);
  if (file === undefined) return undefined;
  try {
    return execFileSync(file, ['--version'], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0]?.trim();
  } catch {
    return undefined;
  }
}

/** `destroy()` for a server living in `dir`: stop, then remove the directory; idempotent. */
function destroyer(dir: string, stop: () => Promise<void>, self: () => DbServer): () => Promise<void> {
  let destroying: Promise<void> | undefined;
  return () => {
    destroying ??= (async () => {
      try {
        await stop();
      } finally {
        await removeServerDir(dir);
        servers.delete(self());
      }
    })();
    return destroying;
  };
}

// ---------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------

async function withPgClient<T>(config: pg.ClientConfig, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...config, ssl: false, connectionTimeoutMillis: PROBE_TIMEOUT_MS, query_timeout: 10_000 });
  client.on('error', noop);
  try {
    await client.connect();
    return await use(client);
  } finally {
    await client.end().catch(noop);
  }
}

/**
 * Starts a PostgreSQL server: `initdb` (superuser `postgres`, password auth
 * over TCP), `postgres -h 127.0.0.1 -p PORT`, then a login role `ticket`
 * owning the database `tickets`.
 */
export async function startPostgres(): Promise<DbServer> {
  requireAvailable('postgres');
  const binaries = findPostgres();
  if (binaries === undefined) throw new Error('postgres binaries disappeared');
  const runAs = isRoot ? postgresRunAs : undefined;
  const dir = await makeServerDir('postgres');
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const adminPassword = randomBytes(12).toString('hex');
  let port = 0;

  const proc = new ManagedProcess({
    get name() {
      return `postgres on 127.0.0.1:${port}`;
    },
    logFile,
    cwd: dir,
    command: () =>
      wrap(
        {
          file: binaries.postgres,
          args: [
            '-D', dataDir,
            '-k', dir,
            '-h', '127.0.0.1',
            '-p', String(port),
            '-c', 'fsync=on',
            '-c', 'synchronous_commit=on',
            '-c', 'max_connections=200',
            '-c', 'shared_buffers=32MB',
            '-c', 'max_wal_size=256MB',
          ],
        },
        runAs,
      ),
    // SIGTERM is a "smart" shutdown that waits for every client to disconnect; SIGINT ("fast") ends the sessions and checkpoints.
    stopSignal: 'SIGINT',
    killChildren: true,
    readyTimeoutMs: POSTGRES_READY_TIMEOUT_MS,
    probe: () =>
      withPgClient({ host: '127.0.0.1', port, user: 'postgres', password: adminPassword, database: 'postgres' }, async (client) => {
        await client.query('SELECT 1');
      }),
  });

  try {
    if (runAs !== undefined) await chown(dir, runAs.ids.uid, runAs.ids.gid);
    const pwFile = join(dir, 'pwfile');
    await writeFile(pwFile, `${adminPassword}\n`, { mode: 0o600 });
    if (runAs !== undefined) await chown(pwFile, runAs.ids.uid, runAs.ids.gid);
    await runLogged(
      wrap(
        {
          file: binaries.initdb,
          args: [
            '-D', dataDir,
            '-U', 'postgres',
            `--pwfile=${pwFile}`,
            '--auth-local=trust',
            '--auth-host=scram-sha-256',
            '--encoding=UTF8',
            '--locale=C',
            // a throwaway cluster: skip initdb's own fsyncs (the server itself runs with fsync=on)
            '--no-sync',
          ],
        },
        runAs,
      ),
      logFile,
      dir,
      INIT_TIMEOUT_MS,
    );
    await rm(pwFile, { force: true });

    await startOnFreePorts(proc, logFile, 1, ([p]) => {
      port = p ?? 0;
    });
    await withPgClient({ host: '127.0.0.1', port, user: 'postgres', password: adminPassword, database: 'postgres' }, async (client) => {
      await client.query(`CREATE ROLE ${DB_USER} LOGIN PASSWORD '${DB_PASSWORD}'`);
      await client.query(`CREATE DATABASE ${DB_NAME} OWNER ${DB_USER}`);
    });
    await withPgClient({ host: '127.0.0.1', port, user: DB_USER, password: DB_PASSWORD, database: DB_NAME }, async (client) => {
      await client.query('SELECT 1');
    });
  } catch (error) {
    await proc.kill().catch(noop);
    await removeServerDir(dir);
    throw error;
  }

  const server: DbServer = {
    kind: 'postgres',
    uri: `postgres://${DB_USER}:${DB_PASSWORD}@127.0.0.1:${port}/${DB_NAME}`,
    stop: () => proc.stop(),
    kill: () => proc.kill(),
    start: () => proc.start(),
    destroy: destroyer(dir, () => proc.stop(), () => server),
  };
  servers.add(server);
  processesOf.set(server, [proc]);
  return server;
}

/** First start: pick free ports, start; on "address already in use" pick new ones (bounded). */
async function startOnFreePorts(proc: ManagedProcess, logFile: string, count: number, usePorts: (ports: number[]) => void): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    usePorts(await freePorts(count));
    const offset = logSize(logFile);
    try {
      await proc.start();
      return;
    } catch (error) {
      if (attempt >= PORT_ATTEMPTS || !portTaken(logFile, offset)) throw error;
    }
  }
}

// ---------------------------------------------------------------------------
// MariaDB
// ---------------------------------------------------------------------------

async function withMysql<T>(options: mysql.ConnectionOptions, use: (connection: mysql.Connection) => Promise<T>): Promise<T> {
  const connection = await mysql.createConnection({ ...options, connectTimeout: PROBE_TIMEOUT_MS });
  connection.on('error', noop);
  try {
    return await use(connection);
  } finally {
    await connection.end().catch(noop);
  }
}

/**
 * Starts a MariaDB server: `mariadb-install-db` (root without password on
 * the socket), `mariadbd` on 127.0.0.1:PORT, then a database `tickets` and a
 * user `ticket` (at `%` and `127.0.0.1`) with all privileges on it.
 */
export async function startMariadb(): Promise<DbServer> {
  requireAvailable('mariadb');
  const binaries = findMariadb();
  if (binaries === undefined) throw new Error('mariadb binaries disappeared');
  const dir = await makeServerDir('mariadb');
  const dataDir = join(dir, 'data');
  const socket = join(dir, 'sock');
  const logFile = join(dir, 'server.log');
  const userArgs = isRoot ? ['--user=root'] : [];
  // Given to install-db too, which passes them to its bootstrap mariadbd.
  const commonArgs = [
    '--skip-log-bin',
    '--innodb-buffer-pool-size=64M',
    '--innodb-log-file-size=16M',
    '--character-set-server=utf8mb4',
  ];
  let port = 0;

  const proc = new ManagedProcess({
    get name() {
      return `mariadbd on 127.0.0.1:${port}`;
    },
    logFile,
    cwd: dir,
    command: () =>
      wrap({
        file: binaries.server,
        args: [
          '--no-defaults',
          `--datadir=${dataDir}`,
          `--socket=${socket}`,
          `--port=${port}`,
          '--bind-address=127.0.0.1',
          '--skip-name-resolve',
          `--pid-file=${join(dir, 'mariadbd.pid')}`,
          `--tmpdir=${dir}`,
          ...userArgs,
          ...commonArgs,
          '--max-connections=300',
        ],
      }),
    stopSignal: 'SIGTERM',
    killChildren: false,
    readyTimeoutMs: MARIADB_READY_TIMEOUT_MS,
    probe: () =>
      withMysql({ socketPath: socket, user: 'root' }, async (connection) => {
        await connection.query('SELECT 1');
      }),
  });

  try {
    await runLogged(
      wrap({
        file: binaries.installDb,
        args: [
          '--no-defaults',
          `--datadir=${dataDir}`,
          '--auth-root-authentication-method=normal',
          '--skip-test-db',
          '--skip-name-resolve',
          ...userArgs,
          ...commonArgs,
        ],
      }),
      logFile,
      dir,
      INIT_TIMEOUT_MS,
    );
    await startOnFreePorts(proc, logFile, 1, ([p]) => {
      port = p ?? 0;
    });
    await withMysql({ socketPath: socket, user: 'root' }, async (connection) => {
      await connection.query(`CREATE DATABASE IF NOT EXISTS ${DB_NAME}`);
      for (const host of ['%', '127.0.0.1']) {
        await connection.query(`CREATE USER IF NOT EXISTS '${DB_USER}'@'${host}' IDENTIFIED BY '${DB_PASSWORD}'`);
        await connection.query(`GRANT ALL PRIVILEGES ON ${DB_NAME}.* TO '${DB_USER}'@'${host}'`);
      }
    });
    await withMysql({ host: '127.0.0.1', port, user: DB_USER, password: DB_PASSWORD, database: DB_NAME }, async (connection) => {
      await connection.query('SELECT 1');
    });
  } catch (error) {
    await proc.kill().catch(noop);
    await removeServerDir(dir);
    throw error;
  }

  const server: DbServer = {
    kind: 'mariadb',
    uri: `mysql://${DB_USER}:${DB_PASSWORD}@127.0.0.1:${port}/${DB_NAME}`,
    stop: () => proc.stop(),
    kill: () => proc.kill(),
    start: () => proc.start(),
    destroy: destroyer(dir, () => proc.stop(), () => server),
  };
  servers.add(server);
  processesOf.set(server, [proc]);
  return server;
}

// ---------------------------------------------------------------------------
// etcd
// ---------------------------------------------------------------------------

/** GET `path` from an etcd member's client port: status and body. */
function etcdGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolveGet, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', timeout: PROBE_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out after ${PROBE_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Resolves when the member's /health says {"health":"true"} (etcd 3.4 reads through raft for it: a leader is known). */
async function etcdHealth(port: number): Promise<void> {
  const { status, body } = await etcdGet(port, '/health');
  let health: unknown;
  try {
    health = (JSON.parse(body) as { health?: unknown }).health;
  } catch {
    // not JSON: reported below
  }
  if (health !== 'true' && health !== true) throw new Error(`/health answered ${status}: ${body.trim()}`);
}

/** From a member's /metrics: whether it is the leader, and how many peers its transport considers active. */
async function etcdRaftView(port: number): Promise<{ leader: boolean; activePeers: number }> {
  const { body } = await etcdGet(port, '/metrics');
  let activePeers = 0;
  for (const match of body.matchAll(/^etcd_network_active_peers\{[^}]*\} (\S+)$/gm)) activePeers += Number(match[1]);
  return { leader: /^etcd_server_is_leader 1$/m.test(body), activePeers };
}

/**
 * Starts etcd: one node, or a three-node cluster (all members started at
 * once with a shared `--initial-cluster` and a unique cluster token). Resolves
 * when every member's `/health` says true.
 */
export async function startEtcd(options: { nodes?: 1 | 3 } = {}): Promise<EtcdCluster> {
  requireAvailable('etcd');
  const etcd = findProgram(['etcd']);
  if (etcd === undefined) throw new Error('etcd binary disappeared');
  const count = options.nodes ?? 1;
  const dir = await makeServerDir('etcd');
  const token = `ticket-test-${randomBytes(8).toString('hex')}`;
  const names = Array.from({ length: count }, (_, i) => `n${i}`);
  let clientPorts: number[] = [];
  let peerPorts: number[] = [];
  const initialCluster = (): string => names.map((name, i) => `${name}=http://127.0.0.1:${peerPorts[i]}`).join(',');

  const procs = names.map((name, i) => {
    const logFile = join(dir, `${name}.log`);
    return new ManagedProcess({
      get name() {
        return `etcd member ${name} on 127.0.0.1:${clientPorts[i]}`;
      },
      logFile,
      cwd: dir,
      command: () =>
        wrap({
          file: etcd,
          args: [
            '--name', name,
            '--data-dir', join(dir, name),
            '--listen-client-urls', `http://127.0.0.1:${clientPorts[i]}`,
            '--advertise-client-urls', `http://127.0.0.1:${clientPorts[i]}`,
            '--listen-peer-urls', `http://127.0.0.1:${peerPorts[i]}`,
            '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPorts[i]}`,
            '--initial-cluster', initialCluster(),
            '--initial-cluster-state', 'new',
            '--initial-cluster-token', token,
            '--logger', 'zap',
          ],
        }),
      stopSignal: 'SIGTERM',
      killChildren: false,
      readyTimeoutMs: ETCD_READY_TIMEOUT_MS,
      probe: () => etcdHealth(clientPorts[i] ?? 0),
    });
  });

  /** Starts every member at once (a new cluster needs a quorum before any is healthy); on failure kills them all. */
  const startAll = async (): Promise<void> => {
    const results = await Promise.allSettled(procs.map((proc) => proc.start()));
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(procs.map((proc) => proc.kill()));
      throw failed.reason;
    }
  };
  /**
   * Followers first, the leader last, once it has noticed they are gone. On
   * SIGTERM an etcd leader hands leadership to the peer its transport thinks
   * connected longest; a peer that just closed its connection cleanly still
   * counts as connected until a write to it fails, and a hand-over to it
   * waits out the request timeout (~7 s) before the leader exits.
   */
  const stopAll = async (): Promise<void> => {
    let leader: number | undefined;
    if (procs.filter((proc) => proc.isRunning()).length > 1) {
      const views = await Promise.all(
        procs.map((proc, i) => (proc.isRunning() ? etcdRaftView(clientPorts[i] ?? 0).catch(() => undefined) : Promise.resolve(undefined))),
      );
      const index = views.findIndex((view) => view?.leader === true);
      if (index >= 0) leader = index;
    }
    await Promise.all(procs.filter((_, i) => i !== leader).map((proc) => proc.stop()));
    if (leader === undefined) return;
    const leaderPort = clientPorts[leader] ?? 0;
    const deadline = Date.now() + PEER_DETECT_TIMEOUT_MS;
    for (let attempt = 0; attempt < PEER_DETECT_TIMEOUT_MS / 50 && Date.now() < deadline; attempt++) {
      const view = await etcdRaftView(leaderPort).catch(() => undefined);
      if (view === undefined || view.activePeers === 0) break;
      await sleep(50);
    }
    await procs[leader]?.stop();
  };

  try {
    for (let attempt = 1; ; attempt++) {
      const ports = await freePorts(2 * count);
      clientPorts = ports.filter((_, i) => i % 2 === 0);
      peerPorts = ports.filter((_, i) => i % 2 === 1);
      const offsets = procs.map((proc) => logSize(proc.logFile));
      try {
        await startAll();
        break;
      } catch (error) {
        const taken = procs.some((proc, i) => portTaken(proc.logFile, offsets[i] ?? 0));
        if (attempt >= PORT_ATTEMPTS || !taken) throw error;
        // a half-bootstrapped cluster cannot change its ports: start over with empty data dirs
        await Promise.all(names.map((name) => rm(join(dir, name), { recursive: true, force: true })));
      }
    }
  } catch (error) {
    await Promise.all(procs.map((proc) => proc.kill().catch(noop)));
    await removeServerDir(dir);
    throw error;
  }

  const members: DbServer[] = procs.map((proc, i) => ({
    kind: 'etcd' as const,
    uri: `etcd://127.0.0.1:${clientPorts[i]}`,
    stop: () => proc.stop(),
    kill: () => proc.kill(),
    start: () => proc.start(),
    destroy: () => proc.stop(),
  }));
  members.forEach((member, i) => processesOf.set(member, [procs[i] as ManagedProcess]));
  const cluster: EtcdCluster = {
    kind: 'etcd',
    uri: `etcd://${clientPorts.map((port) => `127.0.0.1:${port}`).join(',')}`,
    members,
    stop: stopAll,
    kill: async () => {
      await Promise.all(procs.map((proc) => proc.kill()));
    },
    start: startAll,
    destroy: destroyer(dir, stopAll, () => cluster),
  };
  servers.add(cluster);
  processesOf.set(cluster, procs);
  return cluster;
}

// ---------------------------------------------------------------------------
// What the store tests share
// ---------------------------------------------------------------------------

/** One kind of shared store the tests run against, and how to start it. */
export interface DbBackend {
  /** For test names. */
  readonly label: string;
  readonly kind: DbKind;
  readonly start: () => Promise<DbServer>;
}

export const DB_BACKENDS: readonly DbBackend[] = [
  { label: 'postgres', kind: 'postgres', start: startPostgres },
  { label: 'mysql (MariaDB)', kind: 'mariadb', start: startMariadb },
  { label: 'etcd', kind: 'etcd', start: () => startEtcd() },
];

/** The tables a ticket-server creates in a SQL store (docs/stores.md). */
const STORE_TABLES = 'ticket_server_sequences, ticket_server_meta';
let storePrefixes = 0;

/**
 * A store URI over empty data on a running server: ticket-server's tables
 * dropped (PostgreSQL, MariaDB), or a key prefix nobody used yet (etcd).
 */
export async function emptyStoreUri(server: DbServer): Promise<string> {
  if (server.kind === 'etcd') return `${server.uri}/t${process.pid}x${++storePrefixes}`;
  if (server.kind === 'postgres') {
    await withPgClient({ connectionString: server.uri }, (client) => client.query(`DROP TABLE IF EXISTS ${STORE_TABLES}`));
  } else {
    await withMysql({ uri: server.uri }, (connection) => connection.query(`DROP TABLE IF EXISTS ${STORE_TABLES}`));
  }
  return server.uri;
}
