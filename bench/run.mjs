#!/usr/bin/env node
// ticket-server benchmark: `npm run bench` (builds, then runs this file with `node --import tsx`).
//
// (a) In-process: single-value issuing rate of TicketService with a warm lease
//     (memory: and lmdb), next to a bare bigint counter.
// (b) ZeroMQ: the real CLI as child processes (memory: and lmdb), closed-loop
//     load from this process with 1, 16 and 64 outstanding requests.
// (c) Proxy: one memory: server and one proxy (--host) in front of it, 64
//     outstanding requests directly and through the proxy, interleaved.
// (d) Client prefetch: `ticketServer([endpoint], { prefetch: 1000 })` and a loop
//     of `await t.next('pf')` in this process, against one memory: server; then the
//     same over line://, with `t.tryNext('pf') ?? await t.next('pf')`, and both
//     transports without prefetch.
// (e) HTTP: keep-alive `POST /v1/sequences/x/next`, 64 connections (autocannon in
//     this process) against memory: and lmdb servers and a constant fastify app, a
//     fresh server process per repeat, server and load pinned to their own core.
// (f) Raw TCP (bench/tcp-load.mjs): one-shot --tcp connections/s with 32 connectors next
//     to a minimal Go one-shot server (bench/baselines/oneshot.go), and --line at
//     50 × 16, 1 × 1 and 200 × 1 next to Redis INCR at the same shapes, per second and
//     per server CPU-second (knobs BENCH_TCP_SECONDS, BENCH_TCP_REPEATS, BENCH_REDIS_SERVER).
// (g) Shared stores (bench/shared-stores.mjs): PostgreSQL, MariaDB and etcd started on free
//     loopback ports by the test harness test/helpers/db-servers.ts; single values/s through a
//     ticket-server on each, 32 concurrent callers, three ways (HTTP keep-alive; the client on
//     line://, one value per call; the same with prefetch 1000), next to the naive way at the same
//     concurrency (nextval(), Flickr's REPLACE INTO + LAST_INSERT_ID(), one etcd CAS transaction
//     per value); a missing server binary skips its store (knobs BENCH_SHARED_SECONDS,
//     BENCH_SHARED_CONCURRENCY, BENCH_SHARED_STORES).
//
// Run with `node --import tsx bench/run.mjs` (after a build; `npm run bench` does both): (g)
// imports a TypeScript file. Prints tables and writes bench/results/<timestamp>.json. See bench/README.md.
// Knobs (environment, all bounded): BENCH_VALUES, BENCH_ROUNDS, BENCH_YIELD_ROUNDS,
// BENCH_ZMQ_SECONDS, BENCH_ZMQ_REPEATS (also used by (c)), BENCH_PREFETCH_VALUES,
// BENCH_PREFETCH_ROUNDS, BENCH_HTTP_SECONDS, BENCH_HTTP_REPEATS, BENCH_HTTP_CPU_PROF (a
// directory: the (e) ticket-servers run with --cpu-prof there), BENCH_QUICK=1 (a short smoke run).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { URL, fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { HTTP_TARGETS, runHttp } from './http-load.mjs';
import { runInProcess } from './inprocess.mjs';
import { measureBareAwait, runPrefetch } from './prefetch.mjs';
import { TARGET_FORMATTED_OVER_PLAIN, TARGET_LINE_OVER_REDIS, printTcp, runFormatted, runTcp, tcpSettings } from './tcp-load.mjs';
// shared-stores.mjs imports the TypeScript harness test/helpers/db-servers.ts: run with `node --import tsx`.
import { TARGET_SHARED_OVER_NAIVE, killAllDbServersSync, printSharedStores, runSharedStores, sharedStoresPlannedMs, sharedStoresSettings } from './shared-stores.mjs';
import { TARGET_FOLLOWER_HTTP_OVER_DIRECT, leaderPlannedMs, leaderSettings, printLeader, runLeader } from './leader.mjs';
import { envNumber, formatLatency, formatRate, formatRatio, median, pooledLatencyUs, renderTable, round } from './stats.mjs';
import { killAllChildren, processCpuSeconds, runLoad, startServer } from './zmq-load.mjs';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS_DIR = join(BENCH_DIR, 'results');

/** Targets stated by the issue. */
const TARGET_VALUES_PER_SECOND = 10_000_000;
const TARGET_LMDB_OVER_MEMORY = 0.95;
const TARGET_PROXY_OVER_DIRECT = 0.8;
const TARGET_PREFETCH_VALUES_PER_SECOND = 1_000_000;
/** The issue's goal for a prefetching client in one process, on both transports (the (d) variants). */
const TARGET_PREFETCH_TRYNEXT = 10_000_000;
/** (e): ticket-server req/s ÷ constant fastify req/s. */
const TARGET_HTTP_OVER_CONSTANT = 0.9;

