// Raw TCP benchmark (f), the protocols of txn-id-server:
//
// - one-shot (`--tcp`, SPEC §6.4): connections per second with 32 concurrent
//   connectors, each in a loop: connect, read `<value>\n` to EOF, next;
//   next to a minimal Go server of the same kind (bench/baselines/oneshot.go,
//   built with Debian's golang-go into a temp dir; the row is skipped, and says
//   so, when `go` is missing);
// - long-lived (`--line`, SPEC §6.5): three load shapes — 50 connections × 16
//   `NEXT bench\n` in flight, 1 × 1, 200 × 1 (closed loops) — each next to
//   Redis `INCR bench` at the same shape over RESP (Debian's redis-server,
//   started here on a free loopback port with `--save '' --appendonly no`; the
//   Redis rows are skipped, and say so, when /usr/bin/redis-server is missing).
// Every row reports requests per second and per CPU-second of its server.
//
// Everything speaks raw sockets (node:net) from this process; no client
// library. Used by bench/run.mjs as section (f); also runs alone:
//   node bench/tcp-load.mjs          (after a build; BENCH_QUICK=1 for a smoke run)
import { Buffer } from 'node:buffer';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval } from 'node:timers';
import { URL, fileURLToPath, pathToFileURL } from 'node:url';
import { envNumber, formatLatency, formatRate, formatRatio, median, percentileSorted, pooledLatencyUs, renderTable, round } from './stats.mjs';
import { killAllChildren, machineCpuSeconds, processCpuSeconds, startServer, superviseChild } from './zmq-load.mjs';

/** ticket-server line req/s ÷ Redis INCR req/s at the same concurrency and depth (the issue's target). */
export const TARGET_LINE_OVER_REDIS = 1.0;
export const DEFAULT_REDIS_SERVER = '/usr/bin/redis-server';
/** ticket-server one-shot connections/s ÷ the minimal Go one-shot server's (the issue's target). */
export const TARGET_ONE_SHOT_OVER_GO = 1.0;
const GO_BASELINE = fileURLToPath(new URL('./baselines/oneshot.go', import.meta.url));
const NODE_LINE_BASELINE = fileURLToPath(new URL('./baselines/node-line.mjs', import.meta.url));

const LINE_REQUEST = 'NEXT bench\n';
const REDIS_REQUEST = '*2\r\n$4\r\nINCR\r\n$5\r\nbench\r\n';
/** Longest wait for any progress before a run is declared stuck. */
const STALL_MS = 8_000;
/** Longest wait for one one-shot connection. */
const ONE_SHOT_TIMEOUT_MS = 5_000;

/**
 * Settings of (f) from the environment: BENCH_TCP_SECONDS (per repeat, default 3,
 * quick 0.5), BENCH_TCP_REPEATS (default 3, quick 1), BENCH_REDIS_SERVER (path,
 * default /usr/bin/redis-server). Bounded: at most 10 s × 5 repeats.
 */
export function tcpSettings(quick = process.env.BENCH_QUICK === '1') {
  return {
    oneShotConcurrency: 32,
    lineConnections: 50,
    lineDepth: 16,
    /** Load shapes of the line and Redis rows: connections × requests in flight on each. */
    lineShapes: [
      { connections: 50, depth: 16 },
      { connections: 1, depth: 1 },
      { connections: 200, depth: 1 },
    ],
    durationMs: Math.round(envNumber('BENCH_TCP_SECONDS', quick ? 0.5 : 3, 0.2, 10) * 1000),
    repeats: Math.round(envNumber('BENCH_TCP_REPEATS', quick ? 1 : 3, 1, 5)),
    /** Unrecorded start of every run (connections ramp up). */
    warmupMs: quick ? 150 : 300,
    /** Unrecorded run per target before the first repeat (JIT, lease growth). */
    serverWarmupMs: quick ? 300 : 1000,
    redisServer: process.env.BENCH_REDIS_SERVER || DEFAULT_REDIS_SERVER,
    /** Worker processes of the `--workers` row (one per core, at least 2). */
    workers: benchWorkerCount(),
    sequence: 'bench',
  };
}

/** A free loopback port (listen on 0, close). Another process could take it meanwhile; the start then fails loudly. */
async function freePort() {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- Redis ------------------------------------------------------------------------

/** One PING over RESP; resolves true on +PONG. */
function redisPing(port, timeoutMs = 500) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    const done = (ok) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n')) done(text.startsWith('+PONG'));
    });
    socket.on('error', () => done(false));
  });
}

/**
 * Starts redis-server on a free loopback port, no persistence. Returns a handle
 * shaped like zmq-load's (`pid`, `failure`, `onFailure`, `stop`), or undefined
 * when the binary is missing.
 */
async function startRedis(binary, log) {
  if (!existsSync(binary)) return undefined;
  let version = 'unknown';
  try {
    version = execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 5_000 }).trim();
  } catch {
    // reported as unknown
  }
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--databases', '1'];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const handle = { label: 'redis', child, pid: child.pid, port, version, args: [binary, ...args].join(' '), output: '' };
  superviseChild(handle, child, { exitFailure: (code, signal) => ({ reason: `redis-server exited (code ${code}, signal ${signal})` }), graceMs: 3_000 });
  const capture = (chunk) => {
    if (handle.output.length < 8192) handle.output += chunk;
  };
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', capture);
  child.stderr.on('data', capture);
  const deadline = Date.now() + 10_000;
  while (!(await redisPing(port))) {
    if (handle.failure || Date.now() > deadline) {
      await handle.stop();
      throw new Error(`redis-server did not answer PING on 127.0.0.1:${port}: ${handle.failure?.reason ?? 'timeout'}; output: ${handle.output.trim().slice(-500)}`);
    }
    await sleep(50);
  }
  log(`tcp benchmark: ${version.split(' ').slice(0, 3).join(' ')} pid ${handle.pid} on 127.0.0.1:${port}`);
  return handle;
}

