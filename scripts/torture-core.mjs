// The kill -9 torture run, as a module: `runTorture(options)` starts the built CLI
// (`dist/cli/main.js`), drives load on several protocols and sequences at once, kills a server
// with SIGKILL at a random moment (every `gracefulEvery`th stop is a SIGTERM instead), restarts
// it on the same data directory or store, and repeats. Every value received is recorded, and the
// report says whether any value came twice, how large the gaps were against the crash bound, and
// whether a graceful restart lost anything.
//
// scripts/torture.mjs is the command line (`npm run torture`); test/integration/torture.test.ts
// runs the same function with a few cycles. Only Node's own modules and the package's built
// client are used, so plain `node` runs it after `npm run build`.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { seededRandom } from './wire-fixtures.mjs';

/** Root of the project (where package.json lives). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The built CLI the torture run starts. */
export const CLI_PATH = join(PROJECT_ROOT, 'dist', 'cli', 'main.js');
/** Protocols the load can use, by the name the server's `ready` line gives their endpoints. */
export const TORTURE_PROTOCOLS = ['line', 'zmq', 'http'];

/** Defaults of `runTorture`; `npm run torture` uses them unless flags say otherwise. */
export const TORTURE_DEFAULTS = Object.freeze({
  cycles: 1000,
  /** Wall-clock cap: ~1000 cycles of the default load fit in it on a 2-core machine. */
  seconds: 900,
  gracefulEvery: 10,
  maxBlock: 50,
  protocols: TORTURE_PROTOCOLS,
  sequences: 3,
  /** Closed-loop callers per protocol × sequence × server (each with one request in flight). */
  workers: 2,
  /** Largest `count` of one request; must stay ≤ maxBlock for the crash bound to be exact. */
  maxCount: 10,
  servers: 1,
  /** Each server's `--workers`: above 1 the server is an owner process and that many workers. */
  serverWorkers: 1,
  partitioned: false,
  store: undefined,
  /** Load time before each stop, drawn uniformly in [minRunMs, maxRunMs]. */
  minRunMs: 50,
  maxRunMs: 600,
  seed: undefined,
  /** Per-request client timeout: long, so a slow answer is never mistaken for a lost one. */
  requestTimeoutMs: 10_000,
});

/** How long a server may take to print its `ready` line, and to exit after a signal. */
const START_TIMEOUT_MS = 20_000;
const EXIT_TIMEOUT_MS = 20_000;
/** After a server exited, its clients keep reading until no reply came for REPLY_QUIET_MS (at most REPLY_DRAIN_MAX_MS). */
const REPLY_QUIET_MS = 300;
const REPLY_DRAIN_MAX_MS = 3_000;
/** Beyond `seconds`, how long the whole run may take before the watchdog kills everything. */
const WATCHDOG_SLACK_MS = 120_000;
/** Bounds of the options (a typo must not start a week-long run or a thousand servers). */
const LIMITS = {
  cycles: [1, 1_000_000],
  seconds: [1, 7 * 24 * 3600],
  gracefulEvery: [0, 1_000_000],
  maxBlock: [1, 1_000_000],
  sequences: [1, 64],
  workers: [1, 64],
  maxCount: [1, 1000],
  servers: [1, 16],
  serverWorkers: [1, 16],
  minRunMs: [0, 600_000],
  maxRunMs: [0, 600_000],
};
/** Examples of each kind of finding kept in the report. */
const MAX_SAMPLES = 20;

const liveChildren = new Set();

