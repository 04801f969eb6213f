// ZeroMQ benchmark pieces: ticket-server child processes started through the
// real CLI, and a closed-loop load generator (Dealer sockets, one outstanding
// request per client).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import { URL, fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Dealer } from 'zeromq';
import { percentileSorted, round } from './stats.mjs';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

/** Every server child started and not yet known to have exited; killed on exit. */
export const liveChildren = new Set();

/** SIGKILLs every server child still running. Synchronous: safe in 'exit' handlers. */
export function killAllChildren() {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ); 100 on every common Linux build. */
const USER_HZ = 100;

/** CPU seconds (user + system) a process has used so far, or NaN where /proc is missing. */
export function processCpuSeconds(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return NaN;
  }
}

/** Busy and total CPU seconds of the whole machine (all cores), or NaN where /proc is missing. */
export function machineCpuSeconds() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((sum, value) => sum + value, 0);
    const idle = fields[3] + fields[4]; // idle + iowait
    return { busy: (total - idle) / USER_HZ, total: total / USER_HZ };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

/**
 * Watches a child process started for a benchmark and gives `handle` what every
 * benchmark server handle has: `failure` (set once, when it dies unasked or
 * `fail` is called), `onFailure(listener)` (returns an unsubscribe function)
 * and `stop(graceMs)` (SIGTERM, then SIGKILL after the grace; resolves with
 * `{ code, signal, forced }`, the same promise however often it is called).
 * The child is killed with the benchmark process (`liveChildren`).
 * @param exitFailure what its unasked exit means: `(code, signal) => failure`
 * @param onExit runs once when it exits (e.g. removing a temp dir)
 * @returns `{ exited, fail }`: the exit (`{ code, signal }`) and a way to record another failure
 */
export function superviseChild(handle, child, { exitFailure, onExit = () => undefined, graceMs: defaultGraceMs = 5_000 }) {
  liveChildren.add(child);
  handle.failure = undefined;
  handle.stopping = false;
  const listeners = new Set();
  const fail = (failure) => {
    if (handle.failure) return;
    handle.failure = failure;
    for (const listener of listeners) listener(failure);
  };
  handle.onFailure = (listener) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      liveChildren.delete(child);
      onExit();
      if (!handle.stopping) fail(exitFailure(code, signal));
      resolve({ code, signal });
    });
  });
  let stopped;
  handle.stop = async (graceMs = defaultGraceMs) => {
    stopped ??= (async () => {
      handle.stopping = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      let graceTimer;
      const outcome = await Promise.race([exited, new Promise((resolve) => (graceTimer = setTimeout(() => resolve(undefined), graceMs)))]);
      clearTimeout(graceTimer);
      if (outcome === undefined) {
        child.kill('SIGKILL');
        return { ...(await exited), forced: true };
      }
      return { ...outcome, forced: false };
    })();
    return stopped;
  };
  return { exited, fail };
}

/** Server log messages after which it no longer answers (the benchmark then restarts it). */
const FATAL_MESSAGES = new Set(['zeromq receive loop failed']);

/**
 * Starts `node dist/cli/main.js` with `args` and waits for its "listening" log line.
 * Resolves with a handle: `pid`, `endpoint`, `urls` (the `url` of every "listening" line
 * by protocol, e.g. `urls.http`; `listeningLines` has those lines whole), `addresses` (the
 * `address` of every "listening" line that has one, by protocol: `addresses.line` and
 * `addresses.tcp` are `HOST:PORT`), `logs` (warnings and errors it logged),
 * `failure` (set once the server died or logged a fatal error), `onFailure(callback)`
 * (returns an unsubscribe function) and `stop()` (SIGTERM, then SIGKILL after a grace period).
 *
 * Options: `cli` (script to run), `baseArgs` (the listen flags put before `args`),
 * `nodeArgs` (node flags, e.g. `--cpu-prof`), `readyProtocol` (the server is ready
 * when it logged "listening" with an `endpoint` (default, the ZeroMQ line, logged
 * last) or, with `readyProtocol: 'http'`, a `url` for that protocol; `endpoint` is then that url).
 */
