#!/usr/bin/env node
// kill -9 torture of the built server: `npm run torture` (builds first), or after a build
// `node scripts/torture.mjs [options]`. The work is done by runTorture in torture-core.mjs (the
// integration test runs the same function); this file parses flags, prints the report, and makes
// sure no server outlives it (exit, Ctrl-C, SIGTERM, the core's watchdog).
import { parseArgs } from 'node:util';
import { TORTURE_DEFAULTS, TORTURE_PROTOCOLS, killAllTortureChildren, runTorture } from './torture-core.mjs';

const HELP = `Usage: node scripts/torture.mjs [options]   (npm run torture -- [options])

Starts dist/cli/main.js on 127.0.0.1 free ports, drives load on several protocols and sequences,
SIGKILLs the server at a random moment, restarts it on the same data, and repeats; every Nth stop
is a SIGTERM, after which the next value must be exactly the last + step. Prints cycles, values,
repeats, the largest gap against its bound (2 × max-block × step), values lost on graceful
restarts and values/s. Exit status 1 on a repeat, a graceful loss, a gap beyond the bound (plus
the values of requests a kill left unanswered) or a server that fails; 2 on a bad option.

  --cycles N           stops (kills + graceful) to make (default ${TORTURE_DEFAULTS.cycles})
  --seconds S          wall-clock cap; the run ends after the cycle in progress (default ${TORTURE_DEFAULTS.seconds})
  --graceful-every N   every Nth stop is a SIGTERM (default ${TORTURE_DEFAULTS.gracefulEvery}; 0: never)
  --max-block B        the servers' --max-block (default ${TORTURE_DEFAULTS.maxBlock})
  --protocols LIST     comma list of ${TORTURE_PROTOCOLS.join(', ')} (default all)
  --sequences N        sequences loaded at once (default ${TORTURE_DEFAULTS.sequences})
  --workers N          callers per protocol × sequence × server, one request in flight each (default ${TORTURE_DEFAULTS.workers})
  --max-count N        largest count of one request, ≤ max-block (default ${TORTURE_DEFAULTS.maxCount})
  --min-run MS, --max-run MS   load time before each stop, drawn uniformly (default ${TORTURE_DEFAULTS.minRunMs}–${TORTURE_DEFAULTS.maxRunMs})
  --servers K          servers at once; each stop picks one at random (default 1)
  --server-workers N   run each server with --workers N (an owner and N worker processes; the
                       signals go to the owner); only repeats are checked then (default 1)
  --instances K        partitioned mode: the K servers are instances 1…K of K, each with its own
                       data directory (K must equal --servers, or sets it)
  --store URI          every server uses this shared store (postgres://, mysql://, etcd://) instead
                       of the embedded one; with several servers only repeats are checked
  --seed N             replay the random choices of an earlier run
  --json               print the report as JSON
  -h, --help           this text
`;

function fail(message) {
  process.stderr.write(`torture: ${message}\n(see --help)\n`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    options: {
      cycles: { type: 'string' },
      seconds: { type: 'string' },
      'graceful-every': { type: 'string' },
      'max-block': { type: 'string' },
      protocols: { type: 'string' },
      sequences: { type: 'string' },
      workers: { type: 'string' },
      'max-count': { type: 'string' },
      'min-run': { type: 'string' },
      'max-run': { type: 'string' },
      servers: { type: 'string' },
      'server-workers': { type: 'string' },
      instances: { type: 'string' },
      store: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  }).values;
} catch (error) {
  fail(error.message);
}
if (parsed.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

/** A flag's whole-number value, or undefined when absent. */
function integer(flag) {
  const text = parsed[flag];
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) fail(`--${flag} must be a whole number, got "${text}"`);
  return Number(text);
}

const instances = integer('instances');
let servers = integer('servers');
if (instances !== undefined) {
  if (servers !== undefined && servers !== instances) fail(`--instances ${instances} needs --servers ${instances} (one server per instance)`);
  servers = instances;
}

const options = {
  cycles: integer('cycles'),
  seconds: integer('seconds'),
  gracefulEvery: integer('graceful-every'),
  maxBlock: integer('max-block'),
  protocols: parsed.protocols?.split(',').map((name) => name.trim()).filter((name) => name !== ''),
  sequences: integer('sequences'),
  workers: integer('workers'),
  maxCount: integer('max-count'),
  minRunMs: integer('min-run'),
  maxRunMs: integer('max-run'),
  servers,
  serverWorkers: integer('server-workers'),
  partitioned: instances !== undefined && instances > 1,
  store: parsed.store,
  seed: integer('seed'),
  onProgress: (text) => process.stderr.write(`torture: ${text}\n`),
};

const abort = new globalThis.AbortController();
let interrupted = 0;
const onSignal = (signal) => {
  interrupted += 1;
  // First Ctrl-C: finish the cycle in progress and report; second: kill everything now.
  if (interrupted === 1) {
    process.stderr.write(`torture: ${signal}: stopping after this cycle (again to kill at once)\n`);
    abort.abort();
    return;
  }
  killAllTortureChildren();
  process.exit(130);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.on('exit', killAllTortureChildren);

let report;
try {
  report = await runTorture({ ...options, signal: abort.signal });
} catch (error) {
  if (error instanceof RangeError) fail(error.message);
  process.stderr.write(`torture: ${error.stack ?? error.message}\n`);
  process.exit(1);
}

if (parsed.json) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  const lines = [
    `mode               ${report.mode}, ${report.servers} server(s), protocols ${report.protocols.join('+')}, ${report.sequences} sequences, max-block ${report.maxBlock}, seed ${report.seed}`,
    `cycles             ${report.cycles} (${report.kills} kill -9, ${report.gracefulRestarts} graceful) in ${report.seconds} s`,
    `values             ${report.values} (${report.requests} requests, ${report.requestErrors} failed around stops)`,
    `repeats            ${report.repeats}`,
    `largest gap        ${report.largestGap} (bound 2 × max-block × step = ${report.gapBound}${report.gapChecked ? `; gaps over bound + unanswered: ${report.gapViolationCount}` : `; not checked: ${report.mode.includes('--workers') ? 'several processes (--workers) share one value class' : 'several servers share one value class'}`})`,
    `lost on graceful   ${report.gapChecked ? report.gracefulLost : 'not checked'}`,
    `values/s           ${report.valuesPerSecond}`,
  ];
  for (const sample of [...report.repeatSamples, ...report.gapViolations, ...report.lossSamples]) lines.push(`  ${sample}`);
  if (report.errorSamples.length > 0) lines.push(`errors while no stop was under way (first ${report.errorSamples.length}):`, ...report.errorSamples.map((text) => `  ${text}`));
  if (report.serverWarnings.length > 0) lines.push(`server warnings (first ${report.serverWarnings.length}):`, ...report.serverWarnings.map((text) => `  ${text}`));
  if (report.failure) lines.push(`FAILED: ${report.failure}`);
  lines.push(report.ok ? 'OK' : 'FAILED');
  process.stdout.write(`${lines.join('\n')}\n`);
}
process.exit(report.ok ? 0 : 1);