/** SIGKILLs every server a torture run started and has not seen exit. Synchronous: safe in `exit` handlers. */
export function killAllTortureChildren() {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

const sleep = (ms) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

/** Every value received for one (sequence, value class): a growable BigInt64Array (8 bytes a value). */
export class ValueLog {
  constructor() {
    this.values = new BigInt64Array(4096);
    this.length = 0;
  }

  push(value) {
    if (this.length === this.values.length) {
      const grown = new BigInt64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }

  /** The values sorted ascending (the log is dropped: analysis runs once). */
  sorted() {
    const view = this.values.subarray(0, this.length);
    view.sort();
    this.values = new BigInt64Array(0);
    return view;
  }
}

/** Checks and completes the options; throws a RangeError naming the option on bad input. */
export function resolveTortureOptions(options = {}) {
  const merged = { ...TORTURE_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) };
  for (const [key, [min, max]] of Object.entries(LIMITS)) {
    const value = merged[key];
    if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${key} must be a whole number from ${min} to ${max}, got ${value}`);
  }
  if (merged.minRunMs > merged.maxRunMs) throw new RangeError(`minRunMs (${merged.minRunMs}) must not exceed maxRunMs (${merged.maxRunMs})`);
  if (merged.maxCount > merged.maxBlock) throw new RangeError(`maxCount (${merged.maxCount}) must not exceed maxBlock (${merged.maxBlock}): the crash bound assumes requests of at most max-block values`);
  const protocols = [...new Set(merged.protocols)];
  if (protocols.length === 0) throw new RangeError('protocols: give at least one of ' + TORTURE_PROTOCOLS.join(', '));
  for (const protocol of protocols) {
    if (!TORTURE_PROTOCOLS.includes(protocol)) throw new RangeError(`protocols: unknown protocol "${protocol}" (known: ${TORTURE_PROTOCOLS.join(', ')})`);
  }
  if (merged.partitioned && merged.store !== undefined) throw new RangeError('partitioned mode gives each server its own data directory: it cannot be combined with a store URI');
  if (merged.store !== undefined && (typeof merged.store !== 'string' || !/^(postgres|postgresql|mysql|etcd):\/\//.test(merged.store))) {
    throw new RangeError('store must be a postgres://, mysql:// or etcd:// URI (the embedded store is used when none is given)');
  }
  const seed = merged.seed ?? Math.floor(Math.random() * 2 ** 31);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new RangeError(`seed must be a whole number from 0 to 4294967295, got ${seed}`);
  return { ...merged, protocols, seed, cliPath: merged.cliPath ?? CLI_PATH };
}

/** Client URI of an endpoint from the `ready` line (`line` is bare `host:port` there). */
function clientUri(protocol, endpoint) {
  return protocol === 'line' ? `line://${endpoint}` : endpoint;
}

/**
 * Starts one server process and resolves with its endpoints once it logged `ready`.
 * @throws Error with its output when it exits first or is not ready in time.
 */
export function startServerProcess(cliPath, args) {
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: tmpdir(),
    env: Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(TICKET_SERVER_|TICKR_|TXNID_SERVER_)/.test(key))),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(child);
  const exited = new Promise((resolveExit) => {
    child.once('close', (code, signal) => {
      liveChildren.delete(child);
      resolveExit({ code, signal });
    });
    child.once('error', (error) => {
      liveChildren.delete(child);
      resolveExit({ code: null, signal: null, error: error.message });
    });
  });
  let head = '';
  let stderr = '';
  const warnings = [];
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    if (stderr.length < 64 * 1024) stderr += chunk;
  });
  child.stdout.setEncoding('utf8');
  const ready = new Promise((resolveReady, rejectReady) => {
    const fail = (why) => rejectReady(new Error(`ticket-server ${args.join(' ')} ${why}\n--- stdout ---\n${head}\n--- stderr ---\n${stderr}`));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(`was not ready within ${START_TIMEOUT_MS} ms`);
    }, START_TIMEOUT_MS);
    let settled = false;
    let tail = '';
    child.stdout.on('data', (chunk) => {
      // Only the start and the warnings are kept; the rest is read and dropped so the pipe never fills.
      if (settled) {
        tail += chunk;
        const lines = tail.split('\n');
        tail = lines.pop() ?? '';
        for (const line of lines) if (/"level":(40|50|60)/.test(line) && warnings.length < MAX_SAMPLES) warnings.push(line);
        return;
      }
      head += chunk;
      for (const line of head.split('\n')) {
        if (!line.includes('"msg":"ready"')) continue;
        try {
          const parsed = JSON.parse(line);
          settled = true;
          clearTimeout(timer);
          resolveReady(parsed.endpoints);
          return;
        } catch {
          // an incomplete line: wait for the rest
        }
      }
    });
    void exited.then((status) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fail(`exited before ready (code ${status.code}, signal ${status.signal})`);
    });
  });
  return { child, exited, ready, stderr: () => stderr, warnings };
}

