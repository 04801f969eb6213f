// HTTP benchmark (e): keep-alive throughput of `POST /v1/sequences/x/next`
// with autocannon (in this process), against real ticket-server processes
// (memory: and lmdb) and a constant fastify app (bench/fastify-constant.mjs),
// all child processes, interleaved. Every repeat of every target runs on a
// fresh server process (so no target profits from the JIT or the heap state
// another repeat left behind); with taskset and two or more cores the server
// runs on CPU 0 and this process (the load) on CPU 1.
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { URL, fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { median, percentileSorted, pooledLatencyUs, round } from './stats.mjs';
import { machineCpuSeconds, processCpuSeconds, startServer } from './zmq-load.mjs';

const CONSTANT_SERVER = fileURLToPath(new URL('./fastify-constant.mjs', import.meta.url));
/** What the constant server answers; the real route answers the same shape. */
const CONSTANT_BODY = '{"sequence":"x","values":["1"]}';
const CONTENT_TYPE = 'application/json; charset=utf-8';

const TASKSET = '/usr/bin/taskset';

/** CPUs for the server and for the load, or undefined when pinning is not possible (no taskset, one core). */
function pinning() {
  if (!existsSync(TASKSET) || os.cpus().length < 2) return undefined;
  return { server: '0', load: '1' };
}

/** Pins every thread of `pid` to `cpus` (a taskset list). */
function pin(pid, cpus) {
  execFileSync(TASKSET, ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore', timeout: 5_000 });
}

/** The CPU list `pid` may run on. */
function affinityOf(pid) {
  return execFileSync(TASKSET, ['-p', '-c', String(pid)], { encoding: 'utf8', timeout: 5_000 }).split(':').pop().trim();
}

/** Targets of (e), in the order of the first repeat. */
export const HTTP_TARGETS = ['constant', 'memory', 'lmdb'];

/**
 * One autocannon run of `durationMs` on `url` (POST, no body, keep-alive).
 * Latencies (ms, full precision, from autocannon's 'response' events) go into
 * `latencies` (a Float64Array reused between runs); returns the numbers of the run.
 */
export async function runAutocannon({ server, url, connections, pipelining, durationMs, latencies, timeoutSeconds = 10 }) {
  if (server.failure) throw new Error(`${server.label} server failed: ${server.failure.reason}`);
  let samples = 0;
  let samplesDropped = 0;
  const statuses = {};
  const cpuBefore = process.cpuUsage();
  const serverCpuBefore = processCpuSeconds(server.pid);
  const machineBefore = machineCpuSeconds();
  const wallStart = performance.now();
  let instance;
  let unsubscribe = () => undefined;
  const result = await new Promise((resolve, reject) => {
    instance = autocannon({
      url,
      method: 'POST',
      connections,
      pipelining,
      duration: durationMs / 1000,
      // autocannon ends a run on its sampling tick after the duration: sample often so runs end on time.
      sampleInt: 100,
      timeout: timeoutSeconds,
    }, (error, value) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(value)));
    instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
      if (samples < latencies.length) latencies[samples++] = responseTimeMs;
      else samplesDropped++;
    });
    // A dead server never answers: stop at once (its connections then count as errors).
    unsubscribe = server.onFailure(() => instance.stop());
  }).finally(() => unsubscribe());
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const serverCpu = processCpuSeconds(server.pid) - serverCpuBefore;
  const machineBusy = machineCpuSeconds().busy - machineBefore.busy;
  const seconds = (result.finish.getTime() - result.start.getTime()) / 1000;
  const sorted = latencies.subarray(0, samples).sort();
  const p = (q) => round(percentileSorted(sorted, samples, q) * 1000); // µs
  return {
    completed: result.requests.total,
    sent: result.requests.sent,
    seconds,
    requestsPerSecond: round(result.requests.total / seconds),
    '2xx': result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    resets: result.resets,
    mismatches: result.mismatches,
    statuses,
    latencyUs: { p50: p(0.5), p90: p(0.9), p99: p(0.99), p999: p(0.999), max: p(1), samples, samplesDropped },
    // autocannon's own histogram is in whole milliseconds: kept for reference.
    autocannonLatencyMs: { p50: result.latency.p50, p99: result.latency.p99, mean: result.latency.mean, max: result.latency.max },
    benchCpuCores: round((cpu.user + cpu.system) / 1e6 / wallSeconds, 3),
    serverCpuCores: round(serverCpu / wallSeconds, 3),
    serverCpuUsPerRequest: round((serverCpu / result.requests.total) * 1e6, 3),
    otherCpuCores: round(Math.max(0, machineBusy - serverCpu - (cpu.user + cpu.system) / 1e6) / wallSeconds, 3),
    /** Sorted latencies in ms, to combine repeats; removed before the results are written. */
    sortedLatenciesMs: Float64Array.from(sorted),
  };
}