// ---- the Go one-shot baseline ----------------------------------------------------------

/**
 * Builds bench/baselines/oneshot.go with `go build` into a temp dir and starts
 * it on a free loopback port. Returns a handle shaped like startRedis's, or
 * `{ skipped }` naming why there is no Go row (no `go`, the build failed).
 */
async function startGoOneShot(log) {
  let go;
  try {
    go = execFileSync('sh', ['-c', 'command -v go'], { encoding: 'utf8', timeout: 5_000 }).trim();
  } catch {
    return { skipped: 'go not installed (apt-get install golang-go): Go one-shot baseline row skipped' };
  }
  const dir = mkdtempSync(join(os.tmpdir(), 'ticket-bench-go-'));
  const binary = join(dir, 'oneshot');
  let version = 'unknown';
  try {
    version = execFileSync(go, ['version'], { encoding: 'utf8', timeout: 10_000 }).trim();
    // A single file with only the standard library: no module, no network (GOPROXY=off).
    execFileSync(go, ['build', '-o', binary, GO_BASELINE], {
      cwd: dir,
      timeout: 120_000,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GOFLAGS: '', GOPROXY: 'off', GOCACHE: process.env.GOCACHE ?? join(os.tmpdir(), 'ticket-bench-gocache') },
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    return { skipped: `go build of bench/baselines/oneshot.go failed (${String(error.stderr ?? error.message).trim().slice(0, 200)}): Go one-shot baseline row skipped` };
  }
  const port = await freePort();
  const handle = spawnBaseline('go one-shot', binary, ['-addr', `127.0.0.1:${port}`], port, () => rmSync(dir, { recursive: true, force: true }));
  handle.version = version;
  const deadline = Date.now() + 10_000;
  while (!/^[0-9]+\n$/.test((await oneShot('127.0.0.1', port)).text)) {
    if (handle.failure || Date.now() > deadline) {
      await handle.stop();
      return { skipped: `the Go one-shot server did not answer on 127.0.0.1:${port}: Go row skipped` };
    }
    await sleep(50);
  }
  log(`tcp benchmark: Go one-shot baseline (${version}) pid ${handle.pid} on 127.0.0.1:${port}`);
  return handle;
}

/** Starts a baseline server process on `port` (a handle from `superviseChild`); `cleanup` runs when it exits. */
function spawnBaseline(label, command, args, port, cleanup = () => undefined) {
  const child = spawn(command, args, { stdio: 'ignore' });
  const handle = { label, child, pid: child.pid, port };
  superviseChild(handle, child, { exitFailure: (code, signal) => ({ reason: `${label} server exited (code ${code}, signal ${signal})` }), onExit: cleanup, graceMs: 1_000 });
  return handle;
}

// ---- the minimal Node line server (the floor of any Node server) ----------------------

/** Answers one `NEXT bench` on a fresh connection: the reply line, or '' on failure. */
function lineOnce(host, port, timeoutMs = 500) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let text = '';
    const done = (value) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(''), timeoutMs);
    socket.on('error', () => done(''));
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (text.includes('\n')) done(text);
    });
    socket.write(LINE_REQUEST);
  });
}

/** Starts bench/baselines/node-line.mjs on a free loopback port; `{ skipped }` when it does not answer. */
async function startNodeFloor(log) {
  const port = await freePort();
  const handle = spawnBaseline('node floor', process.execPath, [NODE_LINE_BASELINE, String(port)], port);
  const deadline = Date.now() + 10_000;
  while (!/^[0-9]+\n$/.test(await lineOnce('127.0.0.1', port))) {
    if (handle.failure || Date.now() > deadline) {
      await handle.stop();
      return { skipped: `the minimal Node line server did not answer on 127.0.0.1:${port}: node floor rows skipped` };
    }
    await sleep(50);
  }
  log(`tcp benchmark: minimal Node line server pid ${handle.pid} on 127.0.0.1:${port}`);
  return handle;
}

/** CPU seconds of a server: its process, and for `--workers` every child process too (owner + workers). */
function serverCpuSeconds(server) {
  return (server.pids ? server.pids() : [server.pid]).reduce((sum, pid) => sum + processCpuSeconds(pid), 0);
}

/** Child process ids of `pid` (Linux /proc; none where it is missing). */
function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter((text) => text !== '').map(Number);
  } catch {
    return [];
  }
}

/** Workers of the `--workers` row: one per core, at least 2 (a one-core machine still shows the cost). */
export function benchWorkerCount() {
  return Math.max(2, Math.min(os.availableParallelism(), 16));
}

/**
 * Starts `ticket-server --workers N` (memory store, line protocol on a free port) and waits until
 * a worker answers a line request; its CPU is the owner's plus every worker's. `{ skipped }` on failure.
 */
async function startWorkersServer(workers, log) {
  const port = await freePort();
  let handle;
  try {
    handle = await startServer(`ticket-server --workers ${workers}`, ['--store', 'memory:', '--workers', String(workers), '--line', `127.0.0.1:${port}`], {
      baseArgs: ['--bind', 'tcp://127.0.0.1:0', '--http', 'off', '--admin', 'off', '--log-level', 'info'],
      startTimeoutMs: 30_000,
    });
  } catch (error) {
    return { skipped: `ticket-server --workers ${workers} did not start: ${error.message}: workers rows skipped` };
  }
  const deadline = Date.now() + 30_000;
  while (!/^[0-9]+\n$/.test(await lineOnce('127.0.0.1', port))) {
    if (handle.failure || Date.now() > deadline) {
      await handle.stop();
      return { skipped: `ticket-server --workers ${workers} did not answer on 127.0.0.1:${port}: workers rows skipped` };
    }
    await sleep(100);
  }
  handle.port = port;
  handle.pids = () => [handle.pid, ...childPids(handle.pid)];
  log(`tcp benchmark: ticket-server --workers ${workers} pid ${handle.pid} (workers ${childPids(handle.pid).join(', ')}), line 127.0.0.1:${port}`);
  return handle;
}

