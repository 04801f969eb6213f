/**
 * Runs the built CLI (`dist/cli/main.js`) as a child process, the way an
 * operator runs it, for the integration tests.
 *
 * Every child is kept in a registry until it has exited, and every temporary
 * directory until it is removed, so a test file's teardown (`stopAllServers`,
 * `removeTempDirs`) cleans up even after a failed assertion. As a last resort
 * an `exit` hook SIGKILLs anything still alive, so no server outlives the
 * vitest worker that started it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the project (where package.json lives). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The compiled CLI entry point; `npm test` builds it before vitest runs. */
export const CLI_PATH = join(PROJECT_ROOT, 'dist', 'cli', 'main.js');

/** The commands the package installs: `ticket-server` and the earlier systems' command lines. */
export type CommandName = 'ticket-server' | 'seqgen' | 'txn-id-server' | 'ticketd' | 'tickr';

function commandPath(command: CommandName): string {
  return command === 'ticket-server' ? CLI_PATH : join(PROJECT_ROOT, 'dist', 'cli', `${command}.js`);
}

/** How long a server may take to print its `ready` line. */
const START_TIMEOUT_MS = 15_000;
/** How long a graceful stop may take before the child is SIGKILLed. */
const STOP_TIMEOUT_MS = 10_000;
/** How long a one-shot command (`dump`, `restore`, `--help`) may run. */
const RUN_TIMEOUT_MS = 15_000;
/** Output kept per stream; a server logs a few lines per start, so this only guards against a runaway. */
const MAX_OUTPUT_CHARS = 4 * 1024 * 1024;

/** Prefixes of environment variables the server reads (SPEC §10); removed from the inherited environment. */
const SERVER_ENV_PREFIXES = ['TICKET_SERVER_', 'TICKR_', 'TXNID_SERVER_'];

/** How a child process ended. */
export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Options shared by `startServer` and `runCli`. */
export interface ProcessOptions {
  /** Variables added to the (cleaned) environment of the child. */
  readonly env?: Record<string, string>;
  /** Data directory, passed as `--data DIR`. */
  readonly dataDir?: string;
  /** Working directory of the child; default the OS temp directory, so a stray `./data` lands nowhere near the project. */
  readonly cwd?: string;
  /**
   * The installed command to run; default `ticket-server`. `startServer` adds its loopback
   * defaults only to `ticket-server`: the other commands' tests give every address themselves.
   */
  readonly command?: CommandName;
  /** `startServer`: how long the `ready` line may take, in ms; default 15 s (`--workers` starts several processes). */
  readonly startTimeoutMs?: number;
}

/** A running server started by `startServer`. */
export interface ServerProcess {
  /**
   * The ZeroMQ endpoint from the `ready` log line, e.g. `tcp://127.0.0.1:40123`.
   * @throws Error when ZeroMQ is off (`--bind off`); use `endpoints` then
   */
  readonly endpoint: string;
  /** Every bound listener from the `ready` log line: `zmq`, `http`, `admin`, `tcp`, `line` (those that are on). */
  readonly endpoints: Readonly<Record<string, string>>;
  readonly child: ChildProcess;
  /** Everything the server wrote to stdout so far (JSON log lines). */
  stdout(): string;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** The log lines parsed as JSON (lines that are not JSON are skipped). */
  logLines(): Array<Record<string, unknown>>;
  /** Sends `signal` (default SIGTERM) and waits for the exit; SIGKILLs after 10 s. */
  stop(signal?: NodeJS.Signals): Promise<ExitStatus>;
  /** SIGKILLs the process (a crash) and waits until it is gone. */
  kill(): Promise<ExitStatus>;
  /** Resolves when the process has exited, however it ended. */
  readonly exited: Promise<ExitStatus>;
}

/** Result of a one-shot command. */
export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface TrackedChild {
  readonly child: ChildProcess;
  readonly exited: Promise<ExitStatus>;
}

const liveChildren = new Set<TrackedChild>();
const tempDirs = new Set<string>();

process.on('exit', () => {
  // Synchronous last resort: vitest workers exit after the teardown hooks, so normally nothing is left.
  for (const { child } of liveChildren) child.kill('SIGKILL');
});

/** The parent's environment without any variable the server would read, plus `extra`. */
export function cleanEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!SERVER_ENV_PREFIXES.some((prefix) => key.startsWith(prefix))) env[key] = value;
  }
  return { ...env, ...extra };
}

/** A child's stdout and stderr as text, each kept up to its first `maxChars` characters (default 4 Mi). */
export function collectOutput(child: ChildProcess, maxChars = MAX_OUTPUT_CHARS): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    if (out.length < maxChars) out += chunk;
  });
  child.stderr?.on('data', (chunk: string) => {
    if (err.length < maxChars) err += chunk;
  });
  return { out: () => out, err: () => err };
}

function spawnCli(args: readonly string[], options: ProcessOptions): TrackedChild & { out: () => string; err: () => string } {
  const fullArgs = [commandPath(options.command ?? 'ticket-server'), ...args];
  if (options.dataDir !== undefined) fullArgs.push('--data', options.dataDir);
  const child = spawn(process.execPath, fullArgs, {
    cwd: options.cwd ?? tmpdir(),
    env: cleanEnvironment(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { out, err } = collectOutput(child);
  // 'close' (not 'exit') so that all output has been read when the promise resolves.
  const exited = new Promise<ExitStatus>((resolveExit) => {
    child.once('close', (code, signal) => resolveExit({ code, signal }));
    child.once('error', () => resolveExit({ code: null, signal: null }));
  });
  const tracked = { child, exited };
  liveChildren.add(tracked);
  void exited.then(() => liveChildren.delete(tracked));
  return { ...tracked, out, err };
}

async function waitForExit(tracked: TrackedChild, timeoutMs: number): Promise<ExitStatus> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<undefined>((resolveTimeout) => {
    timer = setTimeout(() => resolveTimeout(undefined), timeoutMs);
  });
  const status = await Promise.race([tracked.exited, timedOut]);
  clearTimeout(timer);
  if (status) return status;
  tracked.child.kill('SIGKILL');
  return tracked.exited;
}

/** Parses JSON log lines, skipping anything else. */
export function parseLogLines(text: string): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line cut short by a kill; not a log entry we can use
    }
  }
  return lines;
}

