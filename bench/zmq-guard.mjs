#!/usr/bin/env node
// What the ZeroMQ front costs: the same closed-loop ZeroMQ load as (b) (bench/zmq-load.mjs,
// single-value requests on Dealer sockets) against two `--store memory:` servers, one with
// `--zmq-guard on` (the default: a Node TCP front meters the frames and counts the peers) and one
// with `--zmq-guard off` (libzmq bound to the port directly), alternating which goes first.
//
// Prints per shape (64 in flight over 8 sockets; 1 in flight) the median rate, the median
// requests per server CPU-second, the spread, p99, and on ÷ off for each.
//
//   node bench/zmq-guard.mjs          (after `npm run build`)
//
// Knobs (environment, bounded): BENCH_GUARD_SECONDS (per repeat, default 3, 0.5–10),
// BENCH_GUARD_REPEATS (default 3, 1–7).
import { envNumber, median, renderTable, round } from './stats.mjs';
import { killAllChildren, runLoad, startServer } from './zmq-load.mjs';

const SECONDS = envNumber('BENCH_GUARD_SECONDS', 3, 0.5, 10);
const REPEATS = envNumber('BENCH_GUARD_REPEATS', 3, 1, 7);
const SHAPES = [
  { label: '64 in flight', concurrency: 64, sockets: 8 },
  { label: '1 in flight', concurrency: 1, sockets: 1 },
];
const MODES = ['on', 'off'];

const latencies = new Float64Array(2_000_000);
const runs = new Map(); // `${mode} ${shape}` → [{ rate, perCpu, p99 }]

try {
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    const order = repeat % 2 === 0 ? MODES : [...MODES].reverse();
    for (const mode of order) {
      const server = await startServer(`guard-${mode}`, ['--store', 'memory:', '--zmq-guard', mode]);
      try {
        for (const shape of SHAPES) {
          const result = await runLoad({
            server,
            sequence: 'guard',
            concurrency: shape.concurrency,
            sockets: shape.sockets,
            warmupMs: 500,
            durationMs: SECONDS * 1000,
            latencies,
          });
          if (result.errors > 0 || result.orderViolations > 0) throw new Error(`${mode} ${shape.label}: ${result.errors} errors, ${result.orderViolations} order violations`);
          const key = `${mode} ${shape.label}`;
          const list = runs.get(key) ?? [];
          list.push({ rate: result.requestsPerSecond, perCpu: result.requestsPerSecond / Math.max(result.serverCpuCores, 1e-6), p99: result.latencyUs.p99 });
          runs.set(key, list);
          console.error(`repeat ${repeat + 1}/${REPEATS} guard ${mode}, ${shape.label}: ${Math.round(result.requestsPerSecond)} req/s, server ${result.serverCpuCores} cores, other ${result.otherCpuCores}`);
        }
      } finally {
        await server.stop();
      }
    }
  }
  const summary = (key) => {
    const list = runs.get(key) ?? [];
    const rates = list.map((run) => run.rate);
    return {
      rate: median(rates),
      perCpu: median(list.map((run) => run.perCpu)),
      spread: (Math.max(...rates) - Math.min(...rates)) / median(rates),
      p99: median(list.map((run) => run.p99)),
    };
  };
  const rows = [];
  for (const shape of SHAPES) {
    for (const mode of MODES) {
      const s = summary(`${mode} ${shape.label}`);
      rows.push([`guard ${mode}, ${shape.label}`, `${Math.round(s.rate)}/s`, `${Math.round(s.perCpu)}`, `${Math.round(s.spread * 100)} %`, `${Math.round(s.p99)} µs`]);
    }
  }
  console.log(renderTable(['server', 'rate', 'per server CPU-s', 'spread', 'p99'], rows));
  for (const shape of SHAPES) {
    const on = summary(`on ${shape.label}`);
    const off = summary(`off ${shape.label}`);
    console.log(`${shape.label}: on ÷ off = ${round(on.rate / off.rate, 2)} (rate), ${round(on.perCpu / off.perCpu, 2)} (per server CPU-s)`);
  }
} finally {
  killAllChildren();
}