// ---- load: pipelined closed loop (line protocol and Redis) -------------------------

/**
 * `connections` sockets, each keeping `depth` requests in flight: every reply
 * is answered with one new request (the new requests of one socket read go out
 * in one write). Replies are lines ending in LF holding one integer (`123\n`,
 * Redis `:123\r\n`); anything else in a reply (ERR, -ERR) counts as an error
 * reply. Values must increase on every connection (one server, one key).
 * Latency = send → reply, per request (FIFO per connection).
 * With `textReplies` (a formatted sequence: `INV-2026-0000018\n`), any reply
 * is accepted except one starting with `ERR`, and order is not checked.
 */
export async function runPipelined({ server, host, port, request, connections, depth, warmupMs, durationMs, latencies, textReplies = false }) {
  if (server.failure) throw new Error(`${server.label} server failed: ${server.failure.reason}`);
  const requestBytes = Buffer.from(request);
  const batch = Buffer.alloc(requestBytes.length * depth);
  for (let index = 0; index < depth; index++) requestBytes.copy(batch, index * requestBytes.length);
  const start = performance.now();
  const measureStart = start + warmupMs;
  const measureEnd = measureStart + durationMs;
  const run = { completed: 0, errors: 0, orderViolations: 0, samples: 0, samplesDropped: 0, errorExamples: [] };
  const sockets = [];
  let lastProgress = performance.now();
  let failure;
  const cpuBefore = process.cpuUsage();
  const serverCpuBefore = serverCpuSeconds(server);
  const machineBefore = machineCpuSeconds();

  const drive = (resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    sockets.push(socket);
    const sentAt = new Float64Array(depth);
    let head = 0; // oldest in flight
    let tail = 0; // next free slot
    let outstanding = 0;
    let value = 0;
    let bad = false;
    let replyStart = -1;
    let lastValue = -1;
    let pendingText = '';
    const send = (count) => {
      const now = performance.now();
      for (let index = 0; index < count; index++) {
        sentAt[tail] = now;
        tail = (tail + 1) % depth;
      }
      outstanding += count;
      socket.write(count === depth ? batch : batch.subarray(0, count * requestBytes.length));
    };
    socket.on('connect', () => send(depth));
    socket.on('data', (chunk) => {
      const now = performance.now();
      lastProgress = now;
      const measuring = now >= measureStart && now < measureEnd;
      let replies = 0;
      for (let index = 0; index < chunk.length; index++) {
        const byte = chunk[index];
        if (replyStart < 0) {
          replyStart = index;
          if (textReplies && byte === 0x45) bad = true; // ERR …
        }
        if (textReplies && byte !== 0x0a) continue;
        if (byte >= 0x30 && byte <= 0x39) {
          value = value * 10 + (byte - 0x30);
        } else if (byte === 0x0a) {
          replies++;
          const sent = sentAt[head];
          head = (head + 1) % depth;
          outstanding--;
          if (measuring) {
            run.completed++;
            if (run.samples < latencies.length) latencies[run.samples++] = now - sent;
            else run.samplesDropped++;
          }
          if (bad) {
            if (measuring) run.errors++;
            if (run.errorExamples.length < 5) run.errorExamples.push(pendingText + chunk.toString('latin1', replyStart, index));
          } else if (!textReplies) {
            if (value <= lastValue) run.orderViolations++;
            lastValue = value;
          }
          value = 0;
          bad = false;
          replyStart = -1;
          pendingText = '';
        } else if (byte !== 0x3a && byte !== 0x0d) {
          bad = true; // not ':' (RESP integer) or CR: an error reply
        }
      }
      if (replyStart >= 0 && bad) pendingText += chunk.toString('latin1', replyStart);
      if (replyStart >= 0) replyStart = 0;
      if (replies > 0 && now < measureEnd && failure === undefined) send(replies);
      if (outstanding === 0) {
        socket.end();
        resolve();
      }
    });
    socket.on('error', (error) => reject(error));
    socket.on('close', () => {
      if (outstanding > 0) reject(new Error(`${server.label} closed a connection with ${outstanding} requests in flight`));
    });
  };

  const unsubscribe = server.onFailure((reason) => {
    failure ??= new Error(`${server.label} server failed: ${reason.reason}`);
    for (const socket of sockets) socket.destroy();
  });
  const watchdog = setInterval(() => {
    if (performance.now() - lastProgress > STALL_MS) {
      failure ??= new Error(`${server.label}: no reply for ${STALL_MS} ms`);
      for (const socket of sockets) socket.destroy();
    }
  }, 500);
  try {
    await Promise.all(
      Array.from({ length: connections }, () =>
        new Promise(drive).catch((error) => {
          failure ??= error;
          for (const socket of sockets) socket.destroy();
        }),
      ),
    );
  } finally {
    clearInterval(watchdog);
    unsubscribe();
    for (const socket of sockets) socket.destroy();
  }
  if (failure) throw failure instanceof Error ? failure : new Error(String(failure));
  const wallSeconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const serverCpu = serverCpuSeconds(server) - serverCpuBefore;
  const machineBusy = machineCpuSeconds().busy - machineBefore.busy;
  return finish(run, latencies, durationMs, wallSeconds, cpu, serverCpu, machineBusy);
}