function findReadyEndpoints(stdout: string): Record<string, string> | undefined {
  for (const line of parseLogLines(stdout)) {
    if (line.msg === 'ready' && typeof line.endpoints === 'object' && line.endpoints !== null) {
      return line.endpoints as Record<string, string>;
    }
  }
  return undefined;
}

/**
 * Starts `ticket-server` (or `options.command`) with `args` and resolves once
 * its `ready` line, logged after every listener is bound, has been printed.
 * For `ticket-server`, adds `--bind tcp://127.0.0.1:0`, `--http 127.0.0.1:0` and
 * `--admin 127.0.0.1:0` unless `args` has them, so servers listen on free
 * loopback ports only.
 *
 * @throws Error with the collected stdout and stderr when the process exits
 *   first or does not listen within 15 s (it is then SIGKILLed).
 */
export async function startServer(args: readonly string[], options: ProcessOptions = {}): Promise<ServerProcess> {
  const has = (flag: string): boolean => args.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
  const fullArgs = [...args];
  if ((options.command ?? 'ticket-server') === 'ticket-server') {
    if (!has('--bind')) fullArgs.push('--bind', 'tcp://127.0.0.1:0');
    // The HTTP API and the admin port are on by default (0.0.0.0:6412/6411): keep them on free loopback ports.
    if (!has('--http') && options.env?.TICKET_SERVER_HTTP === undefined) fullArgs.push('--http', '127.0.0.1:0');
    if (!has('--admin') && options.env?.TICKET_SERVER_ADMIN === undefined) fullArgs.push('--admin', '127.0.0.1:0');
  }
  const tracked = spawnCli(fullArgs, options);
  const { child, exited, out, err } = tracked;

  const endpoints = await new Promise<Record<string, string>>((resolveEndpoints, reject) => {
    const describe = (why: string): Error =>
      new Error(`${options.command ?? 'ticket-server'} ${fullArgs.join(' ')} ${why}\n--- stdout ---\n${out()}\n--- stderr ---\n${err()}`);
    const startTimeoutMs = options.startTimeoutMs ?? START_TIMEOUT_MS;
    const timer = setTimeout(() => {
      cleanup();
      child.kill('SIGKILL');
      reject(describe(`was not ready within ${startTimeoutMs} ms`));
    }, startTimeoutMs);
    const onData = (): void => {
      const found = findReadyEndpoints(out());
      if (found === undefined) return;
      cleanup();
      resolveEndpoints(found);
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
    };
    child.stdout?.on('data', onData);
    void exited.then((status) => {
      cleanup();
      reject(describe(`exited before ready (code ${status.code}, signal ${status.signal})`));
    });
  });

  return {
    get endpoint(): string {
      if (endpoints.zmq === undefined) throw new Error(`ZeroMQ is off; endpoints: ${JSON.stringify(endpoints)}`);
      return endpoints.zmq;
    },
    endpoints,
    child,
    exited,
    stdout: out,
    stderr: err,
    logLines: () => parseLogLines(out()),
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return waitForExit(tracked, STOP_TIMEOUT_MS);
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
}

/**
 * Runs a one-shot command (`dump`, `restore`, `--help`, or a `serve` expected
 * to fail) to completion. A command still running after `timeoutMs` is
 * SIGKILLed and reported with `signal: 'SIGKILL'`.
 */
export async function runCli(args: readonly string[], options: ProcessOptions & { timeoutMs?: number } = {}): Promise<CliResult> {
  const tracked = spawnCli(args, options);
  const status = await waitForExit(tracked, options.timeoutMs ?? RUN_TIMEOUT_MS);
  return { ...status, stdout: tracked.out(), stderr: tracked.err() };
}

/** SIGKILLs every child still running and waits until all are gone. Use in afterEach/afterAll. */
export async function stopAllServers(): Promise<void> {
  const children = [...liveChildren];
  for (const { child } of children) child.kill('SIGKILL');
  await Promise.all(children.map((tracked) => tracked.exited));
}

/** Creates an empty directory under the OS temp directory, removed by `removeTempDirs`. */
export async function createTempDir(prefix = 'ticket-server-test-'): Promise<string> {
  // No dot in the prefix: see the LMDB path note in test/integration/cli.test.ts.
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Removes every directory made by `createTempDir`. Stop the servers using them first. */
export async function removeTempDirs(): Promise<void> {
  const dirs = [...tempDirs];
  tempDirs.clear();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}

/**
 * Base URL of a server's HTTP API (`http`) or admin port (`admin`), from its
 * `listening` log line, e.g. `http://127.0.0.1:40124`.
 */
export function urlOf(server: ServerProcess, protocol: 'http' | 'admin'): string {
  for (const line of server.logLines()) {
    if (line.msg === 'listening' && line.protocol === protocol && typeof line.url === 'string') return line.url;
  }
  throw new Error(`${protocol} is not listening; stdout: ${server.stdout()}`);
}