const quick = process.env.BENCH_QUICK === '1';
const settings = {
  inProcess: {
    values: Math.round(envNumber('BENCH_VALUES', quick ? 2_000_000 : 20_000_000, 100_000, 200_000_000)),
    rounds: Math.round(envNumber('BENCH_ROUNDS', quick ? 2 : 7, 1, 25)),
    yieldRounds: Math.round(envNumber('BENCH_YIELD_ROUNDS', quick ? 1 : 3, 0, 25)),
    yieldEvery: 1000,
    maxBlock: 10_000,
  },
  zmq: {
    concurrencies: [1, 16, 64],
    /** Dealer sockets used for a concurrency level: min(concurrency, this). */
    maxSockets: 8,
    durationMs: Math.round(envNumber('BENCH_ZMQ_SECONDS', quick ? 0.5 : 2, 0.2, 30) * 1000),
    warmupMs: quick ? 200 : 500,
    serverWarmupMs: quick ? 300 : 1000,
    repeats: Math.round(envNumber('BENCH_ZMQ_REPEATS', quick ? 1 : 3, 1, 5)),
    sequence: 'bench',
  },
};
settings.proxy = {
  concurrency: 64,
  sockets: Math.min(64, settings.zmq.maxSockets),
  durationMs: settings.zmq.durationMs,
  warmupMs: settings.zmq.warmupMs,
  serverWarmupMs: settings.zmq.serverWarmupMs,
  repeats: settings.zmq.repeats,
  sequence: 'bench-proxy',
};
settings.http = {
  connections: 64,
  pipelining: 1,
  durationMs: Math.round(envNumber('BENCH_HTTP_SECONDS', quick ? 1 : 3, 0.5, 10) * 1000),
  warmupMs: quick ? 500 : 1500,
  repeats: Math.round(envNumber('BENCH_HTTP_REPEATS', quick ? 1 : 5, 1, 9)),
  sequence: 'x',
  cpuProfDir: process.env.BENCH_HTTP_CPU_PROF || undefined,
};
settings.prefetch = {
  values: Math.round(envNumber('BENCH_PREFETCH_VALUES', quick ? 500_000 : 3_000_000, 10_000, 100_000_000)),
  rounds: Math.round(envNumber('BENCH_PREFETCH_ROUNDS', quick ? 2 : 5, 1, 25)),
  prefetch: 1000,
  sequence: 'pf',
  /** Values per round of the rows without prefetch (one round trip each). */
  unbufferedValues: quick ? 2_000 : 10_000,
};
settings.sharedStores = sharedStoresSettings(quick);
settings.leader = leaderSettings(quick);

/**
 * Whole run is killed after this, whatever happens: 8 minutes for the defaults,
 * plus whatever longer (e) settings add, plus the bound of (g) (every knob is bounded).
 */
const httpPlannedMs = HTTP_TARGETS.length * (settings.http.warmupMs + settings.http.repeats * (settings.http.durationMs + 500));
const WATCHDOG_MS = 6 * 60_000 + Math.max(0, httpPlannedMs - HTTP_TARGETS.length * (1500 + 5 * 3500)) +
  // (g) starts databases: its own bound (measurements plus generous start/stop times).
  sharedStoresPlannedMs(settings.sharedStores) +
  // (h) starts an etcd cluster and kills leaders: its own bound too.
  leaderPlannedMs(settings.leader) +
  // (f) has eight rows (three line/Redis shapes and the Go one-shot baseline) where it had three, and builds the Go baseline.
  2 * 60_000 +
  // (e) starts a fresh server per target and repeat, each with its own warm-up; (d) has five more variants.
  HTTP_TARGETS.length * settings.http.repeats * (settings.http.warmupMs + 8_000) + 3 * 60_000;