/** One request with fetch: checks status, content type and body shape before any load. */
async function probe(label, url) {
  const response = await globalThis.fetch(url, { method: 'POST' });
  const body = await response.text();
  const type = response.headers.get('content-type');
  const ok = response.status === 200 && type === CONTENT_TYPE &&
    (label === 'constant' ? body === CONSTANT_BODY : /^\{"sequence":"x","values":\["[1-9][0-9]*"\]\}$/.test(body));
  return { status: response.status, contentType: type, body: body.slice(0, 200), ok };
}

/** Sums the counters of a list of runs. */
function sumCounts(runs) {
  const keys = ['completed', 'sent', '2xx', 'non2xx', 'errors', 'timeouts', 'resets', 'mismatches'];
  const total = Object.fromEntries(keys.map((key) => [key, runs.reduce((sum, run) => sum + (run[key] ?? 0), 0)]));
  total.statuses = {};
  for (const run of runs) {
    for (const [status, count] of Object.entries(run.statuses ?? {})) total.statuses[status] = (total.statuses[status] ?? 0) + count;
  }
  return total;
}

/** Combines the recorded repeats of one target. */
function combine(runs) {
  const rates = runs.map((run) => run.requestsPerSecond);
  const mean = (key) => (runs.length === 0 ? NaN : round(runs.reduce((sum, run) => sum + run[key], 0) / runs.length, 3));
  return {
    requestsPerSecond: round(median(rates)),
    spread: runs.length === 0 ? NaN : round((Math.max(...rates) - Math.min(...rates)) / median(rates), 3),
    repeatsRequestsPerSecond: rates,
    latencyUs: pooledLatencyUs(runs),
    ...sumCounts(runs),
    serverCpuCores: mean('serverCpuCores'),
    // Server CPU time per response (median of the repeats): less sensitive to noise than req/s.
    serverCpuUsPerRequest: round(median(runs.map((run) => run.serverCpuUsPerRequest)), 3),
    benchCpuCores: mean('benchCpuCores'),
    otherCpuCores: mean('otherCpuCores'),
  };
}

/**
 * @param options.dataDir empty temp dir for the lmdb server (removed by the caller)
 * @param options.connections, pipelining, durationMs, warmupMs, repeats, sequence
 * @param options.nodeArgs node flags for the ticket-server children (e.g. --cpu-prof)
 * @param options.log progress sink
 */
