/**
 * What the throwaway database servers of the tests share: finding the
 * binaries, free ports, temporary directories and logs, and the processes
 * (started, stopped, killed for sure). The servers themselves are in
 * postgres.ts, mariadb.ts and etcd.ts; tests import them through
 * ../db-servers.ts.
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
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

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
export const DEBIAN_PACKAGE: Record<DbKind, string> = { postgres: 'postgresql', mariadb: 'mariadb-server', etcd: 'etcd-server' };

/** User, password and database in the URIs of PostgreSQL and MariaDB. */
export const DB_USER = 'ticket';
export const DB_PASSWORD = 'ticket-secret';
export const DB_NAME = 'tickets';

/** Bounds of every wait. */
export const INIT_TIMEOUT_MS = 60_000;
export const POSTGRES_READY_TIMEOUT_MS = 30_000;
export const MARIADB_READY_TIMEOUT_MS = 60_000;
export const ETCD_READY_TIMEOUT_MS = 30_000;
export const STOP_TIMEOUT_MS = 15_000;
export const KILL_TIMEOUT_MS = 5_000;
/** How long a cluster stop waits for the etcd leader to notice that its followers are gone. */
export const PEER_DETECT_TIMEOUT_MS = 3_000;
export const PROBE_INTERVAL_MS = 100;
export const PROBE_TIMEOUT_MS = 2_000;
/** Lines of the server log quoted in a startup error. */
export const LOG_TAIL_LINES = 40;
/** How often a first start is retried when another process took the port between picking and binding it. */
export const PORT_ATTEMPTS = 3;

export const isRoot = process.getuid?.() === 0;

// ---------------------------------------------------------------------------
// Finding the binaries
// ---------------------------------------------------------------------------

export function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Directories searched for a program: PATH, then the usual system directories (PATH in a test runner often lacks the sbin ones). */
export function searchDirs(): string[] {
  const fromPath = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  return [...new Set([...fromPath, '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'])];
}

/** First of `names` found (all of the first name's directories before the next name). */
export function findProgram(names: readonly string[]): string | undefined {
  const dirs = searchDirs();
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

export interface PostgresBinaries {
  readonly initdb: string;
  readonly postgres: string;
}

/** `initdb` and `postgres` from the same directory: /usr/lib/postgresql/<newest>/bin first, then PATH. */
export function findPostgres(): PostgresBinaries | undefined {
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

export interface MariadbBinaries {
  readonly installDb: string;
  readonly server: string;
}

export function findMariadb(): MariadbBinaries | undefined {
  const installDb = findProgram(['mariadb-install-db', 'mysql_install_db']);
  const server = findProgram(['mariadbd', 'mysqld']);
  return installDb !== undefined && server !== undefined ? { installDb, server } : undefined;
}

export interface UserIds {
  readonly uid: number;
  readonly gid: number;
}

/** uid and gid of a system user, or undefined when there is none. */
export function userIds(name: string): UserIds | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/** How PostgreSQL is run as root: `setpriv` to the `postgres` user. */
export interface RunAs {
  readonly setpriv: string;
  readonly user: string;
  readonly ids: UserIds;
}

export const missingCache = new Map<DbKind, string | null>();
export let postgresRunAs: RunAs | undefined;

export function checkMissing(kind: DbKind): string | null {
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

export const warned = new Set<DbKind>();

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

export function requireAvailable(kind: DbKind): void {
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
      ports.push(await listenOutsideEphemeral(server));
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolveClose) => server.close(() => resolveClose()))));
  }
}

/**
 * The kernel hands out ports of its ephemeral range to every `listen(0)` and every outgoing
 * connection; a port chosen there and used seconds later can be taken by another test meanwhile
 * ("address already in use"). Ports are chosen below that range instead, at random, and checked by
 * binding; `listen(0)` only if none is free after a bounded number of tries.
 */
const EPHEMERAL_LOW = ((): number => {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 1024 ? low : 32_768;
  } catch {
    return 32_768;
  }
})();
const CHOSEN_LOW = Math.max(10_000, EPHEMERAL_LOW - 12_000);

async function listenOutsideEphemeral(server: Server): Promise<number> {
  const tryListen = (port: number): Promise<boolean> =>
    new Promise((resolveListen) => {
      const failed = (): void => resolveListen(false);
      server.once('error', failed);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', failed);
        resolveListen(true);
      });
    });
  for (let attempt = 0; attempt < 50 && CHOSEN_LOW < EPHEMERAL_LOW - 1; attempt++) {
    const port = CHOSEN_LOW + Math.floor(Math.random() * (EPHEMERAL_LOW - CHOSEN_LOW));
    if (await tryListen(port)) return port;
  }
  if (!(await tryListen(0))) throw new Error('could not find a free port');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('could not read a free port');
  return address.port;
}

