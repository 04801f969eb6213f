// Before/after benchmark of the client (bench/README.md, "(d) before/after"):
//
//   node bench/prefetch-compare.mjs --before /path/to/old/dist [--repeats 3] [--values 3000000]
//        [--unbuffered 5000] [--in-flight 16] [--json results.json]
//
// Runs every variant of bench/prefetch.mjs (prefetch 1000: ZeroMQ and line://, `await` and
// `tryNext` loops; no prefetch: 1 and `--in-flight` requests in flight) with the client taken
// from `--before` (a `dist/` built from an earlier commit, with its `package.json` and
// `node_modules` beside it) and from this tree's `dist/`, alternating which goes first, each
// measurement against a fresh `--store memory:` server of this tree. Prints the median and the
// spread of the repeats, the client's CPU per value, the server's CPU and the load average
// (`uptime`) at each measurement, and the bare `await` loop ceiling measured in the same run.
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { measureBareAwait, runPrefetch } from './prefetch.mjs';
import { formatRate, median, renderTable, round } from './stats.mjs';
import { killAllChildren } from './zmq-load.mjs';

/** Reads `--name value` options; every one is bounded. */
function options(argv) {
  const known = { before: undefined, repeats: '3', values: '3000000', unbuffered: '5000', 'in-flight': '16', only: '', json: undefined };
  for (let index = 0; index < argv.length; index += 2) {
    const name = argv[index]?.replace(/^--/, '');
    if (name === undefined || !(name in known) || argv[index + 1] === undefined) {
      console.error(`usage: node bench/prefetch-compare.mjs --before DIST [--repeats 1-9] [--values 10000-30000000] [--unbuffered 100-100000] [--in-flight 2-256] [--only TEXT] [--json FILE]`);
      process.exit(2);
    }
    known[name] = argv[index + 1];
  }
  const number = (name, min, max) => {
    const value = Number(known[name]);
    if (!Number.isInteger(value) || value < min || value > max) {
      console.error(`--${name} must be an integer from ${min} to ${max}`);
      process.exit(2);
    }
    return value;
  };
  if (known.before === undefined) {
    console.error('--before DIST is required (a dist/ directory built from the commit to compare with)');
    process.exit(2);
  }
  return {
    before: resolve(known.before, 'index.js'),
    repeats: number('repeats', 1, 9),
    values: number('values', 10_000, 30_000_000),
    unbuffered: number('unbuffered', 100, 100_000),
    inFlight: number('in-flight', 2, 256),
    /** Only the variants whose label contains this text (e.g. "prefetch 1000"); default every one. */
    only: known.only,
    json: known.json,
  };
}

const settings = options(process.argv.slice(2));
const builds = [
  { label: 'before', clientModule: settings.before },
  { label: 'after', clientModule: new URL('../dist/index.js', import.meta.url).href },
];
const variants = [
  { label: 'ZeroMQ, prefetch 1000, await', scheme: 'tcp', loop: 'await', prefetch: 1000 },
  { label: 'ZeroMQ, prefetch 1000, tryNext', scheme: 'tcp', loop: 'tryNext', prefetch: 1000 },
  { label: 'line://, prefetch 1000, await', scheme: 'line', loop: 'await', prefetch: 1000 },
  { label: 'line://, prefetch 1000, tryNext', scheme: 'line', loop: 'tryNext', prefetch: 1000 },
  { label: 'ZeroMQ, no prefetch, 1 in flight', scheme: 'tcp', loop: 'await', prefetch: 0, inFlight: 1 },
  { label: 'line://, no prefetch, 1 in flight', scheme: 'line', loop: 'await', prefetch: 0, inFlight: 1 },
  { label: `ZeroMQ, no prefetch, ${settings.inFlight} in flight`, scheme: 'tcp', loop: 'await', prefetch: 0, inFlight: settings.inFlight },
  { label: `line://, no prefetch, ${settings.inFlight} in flight`, scheme: 'line', loop: 'await', prefetch: 0, inFlight: settings.inFlight },
].filter((variant) => variant.label.includes(settings.only));
if (variants.length === 0) {
  console.error(`--only ${settings.only}: no variant has that in its label`);
  process.exit(2);
}

