// How long do the numbers get? max value ÷ values issued, for three servers under uneven load
// (default 70 % / 20 % / 10 % of the requests), in the two ways of running several servers:
//
// - partitioned: `--instance i --instances 3`, each server its own data directory (embedded
//   store): server i issues i, i+3, i+6, …;
// - shared store: three servers on one PostgreSQL (started by the test harness
//   test/helpers/db-servers.ts, like bench/shared-stores.mjs) or etcd (`--store etcd`): every lease is
//   a disjoint block of one counter.
//
// Each mode runs twice: with the callers sending `last` (what the package's client does by default:
// the highest value it has seen of the sequence, from any server — so a server that fell more than
// `--drift` behind jumps above it) and without (callers pinned to one server, or `sendLast: false`).
// The same total number of values is issued in every run, one value per request, by one set of
// callers that picks a server per request by the weights; the ratio is the highest value received
// ÷ the number of values received (1.0: no number is longer than it has to be). Values are also
// checked for repeats.
//
// Run after `npm run build`:   node --import tsx bench/number-length.mjs [options]
//   --values N         values per run (default 100000, 1000–5000000)
//   --weights A,B,C    share of requests per server, in percent (default 70,20,10)
//   --concurrency C    requests in flight (default 16, 1–256)
//   --max-block B      the servers' --max-block (default: the server's, 10000)
//   --store KIND       postgres (default) or etcd
//   --json FILE        also write the results as JSON
// Every server and database is stopped at the end, on error, on Ctrl-C, and by a 10-minute watchdog.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { CLI_PATH, killAllTortureChildren, startServerProcess, waitForExit } from '../scripts/torture-core.mjs';

const WATCHDOG_MS = 10 * 60_000;
const SERVERS = 3;

/** The database harness of the tests. A .ts file: plain `node` cannot load it, say how to run. */
async function importHarness() {
  try {
    return await import('../test/helpers/db-servers.ts');
  } catch (error) {
    if (error?.code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      throw new Error('bench/number-length.mjs imports the TypeScript harness test/helpers/db-servers.ts: run it as `node --import tsx bench/number-length.mjs`', { cause: error });
    }
    throw error;
  }
}

function usageError(message) {
  process.stderr.write(`number-length: ${message}\n`);
  process.exit(2);
}

function integerFlag(text, name, fallback, min, max) {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) usageError(`--${name} must be a whole number from ${min} to ${max}, got "${text}"`);
  return Number(text);
}

let flags;
try {
  flags = parseArgs({
    options: {
      values: { type: 'string' },
      weights: { type: 'string' },
      concurrency: { type: 'string' },
      'max-block': { type: 'string' },
      store: { type: 'string' },
      json: { type: 'string' },
    },
  }).values;
} catch (error) {
  usageError(error.message);
}
const settings = {
  values: integerFlag(flags.values, 'values', 100_000, 1000, 5_000_000),
  concurrency: integerFlag(flags.concurrency, 'concurrency', 16, 1, 256),
  maxBlock: integerFlag(flags['max-block'], 'max-block', undefined, 1, 1_000_000),
  weights: (flags.weights ?? '70,20,10').split(',').map(Number),
  store: flags.store ?? 'postgres',
};
if (settings.weights.length !== SERVERS || settings.weights.some((w) => !Number.isFinite(w) || w < 0) || settings.weights.reduce((a, b) => a + b, 0) <= 0) {
  usageError(`--weights takes ${SERVERS} non-negative numbers, e.g. 70,20,10`);
}
if (!['postgres', 'etcd'].includes(settings.store)) usageError(`--store must be postgres or etcd, got "${settings.store}"`);

/**
 * A line-protocol connection that pipelines `NEXT name 1 last` and matches replies by order.
 * @throws (rejects) on `ERR` replies and when the connection closes with requests pending.
 */
class LineConnection {
  constructor(address) {
    const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
    this.socket = connect({ host, port, noDelay: true });
    this.socket.setEncoding('utf8');
    this.waiting = [];
    this.buffer = '';
    this.ready = new Promise((resolveReady, rejectReady) => {
      this.socket.once('connect', resolveReady);
      this.socket.once('error', rejectReady);
    });
    this.socket.on('data', (chunk) => {
      this.buffer += String(chunk);
      let newline;
      while ((newline = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, newline);
        this.buffer = this.buffer.slice(newline + 1);
        const waiter = this.waiting.shift();
        if (!waiter) continue;
        if (line.startsWith('ERR ')) waiter.reject(new Error(line));
        else waiter.resolve(BigInt(line.trim()));
      }
    });
    this.socket.on('close', () => {
      for (const waiter of this.waiting.splice(0)) waiter.reject(new Error('connection closed'));
    });
    this.socket.on('error', () => undefined);
  }

  next(name, last) {
    return new Promise((resolveNext, rejectNext) => {
      this.waiting.push({ resolve: resolveNext, reject: rejectNext });
      this.socket.write(`NEXT ${name} 1 ${last}\n`);
    });
  }

  close() {
    this.socket.destroy();
  }
}