export async function runHttp({ dataDir, connections, pipelining, durationMs, warmupMs, repeats, sequence, nodeArgs = [], log }) {
  const path = `/v1/sequences/${encodeURIComponent(sequence)}/next`;
  const started = {};
  const failures = [];
  const runs = [];
  const warmups = [];
  const probes = {};
  // Far above what 2 cores can answer.
  const latencies = new Float64Array(Math.ceil((Math.max(durationMs, warmupMs) / 1000) * 300_000) + 1000);
  const load = (target, ms) => runAutocannon({ server: started[target], url: started[target].endpoint + path, connections, pipelining, durationMs: ms, latencies });
  /** Every server process of each target (one per repeat), for the result. */
  const processes = Object.fromEntries(HTTP_TARGETS.map((target) => [target, []]));
  const start = async (target) => {
    let server;
    if (target === 'constant') {
      server = await startServer('constant', [], { cli: CONSTANT_SERVER, baseArgs: ['--http', '127.0.0.1:0'], readyProtocol: 'http' });
    } else {
      server = await startServer(target, target === 'memory' ? ['--store', 'memory:'] : ['--data', dataDir], { nodeArgs, readyProtocol: undefined });
      server.endpoint = server.urls.http;
    }
    started[target] = server;
    processes[target].push(server);
    if (pins) pin(server.pid, pins.server);
    const endpoint = /** @type {string | undefined} */ (server.endpoint);
    if (typeof endpoint !== 'string') throw new Error(`${target} server logged no http url`);
    const answer = await probe(target, endpoint + path);
    probes[target] ??= answer;
    if (!answer.ok) throw new Error(`${target}: unexpected answer to POST ${path}: ${JSON.stringify(answer)}`);
    log(`http benchmark: ${target} pid ${server.pid} at ${endpoint}${pins ? ` (pinned to CPU ${pins.server}, load on CPU ${pins.load})` : ''}`);
    return server;
  };
  const pins = pinning();
  const loadAffinity = pins ? affinityOf(process.pid) : undefined;
  try {
    if (pins) pin(process.pid, pins.load);
    for (let repeat = 0; repeat < repeats; repeat++) {
      // Rotate the order each repeat: every target runs first, second and last equally often.
      const order = HTTP_TARGETS.map((_, index) => HTTP_TARGETS[(index + repeat) % HTTP_TARGETS.length]);
      for (const target of order) {
        try {
          const server = await start(target);
          // Warm-up of this process (JIT, lease growth, connection setup), recorded for the 2xx check only.
          const warm = await load(target, warmupMs);
          delete warm.sortedLatenciesMs;
          warmups.push({ target, repeat, ...warm });
          if (server.failure) throw new Error(`${target} server failed: ${server.failure.reason}`);
          const run = await load(target, durationMs);
          log(`http ${target.padEnd(8)} c=${connections} repeat ${repeat + 1}: ${(run.requestsPerSecond / 1000).toFixed(1)} k/s, ` +
            `p50 ${run.latencyUs.p50} µs, p99 ${run.latencyUs.p99} µs, non-2xx ${run.non2xx}, errors ${run.errors}, ` +
            `CPU server ${run.serverCpuCores} bench ${run.benchCpuCores}`);
          runs.push({ target, repeat, pid: server.pid, ...run });
        } catch (error) {
          failures.push({ target, phase: 'measure', repeat, message: error.message });
          log(`http benchmark ${target} repeat ${repeat + 1}: FAILED: ${error.message}`);
        } finally {
          if (started[target]) started[target].exit = await started[target].stop();
        }
      }
    }
  } finally {
    for (const target of [...HTTP_TARGETS].reverse()) {
      if (started[target] && started[target].exit === undefined) started[target].exit = await started[target].stop();
    }
    if (pins) pin(process.pid, loadAffinity);
  }
  const points = Object.fromEntries(HTTP_TARGETS.map((target) => [target, combine(runs.filter((run) => run.target === target))]));
  for (const run of runs) delete run.sortedLatenciesMs;
  // The 2xx check covers every ticket-server response of (e): warm-ups and measured repeats.
  const ticketRuns = [...warmups, ...runs].filter((run) => run.target !== 'constant');
  const ticketTotals = sumCounts(ticketRuns);
  const constantTotals = sumCounts([...warmups, ...runs].filter((run) => run.target === 'constant'));
  const ratio = (target) => round(points[target].requestsPerSecond / points.constant.requestsPerSecond);
  return {
    settings: { connections, pipelining, durationMs, warmupMs, repeats, sequence, method: 'POST', path, body: 'none (no Content-Length)', nodeArgs,
      freshServerPerRepeat: true, pinning: pins ? { serverCpus: pins.server, loadCpus: pins.load, loadAffinityBefore: loadAffinity } : null,
      serverArgs: '--bind tcp://127.0.0.1:0 --http 127.0.0.1:0 --admin 127.0.0.1:0 --log-level info (--store memory: | --data <tmpdir>)',
      constantArgs: 'bench/fastify-constant.mjs --http 127.0.0.1:0' },
    probes,
    // Per target: the last process, with the warnings and any unclean exit of every process of the target.
    servers: Object.fromEntries(Object.entries(started).map(([target, server]) => [target, {
      pid: server.pid, pids: processes[target].map((each) => each.pid), url: server.endpoint, app: server.listeningLines?.http?.app,
      failure: processes[target].find((each) => each.failure)?.failure,
      warnings: processes[target].flatMap((each) => each.logs.warnings),
      stderr: processes[target].map((each) => each.logs.stderr).join(''),
      exit: processes[target].map((each) => each.exit).find((exit) => exit && (exit.code !== 0 || exit.forced)) ?? server.exit,
    }])),
    failures,
    points,
    ratios: {
      memoryOverConstant: ratio('memory'),
      lmdbOverConstant: ratio('lmdb'),
      lmdbOverMemory: round(points.lmdb.requestsPerSecond / points.memory.requestsPerSecond),
      // Server CPU per request, constant ÷ ticket-server: what the ratio would be if the server alone were the bottleneck.
      cpuConstantOverMemory: round(points.constant.serverCpuUsPerRequest / points.memory.serverCpuUsPerRequest),
      cpuConstantOverLmdb: round(points.constant.serverCpuUsPerRequest / points.lmdb.serverCpuUsPerRequest),
    },
    ticketServerResponses: { ...ticketTotals, all2xx: ticketTotals.completed > 0 && ticketTotals.completed === ticketTotals['2xx'] && ticketTotals.non2xx === 0 && ticketTotals.errors === 0 && ticketTotals.timeouts === 0 && ticketTotals.mismatches === 0 },
    constantResponses: constantTotals,
    warmups,
    runs,
  };
}