/** Waits for a child's exit; SIGKILLs it if it takes longer than `ms`. */
export async function waitForExit(server, ms) {
  let timer;
  const late = new Promise((resolveLate) => {
    timer = setTimeout(() => resolveLate(undefined), ms);
  });
  const status = await Promise.race([server.exited, late]);
  clearTimeout(timer);
  if (status) return { ...status, forced: false };
  server.child.kill('SIGKILL');
  return { ...(await server.exited), forced: true };
}

/**
 * Runs the torture and resolves with its report; never throws for a finding (repeats, losses,
 * gaps): those are in the report with `ok: false`. Rejects on bad options or when a server cannot
 * start. Every child is killed before it settles, also on `signal` abort and by a watchdog
 * (`seconds` + 2 min).
 *
 * @param {object} [options] see TORTURE_DEFAULTS; also `store` (a shared-store URI: every server
 *   uses it, sequences get fresh names), `partitioned` (servers are instances 1…K of K, each with
 *   its own data directory), `cliPath`, `onProgress(text)`, `signal` (an AbortSignal).
 */
export async function runTorture(options = {}) {
  const settings = resolveTortureOptions(options);
  const { protocols, servers: serverCount, serverWorkers, partitioned, store, maxBlock, gracefulEvery } = settings;
  const random = seededRandom(settings.seed);
  const progress = settings.onProgress ?? (() => undefined);
  const clientModule = await import(pathToFileURL(join(dirname(settings.cliPath), '..', 'index.js')).href);
  const createClient = clientModule.default;
  const runId = `${Date.now().toString(36)}${Math.floor(random() * 1e6).toString(36)}`;
  const sequences = Array.from({ length: settings.sequences }, (_, index) => `torture-${runId}-${index + 1}`);
  // Values of a partitioned server form their own class (step K); on one server or a shared store, one class of step 1.
  const step = partitioned ? serverCount : 1;
  const classCount = partitioned ? serverCount : 1;
  /**
   * Runs can be told apart by value only when every class has one server of one process: then each
   * class's runs are value-ordered. With `--workers` the processes' leases interleave, and after a
   * graceful stop the restarted server first hands out the slots the other processes left unissued
   * (below values issued before): only repeats are checked then.
   */
  const runsOrdered = (partitioned || serverCount === 1) && serverWorkers === 1;
  const logs = sequences.map(() => Array.from({ length: classCount }, () => new ValueLog()));
  const baseDir = store === undefined ? mkdtempSync(join(tmpdir(), 'ticket-torture-')) : undefined;

  const serverArgs = (index) => {
    const args = ['--max-block', String(maxBlock), '--log-level', 'info', '--admin', 'off'];
    args.push('--bind', protocols.includes('zmq') ? 'tcp://127.0.0.1:0' : 'off');
    args.push('--http', protocols.includes('http') ? '127.0.0.1:0' : 'off');
    if (protocols.includes('line')) args.push('--line', '127.0.0.1:0');
    if (store !== undefined) args.push('--store', store);
    else args.push('--data', join(baseDir, partitioned ? `instance-${index + 1}` : 'data'));
    if (partitioned) args.push('--instance', String(index + 1), '--instances', String(serverCount));
    if (serverWorkers > 1) args.push('--workers', String(serverWorkers));
    return args;
  };

  const counters = { values: 0, requests: 0, requestErrors: 0, kills: 0, graceful: 0, cycles: 0 };
  const errorSamples = [];
  /** Warning and error log lines of the servers (a dropped reply shows up here). */
  const serverWarnings = [];
  /** Finished runs per server, in order: what each run received per sequence and how it ended. */
  const runsByServer = Array.from({ length: serverCount }, () => []);
  const current = new Array(serverCount);
  let failure;

  const startRun = async (index) => {
    const server = startServerProcess(settings.cliPath, serverArgs(index));
    const endpoints = await server.ready;
    const run = {
      index,
      server,
      stopping: false,
      pending: sequences.map(() => 0),
      replies: 0,
      min: sequences.map(() => undefined),
      max: sequences.map(() => undefined),
      clients: [],
      workers: [],
      valueClass: partitioned ? index : 0,
    };
    for (const protocol of protocols) {
      const client = createClient([clientUri(protocol, endpoints[protocol])], { timeout: settings.requestTimeoutMs, sendLast: false, downAfter: 1_000_000 });
      run.clients.push(client);
      for (let s = 0; s < sequences.length; s += 1) {
        for (let w = 0; w < settings.workers; w += 1) run.workers.push(worker(run, client, s));
      }
    }
    current[index] = run;
  };

  const record = (run, s, value) => {
    run.replies += 1;
    logs[s][run.valueClass].push(value);
    if (run.min[s] === undefined || value < run.min[s]) run.min[s] = value;
    if (run.max[s] === undefined || value > run.max[s]) run.max[s] = value;
  };

  async function worker(run, client, s) {
    const name = sequences[s];
    while (!run.stopping) {
      const count = 1 + Math.floor(random() * settings.maxCount);
      run.pending[s] += count;
      counters.requests += 1;
      try {
        // Half of the single-value requests use the plain form (a bigint, not an array).
        if (count === 1 && random() < 0.5) {
          record(run, s, await client.next(name));
          counters.values += 1;
        } else {
          const values = await client.next(name, { count });
          for (const value of values) record(run, s, value);
          counters.values += values.length;
        }
      } catch (error) {
        // Expected only around a stop (the connection dies with the server); counted and sampled.
        counters.requestErrors += 1;
        if (!run.stopping && errorSamples.length < MAX_SAMPLES) errorSamples.push(`${name}: ${error.code ?? ''} ${error.message}`);
        if (!run.stopping) await sleep(10);
      } finally {
        run.pending[s] -= count;
      }
    }
  }

  /** Stops the run of a server with `signal` and records it; resolves once its clients and workers are done. */
  const stopRun = async (index, signal) => {
    const run = current[index];
    current[index] = undefined;
    run.stopping = true;
    // Values asked for and not answered when the signal goes: a kill may have issued them unseen.
    const unanswered = run.pending.slice();
    run.server.child.kill(signal);
    const status = await waitForExit(run.server, EXIT_TIMEOUT_MS);
    // Replies the server sent before it exited may still sit unread in this process (ZeroMQ's
    // queues have no close event to wait for): closing the clients at once would drop them and
    // report issued values as lost. So wait until no reply arrived for a while (bounded).
    const drainStarted = performance.now();
    while (performance.now() - drainStarted < REPLY_DRAIN_MAX_MS && run.pending.some((count) => count > 0)) {
      const before = run.replies;
      await sleep(REPLY_QUIET_MS);
      if (run.replies === before) break;
    }
    await Promise.allSettled(run.clients.map((client) => client.close()));
    await Promise.allSettled(run.workers);
    const graceful = signal !== 'SIGKILL';
    if (graceful && (status.code !== 0 || status.forced)) {
      failure ??= `server ${index + 1} did not stop cleanly on ${signal} (code ${status.code}, signal ${status.signal}${status.forced ? ', SIGKILLed after ' + EXIT_TIMEOUT_MS + ' ms' : ''})\n${run.server.stderr()}`;
    }
    runsByServer[index].push({ end: graceful ? 'term' : 'kill', unanswered, min: run.min, max: run.max });
    for (const line of run.server.warnings) if (serverWarnings.length < MAX_SAMPLES) serverWarnings.push(line);
  };

  const startedAt = performance.now();
  let watchdogTimer;
  const watchdog = new Promise((_, rejectWatchdog) => {
    watchdogTimer = setTimeout(() => {
      killAllTortureChildren();
      rejectWatchdog(new Error(`torture watchdog: the run took longer than ${settings.seconds} s + ${WATCHDOG_SLACK_MS / 1000} s; every server was killed`));
    }, settings.seconds * 1000 + WATCHDOG_SLACK_MS);
    watchdogTimer.unref?.();
  });
  const aborted = () => settings.signal?.aborted === true;
  let lastProgress = startedAt;

  const body = async () => {
    for (let index = 0; index < serverCount; index += 1) await startRun(index);
    while (counters.cycles < settings.cycles && !aborted() && failure === undefined) {
      if (performance.now() - startedAt >= settings.seconds * 1000) break;
      await sleep(settings.minRunMs + random() * (settings.maxRunMs - settings.minRunMs));
      const index = Math.floor(random() * serverCount);
      if (current[index].server.child.exitCode !== null || current[index].server.child.signalCode !== null) {
        failure = `server ${index + 1} exited on its own: ${current[index].server.stderr()}`;
        break;
      }
      counters.cycles += 1;
      const graceful = gracefulEvery > 0 && counters.cycles % gracefulEvery === 0;
      await stopRun(index, graceful ? 'SIGTERM' : 'SIGKILL');
      if (graceful) counters.graceful += 1;
      else counters.kills += 1;
      await startRun(index);
      const now = performance.now();
      if (now - lastProgress >= 10_000) {
        lastProgress = now;
        progress(`cycle ${counters.cycles}: ${counters.values} values, ${counters.kills} kills, ${counters.graceful} graceful, ${Math.round((now - startedAt) / 1000)} s`);
      }
    }
    // The end of the run is a graceful stop of every server (no restart follows, so nothing to compare).
    for (let index = 0; index < serverCount; index += 1) if (current[index]) await stopRun(index, 'SIGTERM');
  };

  try {
    await Promise.race([body(), watchdog]);
  } finally {
    clearTimeout(watchdogTimer);
    for (const run of current) if (run) run.stopping = true;
    killAllTortureChildren();
    await Promise.allSettled(current.filter(Boolean).map((run) => Promise.allSettled([run.server.exited, ...run.clients.map((client) => client.close())])));
    if (baseDir !== undefined) rmSync(baseDir, { recursive: true, force: true });
  }
  const seconds = (performance.now() - startedAt) / 1000;

  const analysis = analyse({ logs, sequences, runsByServer, step, maxBlock, runsOrdered, partitioned });
  const report = {
    ok: failure === undefined && analysis.repeats === 0 && analysis.gracefulLost === 0 && analysis.gapViolationCount === 0,
    failure,
    seed: settings.seed,
    mode: `${store !== undefined ? `store ${describeStore(store)}` : partitioned ? `partitioned (${serverCount} instances, own data dirs)` : 'embedded (lmdb)'}${serverWorkers > 1 ? `, --workers ${serverWorkers}` : ''}`,
    servers: serverCount,
    protocols,
    sequences: sequences.length,
    maxBlock,
    cycles: counters.cycles,
    kills: counters.kills,
    gracefulRestarts: counters.graceful,
    requests: counters.requests,
    requestErrors: counters.requestErrors,
    errorSamples,
    serverWarnings,
    seconds: Math.round(seconds * 10) / 10,
    valuesPerSecond: Math.round(analysis.values / seconds),
    ...analysis,
  };
  return report;
}