/** Starts the three servers of a mode; resolves with their line addresses and a stop function. */
async function startServers(mode, storeUri) {
  const dirs = [];
  const servers = [];
  try {
    for (let index = 0; index < SERVERS; index += 1) {
      // Log level info: the `ready` line that names the bound address is logged at info.
      const args = ['--bind', 'off', '--http', 'off', '--admin', 'off', '--line', '127.0.0.1:0', '--log-level', 'info'];
      if (settings.maxBlock !== undefined) args.push('--max-block', String(settings.maxBlock));
      if (mode === 'partitioned') {
        const dir = mkdtempSync(join(tmpdir(), 'ticket-length-'));
        dirs.push(dir);
        args.push('--data', dir, '--instance', String(index + 1), '--instances', String(SERVERS));
      } else {
        args.push('--store', storeUri);
      }
      const server = startServerProcess(CLI_PATH, args);
      servers.push(server);
      await server.ready.then((endpoints) => {
        server.line = endpoints.line;
      });
    }
  } catch (error) {
    for (const server of servers) server.child.kill('SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    addresses: servers.map((server) => server.line),
    async stop() {
      for (const server of servers) server.child.kill('SIGTERM');
      await Promise.all(servers.map((server) => waitForExit(server, 20_000)));
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Issues `settings.values` values of `name` through the servers by the weights; returns the measurement. */
async function measure(addresses, name, sendLast) {
  const connections = addresses.map((address) => new LineConnection(address));
  await Promise.all(connections.map((connection) => connection.ready));
  const total = settings.weights.reduce((a, b) => a + b, 0);
  const cumulative = settings.weights.map((_, index) => settings.weights.slice(0, index + 1).reduce((a, b) => a + b, 0) / total);
  const received = new BigInt64Array(settings.values);
  const perServer = new Array(SERVERS).fill(0);
  let issued = 0;
  let started = 0;
  let last = 0n;
  const startedAt = performance.now();
  try {
    const caller = async () => {
      while (started < settings.values) {
        started += 1;
        const pick = Math.random();
        const index = cumulative.findIndex((bound) => pick < bound);
        const value = await connections[index].next(name, sendLast ? last : 0n);
        if (value > last) last = value;
        received[issued++] = value;
        perServer[index] += 1;
      }
    };
    await Promise.all(Array.from({ length: settings.concurrency }, caller));
  } finally {
    for (const connection of connections) connection.close();
  }
  const seconds = (performance.now() - startedAt) / 1000;
  received.sort();
  let repeats = 0;
  for (let i = 1; i < received.length; i += 1) if (received[i] === received[i - 1]) repeats += 1;
  const max = received[received.length - 1];
  return {
    issued,
    max: String(max),
    ratio: Math.round((Number(max) / issued) * 1000) / 1000,
    digits: String(max).length,
    repeats,
    perServer,
    seconds: Math.round(seconds * 10) / 10,
  };
}

const harness = await importHarness();
const watchdog = setTimeout(() => {
  process.stderr.write('number-length: watchdog: still running after 10 minutes; killing everything\n');
  killAllTortureChildren();
  harness.killAllDbServersSync();
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killAllTortureChildren();
    harness.killAllDbServersSync();
    process.exit(130);
  });
}
process.on('exit', () => killAllTortureChildren());

const results = [];
let db;
try {
  const missing = harness.missingBinary(settings.store);
  if (missing) throw new Error(`${settings.store} is not installed (${missing})`);
  db = settings.store === 'postgres' ? await harness.startPostgres() : await harness.startEtcd();
  for (const mode of ['partitioned', 'shared']) {
    for (const sendLast of [true, false]) {
      const servers = await startServers(mode, db.uri);
      try {
        const name = `length-${mode}-${sendLast ? 'last' : 'nolast'}-${Date.now().toString(36)}`;
        const result = await measure(servers.addresses, name, sendLast);
        results.push({ mode: mode === 'partitioned' ? 'partitioned (--instances 3, own data dirs)' : `shared ${settings.store}`, sendLast, ...result });
        process.stderr.write(`number-length: ${mode} ${sendLast ? 'with last' : 'without last'}: ratio ${result.ratio}\n`);
      } finally {
        await servers.stop();
      }
    }
  }
} finally {
  await db?.destroy();
  killAllTortureChildren();
  clearTimeout(watchdog);
}

const header = `| mode | callers send \`last\` | values issued | per server | max value | max ÷ issued | repeats |`;
const rows = results.map((r) => `| ${r.mode} | ${r.sendLast ? 'yes' : 'no'} | ${r.issued} | ${r.perServer.join(' / ')} | ${r.max} | ${r.ratio} | ${r.repeats} |`);
process.stdout.write(
  `weights ${settings.weights.join('/')} %, ${settings.values} values per run, concurrency ${settings.concurrency}, max-block ${settings.maxBlock ?? 'default (10000)'}\n\n${header}\n|---|---|---|---|---|---|---|\n${rows.join('\n')}\n`,
);
if (flags.json) writeFileSync(flags.json, `${JSON.stringify({ settings, results }, null, 2)}\n`);
process.exit(results.some((r) => r.repeats > 0) ? 1 : 0);