process.on('exit', killAllChildren);
const log = (message) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`);

/** results[variant][build] = one row per repeat. */
const results = variants.map(() => builds.map(() => []));
const bare = [];
for (let repeat = 0; repeat < settings.repeats; repeat++) {
  bare.push({ ...(await measureBareAwait(settings.values)), load1: loadavg()[0] });
  for (const [variantIndex, variant] of variants.entries()) {
    // Alternate which build goes first, so neither always runs on the warmer (or busier) machine.
    const order = (repeat + variantIndex) % 2 === 0 ? [0, 1] : [1, 0];
    for (const buildIndex of order) {
      const build = builds[buildIndex];
      const load1 = loadavg()[0];
      const values = variant.prefetch === 0 ? settings.unbuffered : settings.values;
      const result = await runPrefetch({ values, rounds: 1, sequence: 'pf', ...variant, clientModule: build.clientModule, log: () => undefined });
      const row = result.rounds[0];
      if (result.orderViolations > 0) throw new Error(`${variant.label} ${build.label}: ${result.orderViolations} values out of order`);
      results[variantIndex][buildIndex].push({ valuesPerSecond: row.valuesPerSecond, clientCpuNsPerValue: row.clientCpuNsPerValue, serverCpuCores: row.serverCpuCores, load1 });
      log(`${repeat + 1}/${settings.repeats} ${variant.label} ${build.label}: ${formatRate(row.valuesPerSecond)}, client ${Math.round(row.clientCpuNsPerValue)} ns CPU/value, load ${load1.toFixed(2)}`);
    }
  }
}

const summary = (rows) => {
  const rates = rows.map((row) => row.valuesPerSecond);
  const middle = median(rates);
  return {
    median: round(middle),
    min: round(Math.min(...rates)),
    max: round(Math.max(...rates)),
    spread: round((Math.max(...rates) - Math.min(...rates)) / middle, 3),
    clientCpuNsPerValue: round(median(rows.map((row) => row.clientCpuNsPerValue))),
    serverCpuCores: round(median(rows.map((row) => row.serverCpuCores)), 3),
    load1: rows.map((row) => round(row.load1, 3)),
  };
};
const cpu = (ns) => (ns >= 10_000 ? `${(ns / 1000).toFixed(0)} µs` : `${Math.round(ns)} ns`);
const tableRows = [];
const report = { settings, bareAwait: bare, variants: [] };
for (const [variantIndex, variant] of variants.entries()) {
  const [before, after] = builds.map((_, buildIndex) => summary(results[variantIndex][buildIndex]));
  report.variants.push({ ...variant, before, after, afterOverBefore: round(after.median / before.median, 3), rows: results[variantIndex] });
  for (const [label, row] of [['before', before], ['after', after]]) {
    tableRows.push([
      label === 'before' ? variant.label : '',
      label,
      formatRate(row.median),
      `${formatRate(row.min)} – ${formatRate(row.max)}`,
      `${Math.round(row.spread * 100)}%`,
      cpu(row.clientCpuNsPerValue),
      row.serverCpuCores.toFixed(2),
      row.load1.map((load) => load.toFixed(1)).join(' '),
      label === 'after' ? `${(after.median / before.median).toFixed(2)}×` : '',
    ]);
  }
}
console.log(`\nClient before/after, ${settings.repeats} repeats alternating (prefetch rows ${(settings.values / 1e6).toFixed(1)} M values, no-prefetch rows ${settings.unbuffered}); load = 1-minute load average at each start (2 cores here)`);
console.log(renderTable(['variant', 'client', 'values/s (median)', 'min – max', 'spread', 'client CPU / value', 'server CPU', 'load', 'after ÷ before'], tableRows));
const bareRate = median(bare.map((row) => row.valuesPerSecond));
console.log(`bare \`await Promise.resolve(x)\` loop in this process: ${formatRate(bareRate)} (median; ${bare.map((row) => formatRate(row.valuesPerSecond)).join(', ')}), ${cpu(median(bare.map((row) => row.cpuNsPerValue)))} CPU per value: the ceiling of any await loop here`);
for (const inFlight of [1, settings.inFlight]) {
  for (const [buildIndex, build] of builds.entries()) {
    const index = (scheme) => variants.findIndex((v) => v.scheme === scheme && v.prefetch === 0 && v.inFlight === inFlight);
    if (index('line') < 0 || index('tcp') < 0) continue;
    const rate = (scheme) => median(results[index(scheme)][buildIndex].map((row) => row.valuesPerSecond));
    const ratio = rate('line') / rate('tcp');
    console.log(`no prefetch, ${inFlight} in flight, ${build.label}: line:// ÷ ZeroMQ = ${ratio.toFixed(2)} (target ≤ 1.5: ${ratio <= 1.5 ? 'PASS' : 'FAIL'})`);
  }
}
if (settings.json) writeFileSync(settings.json, `${JSON.stringify(report, (key, value) => (typeof value === 'bigint' ? String(value) : value), 2)}\n`);
