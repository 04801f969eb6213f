// Client benchmark: single values from a prefetching client in one process,
// the way an application uses the package:
//
//   const t = ticketServer([endpoint], { prefetch: 1000 });
//   for (…) await t.next('pf');
//
// against one real server (`--store memory:`, a child process), over ZeroMQ
// (`tcp://`) or the line protocol (`line://`); the loop either awaits every
// value or takes it synchronously when one is at hand
// (`t.tryNext(name) ?? await t.next(name)`). Without prefetch, `inFlight` loops
// run side by side (each awaits its own values: several requests in flight).
//
// `clientModule` loads the client from another build (e.g. the previous
// commit's `dist/index.js`, for before/after runs: see prefetch-compare.mjs);
// the server is always this tree's CLI.
import { performance } from 'node:perf_hooks';
import { best, median, percentileSorted, round } from './stats.mjs';
import { processCpuSeconds, startServer } from './zmq-load.mjs';

/** Values per timed block inside a round: the block times show the waits for batches. */
const BLOCK = 1000;

/**
 * One round: `blocks × BLOCK` awaited `t.next(sequence)` calls. Every value is
 * compared with the one before (`state.last`, carried over from round to round).
 */
async function timedRound(client, sequence, blocks, state, blockMs, sync = false, inFlight = 1) {
  if (inFlight > 1) return timedConcurrentRound(client, sequence, blocks, state, blockMs, inFlight);
  let last = state.last;
  let violations = 0;
  let jumps = 0;
  const start = performance.now();
  let blockStart = start;
  for (let block = 0; block < blocks; block++) {
    for (let index = 0; index < BLOCK; index++) {
      const value = sync ? (client.tryNext(sequence) ?? (await client.next(sequence))) : await client.next(sequence);
      if (value <= last) violations++;
      else if (value !== last + 1n && last >= 0n) jumps++;
      last = value;
    }
    const now = performance.now();
    blockMs[block] = now - blockStart;
    blockStart = now;
  }
  const ms = performance.now() - start;
  state.last = last;
  return { ms, violations, jumps, last };
}

/**
 * `inFlight` loops of awaited `t.next(sequence)` side by side, `blocks × BLOCK`
 * values in all; each loop checks its own values increase (they interleave
 * between loops). Block times are not taken (the blocks of the loops overlap).
 */
async function timedConcurrentRound(client, sequence, blocks, state, blockMs, inFlight) {
  const total = blocks * BLOCK;
  let handed = 0;
  let violations = 0;
  let highest = state.last;
  const start = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    let last = -1n;
    while (handed < total) {
      handed++;
      const value = await client.next(sequence);
      if (value <= last) violations++;
      last = value;
      if (value > highest) highest = value;
    }
  }));
  const ms = performance.now() - start;
  blockMs.fill(ms / blocks);
  state.last = highest;
  return { ms, violations, jumps: 0, last: highest };
}

/**
 * The ceiling of an `await` loop on this machine, measured beside the client:
 * `values` awaits of an already settled promise of a bigint, compared as the
 * client's loop compares. An `await t.next(name)` loop cannot beat it.
 * @returns values/s and CPU ns per value
 */
export async function measureBareAwait(values) {
  let last = -1n;
  let violations = 0;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  for (let index = 0; index < values; index++) {
    const value = await Promise.resolve(BigInt(index));
    if (value <= last) violations++;
    last = value;
  }
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  if (violations > 0) throw new Error('bare await loop: values out of order');
  return { valuesPerSecond: round(values / (ms / 1000)), cpuNsPerValue: round(((cpu.user + cpu.system) * 1000) / values, 3) };
}

function requests(client) {
  return client.stats().reduce((sum, upstream) => sum + upstream.requests, 0);
}

/**
 * @param options.values values per round (rounded up to a multiple of 1000)
 * @param options.rounds recorded rounds (after one unrecorded warm-up round of a tenth of `values`)
 * @param options.prefetch the client's `prefetch` (0: every value is a round trip)
 * @param options.sequence sequence name
 * @param options.scheme `tcp` (ZeroMQ, the default) or `line`
 * @param options.loop `await` (the default: `await t.next(name)`) or `tryNext` (`t.tryNext(name) ?? await t.next(name)`)
 * @param options.inFlight loops side by side (default 1); only with the `await` loop
 * @param options.clientModule path or URL of the `dist/index.js` to take the client from (default: this tree's)
 * @param options.log progress sink
 */