function finish(run, latencies, durationMs, wallSeconds, cpu, serverCpu, machineBusy) {
  const sorted = latencies.subarray(0, run.samples).sort();
  const p = (q) => round(percentileSorted(sorted, run.samples, q) * 1000); // µs
  const benchCpu = (cpu.user + cpu.system) / 1e6;
  const { samples, samplesDropped, ...counts } = run;
  return {
    ...counts,
    durationMs,
    requestsPerSecond: round(run.completed / (durationMs / 1000)),
    latencyUs: { p50: p(0.5), p90: p(0.9), p99: p(0.99), p999: p(0.999), max: p(1), samples, samplesDropped },
    benchCpuCores: round(benchCpu / wallSeconds, 3),
    serverCpuCores: round(serverCpu / wallSeconds, 3),
    otherCpuCores: round(Math.max(0, machineBusy - serverCpu - benchCpu) / wallSeconds, 3),
    sortedLatenciesMs: Float64Array.from(sorted),
  };
}

// ---- load: one-shot connections -------------------------------------------------------

/** One §6.4 connection: resolves with what was read to EOF, or an error code. */
function oneShot(host, port) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const chunks = [];
    let error;
    const timer = setTimeout(() => {
      error = 'timeout';
      socket.destroy();
    }, ONE_SHOT_TIMEOUT_MS);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (err) => {
      error = err.code ?? err.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text: chunks.length === 1 ? chunks[0].toString('latin1') : Buffer.concat(chunks).toString('latin1'), error });
    });
  });
}

/**
 * `concurrency` connectors, each in a loop until the end of the run: connect,
 * read to EOF, check `^\d+\n$`. Every measured value must be distinct, and the
 * values of one connector must increase (one server, one sequence).
 */