// ---- cleanup: children and temp dirs go away on every exit path -------------
const tempDirs = new Set();
function cleanupSync() {
  killAllChildren();
  killAllDbServersSync();
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  tempDirs.clear();
}
process.on('exit', cleanupSync);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    process.stderr.write(`bench: ${signal}, killing servers\n`);
    cleanupSync();
    process.exit(130);
  });
}
process.on('uncaughtException', (error) => {
  process.stderr.write(`bench: ${error.stack ?? error.message}\n`);
  cleanupSync();
  process.exit(1);
});
const watchdog = setTimeout(() => {
  process.stderr.write(`bench: still running after ${WATCHDOG_MS / 1000} s, giving up\n`);
  cleanupSync();
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();

// ---- helpers ------------------------------------------------------------------
const log = (message) => process.stderr.write(`· ${message}\n`);

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Commit checked out, read from .git without running git. */
function gitCommit() {
  try {
    const head = readFileSync(join(ROOT, '.git', 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head;
    const ref = head.slice(5);
    try {
      return readFileSync(join(ROOT, '.git', ref), 'utf8').trim();
    } catch {
      const packed = readFileSync(join(ROOT, '.git', 'packed-refs'), 'utf8');
      return packed.split('\n').find((line) => line.endsWith(` ${ref}`))?.split(' ')[0] ?? ref;
    }
  } catch {
    return undefined;
  }
}

function machineInfo() {
  const cpus = os.cpus();
  return {
    cpuCount: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuSpeedMHz: cpus[0]?.speed,
    availableParallelism: os.availableParallelism?.(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    totalMemoryMiB: Math.round(os.totalmem() / 2 ** 20),
    loadAverageAtStart: os.loadavg().map((value) => round(value, 3)),
    tmpdir: os.tmpdir(),
    zeromq: readJson(join(ROOT, 'node_modules', 'zeromq', 'package.json'))?.version,
    lmdb: readJson(join(ROOT, 'node_modules', 'lmdb', 'package.json'))?.version,
    ticketServer: readJson(join(ROOT, 'package.json'))?.version,
    commit: gitCommit(),
  };
}

function printInProcess(result) {
  const { rows, ratios, lmdbReserveLatency: probe, settings: s } = result;
  const bare = rows.bare;
  const line = (row) => [
    row.label,
    formatRate(row.bestPerSecond),
    formatRate(row.medianPerSecond),
    formatRatio(row.medianPerSecond / bare.medianPerSecond),
    String(Math.round(row.waitsPerRound.reduce((a, b) => a + b, 0) / Math.max(1, row.waitsPerRound.length))),
    row.contiguous ? 'yes' : 'NO',
  ];
  console.log(`\n(a) In-process, single values of one sequence, ${(s.values / 1e6).toFixed(1)} M values per round, ` +
    `${s.rounds} rounds (yielding rows: ${s.yieldRounds}), max-block ${s.maxBlock}, lease warmed to max-block`);
  console.log(renderTable(
    ['row', 'best', 'median', '÷ bare (median)', 'awaits/round', 'contiguous'],
    [rows.bare, rows.memory, rows.lmdb, ...(s.yieldRounds > 0 ? [rows.memoryYield, rows.lmdbYield] : [])].map(line),
  ));
  console.log(`  lmdb ÷ memory: tight loop ${formatRatio(ratios.lmdbOverMemory.median)} (median), ${formatRatio(ratios.lmdbOverMemory.best)} (best)` +
    (s.yieldRounds > 0 ? `; yielding ${formatRatio(ratios.lmdbOverMemoryYield.median)} (median)` : ''));
  console.log(`  lmdb reserve of ${s.maxBlock} slots (write txn + fsync): p50 ${formatLatency(probe.p50Ms)}, p99 ${formatLatency(probe.p99Ms)}` +
    ` → one sequence can issue at most ≈ ${formatRate(probe.ceilingPerSecond)} on lmdb (max-block ÷ reserve latency)`);
  console.log(`  the next lease is reserved when ≥ ${probe.refillAheadValues} values are left (20 %; earlier under high demand: rate × 2 × reserve latency);` +
    ' a tight synchronous loop gives no reservation a turn to complete, so there lmdb waits at every lease boundary');
  const verdict = (rate) => (rate >= TARGET_VALUES_PER_SECOND ? 'PASS' : 'FAIL');
  console.log(`  target ≥ ${formatRate(TARGET_VALUES_PER_SECOND)} (median): memory ${verdict(rows.memory.medianPerSecond)}, lmdb ${verdict(rows.lmdb.medianPerSecond)}`);
}

/** Combines the repeats of one (store, concurrency) point. */
function combinePoint(runs) {
  if (runs.length === 0) return { requestsPerSecond: NaN, completed: 0, seconds: 0, latencyUs: {}, errors: 0, orderViolations: 0, repeatsRequestsPerSecond: [] };
  const completed = runs.reduce((sum, run) => sum + run.completed, 0);
  const seconds = runs.reduce((sum, run) => sum + run.durationMs / 1000, 0);
  const rates = runs.map((run) => run.requestsPerSecond);
  return {
    // Median of the repeats: one disturbed repeat (a neighbour, a scheduler quirk) does not move it.
    requestsPerSecond: round(median(rates)),
    pooledRequestsPerSecond: round(completed / seconds),
    spread: round((Math.max(...rates) - Math.min(...rates)) / median(rates), 3),
    completed,
    seconds,
    latencyUs: pooledLatencyUs(runs),
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
    orderViolations: runs.reduce((sum, run) => sum + run.orderViolations, 0),
    benchCpuCores: round(runs.reduce((sum, run) => sum + run.benchCpuCores, 0) / runs.length, 3),
    serverCpuCores: round(runs.reduce((sum, run) => sum + run.serverCpuCores, 0) / runs.length, 3),
    otherCpuCores: round(runs.reduce((sum, run) => sum + run.otherCpuCores, 0) / runs.length, 3),
    repeatsRequestsPerSecond: runs.map((run) => run.requestsPerSecond),
  };
}

/** Restarts of one store's server after it failed, before its remaining points are skipped. */
const MAX_RESTARTS = 3;

async function runZmq() {
  const z = settings.zmq;
  const dataDir = mkdtempSync(join(os.tmpdir(), 'ticket-bench-zmq-'));
  tempDirs.add(dataDir);
  const serverArgs = { memory: ['--store', 'memory:'], lmdb: ['--data', dataDir] };
  const current = {};
  const history = { memory: [], lmdb: [] };
  const restarts = { memory: 0, lmdb: 0 };
  const failures = [];
  const runs = [];
  // Capacity of the latency buffer: far above what 2 cores can answer.
  const latencies = new Float64Array(Math.ceil((z.durationMs / 1000) * 500_000));
  const load = (server, concurrency, warmupMs, durationMs) =>
    runLoad({ server, sequence: z.sequence, concurrency, sockets: Math.min(concurrency, z.maxSockets), warmupMs, durationMs, latencies });

  const recordFailure = (store, phase, concurrency, repeat, error) => {
    const server = current[store];
    // A server that timed out without logging anything is treated as failed too.
    if (server && !server.failure) server.failure = { reason: error.message };
    failures.push({ store, phase, concurrency, repeat, pid: server?.pid, message: error.message, failure: error.failure });
    log(`zmq ${store} ${phase}${concurrency ? ` c=${concurrency} repeat ${repeat + 1}` : ''}: FAILED: ${error.message}`);
  };

  /** The store's server, started (or restarted after a failure) and warmed up; undefined when out of restarts. */
  const ensure = async (store) => {
    while (!current[store] || current[store].failure) {
      if (current[store]) {
        if (restarts[store] >= MAX_RESTARTS) return undefined;
        restarts[store]++;
        await current[store].stop();
        log(`restarting the ${store} server (${restarts[store]}/${MAX_RESTARTS})`);
      }
      const server = await startServer(store, serverArgs[store]);
      history[store].push(server);
      current[store] = server;
      log(`${store} server: pid ${server.pid} at ${server.endpoint}${store === 'lmdb' ? ` (data ${dataDir})` : ''}`);
      try {
        // Server warm-up (JIT, lease growth, connections); not recorded.
        await load(server, 16, 0, z.serverWarmupMs);
      } catch (error) {
        recordFailure(store, 'warm-up', undefined, undefined, error);
      }
    }
    return current[store];
  };

  try {
    log('starting servers (node dist/cli/main.js) …');
    for (const store of ['memory', 'lmdb']) await ensure(store);
    for (const [index, concurrency] of z.concurrencies.entries()) {
      for (let repeat = 0; repeat < z.repeats; repeat++) {
        // A B, then B A: drift over time weighs on both stores alike.
        const order = (index + repeat) % 2 === 0 ? ['memory', 'lmdb'] : ['lmdb', 'memory'];
        for (const store of order) {
          const server = await ensure(store);
          if (!server) {
            failures.push({ store, phase: 'skipped', concurrency, repeat, message: `no ${store} server (restarts exhausted)` });
            continue;
          }
          try {
            const run = await load(server, concurrency, z.warmupMs, z.durationMs);
            log(`zmq ${store.padEnd(6)} c=${String(concurrency).padStart(2)} repeat ${repeat + 1}: ${formatRate(run.requestsPerSecond)}, p50 ${run.latencyUs.p50} µs, p99 ${run.latencyUs.p99} µs, errors ${run.errors}`);
            runs.push(run);
          } catch (error) {
            recordFailure(store, 'measure', concurrency, repeat, error);
          }
        }
      }
    }
  } finally {
    for (const store of Object.keys(history)) {
      for (const server of history[store]) server.exit = await server.stop();
    }
    rmSync(dataDir, { recursive: true, force: true });
    tempDirs.delete(dataDir);
  }

  const points = z.concurrencies.map((concurrency) => {
    const pick = (store) => runs.filter((run) => run.store === store && run.concurrency === concurrency);
    const failed = (store) => failures.filter((entry) => entry.store === store && entry.concurrency === concurrency).length;
    const memory = { ...combinePoint(pick('memory')), failedRuns: failed('memory') };
    const lmdb = { ...combinePoint(pick('lmdb')), failedRuns: failed('lmdb') };
    const ratio = lmdb.requestsPerSecond / memory.requestsPerSecond;
    return {
      concurrency,
      sockets: Math.min(concurrency, z.maxSockets),
      memory,
      lmdb,
      lmdbOverMemory: round(ratio),
      meetsTarget: Number.isFinite(ratio) ? ratio >= TARGET_LMDB_OVER_MEMORY : null,
    };
  });
  for (const run of runs) delete run.sortedLatenciesMs;
  return {
    settings: { ...z, request: JSON.stringify([z.sequence, '0']), serverArgs: '--bind tcp://127.0.0.1:0 --log-level info (--store memory: | --data <tmpdir>)' },
    servers: Object.fromEntries(
      Object.entries(history).map(([store, list]) => [
        store,
        list.map((server) => ({ pid: server.pid, endpoint: server.endpoint, failure: server.failure, warnings: server.logs.warnings, stderr: server.logs.stderr, exit: server.exit })),
      ]),
    ),
    failures,
    points,
    runs,
  };
}

function printZmq(result) {
  const { settings: z, points, servers, failures } = result;
  const cores = (point, key) => `${fixed(point.memory[key])}/${fixed(point.lmdb[key])}`;
  console.log(`\n(b) ZeroMQ (CLI child processes), single-value requests ${z.request}, ${z.repeats} × ${z.durationMs / 1000} s per point after ${z.warmupMs} ms warm-up,` +
    ' memory and lmdb interleaved (A B / B A);');
  console.log('    req/s = median of the repeats (spread = (max − min) ÷ median); p50/p99 over every request of all repeats.');
  console.log(`    NOTE: ${os.cpus().length} CPU cores shared by the server under test AND this load generator; numbers are a lower bound for a dedicated server.`);
  console.log('    CPU columns (memory/lmdb): cores used by the server, by this load generator, and by everything else on the machine (noise).');
  const rows = points.map((point) => [
    String(point.concurrency),
    `${point.sockets}×${point.concurrency / point.sockets}`,
    formatRate(point.memory.requestsPerSecond),
    formatLatency(point.memory.latencyUs.p50 / 1000),
    formatLatency(point.memory.latencyUs.p99 / 1000),
    formatRate(point.lmdb.requestsPerSecond),
    formatLatency(point.lmdb.latencyUs.p50 / 1000),
    formatLatency(point.lmdb.latencyUs.p99 / 1000),
    formatRatio(point.lmdbOverMemory),
    point.meetsTarget === null ? 'n/a' : point.meetsTarget ? 'PASS' : 'FAIL',
    `${point.memory.failedRuns}/${point.lmdb.failedRuns}`,
    `${percent(point.memory.spread)}/${percent(point.lmdb.spread)}`,
    cores(point, 'serverCpuCores'),
    cores(point, 'benchCpuCores'),
    cores(point, 'otherCpuCores'),
  ]);
  console.log(renderTable(
    ['clients', 'sock×inflight', 'memory req/s', 'p50', 'p99', 'lmdb req/s', 'p50', 'p99', 'lmdb÷mem', `≥${TARGET_LMDB_OVER_MEMORY}`, 'failed m/l', 'spread m/l', 'server CPU', 'bench CPU', 'other CPU'],
    rows,
  ));
  const problems = points.flatMap((point) =>
    ['memory', 'lmdb'].flatMap((store) => {
      const p = point[store];
      return p.errors > 0 || p.orderViolations > 0 ? [`${store} c=${point.concurrency}: ${p.errors} error replies, ${p.orderViolations} order violations`] : [];
    }),
  );
  console.log(problems.length > 0 ? `  PROBLEMS: ${problems.join('; ')}` : '  every reply measured was a value; values strictly increasing on every connection');
  for (const entry of failures) {
    const where = entry.concurrency ? `c=${entry.concurrency} repeat ${entry.repeat + 1}` : '';
    console.log(`  FAILED RUN: ${entry.store} ${entry.phase} ${where}: ${entry.message}`);
  }
  for (const [store, list] of Object.entries(servers)) {
    for (const server of list) {
      const warnings = server.warnings.filter((entry) => !/NOT durable/.test(entry.msg));
      if (warnings.length > 0) console.log(`  ${store} server pid ${server.pid} logged: ${warnings.map((entry) => entry.msg + (entry.err ? ` (${entry.err.code ?? entry.err.type}: ${entry.err.message})` : '')).join(' | ')}`);
      if (server.exit && (server.exit.code !== 0 || server.exit.forced)) console.log(`  ${store} server pid ${server.pid} exit: ${JSON.stringify(server.exit)}`);
    }
  }
}

/**
 * (c) Direct against proxy: one memory: server, one proxy process in front of
 * it (`--host <server>`), the same closed-loop load on each, interleaved.
 */
async function runProxy() {
  const x = settings.proxy;
  const failures = [];
  const runs = [];
  const latencies = new Float64Array(Math.ceil((x.durationMs / 1000) * 500_000));
  const load = (server, concurrency, warmupMs, durationMs) =>
    runLoad({ server, sequence: x.sequence, concurrency, sockets: Math.min(concurrency, x.sockets), warmupMs, durationMs, latencies });
  const started = [];
  try {
    const upstream = await startServer('server', ['--store', 'memory:']);
    started.push(upstream);
    log(`proxy benchmark: upstream server pid ${upstream.pid} at ${upstream.endpoint}`);
    const proxy = await startServer('proxy', ['--host', upstream.endpoint]);
    started.push(proxy);
    log(`proxy benchmark: proxy pid ${proxy.pid} at ${proxy.endpoint} (--host ${upstream.endpoint})`);
    const paths = { direct: upstream, proxy };
    for (const [path, server] of Object.entries(paths)) {
      try {
        await load(server, 16, 0, x.serverWarmupMs);
      } catch (error) {
        failures.push({ path, phase: 'warm-up', message: error.message });
        log(`proxy benchmark ${path} warm-up: FAILED: ${error.message}`);
      }
    }
    for (let repeat = 0; repeat < x.repeats; repeat++) {
      // A B, then B A: drift over time weighs on both paths alike.
      for (const path of repeat % 2 === 0 ? ['direct', 'proxy'] : ['proxy', 'direct']) {
        const server = paths[path];
        if (server.failure || upstream.failure) {
          failures.push({ path, phase: 'skipped', repeat, message: `${upstream.failure ? 'upstream' : path} server failed: ${(upstream.failure ?? server.failure).reason}` });
          continue;
        }
        const upstreamCpuBefore = processCpuSeconds(upstream.pid);
        const before = performance.now();
        try {
          const run = await load(server, x.concurrency, x.warmupMs, x.durationMs);
          const wallSeconds = (performance.now() - before) / 1000;
          if (path === 'proxy') {
            // runLoad charges the proxy as "server" and the upstream server to "other": separate them.
            run.upstreamCpuCores = round((processCpuSeconds(upstream.pid) - upstreamCpuBefore) / wallSeconds, 3);
            run.otherCpuCores = round(Math.max(0, run.otherCpuCores - run.upstreamCpuCores), 3);
          }
          run.path = path;
          log(`proxy benchmark ${path.padEnd(6)} c=${x.concurrency} repeat ${repeat + 1}: ${formatRate(run.requestsPerSecond)}, p50 ${run.latencyUs.p50} µs, p99 ${run.latencyUs.p99} µs, errors ${run.errors}`);
          runs.push(run);
        } catch (error) {
          failures.push({ path, phase: 'measure', repeat, message: error.message, failure: error.failure });
          log(`proxy benchmark ${path} repeat ${repeat + 1}: FAILED: ${error.message}`);
        }
      }
    }
  } finally {
    for (const server of [...started].reverse()) server.exit = await server.stop();
  }
  const pick = (path) => runs.filter((run) => run.path === path);
  const failed = (path) => failures.filter((entry) => entry.path === path && entry.phase !== 'warm-up').length;
  const direct = { ...combinePoint(pick('direct')), failedRuns: failed('direct') };
  const proxy = {
    ...combinePoint(pick('proxy')),
    upstreamCpuCores: round(pick('proxy').reduce((sum, run) => sum + run.upstreamCpuCores, 0) / Math.max(1, pick('proxy').length), 3),
    failedRuns: failed('proxy'),
  };
  const ratio = proxy.requestsPerSecond / direct.requestsPerSecond;
  for (const run of runs) delete run.sortedLatenciesMs;
  return {
    settings: {
      ...x,
      request: JSON.stringify([x.sequence, '0']),
      serverArgs: '--bind tcp://127.0.0.1:0 --log-level info --store memory:',
      proxyArgs: '--bind tcp://127.0.0.1:0 --log-level info --host <server endpoint>',
    },
    servers: started.map((server) => ({ label: server.label, pid: server.pid, endpoint: server.endpoint, failure: server.failure, warnings: server.logs.warnings, stderr: server.logs.stderr, exit: server.exit })),
    failures,
    direct,
    proxy,
    proxyOverDirect: round(ratio),
    meetsTarget: Number.isFinite(ratio) ? ratio >= TARGET_PROXY_OVER_DIRECT : null,
    runs,
  };
}

function printProxy(result) {
  const { settings: x, direct, proxy, failures, servers } = result;
  console.log(`\n(c) Proxy: ${x.concurrency} outstanding single-value requests ${x.request} (${x.sockets}×${x.concurrency / x.sockets}), ${x.repeats} × ${x.durationMs / 1000} s per path` +
    ` after ${x.warmupMs} ms warm-up, direct and proxy interleaved (A B / B A);`);
  console.log('    direct = to a memory: server; proxy = to `ticket-server --host <that server>` (a third process on the same cores).');
  console.log('    CPU columns: cores used by the server answering the load (the proxy for "proxy"), by the upstream behind the proxy, by this load generator, by everything else.');
  const row = (label, point) => [
    label,
    formatRate(point.requestsPerSecond),
    formatLatency(point.latencyUs.p50 / 1000),
    formatLatency(point.latencyUs.p99 / 1000),
    percent(point.spread),
    String(point.errors ?? 0),
    String(point.failedRuns),
    fixed(point.serverCpuCores),
    label === 'proxy' ? fixed(point.upstreamCpuCores) : '-',
    fixed(point.benchCpuCores),
    fixed(point.otherCpuCores),
  ];
  console.log(renderTable(
    ['path', 'req/s', 'p50', 'p99', 'spread', 'error replies', 'failed', 'server CPU', 'upstream CPU', 'bench CPU', 'other CPU'],
    [row('direct', direct), row('proxy', proxy)],
  ));
  const verdict = result.meetsTarget === null ? 'n/a' : result.meetsTarget ? 'PASS' : 'FAIL';
  console.log(`  proxy ÷ direct: ${formatRatio(result.proxyOverDirect)} (medians; target ≥ ${TARGET_PROXY_OVER_DIRECT}: ${verdict})`);
  const order = [['direct', direct], ['proxy', proxy]].filter(([, point]) => point.orderViolations > 0);
  if (order.length > 0) console.log(`  replies out of order on a connection: ${order.map(([label, point]) => `${label} ${point.orderViolations}`).join(', ')}`);
  for (const entry of failures) console.log(`  FAILED RUN: ${entry.path} ${entry.phase}${entry.repeat === undefined ? '' : ` repeat ${entry.repeat + 1}`}: ${entry.message}`);
  for (const server of servers) {
    const warnings = server.warnings.filter((entry) => !/NOT durable/.test(entry.msg));
    if (warnings.length > 0) console.log(`  ${server.label} pid ${server.pid} logged: ${warnings.map((entry) => entry.msg + (entry.err ? ` (${entry.err.code ?? entry.err.type}: ${entry.err.message})` : '')).join(' | ')}`);
    if (server.exit && (server.exit.code !== 0 || server.exit.forced)) console.log(`  ${server.label} pid ${server.pid} exit: ${JSON.stringify(server.exit)}`);
  }
}

/** Rows of (d) beside the main one (ZeroMQ, prefetch 1000, awaiting every value). */
const PREFETCH_VARIANTS = [
  { label: 'tcp:// (ZeroMQ), tryNext', scheme: 'tcp', loop: 'tryNext', prefetch: 1000 },
  { label: 'line://, await', scheme: 'line', loop: 'await', prefetch: 1000 },
  { label: 'line://, tryNext', scheme: 'line', loop: 'tryNext', prefetch: 1000 },
  { label: 'tcp:// (ZeroMQ), no prefetch', scheme: 'tcp', loop: 'await', prefetch: 0 },
  { label: 'line://, no prefetch', scheme: 'line', loop: 'await', prefetch: 0 },
];

function printPrefetchVariants(result) {
  const rows = [{ label: 'tcp:// (ZeroMQ), await', prefetch: result.settings.prefetch, ...result }, ...(result.variants ?? [])];
  console.log(`  every variant (the first row is the table above; the others ${Math.min(result.settings.rounds, 3)} rounds; loop "tryNext" = t.tryNext(name) ?? await t.next(name)):`);
  console.log(renderTable(
    ['variant', 'prefetch', 'values/s (median)', 'spread', 'per client CPU-s', 'client CPU / value', 'client CPU', 'server CPU', 'increasing'],
    rows.map((row) => row.failed
      ? [row.label, String(row.prefetch), `FAILED: ${row.failed}`, '', '', '', '', '', '']
      : [
        row.label,
        String(row.prefetch),
        formatRate(row.medianValuesPerSecond),
        `${Math.round(row.spread * 100)}%`,
        formatRate(row.perClientCpuSecond),
        row.clientCpuNsPerValue >= 10_000 ? `${(row.clientCpuNsPerValue / 1000).toFixed(0)} µs` : `${Math.round(row.clientCpuNsPerValue)} ns`,
        fixed(median(row.rounds.map((r) => r.clientCpuCores))),
        fixed(median(row.rounds.map((r) => r.serverCpuCores))),
        row.orderViolations === 0 ? 'yes' : `NO (${row.orderViolations})`,
      ]),
  ));
  const rate = (label) => rows.find((row) => row.label === label && !row.failed)?.medianValuesPerSecond;
  const zmq = rate('tcp:// (ZeroMQ), no prefetch');
  const line = rate('line://, no prefetch');
  if (zmq && line) {
    const slower = line / zmq;
    console.log(`  without prefetch, line:// ÷ tcp:// (ZeroMQ) = ${formatRatio(slower)} (target: ZeroMQ within 1.5× of line://: ${slower <= 1.5 ? 'PASS' : 'FAIL'})`);
  }
  if (result.bareAwait) {
    console.log(`  bare \`await Promise.resolve(x)\` loop in this process: ${formatRate(result.bareAwait.valuesPerSecond)}, ${Math.round(result.bareAwait.cpuNsPerValue)} ns CPU per value: no \`await t.next()\` loop can beat it here`);
  }
  for (const label of ['tcp:// (ZeroMQ), await', 'tcp:// (ZeroMQ), tryNext', 'line://, await', 'line://, tryNext']) {
    const value = rate(label);
    if (value !== undefined) console.log(`  ${label}: ${formatRate(value)} (target ≥ ${formatRate(TARGET_PREFETCH_TRYNEXT)}: ${value >= TARGET_PREFETCH_TRYNEXT ? 'PASS' : 'FAIL'})`);
  }
}

function printPrefetch(result) {
  const { settings: s, rounds } = result;
  console.log(`\n(d) Client prefetch: ticketServer([endpoint], { prefetch: ${s.prefetch} }), \`await t.next('${s.sequence}')\` in one loop in this process,` +
    ` ${(s.valuesPerRound / 1e6).toFixed(2)} M values per round, ${s.rounds} rounds after a ${(s.warmUpValues / 1e3).toFixed(0)} k warm-up; one memory: server (child process).`);
  console.log(`    per ${s.blockValues / 1000} k: time to hand out ${s.blockValues} values (a wait for a batch shows as a slow block).`);
  console.log(renderTable(
    ['round', 'values/s', `per ${s.blockValues / 1000} k p50`, 'p99', 'max', 'batch requests', 'client CPU', 'server CPU', 'increasing'],
    rounds.map((row, index) => [
      String(index + 1),
      formatRate(row.valuesPerSecond),
      formatLatency(row.blockUs.p50 / 1000),
      formatLatency(row.blockUs.p99 / 1000),
      formatLatency(row.blockUs.max / 1000),
      String(row.batchRequests),
      fixed(row.clientCpuCores),
      fixed(row.serverCpuCores),
      row.orderViolations === 0 ? 'yes' : `NO (${row.orderViolations})`,
    ]),
  ));
  const verdict = result.medianValuesPerSecond >= TARGET_PREFETCH_VALUES_PER_SECOND ? 'PASS' : 'FAIL';
  console.log(`  median ${formatRate(result.medianValuesPerSecond)}, best ${formatRate(result.bestValuesPerSecond)}; target ≥ ${formatRate(TARGET_PREFETCH_VALUES_PER_SECOND)} (median): ${verdict}`);
  console.log(result.orderViolations === 0
    ? `  every value strictly greater than the one before (across all rounds); ${result.jumps} jumps (value ≠ previous + 1)`
    : `  PROBLEM: ${result.orderViolations} values not greater than the one before`);
  const warnings = result.server.warnings.filter((entry) => !/NOT durable/.test(entry.msg));
  if (warnings.length > 0) console.log(`  server pid ${result.server.pid} logged: ${warnings.map((entry) => entry.msg).join(' | ')}`);
  printPrefetchVariants(result);
}

/** (e) HTTP keep-alive throughput: ticket-server (memory:, lmdb) against a constant fastify app. */
async function runHttpSection() {
  const h = settings.http;
  const dataDir = mkdtempSync(join(os.tmpdir(), 'ticket-bench-http-'));
  tempDirs.add(dataDir);
  const nodeArgs = h.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', h.cpuProfDir] : [];
  try {
    return await runHttp({ ...h, dataDir, nodeArgs, log });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    tempDirs.delete(dataDir);
  }
}

function printHttp(result) {
  const { settings: h, points, ratios, failures, servers, ticketServerResponses: t } = result;
  console.log(`\n(e) HTTP keep-alive: autocannon, POST ${h.path} (no body), ${h.connections} connections, pipelining ${h.pipelining},` +
    ` ${h.repeats} × ${h.durationMs / 1000} s per target, targets interleaved (order rotated each repeat);`);
  console.log(`    every repeat on a fresh server process with its own ${h.warmupMs / 1000} s warm-up` +
    (h.pinning ? `; server pinned to CPU ${h.pinning.serverCpus}, autocannon (this process) to CPU ${h.pinning.loadCpus} (taskset -a)` : '; not pinned (taskset missing or one core)') + ';');
  console.log(`    constant = bench/fastify-constant.mjs (app from ${result.servers.constant?.app ?? 'n/a'}): one route answering a constant body (the framework ceiling);`);
  console.log('    memory/lmdb = the real CLI (node dist/cli/main.js --store memory: | --data <tmpdir>). req/s = median of the repeats;');
  console.log('    p50/p99 over every response of all repeats (autocannon\'s response times, full precision).');
  console.log(`    NOTE: autocannon runs IN this benchmark process and shares the ${os.cpus().length} CPU cores with the server under test;` +
    ' the ratios compare servers under the same handicap, absolute req/s are a lower bound for a dedicated server.');
  const row = (target) => {
    const point = points[target];
    return [
      target,
      formatRate(point.requestsPerSecond),
      target === 'constant' ? '1.000' : formatRatio(point.requestsPerSecond / points.constant.requestsPerSecond),
      target === 'constant' ? '-' : point.requestsPerSecond / points.constant.requestsPerSecond >= TARGET_HTTP_OVER_CONSTANT ? 'PASS' : 'FAIL',
      formatLatency(point.latencyUs.p50 / 1000),
      formatLatency(point.latencyUs.p99 / 1000),
      percent(point.spread),
      String(point['2xx']),
      String(point.non2xx + point.errors),
      fixed(point.serverCpuUsPerRequest),
      fixed(point.serverCpuCores),
      fixed(point.benchCpuCores),
      fixed(point.otherCpuCores),
    ];
  };
  console.log(renderTable(
    ['target', 'req/s', '÷ constant', `≥${TARGET_HTTP_OVER_CONSTANT}`, 'p50', 'p99', 'spread', '2xx', 'non-2xx+err', 'server µs CPU/req', 'server CPU', 'bench CPU', 'other CPU'],
    HTTP_TARGETS.map(row),
  ));
  console.log(`  ticket-server ÷ constant fastify: memory ${formatRatio(ratios.memoryOverConstant)}, lmdb ${formatRatio(ratios.lmdbOverConstant)}` +
    ` (medians; target ≥ ${TARGET_HTTP_OVER_CONSTANT}); lmdb ÷ memory ${formatRatio(ratios.lmdbOverMemory)}`);
  console.log(`  server CPU per request, constant ÷ ticket-server: memory ${formatRatio(ratios.cpuConstantOverMemory)}, lmdb ${formatRatio(ratios.cpuConstantOverLmdb)}` +
    ' (the req/s ratio a server with its own cores would approach; less sensitive to the load generator and to noise)');
  console.log(t.all2xx
    ? `  every ticket-server response of (e) was 2xx: ${t.completed} responses (warm-ups included), 0 non-2xx, 0 errors, 0 timeouts`
    : `  PROBLEM: ticket-server responses of (e): ${t.completed} completed, ${t['2xx']} 2xx, ${t.non2xx} non-2xx ${JSON.stringify(t.statuses)}, ` +
      `${t.errors} errors (${t.timeouts} timeouts), ${t.mismatches} mismatches`);
  for (const entry of failures) console.log(`  FAILED RUN: ${entry.target} ${entry.phase}${entry.repeat === undefined ? '' : ` repeat ${entry.repeat + 1}`}: ${entry.message}`);
  for (const [target, server] of Object.entries(servers)) {
    const warnings = server.warnings.filter((entry) => !/NOT durable/.test(entry.msg));
    if (warnings.length > 0) console.log(`  ${target} pid ${server.pid} logged: ${warnings.map((entry) => entry.msg + (entry.err ? ` (${entry.err.code ?? entry.err.type}: ${entry.err.message})` : '')).join(' | ')}`);
    if (server.exit && (server.exit.code !== 0 || server.exit.forced)) console.log(`  ${target} pid ${server.pid} exit: ${JSON.stringify(server.exit)}`);
  }
  if (h.nodeArgs.length > 0) console.log(`  ticket-servers ran with ${h.nodeArgs.join(' ')} (profiling slows them down: compare nothing)`);
}

function percent(value) {
  return Number.isFinite(value) ? `${(value * 100).toFixed(0)}%` : 'n/a';
}

function fixed(value) {
  return Number.isFinite(value) ? value.toFixed(2) : 'n/a';
}

/** (f2) A formatted yearly sequence with a Luhn digit against a plain one, line protocol 50 × 16. */
function printFormatted(result) {
  const { shape } = result.settings;
  console.log(`\n(f2) Formatted sequence (INV-{yyyy}-{value:6}{check}, yearly, luhn) vs plain, line protocol ${shape.connections} × ${shape.depth}`);
  for (const row of ['plain', 'formatted']) {
    const r = result.rows[row];
    console.log(`  ${row.padEnd(10)} ${fixedRate(r.requestsPerSecond)} req/s (spread ${fixed(r.spread * 100)} %), ${fixedRate(r.perServerCpuSecond)} per server CPU-s, p99 ${r.latencyUs?.p99 ?? 'n/a'} µs, errors ${r.errors}`);
  }
  const ratio = result.formattedOverPlain;
  console.log(`  formatted ÷ plain: ${fixed(ratio.rate)} (per CPU-s ${fixed(ratio.perCpuSecond)}, p99 ${fixed(ratio.p99)}); target ≥ ${result.target}: ${result.meetsTarget === null ? 'n/a' : result.meetsTarget ? 'met' : 'NOT met'}`);
  for (const failure of result.failures) console.log(`  FAILED ${failure.row} repeat ${failure.repeat + 1}: ${failure.message}`);
}

function fixedRate(value) {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';
}

/** (f) Raw TCP: one-shot and line protocols, and Redis INCR next to the line protocol. */
async function runTcpSection() {
  return runTcp({ ...tcpSettings(quick), log });
}

async function main() {
  const started = performance.now();
  const startedAt = new Date();
  const machine = machineInfo();
  console.log(`ticket-server benchmark — ${startedAt.toISOString()}`);
  console.log(`machine: ${machine.cpuCount} × ${machine.cpuModel}, node ${machine.node}, ${machine.platform}, load ${machine.loadAverageAtStart.join(' ')}${quick ? '  [BENCH_QUICK]' : ''}`);

  log('in-process benchmark …');
  const inProcess = await runInProcess({ ...settings.inProcess, tmpRoot: os.tmpdir(), log });
  printInProcess(inProcess);

  log('ZeroMQ benchmark …');
  const zmq = await runZmq();
  printZmq(zmq);

  log('proxy benchmark …');
  const proxy = await runProxy();
  printProxy(proxy);

  log('client prefetch benchmark …');
  const prefetch = await runPrefetch({ ...settings.prefetch, log });
  // The ceiling of any await loop on this machine now, measured beside the client.
  prefetch.bareAwait = await measureBareAwait(settings.prefetch.values);
  // The same loop over line://, the synchronous take, and no prefetch at all, on both transports.
  prefetch.variants = [];
  for (const variant of PREFETCH_VARIANTS) {
    const values = variant.prefetch === 0 ? settings.prefetch.unbufferedValues : settings.prefetch.values;
    const rounds = Math.min(settings.prefetch.rounds, 3);
    try {
      const result = await runPrefetch({ ...settings.prefetch, ...variant, values, rounds, log });
      prefetch.variants.push({ ...variant, ...result });
    } catch (error) {
      prefetch.variants.push({ ...variant, failed: error instanceof Error ? error.message : String(error) });
    }
  }
  printPrefetch(prefetch);

  log('HTTP benchmark …');
  const http = await runHttpSection();
  printHttp(http);

  log('raw TCP benchmark …');
  const tcp = await runTcpSection();
  printTcp(tcp);

  log('formatted sequence benchmark …');
  const formatted = await runFormatted({ ...tcpSettings(quick), log });
  printFormatted(formatted);

  log('shared stores benchmark …');
  const sharedStores = await runSharedStores({ ...settings.sharedStores, log });
  printSharedStores(sharedStores);

  log('leader mode benchmark …');
  const leader = await runLeader({ ...settings.leader, log });
  printLeader(leader);

  const totalSeconds = round((performance.now() - started) / 1000, 3);
  machine.loadAverageAtEnd = os.loadavg().map((value) => round(value, 3));
  const results = {
    startedAt: startedAt.toISOString(),
    totalSeconds,
    quick,
    machine,
    targets: {
      inProcessValuesPerSecond: TARGET_VALUES_PER_SECOND,
      zmqLmdbOverMemory: TARGET_LMDB_OVER_MEMORY,
      proxyOverDirect: TARGET_PROXY_OVER_DIRECT,
      prefetchValuesPerSecond: TARGET_PREFETCH_VALUES_PER_SECOND,
      httpOverConstant: TARGET_HTTP_OVER_CONSTANT,
      tcpLineOverRedis: TARGET_LINE_OVER_REDIS,
      formattedOverPlain: TARGET_FORMATTED_OVER_PLAIN,
      sharedOverNaive: TARGET_SHARED_OVER_NAIVE,
      leaderFollowerHttpOverDirect: TARGET_FOLLOWER_HTTP_OVER_DIRECT,
    },
    inProcess,
    zmq,
    proxy,
    prefetch,
    http,
    tcp,
    formatted,
    sharedStores,
    leader,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(results, (_key, value) => (typeof value === 'bigint' ? value.toString() : value), 2)}\n`);
  console.log(`\nload average at end: ${machine.loadAverageAtEnd.join(' ')}`);
  console.log(`results: ${file.slice(ROOT.length)}  (total ${totalSeconds.toFixed(1)} s)`);
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
} finally {
  cleanupSync();
}
// zeromq keeps its I/O threads (and a closed socket's linger) alive for a moment; do not wait on them.
process.exit(process.exitCode ?? 0);