/** The store URI without its password, for output. */
function describeStore(uri) {
  return uri.replace(/^([a-z]+:\/\/[^:@/]+):[^@/]*@/, '$1@');
}

/**
 * Checks the values: repeats (adjacent equal after sorting), the largest gap, and — when each
 * value class belongs to one server, so its runs follow each other in value — which stop every
 * gap crossed: a gap inside or after a graceful run is a loss; a gap after kills may be at most
 * 2 × max-block per kill plus the values of requests the kill left unanswered (their replies may
 * have been issued and lost with the process).
 */
export function analyse({ logs, sequences, runsByServer, step, maxBlock, runsOrdered }) {
  const stepBig = BigInt(step);
  const gapBound = 2n * BigInt(maxBlock) * stepBig;
  let values = 0;
  let repeats = 0;
  let largestGap = 0n;
  let gracefulLost = 0;
  let gapViolationCount = 0;
  const repeatSamples = [];
  const gapViolations = [];
  const lossSamples = [];
  const perSequence = [];
  for (let s = 0; s < sequences.length; s += 1) {
    let sequenceValues = 0;
    let sequenceLargest = 0n;
    for (let valueClass = 0; valueClass < logs[s].length; valueClass += 1) {
      const sorted = logs[s][valueClass].sorted();
      sequenceValues += sorted.length;
      if (sorted.length === 0) continue;
      // Runs of the server owning this class that received values of this sequence, in order.
      const runs = runsOrdered ? runsByServer[valueClass] : [];
      const withValues = [];
      runs.forEach((run, runIndex) => {
        if (run.min[s] !== undefined) withValues.push({ runIndex, min: run.min[s], max: run.max[s] });
      });
      let cursor = 0;
      const runOf = (value) => {
        while (cursor < withValues.length - 1 && withValues[cursor].max < value) cursor += 1;
        return withValues[cursor]?.runIndex ?? 0;
      };
      // The class's first value (offset 1: class c starts at c + 1) is the reference for the first gap.
      let previous = BigInt(valueClass + 1) - stepBig;
      for (let i = 0; i < sorted.length; i += 1) {
        const value = sorted[i];
        if (value === previous) {
          repeats += 1;
          if (repeatSamples.length < MAX_SAMPLES) repeatSamples.push(`${sequences[s]}: ${value}`);
          continue;
        }
        const gap = value - previous - stepBig;
        if (gap > 0n) {
          if (gap > largestGap) largestGap = gap;
          if (gap > sequenceLargest) sequenceLargest = gap;
          if (runsOrdered) {
            const from = i === 0 ? 0 : runOf(previous);
            const to = runOf(value);
            const missing = gap / stepBig;
            let allowed = 0n;
            let crossedKill = false;
            if (from === to) {
              // Inside one run: only replies a kill swallowed can be missing.
              if (runs[from]?.end === 'kill') {
                crossedKill = true;
                allowed = BigInt(runs[from].unanswered[s]);
              }
            } else {
              for (let r = from; r < to; r += 1) {
                if (runs[r].end !== 'kill') continue;
                crossedKill = true;
                allowed += 2n * BigInt(maxBlock) + BigInt(runs[r].unanswered[s]);
              }
            }
            if (!crossedKill) {
              gracefulLost += Number(missing);
              if (lossSamples.length < MAX_SAMPLES) lossSamples.push(`${sequences[s]}: ${previous} → ${value} (${missing} values missing ${from === to ? `inside run ${from + 1}` : `between runs ${from + 1} and ${to + 1}`}, graceful)`);
            } else if (missing > allowed) {
              gapViolationCount += 1;
              if (gapViolations.length < MAX_SAMPLES) gapViolations.push(`${sequences[s]}: ${previous} → ${value}: ${missing} values missing, at most ${allowed} allowed (2 × max-block per kill + unanswered)`);
            }
          }
        }
        previous = value;
      }
    }
    values += sequenceValues;
    perSequence.push({ sequence: sequences[s], values: sequenceValues, largestGap: String(sequenceLargest) });
  }
  return {
    values,
    repeats,
    repeatSamples,
    largestGap: String(largestGap),
    gapBound: String(gapBound),
    gapChecked: runsOrdered,
    gapViolationCount,
    gapViolations,
    gracefulLost,
    lossSamples,
    perSequence,
  };
}