export async function runOneShot({ server, host, port, concurrency, warmupMs, durationMs, latencies }) {
  if (server.failure) throw new Error(`${server.label} server failed: ${server.failure.reason}`);
  const start = performance.now();
  const measureStart = start + warmupMs;
  const measureEnd = measureStart + durationMs;
  const run = { completed: 0, errors: 0, failureReplies: 0, malformed: 0, orderViolations: 0, duplicates: 0, samples: 0, samplesDropped: 0, errorExamples: [] };
  const seen = new Set();
  let aborted;
  const unsubscribe = server.onFailure((reason) => {
    aborted ??= new Error(`${server.label} server failed: ${reason.reason}`);
  });
  const cpuBefore = process.cpuUsage();
  const serverCpuBefore = serverCpuSeconds(server);
  const machineBefore = machineCpuSeconds();
  const connector = async () => {
    let last = -1n;
    while (aborted === undefined) {
      const sentAt = performance.now();
      if (sentAt >= measureEnd) return;
      const { text, error } = await oneShot(host, port);
      const now = performance.now();
      const measuring = sentAt >= measureStart && now < measureEnd;
      const ok = error === undefined && /^[0-9]+\n$/.test(text);
      if (measuring) {
        run.completed++;
        if (run.samples < latencies.length) latencies[run.samples++] = now - sentAt;
        else run.samplesDropped++;
        if (error !== undefined) run.errors++;
        else if (text === '-1\n') run.failureReplies++;
        else if (!ok) run.malformed++;
      }
      if (!ok && run.errorExamples.length < 5) run.errorExamples.push(error ?? JSON.stringify(text));
      if (ok) {
        const value = BigInt(text.slice(0, -1));
        if (value <= last) run.orderViolations++;
        last = value;
        if (measuring) {
          if (seen.has(value)) run.duplicates++;
          seen.add(value);
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, connector));
  } finally {
    unsubscribe();
  }
  if (aborted) throw aborted instanceof Error ? aborted : new Error(String(aborted));
  const wallSeconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const serverCpu = serverCpuSeconds(server) - serverCpuBefore;
  const machineBusy = machineCpuSeconds().busy - machineBefore.busy;
  const result = finish(run, latencies, durationMs, wallSeconds, cpu, serverCpu, machineBusy);
  result.connectionsPerSecond = result.requestsPerSecond;
  result.distinctValues = seen.size;
  return result;
}

// ---- the section ---------------------------------------------------------------------

/** Combines the recorded repeats of one row. */
function combine(runs) {
  const rates = runs.map((run) => run.requestsPerSecond);
  const mean = (key) => (runs.length === 0 ? NaN : round(runs.reduce((sum, run) => sum + run[key], 0) / runs.length, 3));
  const sum = (key) => runs.reduce((total, run) => total + (run[key] ?? 0), 0);
  return {
    requestsPerSecond: round(median(rates)),
    spread: runs.length === 0 ? NaN : round((Math.max(...rates) - Math.min(...rates)) / median(rates), 3),
    repeatsRequestsPerSecond: rates,
    latencyUs: pooledLatencyUs(runs),
    completed: sum('completed'),
    errors: sum('errors') + sum('failureReplies') + sum('malformed'),
    orderViolations: sum('orderViolations'),
    duplicates: sum('duplicates'),
    errorExamples: runs.flatMap((run) => run.errorExamples).slice(0, 5),
    // Requests per CPU-second of the server: per repeat (rate ÷ server cores over the run), median.
    perServerCpuSecond: round(median(runs.map((run) => run.requestsPerSecond / Math.max(run.serverCpuCores, 1e-6)))),
    perServerCpuSecondRepeats: runs.map((run) => round(run.requestsPerSecond / Math.max(run.serverCpuCores, 1e-6))),
    serverCpuCores: mean('serverCpuCores'),
    benchCpuCores: mean('benchCpuCores'),
    otherCpuCores: mean('otherCpuCores'),
    runs: runs.length,
  };
}

/** Row key of a line or Redis row at one shape: `line@50x16`. */
export function shapeRow(target, shape) {
  return `${target}@${shape.connections}x${shape.depth}`;
}

/** Throughput and per-CPU-second ratios of two combined rows (NaN when either is missing). */
function ratios(numerator, denominator) {
  const ok = numerator && denominator && numerator.runs > 0 && denominator.runs > 0;
  return {
    rate: ok ? round(numerator.requestsPerSecond / denominator.requestsPerSecond) : NaN,
    perCpuSecond: ok ? round(numerator.perServerCpuSecond / denominator.perServerCpuSecond) : NaN,
    p99: ok ? round(numerator.latencyUs.p99 / denominator.latencyUs.p99) : NaN,
  };
}

/**
 * Runs section (f). Options: the `tcpSettings()` fields, and `log` (progress sink).
 * Starts one ticket-server (`--store memory: --tcp --line`) and, if installed,
 * one redis-server and the Go one-shot baseline; stops them all before returning.
 */
export async function runTcp(options) {
  const s = { ...tcpSettings(), ...options };
  const log = s.log ?? (() => undefined);
  const failures = [];
  const runs = [];
  const latencies = new Float64Array(Math.ceil((Math.max(s.durationMs, s.serverWarmupMs) / 1000) * 1_500_000) + 1000);
  const [tcpPort, linePort] = [await freePort(), await freePort()];
  const serverArgs = ['--store', 'memory:', '--tcp', `127.0.0.1:${tcpPort}`, '--line', `127.0.0.1:${linePort}`];
  let ticket;
  let redis;
  let redisSkipped;
  let go;
  let goSkipped;
  let nodeFloor;
  let nodeSkipped;
  let workersServer;
  let workersSkipped;
  const targets = {};
  try {
    ticket = await startServer('ticket-server', serverArgs);
    log(`tcp benchmark: ticket-server pid ${ticket.pid}, one-shot 127.0.0.1:${tcpPort}, line 127.0.0.1:${linePort}`);
    targets.line = { server: ticket, port: linePort, request: LINE_REQUEST };
    try {
      redis = await startRedis(s.redisServer, log);
      if (redis) targets.redis = { server: redis, port: redis.port, request: REDIS_REQUEST };
      else redisSkipped = `redis-server not installed (apt-get install redis-server): Redis row skipped (looked for ${s.redisServer})`;
    } catch (error) {
      redisSkipped = `redis-server did not start: ${error.message}: Redis row skipped`;
    }
    if (redisSkipped) log(`tcp benchmark: ${redisSkipped}`);
    const floor = await startNodeFloor(log);
    if (floor.skipped) {
      nodeSkipped = floor.skipped;
      log(`tcp benchmark: ${nodeSkipped}`);
    } else {
      nodeFloor = floor;
      targets.node = { server: nodeFloor, port: nodeFloor.port, request: LINE_REQUEST };
    }
    const workersStart = await startWorkersServer(s.workers, log);
    if (workersStart.skipped) {
      workersSkipped = workersStart.skipped;
      log(`tcp benchmark: ${workersSkipped}`);
    } else {
      workersServer = workersStart;
      targets.workers = { server: workersServer, port: workersServer.port, request: LINE_REQUEST };
    }
    const started = await startGoOneShot(log);
    if (started.skipped) {
      goSkipped = started.skipped;
      log(`tcp benchmark: ${goSkipped}`);
    } else go = started;

    const oneShotTargets = { oneShot: { server: ticket, port: tcpPort } };
    if (go) oneShotTargets.oneShotGo = { server: go, port: go.port };
    const oneShotLoad = (row, ms, warmupMs) => {
      const { server, port } = oneShotTargets[row];
      return runOneShot({ server, host: '127.0.0.1', port, concurrency: s.oneShotConcurrency, warmupMs, durationMs: ms, latencies });
    };
    const lineLoad = (target, shape, ms, warmupMs) => {
      const { server, port, request } = targets[target];
      return runPipelined({ server, host: '127.0.0.1', port, request, connections: shape.connections, depth: shape.depth, warmupMs, durationMs: ms, latencies });
    };
    const lineTargets = Object.keys(targets);
    const oneShotRows = Object.keys(oneShotTargets);
    const measure = (row, shape, ms, warmupMs) => (shape ? lineLoad(row, shape, ms, warmupMs) : oneShotLoad(row, ms, warmupMs));

    // Warm-up of every server and shape (JIT, lease growth), not recorded.
    const warmups = [
      ...oneShotRows.map((row) => ({ row, shape: undefined })),
      ...s.lineShapes.flatMap((shape) => lineTargets.map((row) => ({ row, shape }))),
    ];
    for (const { row, shape } of warmups) {
      try {
        await measure(row, shape, shape && shape !== s.lineShapes[0] ? Math.min(s.serverWarmupMs, 500) : s.serverWarmupMs, 0);
      } catch (error) {
        const key = shape ? shapeRow(row, shape) : row;
        failures.push({ row: key, phase: 'warm-up', message: error.message });
        log(`tcp benchmark ${key} warm-up: FAILED: ${error.message}`);
      }
    }
    for (let repeat = 0; repeat < s.repeats; repeat++) {
      // Each pair of rows that is compared runs back to back, the order swapped every repeat (A B, then B A).
      const swap = (list) => (repeat % 2 === 0 ? list : [...list].reverse());
      const order = [
        ...swap(oneShotRows).map((row) => ({ row, shape: undefined })),
        ...s.lineShapes.flatMap((shape) => swap(lineTargets).map((row) => ({ row, shape }))),
      ];
      for (const { row, shape } of order) {
        const key = shape ? shapeRow(row, shape) : row;
        try {
          const run = await measure(row, shape, s.durationMs, s.warmupMs);
          log(`tcp ${key.padEnd(14)} repeat ${repeat + 1}: ${formatRate(run.requestsPerSecond)}, per server CPU-s ${formatRate(run.requestsPerSecond / Math.max(run.serverCpuCores, 1e-6))}, ` +
            `p50 ${run.latencyUs.p50} µs, p99 ${run.latencyUs.p99} µs, errors ${run.errors + (run.failureReplies ?? 0) + (run.malformed ?? 0)}, CPU server ${run.serverCpuCores} bench ${run.benchCpuCores} other ${run.otherCpuCores}`);
          runs.push({ row: key, repeat, ...run });
        } catch (error) {
          failures.push({ row: key, phase: 'measure', repeat, message: error.message });
          log(`tcp benchmark ${key} repeat ${repeat + 1}: FAILED: ${error.message}`);
        }
      }
    }
  } finally {
    if (go) go.exit = await go.stop();
    if (nodeFloor) nodeFloor.exit = await nodeFloor.stop();
    if (workersServer) workersServer.exit = await workersServer.stop();
    if (redis) redis.exit = await redis.stop();
    if (ticket) ticket.exit = await ticket.stop();
  }
  const rowKeys = [...new Set(runs.map((run) => run.row))];
  const rows = Object.fromEntries(rowKeys.map((row) => [row, combine(runs.filter((run) => run.row === row))]));
  for (const run of runs) delete run.sortedLatenciesMs;
  const shapes = s.lineShapes.map((shape) => ({
    ...shape,
    lineOverRedis: ratios(rows[shapeRow('line', shape)], rows[shapeRow('redis', shape)]),
    // How close the line protocol is to what any Node server pays (no target: an explanation of the rest).
    lineOverNodeFloor: ratios(rows[shapeRow('line', shape)], rows[shapeRow('node', shape)]),
    nodeFloorOverRedis: ratios(rows[shapeRow('node', shape)], rows[shapeRow('redis', shape)]),
    // `--workers N`: every core on the line protocol, against Redis and against one process.
    workersOverRedis: ratios(rows[shapeRow('workers', shape)], rows[shapeRow('redis', shape)]),
    workersOverLine: ratios(rows[shapeRow('workers', shape)], rows[shapeRow('line', shape)]),
  }));
  for (const shape of shapes) shape.meetsTarget = Number.isFinite(shape.lineOverRedis.rate) ? shape.lineOverRedis.rate >= TARGET_LINE_OVER_REDIS : null;
  const oneShotOverGo = ratios(rows.oneShot, rows.oneShotGo);
  const first = shapes[0];
  return {
    settings: {
      oneShotConcurrency: s.oneShotConcurrency,
      lineShapes: s.lineShapes,
      durationMs: s.durationMs,
      repeats: s.repeats,
      warmupMs: s.warmupMs,
      serverWarmupMs: s.serverWarmupMs,
      lineRequest: LINE_REQUEST,
      redisRequest: REDIS_REQUEST,
      serverArgs: `--bind tcp://127.0.0.1:0 --http 127.0.0.1:0 --admin 127.0.0.1:0 --log-level info ${serverArgs.join(' ')}`,
      redisArgs: redis?.args,
      redisVersion: redis?.version,
      goVersion: go?.version,
      goBaseline: 'bench/baselines/oneshot.go',
      nodeFloorBaseline: 'bench/baselines/node-line.mjs',
      workers: s.workers,
    },
    redisSkipped,
    goSkipped,
    nodeSkipped,
    workersSkipped,
    servers: {
      ticketServer: ticket && { pid: ticket.pid, failure: ticket.failure, warnings: ticket.logs.warnings, stderr: ticket.logs.stderr, exit: ticket.exit },
      redis: redis && { pid: redis.pid, port: redis.port, failure: redis.failure, exit: redis.exit },
      goOneShot: go && { pid: go.pid, port: go.port, failure: go.failure, exit: go.exit },
      nodeFloor: nodeFloor && { pid: nodeFloor.pid, port: nodeFloor.port, failure: nodeFloor.failure, exit: nodeFloor.exit },
      workers: workersServer && { pid: workersServer.pid, port: workersServer.port, failure: workersServer.failure, exit: workersServer.exit },
    },
    failures,
    rows,
    shapes,
    /** The first shape (50 × 16), as before. */
    lineOverRedis: first.lineOverRedis.rate,
    meetsTarget: first.meetsTarget,
    oneShotOverGo,
    oneShotMeetsTarget: Number.isFinite(oneShotOverGo.rate) ? oneShotOverGo.rate >= TARGET_ONE_SHOT_OVER_GO : null,
    runs,
  };
}

function fixed(value) {
  return Number.isFinite(value) ? value.toFixed(2) : 'n/a';
}

function percent(value) {
  return Number.isFinite(value) ? `${(value * 100).toFixed(0)}%` : 'n/a';
}

/** Target of the formatted-sequence row: formatted ÷ plain at 50 × 16 on the line protocol. */
export const TARGET_FORMATTED_OVER_PLAIN = 0.8;

/** The formatted sequence of that row: yearly, with a Luhn digit (an invoice number). */
const FORMATTED_SEQUENCES = { INV: { period: 'yearly', format: 'INV-{yyyy}-{value:6}{check}', check: 'luhn' } };

/**
 * The cost of a sequence definition on the hot path: one server (`--store
 * memory:`, `--line`, INV defined with `--sequences`), 50 connections × 16
 * `NEXT INV` (formatted, yearly, Luhn) against the same load of `NEXT bench`
 * (plain), alternating the order each repeat. Bounded like `runTcp`.
 */
export async function runFormatted(options) {
  const s = { ...tcpSettings(), ...options };
  const log = s.log ?? (() => undefined);
  const shape = s.lineShapes[0];
  const latencies = new Float64Array(Math.ceil((Math.max(s.durationMs, s.serverWarmupMs) / 1000) * 1_500_000) + 1000);
  const linePort = await freePort();
  const runs = [];
  const failures = [];
  let ticket;
  try {
    ticket = await startServer('ticket-server', ['--store', 'memory:', '--line', `127.0.0.1:${linePort}`, '--sequences', JSON.stringify(FORMATTED_SEQUENCES)]);
    const rows = { plain: { request: LINE_REQUEST, textReplies: false }, formatted: { request: 'NEXT INV\n', textReplies: true } };
    const load = (row, ms, warmupMs) =>
      runPipelined({ server: ticket, host: '127.0.0.1', port: linePort, connections: shape.connections, depth: shape.depth, warmupMs, durationMs: ms, latencies, ...rows[row] });
    for (const row of Object.keys(rows)) await load(row, s.serverWarmupMs, 0);
    for (let repeat = 0; repeat < s.repeats; repeat++) {
      const order = repeat % 2 === 0 ? ['plain', 'formatted'] : ['formatted', 'plain'];
      for (const row of order) {
        try {
          const run = await load(row, s.durationMs, s.warmupMs);
          log(`formatted ${row.padEnd(9)} repeat ${repeat + 1}: ${formatRate(run.requestsPerSecond)}, per server CPU-s ${formatRate(run.requestsPerSecond / Math.max(run.serverCpuCores, 1e-6))}, p99 ${run.latencyUs.p99} µs, errors ${run.errors}`);
          runs.push({ row, repeat, ...run });
        } catch (error) {
          failures.push({ row, repeat, message: error.message });
          log(`formatted ${row} repeat ${repeat + 1}: FAILED: ${error.message}`);
        }
      }
    }
  } finally {
    if (ticket) ticket.exit = await ticket.stop();
  }
  const rows = Object.fromEntries(['plain', 'formatted'].map((row) => [row, combine(runs.filter((run) => run.row === row))]));
  for (const run of runs) delete run.sortedLatenciesMs;
  const formattedOverPlain = ratios(rows.formatted, rows.plain);
  return {
    settings: { shape, durationMs: s.durationMs, repeats: s.repeats, sequences: FORMATTED_SEQUENCES },
    rows,
    runs,
    failures,
    formattedOverPlain,
    target: TARGET_FORMATTED_OVER_PLAIN,
    meetsTarget: Number.isFinite(formattedOverPlain.rate) ? formattedOverPlain.rate >= TARGET_FORMATTED_OVER_PLAIN : null,
  };
}

/** Prints section (f). */
export function printTcp(result) {
  const { settings: s, rows, failures } = result;
  const shapesText = s.lineShapes.map((shape) => `${shape.connections} × ${shape.depth}`).join(', ');
  console.log(`\n(f) Raw TCP (ticket-server --store memory: --tcp --line, a child process), ${s.repeats} × ${s.durationMs / 1000} s per row after a ${s.warmupMs} ms ramp-up` +
    ` (and one unrecorded warm-up per row); compared rows back to back, order swapped every repeat (A B / B A):`);
  console.log(`    one-shot = ${s.oneShotConcurrency} concurrent connectors, each: connect, read "<value>\\n" to EOF, again (rate = connections/s);`);
  console.log(`    go one-shot = the same load against bench/baselines/oneshot.go (accept, write a counter and "\\n", close)${s.goVersion ? `, ${s.goVersion}` : ''};`);
  console.log(`    line C×D = C connections × D pipelined "NEXT bench\\n" (closed loop: each reply is answered with a new request), shapes ${shapesText};`);
  console.log(`    line C×D --workers ${s.workers} = the same load against ticket-server --workers ${s.workers} --store memory: (an owner and ${s.workers} worker processes; per CPU-s counts all of them);`);
  console.log('    node floor C×D = the same load against bench/baselines/node-line.mjs (node:net, a counter per line, one write per read: what any Node server pays);');
  console.log(`    redis C×D = redis-server INCR bench over RESP at the same shape${s.redisVersion ? ` (${s.redisVersion.split(' ').slice(0, 3).join(' ')}, --save '' --appendonly no)` : ''}.`);
  console.log(`    rate = median of the repeats; per CPU-s = requests per CPU-second of that server (utime+stime from /proc), median of the repeats;`);
  console.log(`    p50/p99 per request (send → reply) over all repeats. The load generator is THIS process, on the same ${os.cpus().length} cores`);
  console.log(`    as the server under test: both rows of a pair pay that alike; absolute rates are a lower bound.`);
  const line = (label, point, unit) => [
    label,
    !point || point.runs === 0 ? 'n/a' : `${formatRate(point.requestsPerSecond).replace('/s', '')} ${unit}`,
    !point || point.runs === 0 ? 'n/a' : formatRate(point.perServerCpuSecond).replace('/s', ''),
    point ? formatLatency(point.latencyUs.p50 / 1000) : 'n/a',
    point ? formatLatency(point.latencyUs.p99 / 1000) : 'n/a',
    point ? percent(point.spread) : 'n/a',
    point ? String(point.errors) : 'n/a',
    point ? String(point.orderViolations) : 'n/a',
    point ? fixed(point.serverCpuCores) : 'n/a',
    point ? fixed(point.benchCpuCores) : 'n/a',
    point ? fixed(point.otherCpuCores) : 'n/a',
  ];
  const table = [line('one-shot (--tcp)', rows.oneShot, 'conn/s')];
  if (rows.oneShotGo) table.push(line('go one-shot', rows.oneShotGo, 'conn/s'));
  for (const shape of s.lineShapes) {
    const size = `${shape.connections}×${shape.depth}`;
    table.push(line(`line NEXT ${size}`, rows[shapeRow('line', shape)], 'req/s'));
    if (rows[shapeRow('workers', shape)]) table.push(line(`line ${size} --workers ${s.workers}`, rows[shapeRow('workers', shape)], 'req/s'));
    if (rows[shapeRow('node', shape)]) table.push(line(`node floor ${size}`, rows[shapeRow('node', shape)], 'req/s'));
    if (rows[shapeRow('redis', shape)]) table.push(line(`redis INCR ${size}`, rows[shapeRow('redis', shape)], 'req/s'));
  }
  console.log(renderTable(['row', 'rate', 'per CPU-s', 'p50', 'p99', 'spread', 'errors', 'order viol.', 'server CPU', 'bench CPU', 'other CPU'], table));
  if (result.goSkipped) console.log(`  ${result.goSkipped}`);
  else {
    const r = result.oneShotOverGo;
    const verdict = result.oneShotMeetsTarget === null ? 'n/a' : result.oneShotMeetsTarget ? 'PASS' : 'FAIL';
    console.log(`  ticket-server one-shot ÷ Go one-shot: ${formatRatio(r.rate)} (per CPU-s ${formatRatio(r.perCpuSecond)}; target ≥ ${TARGET_ONE_SHOT_OVER_GO}: ${verdict})`);
  }
  if (result.nodeSkipped) console.log(`  ${result.nodeSkipped}`);
  if (result.workersSkipped) console.log(`  ${result.workersSkipped}`);
  if (result.redisSkipped) console.log(`  ${result.redisSkipped}`);
  else {
    for (const shape of result.shapes) {
      const r = shape.lineOverRedis;
      const verdict = shape.meetsTarget === null ? 'n/a' : shape.meetsTarget ? 'PASS' : 'FAIL';
      console.log(`  ticket-server line ÷ Redis INCR at ${shape.connections}×${shape.depth}: ${formatRatio(r.rate)} (per CPU-s ${formatRatio(r.perCpuSecond)}, p99 ${formatRatio(r.p99)}; target ≥ ${TARGET_LINE_OVER_REDIS}: ${verdict})`);
      const floor = shape.lineOverNodeFloor;
      const floorOverRedis = shape.nodeFloorOverRedis;
      if (Number.isFinite(floor.rate)) {
        console.log(`    line ÷ node floor ${formatRatio(floor.rate)} (per CPU-s ${formatRatio(floor.perCpuSecond)}); node floor ÷ Redis ${formatRatio(floorOverRedis.rate)} (per CPU-s ${formatRatio(floorOverRedis.perCpuSecond)})`);
      }
      const workers = shape.workersOverRedis;
      if (Number.isFinite(workers.rate)) {
        const verdict = workers.rate >= TARGET_LINE_OVER_REDIS ? 'PASS' : 'FAIL';
        console.log(`    line --workers ${s.workers} ÷ Redis ${formatRatio(workers.rate)} (per CPU-s ${formatRatio(workers.perCpuSecond)}, p99 ${formatRatio(workers.p99)}; target ≥ ${TARGET_LINE_OVER_REDIS}: ${verdict}); ÷ one process ${formatRatio(shape.workersOverLine.rate)} (per CPU-s ${formatRatio(shape.workersOverLine.perCpuSecond)})`);
      }
    }
  }
  for (const [label, o] of [['one-shot', rows.oneShot], ['go one-shot', rows.oneShotGo]]) {
    if (!o) continue;
    console.log(o.completed > 0 && o.errors === 0 && o.duplicates === 0 && o.orderViolations === 0
      ? `  ${label}: ${o.completed} measured connections, every reply "<digits>\\n" then EOF, all distinct, increasing per connector`
      : `  PROBLEM ${label}: ${o.completed} measured, ${o.errors} errors/-1/malformed, ${o.duplicates} duplicates, ${o.orderViolations} order violations; e.g. ${o.errorExamples.join(' | ')}`);
  }
  for (const [label, point] of Object.entries(rows)) {
    if (label.startsWith('oneShot')) continue;
    if (point.errors > 0 || point.orderViolations > 0) {
      console.log(`  PROBLEM ${label}: ${point.errors} error replies, ${point.orderViolations} values not above the one before; e.g. ${point.errorExamples.join(' | ')}`);
    }
  }
  for (const entry of failures) console.log(`  FAILED RUN: ${entry.row} ${entry.phase}${entry.repeat === undefined ? '' : ` repeat ${entry.repeat + 1}`}: ${entry.message}`);
  const warnings = (result.servers.ticketServer?.warnings ?? []).filter((entry) => !/NOT durable/.test(entry.msg));
  if (warnings.length > 0) console.log(`  ticket-server logged: ${warnings.map((entry) => entry.msg).join(' | ')}`);
}

// ---- standalone: node bench/tcp-load.mjs -------------------------------------------

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const cleanup = () => killAllChildren();
  process.on('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      cleanup();
      process.exit(130);
    });
  }
  const settings = tcpSettings();
  const rowsPerRepeat = 2 + 4 * settings.lineShapes.length;
  const planned = (settings.repeats * (settings.warmupMs + settings.durationMs) + settings.serverWarmupMs) * rowsPerRepeat + 180_000;
  const watchdog = setTimeout(() => {
    process.stderr.write(`tcp benchmark: still running after ${planned / 1000} s, giving up\n`);
    cleanup();
    process.exit(1);
  }, planned);
  watchdog.unref();
  try {
    const startedAt = new Date();
    const result = await runTcp({ ...settings, log: (message) => process.stderr.write(`· ${message}\n`) });
    printTcp(result);
    const dir = fileURLToPath(new URL('./results/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${startedAt.toISOString().replace(/[:.]/g, '-')}-tcp.json`);
    writeFileSync(file, `${JSON.stringify({ startedAt: startedAt.toISOString(), quick: process.env.BENCH_QUICK === '1', tcp: result }, null, 2)}\n`);
    console.log(`results: bench/results/${file.slice(dir.length)}`);
  } catch (error) {
    process.stderr.write(`tcp benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  } finally {
    cleanup();
  }
  // zeromq (imported through zmq-load.mjs) may keep threads alive: do not wait on them.
  process.exit(process.exitCode ?? 0);
}