export async function runPrefetch({ values, rounds, prefetch, sequence, scheme = 'tcp', loop = 'await', inFlight = 1, clientModule = new URL('../dist/index.js', import.meta.url).href, log }) {
  const { default: ticketServer } = await import(clientModule.startsWith('/') ? `file://${clientModule}` : clientModule);
  if (inFlight > 1 && loop !== 'await') throw new Error('inFlight > 1 needs the await loop');
  const blocks = Math.ceil(values / BLOCK);
  const perRound = blocks * BLOCK;
  const server = await startServer('prefetch', ['--store', 'memory:', '--line', '127.0.0.1:0']);
  // The ZeroMQ endpoint makes the server ready; the line listener's log line may come just after it.
  for (let waited = 0; server.addresses.line === undefined && waited < 10_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  if (server.addresses.line === undefined) {
    await server.stop();
    throw new Error('prefetch server: no line listener address logged');
  }
  const endpoint = scheme === 'line' ? `line://${server.addresses.line}` : server.endpoint;
  log(`prefetch server: pid ${server.pid} at ${endpoint}`);
  const client = ticketServer([endpoint], prefetch > 0 ? { prefetch } : {});
  const sync = loop === 'tryNext';
  const state = { last: -1n };
  const rows = [];
  const blockMs = new Float64Array(blocks);
  let exit;
  try {
    // Warm-up: JIT, connection, the server's lease growth; not recorded.
    await timedRound(client, sequence, Math.max(1, Math.ceil(blocks / 10)), state, blockMs, sync, inFlight);
    for (let index = 0; index < rounds; index++) {
      if (server.failure) throw new Error(`prefetch server failed: ${server.failure.reason}`);
      const requestsBefore = requests(client);
      const cpuBefore = process.cpuUsage();
      const serverCpuBefore = processCpuSeconds(server.pid);
      const result = await timedRound(client, sequence, blocks, state, blockMs, sync, inFlight);
      const cpu = process.cpuUsage(cpuBefore);
      const seconds = result.ms / 1000;
      const sorted = blockMs.slice().sort();
      const p = (q) => round(percentileSorted(sorted, blocks, q) * 1000); // µs
      const row = {
        valuesPerSecond: round(perRound / seconds),
        ms: round(result.ms),
        lastValue: result.last,
        orderViolations: result.violations,
        jumps: result.jumps,
        batchRequests: requests(client) - requestsBefore,
        blockUs: { p50: p(0.5), p99: p(0.99), max: p(1), blocks },
        clientCpuCores: round((cpu.user + cpu.system) / 1e6 / seconds, 3),
        /** CPU of this process (every thread: JavaScript, ZeroMQ's I/O thread, GC) per value handed out. */
        clientCpuNsPerValue: round(((cpu.user + cpu.system) * 1000) / perRound, 3),
        serverCpuCores: round((processCpuSeconds(server.pid) - serverCpuBefore) / seconds, 3),
      };
      rows.push(row);
      log(`prefetch ${scheme} ${loop} prefetch ${prefetch} round ${index + 1}/${rounds}: ${(row.valuesPerSecond / 1e6).toFixed(2)} M values/s, ${row.batchRequests} batch requests, ` +
        `per ${BLOCK} values p50 ${row.blockUs.p50} µs / max ${row.blockUs.max} µs, order violations ${row.orderViolations}`);
    }
  } finally {
    await client.close();
    exit = await server.stop();
  }
  const rates = rows.map((row) => row.valuesPerSecond);
  return {
    settings: { valuesPerRound: perRound, rounds, prefetch, sequence, scheme, loop, inFlight, clientModule, endpoint, blockValues: BLOCK, warmUpValues: Math.max(1, Math.ceil(blocks / 10)) * BLOCK, serverArgs: '--bind tcp://127.0.0.1:0 --line 127.0.0.1:0 --log-level info --store memory:' },
    server: { pid: server.pid, endpoint, failure: server.failure, warnings: server.logs.warnings, stderr: server.logs.stderr, exit },
    medianValuesPerSecond: round(median(rates)),
    spread: round((Math.max(...rates) - Math.min(...rates)) / median(rates), 3),
    /** Values per CPU-second of this process (the client), median of the rounds. */
    perClientCpuSecond: round(median(rows.map((row) => row.valuesPerSecond / Math.max(row.clientCpuCores, 1e-6)))),
    clientCpuNsPerValue: round(median(rows.map((row) => row.clientCpuNsPerValue))),
    bestValuesPerSecond: round(best(rates)),
    orderViolations: rows.reduce((sum, row) => sum + row.orderViolations, 0),
    jumps: rows.reduce((sum, row) => sum + row.jumps, 0),
    rounds: rows,
  };
}