/** A temp directory for one server; short enough for a Unix socket path inside it. */
export async function makeServerDir(kind: DbKind): Promise<string> {
  const base = tmpdir().length > 60 ? '/tmp' : tmpdir();
  const dir = await mkdtemp(join(base, `ticket-db-${kind}-`));
  serverDirs.add(dir);
  return dir;
}

export async function removeServerDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  serverDirs.delete(dir);
}

/** The last `lines` lines of a log file (empty when it cannot be read). */
export async function logTail(logFile: string, lines = LOG_TAIL_LINES): Promise<string> {
  try {
    const text = await readFile(logFile, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export async function failure(message: string, logFile: string): Promise<Error> {
  return new Error(`${message}\n--- last ${LOG_TAIL_LINES} lines of ${logFile} ---\n${await logTail(logFile)}`);
}

/** The log written since byte `offset` (to tell this attempt's bind error from an earlier one). */
export function logSince(logFile: string, offset: number): string {
  try {
    return readFileSync(logFile).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

export function logSize(logFile: string): number {
  try {
    return statSync(logFile).size;
  } catch {
    return 0;
  }
}

/** The environment without variables that would change where a server or client looks (PGDATA, MYSQL_TCP_PORT, ETCD_*, ...). */
export function serverEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(PG|MYSQL|MARIADB|ETCD)/.test(key)) env[key] = value;
  }
  return { ...env, ...extra };
}

export const noop = (): void => undefined;

export const sleep = (ms: number): Promise<void> => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

// ---------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------

export interface Command {
  readonly file: string;
  readonly args: readonly string[];
}

/**
 * Wraps `command` in `setpriv` (which execs, so the child we track is the
 * server itself): `--pdeathsig SIGKILL` so that the kernel kills the server
 * when the process that spawned it dies in any way (even SIGKILLed, when no
 * hook of ours runs), and, as root, `--reuid/--regid` to `runAs`.
 */
export function wrap(command: Command, runAs?: RunAs): Command {
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
export interface Registry {
  readonly liveChildren: Map<ChildProcess, { readonly killChildren: boolean }>;
  readonly serverDirs: Set<string>;
}

export const REGISTRY_KEY = Symbol.for('ticket-server.test.db-servers');

export function registry(): Registry {
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

export const { liveChildren, serverDirs } = registry();

export function killAllNow(from: Registry): void {
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
export function childPids(pid: number): number[] {
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
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export function signal(pid: number, sig: NodeJS.Signals): void {
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
export function killNow(child: ChildProcess, killChildren: boolean): number[] {
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

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export function exitedPromise(child: ChildProcess): Promise<ExitStatus> {
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
export function spawnLogged(command: Command, logFile: string, cwd: string, killChildren: boolean): { child: ChildProcess; exited: Promise<ExitStatus> } {
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

export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
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
export async function runLogged(command: Command, logFile: string, cwd: string, timeoutMs: number): Promise<void> {
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
export async function waitGone(pids: readonly number[]): Promise<void> {
  const attempts = Math.ceil(KILL_TIMEOUT_MS / 50);
  for (let i = 0; i < attempts && pids.some(isAlive); i++) await sleep(50);
}

export interface ProcessSpec {
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
export class ManagedProcess {
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
export function portTaken(logFile: string, offset: number): boolean {
  return /address already in use/i.test(logSince(logFile, offset));
}

// ---------------------------------------------------------------------------
// Registry
// ---------------------------------------------------------------------------

export const servers = new Set<DbServer>();

/** Destroys every server started by this module (for afterAll). */
export async function destroyAllDbServers(): Promise<void> {
  const all = [...servers];
  const results = await Promise.allSettled(all.map((server) => server.destroy()));
  const errors = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
  if (errors.length > 0) throw new AggregateError(errors, `${errors.length} database server(s) could not be destroyed`);
}

/** The processes behind each handle (for `dbServerPids`). */
export const processesOf = new WeakMap<DbServer, readonly ManagedProcess[]>();

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
export function destroyer(dir: string, stop: () => Promise<void>, self: () => DbServer): () => Promise<void> {
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

/**
 * The handle of a server run by one process in `dir` (PostgreSQL, MariaDB): its
 * controls, registered for `destroyAllDbServers` and `dbServerPids`.
 */
export function registerProcessServer(kind: DbServer['kind'], uri: string, dir: string, proc: ManagedProcess): DbServer {
  const server: DbServer = {
    kind,
    uri,
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
export async function startOnFreePorts(proc: ManagedProcess, logFile: string, count: number, usePorts: (ports: number[]) => void): Promise<void> {
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