export async function startServer(label, args, {
  startTimeoutMs = 15_000,
  cli = CLI,
  baseArgs = ['--bind', 'tcp://127.0.0.1:0', '--http', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--log-level', 'info'],
  nodeArgs = [],
  readyProtocol = undefined,
} = {}) {
  const fullArgs = [...nodeArgs, cli, ...baseArgs, ...args];
  const child = spawn(process.execPath, fullArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  const handle = { label, child, pid: child.pid, endpoint: undefined, urls: {}, listeningLines: {}, addresses: {}, logs: { warnings: [], stderr: '' } };
  const { exited, fail } = superviseChild(handle, child, {
    exitFailure: (code, signal) => ({ reason: `server exited (code ${code}, signal ${signal})`, stderr: handle.logs.stderr.trim() }),
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    if (handle.logs.stderr.length < 8192) handle.logs.stderr += chunk;
  });
  const lines = createInterface({ input: child.stdout });
  let listening;
  const started = new Promise((resolve) => {
    listening = resolve;
  });
  lines.on('line', (line) => {
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      return;
    }
    if (entry.level >= 40) {
      const err = entry.err ? { type: entry.err.type, code: entry.err.code, message: entry.err.message } : undefined;
      const record = { level: entry.level, msg: entry.msg, ...(err ? { err } : {}) };
      if (handle.logs.warnings.length < 50) handle.logs.warnings.push(record);
      if (FATAL_MESSAGES.has(entry.msg)) fail({ reason: `server logged "${entry.msg}"`, ...record });
    }
    if (entry.msg !== 'listening') return;
    if (typeof entry.protocol === 'string' && typeof entry.url === 'string') {
      handle.urls[entry.protocol] = entry.url;
      handle.listeningLines[entry.protocol] = entry;
    }
    if (typeof entry.protocol === 'string' && typeof entry.address === 'string') handle.addresses[entry.protocol] = entry.address;
    if (readyProtocol === undefined ? typeof entry.endpoint === 'string' : entry.protocol === readyProtocol && typeof entry.url === 'string') {
      listening(readyProtocol === undefined ? entry.endpoint : entry.url);
    }
  });
  let timer;
  try {
    handle.endpoint = await Promise.race([
      started,
      exited.then(({ code, signal }) => {
        throw new Error(`${label} server exited before listening (code ${code}, signal ${signal}): ${handle.logs.stderr.trim()}`);
      }),
      new Promise((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${label} server did not log "listening" within ${startTimeoutMs} ms`)), startTimeoutMs);
      }),
    ]);
  } catch (error) {
    handle.stopping = true;
    child.kill('SIGKILL');
    await exited;
    throw error;
  } finally {
    clearTimeout(timer);
  }

  return handle;
}

/** Raised by `runLoad` when the server under load died or logged a fatal error. */
export class ServerFailure extends Error {
  constructor(label, failure) {
    super(`${label} server failed: ${failure.reason}${failure.err ? `: ${failure.err.code ?? ''} ${failure.err.message ?? ''}` : ''}`);
    this.name = 'ServerFailure';
    this.failure = failure;
  }
}

const EMPTY = Buffer.alloc(0);
const OK_PREFIX = Buffer.from('[null,"');

/** Reads the value out of `[null,"123"]`; undefined for anything else (an error reply). */
function valueOf(reply) {
  if (reply.length < OK_PREFIX.length + 2 || reply.compare(OK_PREFIX, 0, OK_PREFIX.length, 0, OK_PREFIX.length) !== 0) {
    return undefined;
  }
  return BigInt(reply.toString('latin1', OK_PREFIX.length, reply.length - 2));
}

/**
 * One Dealer socket keeping `inflight` requests outstanding. Every request
 * carries its slot number as an extra envelope frame (the server echoes the
 * envelope), so replies are matched to their send time exactly.
 */
async function driveSocket(endpoint, inflight, run) {
  const socket = new Dealer({ linger: 0, receiveTimeout: run.receiveTimeoutMs, sendTimeout: run.receiveTimeoutMs });
  run.sockets.push(socket);
  if (run.aborted) return;
  socket.connect(endpoint);
  const ids = Array.from({ length: inflight }, (_, index) => {
    const id = Buffer.alloc(4);
    id.writeUInt32LE(index);
    return id;
  });
  const sentAt = new Float64Array(inflight);
  let lastValue = -1n;
  let outstanding = 0;
  for (let slot = 0; slot < inflight; slot++) {
    sentAt[slot] = performance.now();
    await socket.send([ids[slot], EMPTY, run.body]);
    outstanding++;
  }
  while (outstanding > 0) {
    const frames = await socket.receive();
    const now = performance.now();
    const slot = frames.length === 3 ? frames[0].readUInt32LE(0) : -1;
    if (slot < 0 || slot >= inflight) {
      run.malformed++;
      continue;
    }
    const value = valueOf(frames[2]);
    if (now >= run.measureStart && now < run.measureEnd) {
      run.completed++;
      if (value === undefined) run.errors++;
      if (run.samples < run.latencies.length) run.latencies[run.samples++] = now - sentAt[slot];
      else run.samplesDropped++;
    }
    if (value === undefined) {
      if (run.errorExamples.length < 5) run.errorExamples.push(frames[2].toString('utf8'));
    } else {
      // One server, one sequence: replies on one connection must be strictly increasing.
      if (value <= lastValue) run.orderViolations++;
      lastValue = value;
    }
    if (now < run.measureEnd && !run.aborted) {
      sentAt[slot] = performance.now();
      await socket.send([ids[slot], EMPTY, run.body]);
    } else {
      outstanding--;
    }
  }
}

/**
 * Closed-loop load: `concurrency` outstanding requests spread over `sockets`
 * Dealer sockets, `warmupMs` unrecorded, then `durationMs` recorded.
 * Requests are `["<sequence>","0"]` (single value, no `last`).
 */
export async function runLoad({ server, sequence, concurrency, sockets, warmupMs, durationMs, latencies, receiveTimeoutMs = 8_000 }) {
  const socketCount = Math.max(1, Math.min(sockets, concurrency));
  const perSocket = Array.from({ length: socketCount }, (_, index) =>
    Math.floor(concurrency / socketCount) + (index < concurrency % socketCount ? 1 : 0),
  );
  const start = performance.now();
  const run = {
    body: Buffer.from(JSON.stringify([sequence, '0'])),
    measureStart: start + warmupMs,
    measureEnd: start + warmupMs + durationMs,
    receiveTimeoutMs,
    completed: 0,
    errors: 0,
    malformed: 0,
    orderViolations: 0,
    errorExamples: [],
    latencies,
    samples: 0,
    samplesDropped: 0,
    aborted: false,
    sockets: [],
  };
  const cpuBefore = process.cpuUsage();
  const serverCpuBefore = processCpuSeconds(server.pid);
  const machineBefore = machineCpuSeconds();
  if (server.failure) throw new ServerFailure(server.label, server.failure);
  let failure;
  // A dead server never answers: stop waiting at once instead of at the receive timeout.
  const unsubscribe = server.onFailure(() => {
    run.aborted = true;
    for (const socket of run.sockets) socket.close();
  });
  try {
    await Promise.all(
      perSocket.map((inflight) =>
        driveSocket(server.endpoint, inflight, run).catch((error) => {
          run.aborted = true;
          failure ??= error;
        }),
      ),
    );
  } finally {
    unsubscribe();
    for (const socket of run.sockets) if (!socket.closed) socket.close();
  }
  if (server.failure) throw new ServerFailure(server.label, server.failure);
  if (failure) throw new Error(`load on ${server.label} (concurrency ${concurrency}) failed: ${failure.message}`, { cause: failure });
  const cpu = process.cpuUsage(cpuBefore);
  const serverCpu = processCpuSeconds(server.pid) - serverCpuBefore;
  const machineBusy = machineCpuSeconds().busy - machineBefore.busy;
  const wallSeconds = (performance.now() - start) / 1000;

  const sorted = latencies.subarray(0, run.samples).sort();
  const p = (q) => round(percentileSorted(sorted, run.samples, q) * 1000); // µs
  return {
    store: server.label,
    concurrency,
    sockets: socketCount,
    inflightPerSocket: perSocket,
    warmupMs,
    durationMs,
    completed: run.completed,
    requestsPerSecond: round(run.completed / (durationMs / 1000)),
    errors: run.errors,
    errorExamples: run.errorExamples,
    malformedReplies: run.malformed,
    orderViolations: run.orderViolations,
    latencyUs: { p50: p(0.5), p90: p(0.9), p99: p(0.99), p999: p(0.999), max: p(1), samples: run.samples, samplesDropped: run.samplesDropped },
    // CPU over warm-up + measurement + drain, as a share of one core.
    benchCpuCores: round((cpu.user + cpu.system) / 1e6 / wallSeconds, 3),
    serverCpuCores: round(serverCpu / wallSeconds, 3),
    // Everything else on the machine (other processes, kernel work not charged to either): noise indicator.
    otherCpuCores: round(Math.max(0, machineBusy - serverCpu - (cpu.user + cpu.system) / 1e6) / wallSeconds, 3),
    /** Sorted latencies in ms, to combine repeats; removed before the results are written. */
    sortedLatenciesMs: Float64Array.from(sorted),
  };
}
