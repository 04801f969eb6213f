// Shared-stores benchmark (g): single values per second through a ticket-server on each shared
// store — PostgreSQL, MariaDB (mysql://), etcd (one node) — next to the naive way of getting one
// durable value per round trip from that same store, in the same run, at the same concurrency C:
//
// - PostgreSQL: `SELECT nextval('bench_naive')` per value (pg Pool with C connections);
// - MariaDB: Flickr's ticket server, `REPLACE INTO tickets64 (stub) VALUES ('a'); SELECT
//   LAST_INSERT_ID();` per value (mysql2 pool with C connections, both statements in one round
//   trip); InnoDB table `tickets64` as in Flickr's post (their post used MyISAM, which is not
//   crash-safe; InnoDB is the durable equivalent);
// - etcd: one transaction per value: `if value(counter) == seen then put(counter, seen + 1) else
//   get(counter)` (read-modify-CAS; a lost race reads the new value in the same round trip and
//   retries), C concurrent loops on one etcd3 client; only successful increments count.
//
// ticket-server side: `node dist/cli/main.js --store <uri> --http 127.0.0.1:0 --line 127.0.0.1:0
// --admin off --bind tcp://127.0.0.1:0` (a child process, default pool size), measured three ways
// from this process, each with C callers that each wait for one value at a time:
//
// - http: HTTP/1.1 keep-alive with autocannon, `POST /v1/sequences/shared/next`, C connections,
//   one request in flight on each (one value per request);
// - line: the project's client (`dist/index.js`) on `line://HOST:PORT` (the address the server
//   logs in its `listening` line for protocol `line`), C concurrent loops of `await t.next('shared')`
//   on one client: one value per call, the client pipelines the C requests on its connection;
// - line prefetch: the same client with `{ prefetch: 1000 }`: values are fetched 1000 at a time and
//   handed out from a buffer in this process (the values a client has not handed out when it
//   closes or exits are never issued again: a gap).
//
// A ticket-server on `memory:` (started once) is measured the same way right before each row, as a
// reference (how much does a real store cost?). Every ratio is ticket-server ÷ naive on the same
// database; the target is ≥ 20× for every ticket-server row (the memory: rows have none).
//
// Every database server is started by the test harness test/helpers/db-servers.ts (the same
// binaries, flags, users and databases the tests use) on free 127.0.0.1 ports in temp dirs and
// removed afterwards; a missing binary skips that store with the Debian package to install.
// Importing that TypeScript file needs tsx: used by bench/run.mjs as section (g) (`npm run bench`
// runs `node --import tsx bench/run.mjs`); also runs alone (after `npm run build`):
//   node --import tsx bench/shared-stores.mjs          (BENCH_QUICK=1 for ~2 s measurements)
// Knobs: BENCH_SHARED_SECONDS (per measurement, default 5, quick 2, 0.5–10),
// BENCH_SHARED_CONCURRENCY (default 32, 1–256), BENCH_SHARED_STORES (comma list, default
// postgres,mariadb,etcd).
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { URL, fileURLToPath, pathToFileURL } from 'node:url';
import { Etcd3 } from 'etcd3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import ticketServer from '../dist/index.js';
import { runAutocannon } from './http-load.mjs';
import { envNumber, formatLatency, formatRate, percentileSorted, renderTable, round } from './stats.mjs';
import { killAllChildren, machineCpuSeconds, processCpuSeconds, startServer } from './zmq-load.mjs';

/** The database harness of the tests. A .ts file: plain `node` cannot load it, say how to run. */
async function importHarness() {
  try {
    return await import('../test/helpers/db-servers.ts');
  } catch (error) {
    if (error?.code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      throw new Error('bench/shared-stores.mjs imports the TypeScript harness test/helpers/db-servers.ts: run node with --import tsx ' +
        '(`npm run bench` runs `node --import tsx bench/run.mjs`; alone: `node --import tsx bench/shared-stores.mjs`)', { cause: error });
    }
    throw error;
  }
}
const { dbServerPids, dbServerVersion, killAllDbServersSync, missingBinary, startEtcd, startMariadb, startPostgres } = await importHarness();
export { killAllDbServersSync };

/** ticket-server values/s ÷ naive values/s, for every ticket-server row on every store (the issue's target). */
export const TARGET_SHARED_OVER_NAIVE = 20;
export const SHARED_STORES = ['postgres', 'mariadb', 'etcd'];
/** The ticket-server rows, in the order they are measured. */
export const TICKET_ROWS = ['http', 'line', 'linePrefetch'];
/** Values a prefetching client fetches at once (row linePrefetch). */
export const SHARED_PREFETCH = 1000;
const DEBIAN_PACKAGE = { postgres: 'postgresql', mariadb: 'mariadb-server', etcd: 'etcd-server' };
const LABEL = { memory: 'memory:', postgres: 'PostgreSQL', mariadb: 'MariaDB', etcd: 'etcd' };
const ROW_LABEL = { http: 'HTTP', line: 'line://', linePrefetch: `line:// prefetch ${SHARED_PREFETCH}` };
const NAIVE = {
  postgres: "SELECT nextval('bench_naive')",
  mariadb: "REPLACE INTO tickets64 (stub) VALUES ('a'); SELECT LAST_INSERT_ID()",
  etcd: 'txn: if value(k) == seen then put(k, seen+1) else get(k)',
};
const NAIVE_SHORT = { postgres: 'nextval()', mariadb: 'REPLACE INTO + LAST_INSERT_ID()', etcd: 'CAS txn' };
const FLICKR_TABLE = `CREATE TABLE IF NOT EXISTS tickets64 (
  id bigint unsigned NOT NULL auto_increment,
  stub char(1) NOT NULL default '',
  PRIMARY KEY (id),
  UNIQUE KEY stub (stub)
) ENGINE=InnoDB`;
const ETCD_KEY = 'bench-naive-counter';
/** Deadline of one naive database call, and the ticket-server client's timeout (autocannon's is the same 10 s). */
const CALL_TIMEOUT_MS = 10_000;
/** A run that hits this many errors stops (the server is broken; no point in spinning). */
const MAX_ERRORS = 1_000;

/** Settings of (g) from the environment (all bounded). */
export function sharedStoresSettings(quick = process.env.BENCH_QUICK === '1') {
  const storesText = process.env.BENCH_SHARED_STORES;
  const stores = storesText ? storesText.split(',').map((name) => name.trim()).filter((name) => name !== '') : SHARED_STORES;
  for (const store of stores) {
    if (!SHARED_STORES.includes(store)) throw new Error(`BENCH_SHARED_STORES: unknown store "${store}" (known: ${SHARED_STORES.join(', ')})`);
  }
  return {
    stores,
    concurrency: Math.round(envNumber('BENCH_SHARED_CONCURRENCY', 32, 1, 256)),
    durationMs: Math.round(envNumber('BENCH_SHARED_SECONDS', quick ? 2 : 5, 0.5, 10) * 1000),
    /** Unrecorded run before each measurement (JIT, connections, lease growth, the client's buffer). */
    warmupMs: quick ? 500 : 1000,
    sequence: 'shared',
    prefetch: SHARED_PREFETCH,
  };
}

/** Upper bound of the section's running time, for watchdogs: measurements plus generous start/stop bounds. */
export function sharedStoresPlannedMs(s) {
  const perRow = s.warmupMs + s.durationMs + 3_000;
  // memory: server start; per store: each ticket-server row twice (memory: reference and store), naive, start/stop.
  return 20_000 + s.stores.length * ((2 * TICKET_ROWS.length + 1) * perRow + 120_000);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `scheme://user@host:port/db`: the URI without its password, for output and JSON. */
function redact(uri) {
  return uri.replace(/^([a-z]+:\/\/[^:@/]+):[^@/]*@/, '$1@');
}

/** Client port of a one-node etcd from its store URI `etcd://127.0.0.1:PORT`. */
function etcdPort(db) {
  const match = /^etcd:\/\/127\.0\.0\.1:(\d+)$/.exec(db.uri);
  if (!match) throw new Error(`unexpected etcd URI ${db.uri}`);
  return Number(match[1]);
}

/** Starts a database of `kind` with the test harness. */
function startDbServer(kind) {
  if (kind === 'postgres') return startPostgres();
  if (kind === 'mariadb') return startMariadb();
  return startEtcd();
}

// ---- CPU accounting ------------------------------------------------------------------

/** CPU seconds per pid of the database (PostgreSQL: postmaster and backends). */
function cpuByPid(pids) {
  return new Map(pids.map((pid) => [pid, processCpuSeconds(pid)]));
}

/** Runs `measure` and adds the cores used meanwhile by this process, the ticket-server, the database and everything else. */
async function withCpu({ ticketPid, db }, measure) {
  const wallStart = performance.now();
  const benchBefore = process.cpuUsage();
  const ticketBefore = ticketPid === undefined ? NaN : processCpuSeconds(ticketPid);
  const dbBefore = db ? cpuByPid(dbServerPids(db)) : new Map();
  const machineBefore = machineCpuSeconds();
  const run = await measure();
  const wall = (performance.now() - wallStart) / 1000;
  const benchUsage = process.cpuUsage(benchBefore);
  const bench = (benchUsage.user + benchUsage.system) / 1e6;
  const ticket = ticketPid === undefined ? 0 : processCpuSeconds(ticketPid) - ticketBefore;
  let dbCpu = 0;
  if (db) {
    for (const [pid, seconds] of cpuByPid(dbServerPids(db))) {
      const before = dbBefore.get(pid) ?? 0;
      if (Number.isFinite(seconds)) dbCpu += seconds - (Number.isFinite(before) ? before : 0);
    }
  }
  const machine = machineCpuSeconds().busy - machineBefore.busy;
  return {
    ...run,
    benchCpuCores: round(bench / wall, 3),
    ticketCpuCores: ticketPid === undefined ? undefined : round(ticket / wall, 3),
    dbCpuCores: db ? round(dbCpu / wall, 3) : undefined,
    otherCpuCores: round(Math.max(0, machine - bench - ticket - dbCpu) / wall, 3),
  };
}

// ---- store-side counters: how often the store made something durable -------------------

/**
 * Durable writes the database did so far: `fsyncs` (PostgreSQL pg_stat_wal.wal_sync, MariaDB
 * Innodb_data_fsyncs, etcd etcd_disk_wal_fsync_duration_seconds_count) and `commits`
 * (PostgreSQL xact_commit of the database, MariaDB Handler_commit, etcd proposals committed);
 * etcd also says how long its WAL fsyncs took (`fsyncSeconds`).
 * PostgreSQL publishes a backend's counters when it ends a transaction (at most once a second)
 * or exits: read after the clients of the row disconnected.
 */
async function storeCounters(db) {
  try {
    if (db.kind === 'postgres') {
      const client = new pg.Client({ connectionString: db.uri, connectionTimeoutMillis: 2_000, query_timeout: 5_000 });
      client.on('error', () => undefined);
      await client.connect();
      try {
        const wal = await client.query('SELECT wal_sync::text AS fsyncs FROM pg_stat_wal');
        const commits = await client.query('SELECT xact_commit::text AS commits FROM pg_stat_database WHERE datname = current_database()');
        return { fsyncs: Number(wal.rows[0].fsyncs), commits: Number(commits.rows[0].commits) };
      } finally {
        await client.end().catch(() => undefined);
      }
    }
    if (db.kind === 'mariadb') {
      const connection = await mysql.createConnection({ uri: db.uri, connectTimeout: 2_000 });
      connection.on('error', () => undefined);
      try {
        // MariaDB 10.11 has no Innodb_os_log_fsyncs any more; Innodb_data_fsyncs counts every InnoDB fsync (redo log included).
        const [rows] = await connection.query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_data_fsyncs', 'Handler_commit')");
        const value = (name) => Number(rows.find((row) => row.Variable_name === name)?.Value);
        return { fsyncs: value('Innodb_data_fsyncs'), commits: value('Handler_commit') };
      } finally {
        await connection.end().catch(() => undefined);
      }
    }
    const response = await globalThis.fetch(`http://127.0.0.1:${etcdPort(db)}/metrics`, { signal: globalThis.AbortSignal.timeout(5_000) });
    if (response.status !== 200) throw new Error(`etcd /metrics answered ${response.status}`);
    const text = await response.text();
    const metric = (name) => Number(text.match(new RegExp(`^${name} ([0-9.e+]+)$`, 'm'))?.[1]);
    return {
      fsyncs: metric('etcd_disk_wal_fsync_duration_seconds_count'),
      fsyncSeconds: metric('etcd_disk_wal_fsync_duration_seconds_sum'),
      commits: metric('etcd_server_proposals_committed_total'),
    };
  } catch (error) {
    return { fsyncs: NaN, commits: NaN, error: error.message };
  }
}

/** What the database is configured to do on commit (reported next to the numbers). */
async function durabilitySettings(db) {
  try {
    if (db.kind === 'postgres') {
      const client = new pg.Client({ connectionString: db.uri, connectionTimeoutMillis: 2_000, query_timeout: 5_000 });
      client.on('error', () => undefined);
      await client.connect();
      try {
        const result = await client.query("SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sc, current_setting('wal_sync_method') AS method");
        const row = result.rows[0];
        return `fsync=${row.fsync}, synchronous_commit=${row.sc}, wal_sync_method=${row.method}`;
      } finally {
        await client.end().catch(() => undefined);
      }
    }
    if (db.kind === 'mariadb') {
      const connection = await mysql.createConnection({ uri: db.uri, connectTimeout: 2_000 });
      connection.on('error', () => undefined);
      try {
        const [rows] = await connection.query('SELECT @@innodb_flush_log_at_trx_commit AS flush, @@log_bin AS log_bin, @@innodb_flush_method AS method');
        return `innodb_flush_log_at_trx_commit=${rows[0].flush}, innodb_flush_method=${rows[0].method}, log_bin=${rows[0].log_bin}`;
      } finally {
        await connection.end().catch(() => undefined);
      }
    }
    return 'one member: a write is answered after its Raft entry is fsync\'d to the WAL';
  } catch (error) {
    return `unknown (${error.message})`;
  }
}

/** Counters of the row: what the store did per 1000 values (between two storeCounters snapshots). */
function perThousand(before, after, values) {
  const delta = (key) => after[key] - before[key];
  return {
    values,
    fsyncs: delta('fsyncs'),
    commits: delta('commits'),
    fsyncsPer1kValues: values > 0 ? round((delta('fsyncs') / values) * 1000, 3) : NaN,
    commitsPer1kValues: values > 0 ? round((delta('commits') / values) * 1000, 3) : NaN,
    ...(after.fsyncSeconds !== undefined ? { meanFsyncMs: round((delta('fsyncSeconds') / delta('fsyncs')) * 1000, 3) } : {}),
    ...(before.error || after.error ? { error: before.error ?? after.error } : {}),
  };
}

// ---- naive clients ----------------------------------------------------------------------

/**
 * The naive client of a store: `makeStep()` gives one loop its step function, which makes one
 * attempt and resolves `{ ok: true, value }` (a value, a number) or `{ ok: false }` (a lost race:
 * the loop tries again); `close()` ends the connections.
 */
async function naiveClient(db, concurrency) {
  if (db.kind === 'postgres') {
    const pool = new pg.Pool({ connectionString: db.uri, max: concurrency, connectionTimeoutMillis: 5_000, query_timeout: CALL_TIMEOUT_MS });
    pool.on('error', () => undefined);
    await pool.query('CREATE SEQUENCE IF NOT EXISTS bench_naive').catch(async (error) => {
      await pool.end().catch(() => undefined);
      throw error;
    });
    return {
      makeStep: () => async () => {
        const result = await pool.query("SELECT nextval('bench_naive') AS v");
        return { ok: true, value: Number(result.rows[0].v) };
      },
      close: () => pool.end(),
    };
  }
  if (db.kind === 'mariadb') {
    const pool = mysql.createPool({ uri: db.uri, connectionLimit: concurrency, multipleStatements: true, connectTimeout: 5_000 });
    pool.on('error', () => undefined);
    await pool.query(FLICKR_TABLE).catch(async (error) => {
      await pool.end().catch(() => undefined);
      throw error;
    });
    return {
      makeStep: () => async () => {
        try {
          const [results] = await pool.query({ sql: NAIVE.mariadb, timeout: CALL_TIMEOUT_MS });
          return { ok: true, value: Number(results[1][0]['LAST_INSERT_ID()']) };
        } catch (error) {
          // REPLACE on a unique key can deadlock under concurrency: InnoDB rolled it back, try again.
          if (error.code === 'ER_LOCK_DEADLOCK' || error.code === 'ER_LOCK_WAIT_TIMEOUT') return { ok: false };
          throw error;
        }
      },
      close: () => pool.end(),
    };
  }
  const client = new Etcd3({
    hosts: [`127.0.0.1:${etcdPort(db)}`],
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
  });
  await client.put(ETCD_KEY).value('0').catch((error) => {
    client.close();
    throw error;
  });
  return {
    makeStep: () => {
      // Each loop keeps the value it last saw, as separate clients would.
      let seen = 0;
      return async () => {
        const reply = await client.if(ETCD_KEY, 'Value', '==', String(seen)).then(client.put(ETCD_KEY).value(String(seen + 1))).else(client.get(ETCD_KEY)).commit();
        if (reply.succeeded) {
          seen += 1;
          return { ok: true, value: seen };
        }
        seen = Number(reply.responses[0].response_range.kvs[0].value.toString('utf8'));
        return { ok: false };
      };
    },
    close: async () => client.close(),
  };
}

/**
 * `concurrency` loops, each: one attempt after the other until `durationMs` has passed. Counts
 * the values that arrived within the duration; latency of a value = start of its first attempt →
 * its arrival (lost races included). Checks that each loop's values increase and that no value
 * comes twice.
 */
async function runLoops({ concurrency, durationMs, makeStep, latencies }) {
  const start = performance.now();
  const end = start + durationMs;
  const run = { completed: 0, attempts: 0, conflicts: 0, errors: 0, orderViolations: 0, duplicates: 0, errorExamples: [], samples: 0, samplesDropped: 0 };
  const seen = new Set();
  const loop = async () => {
    const step = makeStep();
    let last = -Infinity;
    let began = performance.now();
    while (began < end && run.errors < MAX_ERRORS) {
      let outcome;
      try {
        outcome = await step();
        run.attempts++;
      } catch (error) {
        run.attempts++;
        run.errors++;
        if (run.errorExamples.length < 5) run.errorExamples.push(`${error.code ?? error.name}: ${error.message}`);
        await sleep(10);
        began = performance.now();
        continue;
      }
      const now = performance.now();
      if (!outcome.ok) {
        run.conflicts++;
        if (now >= end) break;
        continue;
      }
      if (now <= end) {
        run.completed++;
        if (run.samples < latencies.length) latencies[run.samples++] = now - began;
        else run.samplesDropped++;
      }
      if (!(outcome.value > last)) run.orderViolations++;
      last = outcome.value;
      if (seen.has(outcome.value)) run.duplicates++;
      seen.add(outcome.value);
      began = now;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  if (run.errors >= MAX_ERRORS) throw new Error(`${run.errors} errors, e.g. ${run.errorExamples.join(' | ')}`);
  const sorted = latencies.subarray(0, run.samples).sort();
  const p = (q) => round(percentileSorted(sorted, run.samples, q) * 1000); // µs
  const { samples, samplesDropped, ...counts } = run;
  return {
    ...counts,
    durationMs,
    valuesPerSecond: round(run.completed / (durationMs / 1000)),
    attemptsPerSecond: round(run.attempts / ((performance.now() - start) / 1000)),
    latencyUs: { p50: p(0.5), p99: p(0.99), max: p(1), samples, samplesDropped },
  };
}

// ---- ticket-server side ---------------------------------------------------------------------

/** The CLI's flags for (g); the store comes after them. */
const TICKET_BASE_ARGS = ['--http', '127.0.0.1:0', '--line', '127.0.0.1:0', '--admin', 'off', '--bind', 'tcp://127.0.0.1:0', '--log-level', 'info'];

/** One POST with fetch: status and body shape, before any load. */
async function probe(url) {
  const response = await globalThis.fetch(url, { method: 'POST', signal: globalThis.AbortSignal.timeout(CALL_TIMEOUT_MS) });
  const body = await response.text();
  return { status: response.status, body: body.slice(0, 200), ok: response.status === 200 && /^\{"sequence":"[^"]+","values":\["[1-9][0-9]*"\]\}$/.test(body) };
}

/** Starts a ticket-server on `store`, checks one HTTP request and one line:// call; the caller stops it. */
async function startTicket(label, store, path, sequence) {
  const server = await startServer(label, ['--store', store], { baseArgs: TICKET_BASE_ARGS });
  try {
    const url = server.urls.http;
    if (typeof url !== 'string') throw new Error(`${label}: logged no http url`);
    const lineAddress = server.addresses.line;
    if (typeof lineAddress !== 'string') throw new Error(`${label}: logged no listening address for protocol line`);
    server.endpoint = url;
    server.lineUri = `line://${lineAddress}`;
    server.probe = await probe(`${url}${path}`);
    if (!server.probe.ok) throw new Error(`${label}: unexpected answer to POST ${path}: ${JSON.stringify(server.probe)}`);
    const client = ticketServer([server.lineUri], { timeout: CALL_TIMEOUT_MS });
    try {
      const value = await client.next(sequence);
      if (typeof value !== 'bigint' || value <= 0n) throw new Error(`${label}: unexpected line:// value ${String(value)}`);
    } finally {
      await client.close();
    }
    return server;
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/** autocannon against a ticket-server: values/s (every 2xx response carries one value). */
async function httpLoad(server, path, s, durationMs, latencies) {
  const run = await runAutocannon({ server, url: server.endpoint + path, connections: s.concurrency, pipelining: 1, durationMs, latencies });
  return {
    completed: run['2xx'],
    valuesPerSecond: round(run['2xx'] / run.seconds),
    durationMs: round(run.seconds * 1000),
    errors: run.non2xx + run.errors + run.timeouts,
    statuses: run.statuses,
    latencyUs: { p50: run.latencyUs.p50, p99: run.latencyUs.p99, max: run.latencyUs.max, samples: run.latencyUs.samples, samplesDropped: run.latencyUs.samplesDropped },
    autocannon: { completed: run.completed, non2xx: run.non2xx, errors: run.errors, timeouts: run.timeouts, resets: run.resets, mismatches: run.mismatches },
  };
}

/**
 * Remembers values (non-negative integers below 2^53) in bitmaps of 2^23 values each, to find
 * duplicates among millions of values in a few MB. Gives up (and says so) past MAX_CHUNKS chunks.
 */
class ValueSet {
  static CHUNK_BITS = 23;
  static MAX_CHUNKS = 256;
  chunks = new Map();
  duplicates = 0;
  abandoned = false;

  add(value) {
    if (this.abandoned) return;
    const number = Number(value);
    const key = Math.floor(number / 2 ** ValueSet.CHUNK_BITS);
    let chunk = this.chunks.get(key);
    if (chunk === undefined) {
      if (this.chunks.size >= ValueSet.MAX_CHUNKS) {
        this.abandoned = true;
        this.chunks.clear();
        return;
      }
      chunk = new Uint8Array(2 ** (ValueSet.CHUNK_BITS - 3));
      this.chunks.set(key, chunk);
    }
    const bit = number - key * 2 ** ValueSet.CHUNK_BITS;
    const mask = 1 << (bit & 7);
    if ((chunk[bit >> 3] & mask) !== 0) this.duplicates++;
    else chunk[bit >> 3] |= mask;
  }
}

/**
 * `concurrency` loops of `await client.next(sequence)`, each waiting for its value before it asks
 * for the next one, until `durationMs` has passed. Counts the values that arrived within the
 * duration (`handedOut` counts all); latency of a value = the call → its value, a uniform sample
 * of them (reservoir) in `latencies`. Checks that each loop's values increase and that no value
 * comes twice.
 */
export async function clientLoops({ client, sequence, concurrency, durationMs, latencies }) {
  const start = performance.now();
  const end = start + durationMs;
  const capacity = latencies.length;
  const run = { completed: 0, handedOut: 0, errors: 0, orderViolations: 0, errorExamples: [], samples: 0 };
  const values = new ValueSet();
  const loop = async () => {
    let last = -1n;
    let began = performance.now();
    while (began < end && run.errors < MAX_ERRORS) {
      let value;
      try {
        value = await client.next(sequence);
      } catch (error) {
        run.errors++;
        if (run.errorExamples.length < 5) run.errorExamples.push(`${error.code ?? error.name}: ${error.message}`);
        await sleep(10);
        began = performance.now();
        continue;
      }
      run.handedOut++;
      const now = performance.now();
      if (now > end) break;
      const n = ++run.completed;
      if (run.samples < capacity) latencies[run.samples++] = now - began;
      else {
        const slot = Math.floor(Math.random() * n);
        if (slot < capacity) latencies[slot] = now - began;
      }
      if (value <= last) run.orderViolations++;
      last = value;
      values.add(value);
      began = now;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const seconds = (performance.now() - start) / 1000;
  if (run.errors >= MAX_ERRORS) throw new Error(`${run.errors} errors, e.g. ${run.errorExamples.join(' | ')}`);
  const sorted = latencies.subarray(0, run.samples).sort();
  const p = (q) => round(percentileSorted(sorted, run.samples, q) * 1000); // µs
  const { samples, ...counts } = run;
  return {
    ...counts,
    duplicates: values.abandoned ? null : values.duplicates,
    durationMs,
    valuesPerSecond: round(run.completed / (durationMs / 1000)),
    wallSeconds: round(seconds),
    latencyUs: { p50: p(0.5), p99: p(0.99), max: p(1), samples, sampled: run.completed > samples ? 'reservoir' : 'all' },
  };
}

/** Batch requests a client sent that the server answered or may have answered (each reserved `prefetch` values). */
function batchesSent(client) {
  return client.stats().reduce((sum, upstream) => sum + upstream.requests - upstream.failures, 0);
}

/**
 * One ticket-server row, measured: `http` (autocannon), `line` or `linePrefetch` (the client in
 * this process, one client for the warm-up and the measurement). The warm-up is not recorded;
 * CPU is accounted over the measurement only.
 */
async function measureRow({ row, server, db, path, s, latencies }) {
  if (server.failure) throw new Error(`${server.label} failed: ${server.failure.reason}`);
  const cpu = { ticketPid: server.pid, db };
  if (row === 'http') {
    const warm = await httpLoad(server, path, s, s.warmupMs, latencies);
    const run = await withCpu(cpu, () => httpLoad(server, path, s, s.durationMs, latencies));
    // Values the server issued for the row (2xx responses of warm-up and measurement).
    return { ...run, valuesIssued: warm.completed + run.completed };
  }
  const prefetch = row === 'linePrefetch' ? s.prefetch : 0;
  const client = ticketServer([server.lineUri], { timeout: CALL_TIMEOUT_MS, prefetch });
  let handedOut = 0;
  let result;
  try {
    const loops = (durationMs) => clientLoops({ client, sequence: s.sequence, concurrency: s.concurrency, durationMs, latencies });
    const warm = await loops(s.warmupMs);
    handedOut += warm.handedOut;
    result = await withCpu(cpu, () => loops(s.durationMs));
    handedOut += result.handedOut;
  } finally {
    if (result) {
      // Values the server issued for the row: every answered call, or every batch the prefetching client asked for.
      result.valuesIssued = handedOut;
      if (prefetch > 0) {
        const batches = batchesSent(client);
        result.prefetch = { prefetch, batches, valuesFetched: batches * prefetch, valuesHandedOut: handedOut, unusedAtClose: batches * prefetch - handedOut };
        result.valuesIssued = batches * prefetch;
      }
    }
    await client.close();
  }
  return result;
}

function serverSummary(server) {
  return server && { pid: server.pid, url: server.endpoint, line: server.lineUri, failure: server.failure, warnings: server.logs.warnings, stderr: server.logs.stderr, exit: server.exit };
}

// ---- the section ----------------------------------------------------------------------------

/**
 * Runs section (g). Options: the `sharedStoresSettings()` fields and `log`. Per store: starts the
 * database, a ticket-server on it, then per row (http, line, line prefetch) the memory: reference
 * and the ticket-server on the store (each: warm-up, measurement), stops the ticket-server, then
 * the naive client (warm-up, measurement, close), then removes the database. Stops everything it
 * started, also on error.
 */
export async function runSharedStores(options) {
  const s = { ...sharedStoresSettings(), ...options };
  const log = s.log ?? (() => undefined);
  const path = `/v1/sequences/${encodeURIComponent(s.sequence)}/next`;
  const latencies = new Float64Array(Math.ceil((Math.max(s.durationMs, s.warmupMs) / 1000) * 300_000) + 1000);
  const result = {
    settings: {
      concurrency: s.concurrency,
      durationMs: s.durationMs,
      warmupMs: s.warmupMs,
      stores: s.stores,
      rows: TICKET_ROWS,
      prefetch: s.prefetch,
      ticketTransports: {
        http: `HTTP/1.1 keep-alive, POST ${path} (no body), autocannon in this process, ${s.concurrency} connections, pipelining 1`,
        line: `the project's client (dist/index.js) on line://<address logged by the server>, one client in this process, ${s.concurrency} concurrent loops of await t.next('${s.sequence}') (one value per call, pipelined on the client's one connection)`,
        linePrefetch: `the same with { prefetch: ${s.prefetch} }: values fetched ${s.prefetch} at a time and handed out from the client's buffer; a client's unused prefetched values are a gap when it closes or exits`,
      },
      ticketArgs: `node dist/cli/main.js ${TICKET_BASE_ARGS.join(' ')} --store <uri>  (pool size: the default)`,
      naiveTransport: `the database's own protocol over loopback TCP with the driver ticket-server uses (pg, mysql2, etcd3/gRPC), ${s.concurrency} concurrent loops, one request in flight each`,
      naive: NAIVE,
      mariadbTable: FLICKR_TABLE,
      databases: 'started by test/helpers/db-servers.ts (initdb + postgres -c fsync=on -c synchronous_commit=on; mariadb-install-db + mariadbd --skip-log-bin; one etcd member)',
      targets: { overNaive: TARGET_SHARED_OVER_NAIVE, rows: TICKET_ROWS },
    },
    memory: undefined,
    stores: {},
  };

  // Reference: a ticket-server on memory:, started once, measured right before each store row
  // (same load, same moment: machine noise weighs on both alike).
  let memoryServer;
  const memory = { failures: [], runs: {} };
  result.memory = memory;
  const measureMemory = async (kind, row) => {
    if (!memoryServer || memoryServer.failure) return undefined;
    try {
      const run = await measureRow({ row, server: memoryServer, db: undefined, path, s, latencies });
      memory.runs[`${kind}.${row}`] = run;
      log(`shared memory:  ${ROW_LABEL[row].padEnd(20)} ${formatRate(run.valuesPerSecond)}, p50 ${run.latencyUs.p50} µs, errors ${run.errors} (reference for ${kind})`);
      return run;
    } catch (error) {
      memory.failures.push({ row: `${row} reference for ${kind}`, message: error.message });
      log(`shared stores: memory: ${row} reference FAILED: ${error.message}`);
      return undefined;
    }
  };
  try {
    memoryServer = await startTicket('ticket-memory', 'memory:', path, s.sequence);
    log(`shared stores: memory: ticket-server pid ${memoryServer.pid} at ${memoryServer.endpoint} and ${memoryServer.lineUri}`);
  } catch (error) {
    memory.failures.push({ row: 'start', message: error.message });
    log(`shared stores: memory: reference FAILED: ${error.message}`);
  }

  try {
    for (const kind of s.stores) {
      const missing = missingBinary(kind);
      if (missing) {
        result.stores[kind] = { skipped: `skipped: ${missing}`, debianPackage: DEBIAN_PACKAGE[kind] };
        log(`shared stores: ${kind} ${result.stores[kind].skipped}`);
        continue;
      }
      const entry = { failures: [], rows: {}, memory: {} };
      result.stores[kind] = entry;
      let db;
      let server;
      let naive;
      try {
        const started = performance.now();
        // One retry: a first start has been seen to fail once on a busy machine (install-db aborting).
        for (let attempt = 1; !db; attempt++) {
          try {
            db = await startDbServer(kind);
          } catch (error) {
            if (attempt >= 2) throw error;
            entry.failures.push({ row: 'database', phase: 'start (retried)', message: error.message });
            log(`shared stores: ${kind} did not start, retrying once: ${error.message}`);
          }
        }
        entry.db = { version: dbServerVersion(kind), uri: redact(db.uri), startSeconds: round((performance.now() - started) / 1000, 3), durability: await durabilitySettings(db) };
        log(`shared stores: ${entry.db.version} pids ${dbServerPids(db).join(',')} at ${entry.db.uri} (${entry.db.durability})`);

        // ticket-server on the store: the three rows, each right after its memory: reference.
        const before = await storeCounters(db);
        let ticketValues = 0;
        try {
          server = await startTicket(`ticket-${kind}`, db.uri, path, s.sequence);
          ticketValues += 2; // the probes
          log(`shared stores: ${kind} ticket-server pid ${server.pid} at ${server.endpoint} and ${server.lineUri}`);
          for (const row of TICKET_ROWS) {
            entry.memory[row] = await measureMemory(kind, row);
            try {
              const run = await measureRow({ row, server, db, path, s, latencies });
              entry.rows[row] = run;
              ticketValues += run.valuesIssued;
              log(`shared ${kind.padEnd(8)} ${ROW_LABEL[row].padEnd(20)} ${formatRate(run.valuesPerSecond)}, p50 ${run.latencyUs.p50} µs, errors ${run.errors}`);
            } catch (error) {
              entry.failures.push({ row, message: error.message });
              log(`shared stores: ${kind} ticket-server ${row} FAILED: ${error.message}`);
            }
          }
        } catch (error) {
          entry.failures.push({ row: 'ticket-server', message: error.message });
          log(`shared stores: ${kind} ticket-server FAILED: ${error.message}`);
        } finally {
          if (server) server.exit = await server.stop();
        }
        // The server's backends published their counters on exit (PostgreSQL); a moment for that.
        await sleep(kind === 'postgres' ? 1_000 : 100);
        const afterTicket = await storeCounters(db);
        entry.ticketStore = {
          ...perThousand(before, afterTicket, ticketValues),
          scope: 'the ticket-server\'s whole life: start, probes, all three rows with their warm-ups, graceful stop',
        };

        // The naive way on the same database.
        let naiveValues = 0;
        try {
          naive = await naiveClient(db, s.concurrency);
          const warm = await runLoops({ concurrency: s.concurrency, durationMs: s.warmupMs, makeStep: naive.makeStep, latencies });
          naiveValues += warm.completed;
          entry.naive = await withCpu({ db }, () => runLoops({ concurrency: s.concurrency, durationMs: s.durationMs, makeStep: naive.makeStep, latencies }));
          naiveValues += entry.naive.completed;
          log(`shared ${kind.padEnd(8)} naive                ${formatRate(entry.naive.valuesPerSecond)}, p50 ${entry.naive.latencyUs.p50} µs, ` +
            `conflicts ${entry.naive.conflicts}, errors ${entry.naive.errors}`);
        } catch (error) {
          entry.failures.push({ row: 'naive', message: error.message });
          log(`shared stores: ${kind} naive FAILED: ${error.message}`);
        } finally {
          if (naive) await naive.close().catch(() => undefined);
          naive = undefined;
        }
        await sleep(kind === 'postgres' ? 1_000 : 100);
        const afterNaive = await storeCounters(db);
        if (entry.naive) entry.naive.store = { ...perThousand(afterTicket, afterNaive, naiveValues), scope: 'warm-up and measurement' };

        // Ratios: every ticket-server row (and, for reading, every memory: reference) ÷ naive.
        const naiveRate = entry.naive?.valuesPerSecond;
        const ratioOf = (run) => (run && naiveRate > 0 ? round(run.valuesPerSecond / naiveRate) : null);
        for (const row of TICKET_ROWS) {
          const run = entry.rows[row];
          const ratio = ratioOf(run);
          if (run) Object.assign(run, { ratioToNaive: ratio, target: TARGET_SHARED_OVER_NAIVE, meetsTarget: ratio === null ? null : ratio >= TARGET_SHARED_OVER_NAIVE });
          else entry.rows[row] = { failed: true, ratioToNaive: null, target: TARGET_SHARED_OVER_NAIVE, meetsTarget: null };
          const reference = entry.memory[row];
          if (reference) entry.memory[row] = { ...reference, ratioToNaive: ratioOf(reference), target: null };
          if (run && reference) run.overMemory = round(run.valuesPerSecond / reference.valuesPerSecond);
        }
      } catch (error) {
        entry.failures.push({ row: 'database', message: error.message });
        log(`shared stores: ${kind} FAILED: ${error.message}`);
      } finally {
        if (naive) await naive.close().catch(() => undefined);
        if (server) server.exit = await server.stop();
        if (db) await db.destroy().catch((error) => entry.failures.push({ row: 'database', phase: 'destroy', message: error.message }));
        entry.server = serverSummary(server);
      }
    }
  } finally {
    if (memoryServer) memoryServer.exit = await memoryServer.stop();
    memory.server = serverSummary(memoryServer);
  }
  return result;
}

/** CPU µs per value of the server answering the row: ticket-server, or the database for the naive way. */
function serverUsPerValue(point, kind) {
  const cores = kind === 'naive' ? point.dbCpuCores : point.ticketCpuCores;
  return Number.isFinite(cores) && point.valuesPerSecond > 0 ? (cores / point.valuesPerSecond) * 1e6 : NaN;
}

function fixed(value) {
  return Number.isFinite(value) ? value.toFixed(2) : '-';
}

function ratioText(ratio) {
  if (!Number.isFinite(ratio)) return 'n/a';
  return ratio >= 100 ? `${ratio.toFixed(0)}×` : `${ratio.toFixed(1)}×`;
}

/** Prints section (g). */
export function printSharedStores(result) {
  const { settings: s, stores, memory } = result;
  console.log(`\n(g) Shared stores: single values/s, ${s.concurrency} concurrent callers each waiting for one value at a time, ${s.durationMs / 1000} s per row after a ${s.warmupMs / 1000} s warm-up;`);
  console.log(`    ticket-server = ${s.ticketArgs}, three ways:`);
  console.log(`      HTTP            = ${s.ticketTransports.http};`);
  console.log(`      line://         = ${s.ticketTransports.line};`);
  console.log(`      line:// prefetch= ${s.ticketTransports.linePrefetch}.`);
  console.log(`    naive = ${s.naiveTransport}:`);
  console.log(`      PostgreSQL ${s.naive.postgres} (pg Pool), MariaDB ${s.naive.mariadb} (one round trip, InnoDB tickets64), etcd ${s.naive.etcd} (only successes count).`);
  console.log('    Per store: start the database (test/helpers/db-servers.ts: 127.0.0.1, temp dir, removed afterwards); per row the memory: reference, then the ticket-server on the store; then naive.');
  console.log('    Durability: every naive value is crash-safe when returned (never repeated after a crash), as every ticket-server lease is committed before a value of it is issued.');
  console.log(`    The clients run in THIS process, on the same ${os.cpus().length} cores as ticket-server and the database (CPU columns: cores used during the row).`);
  const row = (label, point, kind, ratio, verdict) => [
    label,
    point ? formatRate(point.valuesPerSecond) : 'FAILED',
    ratioText(ratio),
    verdict,
    point ? formatLatency(point.latencyUs.p50 / 1000) : '-',
    point ? formatLatency(point.latencyUs.p99 / 1000) : '-',
    point ? String(point.errors) : '-',
    point && kind === 'naive' ? String(point.conflicts) : '-',
    point?.store ? fixed(point.store.fsyncsPer1kValues) : '-',
    point ? fixed(serverUsPerValue(point, kind)) : '-',
    point ? fixed(point.benchCpuCores) : '-',
    point ? fixed(point.ticketCpuCores) : '-',
    point ? fixed(point.dbCpuCores) : '-',
    point ? fixed(point.otherCpuCores) : '-',
  ];
  const verdictOf = (run) => (run?.meetsTarget === true ? 'PASS' : run?.meetsTarget === false ? 'FAIL' : 'n/a');
  const rows = [];
  for (const [kind, entry] of Object.entries(stores)) {
    if (entry.skipped) {
      rows.push([`${LABEL[kind]}: ${entry.skipped}`, '', '', '', '', '', '', '', '', '', '', '', '', '']);
      continue;
    }
    for (const name of TICKET_ROWS) {
      const reference = entry.memory?.[name];
      rows.push(row(`  memory: ${ROW_LABEL[name]} (reference)`, reference, 'ticket', reference?.ratioToNaive, '(ref)'));
      const run = entry.rows?.[name];
      rows.push(row(`ticket-server ${LABEL[kind]} ${ROW_LABEL[name]}`, run?.failed ? undefined : run, 'ticket', run?.ratioToNaive, verdictOf(run)));
    }
    rows.push(row(`naive ${LABEL[kind]} ${NAIVE_SHORT[kind]}`, entry.naive, 'naive', entry.naive ? 1 : NaN, '-'));
  }
  console.log(renderTable(['row', 'values/s', '÷ naive', `≥ ${TARGET_SHARED_OVER_NAIVE}×`, 'p50', 'p99', 'errors', 'lost races', 'fsyncs/1k', 'server µs CPU/value',
    'bench CPU', 'ticket CPU', 'db CPU', 'other CPU'], rows));
  console.log(`  ÷ naive: values/s of the row ÷ values/s of the naive way on the same database in the same run; target ≥ ${TARGET_SHARED_OVER_NAIVE}× for every ticket-server row`);
  console.log('  (memory: rows are references, no target). server µs CPU/value: ticket-server\'s CPU per value for ticket-server rows (the database\'s is in "db CPU"),');
  console.log('  the database\'s for naive rows; less sensitive to a busy machine than values/s. fsyncs/1k: the database\'s WAL/redo-log fsyncs per 1000 values handed out.');
  console.log('  lost races: etcd compares that failed (another loop moved the counter; retried at once), MariaDB deadlocks InnoDB rolled back (REPLACE on one unique key');
  console.log('  under concurrency; retried). Latency of a value includes its lost races; for the client rows it is the call → the value (sampled uniformly when there are many).');
  console.log(`  line:// prefetch ${s.prefetch}: most calls are answered from the client's buffer in this process without a round trip. The values a client has fetched but not handed`);
  console.log('  out when it closes or exits are never issued again: a gap in the sequence (up to three batches per sequence and client; counted below as "unused at close").');
  const summary = Object.entries(stores).map(([kind, entry]) => {
    if (entry.skipped) return [LABEL[kind], 'skipped', '', '', ''];
    const cell = (name) => {
      const run = entry.rows?.[name];
      return run && !run.failed ? `${formatRate(run.valuesPerSecond)} = ${ratioText(run.ratioToNaive)} ${verdictOf(run)}` : 'FAILED';
    };
    return [LABEL[kind], entry.naive ? formatRate(entry.naive.valuesPerSecond) : 'FAILED', ...TICKET_ROWS.map(cell)];
  });
  console.log(renderTable(['store', 'naive', ...TICKET_ROWS.map((name) => `${ROW_LABEL[name]} (÷ naive, ≥ ${TARGET_SHARED_OVER_NAIVE}×)`)], summary));
  for (const [kind, entry] of Object.entries(stores)) {
    if (entry.skipped) {
      console.log(`  ${LABEL[kind]}: ${entry.skipped}`);
      continue;
    }
    if (entry.db) console.log(`  ${LABEL[kind]}: ${entry.db.version ?? 'version unknown'}; ${entry.db.durability}`);
    const t = entry.ticketStore;
    if (t && Number.isFinite(t.fsyncs)) {
      console.log(`  ${LABEL[kind]} ticket-server, whole life (probes, 3 rows with warm-ups, ${t.values} values issued): ${t.fsyncs} fsyncs, ${t.commits} commits = ${fixed(t.fsyncsPer1kValues)} fsyncs/1k values`);
    }
    const prefetched = entry.rows?.linePrefetch?.prefetch;
    if (prefetched) {
      console.log(`  ${LABEL[kind]} line:// prefetch: ${prefetched.batches} batches = ${prefetched.valuesFetched} values fetched, ${prefetched.valuesHandedOut} handed out (warm-up included),` +
        ` ${prefetched.unusedAtClose} unused at close (a gap)`);
    }
    const naive = entry.naive;
    if (naive && (naive.orderViolations > 0 || naive.duplicates > 0 || naive.errors > 0)) {
      console.log(`  PROBLEM naive ${LABEL[kind]}: ${naive.errors} errors, ${naive.orderViolations} values not above the loop's previous one, ${naive.duplicates} duplicates; e.g. ${naive.errorExamples.join(' | ')}`);
    }
    for (const name of TICKET_ROWS) {
      const run = entry.rows?.[name];
      if (!run || run.failed) continue;
      if (name === 'http' && run.errors > 0) console.log(`  PROBLEM ticket-server ${LABEL[kind]} HTTP: ${run.errors} non-2xx/errors/timeouts ${JSON.stringify(run.statuses)}`);
      if (name !== 'http' && (run.errors > 0 || run.orderViolations > 0 || run.duplicates !== 0)) {
        console.log(`  PROBLEM ticket-server ${LABEL[kind]} ${ROW_LABEL[name]}: ${run.errors} errors, ${run.orderViolations} values not above the caller's previous one, ` +
          `${run.duplicates ?? 'unchecked'} duplicates; e.g. ${run.errorExamples.join(' | ')}`);
      }
    }
    for (const failure of entry.failures) console.log(`  FAILED ${LABEL[kind]} ${failure.row}${failure.phase ? ` ${failure.phase}` : ''}: ${failure.message.split('\n--- last')[0].replace(/\n/g, '\n    ')}`);
    const warnings = (entry.server?.warnings ?? []).filter((warning) => !/NOT durable/.test(warning.msg));
    if (warnings.length > 0) console.log(`  ticket-server ${LABEL[kind]} logged: ${warnings.map((warning) => warning.msg + (warning.err ? ` (${warning.err.code ?? warning.err.type}: ${warning.err.message})` : '')).join(' | ')}`);
    if (entry.server?.exit && (entry.server.exit.code !== 0 || entry.server.exit.forced)) console.log(`  ticket-server ${LABEL[kind]} exit: ${JSON.stringify(entry.server.exit)}`);
  }
  for (const failure of memory.failures) console.log(`  FAILED memory: ${failure.row}: ${failure.message}`);
  const clientChecks = Object.values(stores).flatMap((entry) => TICKET_ROWS.filter((name) => name !== 'http').map((name) => entry.rows?.[name]).filter((run) => run && !run.failed));
  if (clientChecks.length > 0 && clientChecks.every((run) => run.errors === 0 && run.orderViolations === 0 && run.duplicates === 0)) {
    console.log('  client rows: every caller\'s values increased, no value came twice, no errors.');
  }
  if (stores.postgres?.naive) {
    console.log('  note: PostgreSQL WAL-logs a sequence 32 values ahead (SEQ_LOG_VALS), so nextval() forces a WAL flush only about once per 32 values:');
    console.log('        crash-safe (a restart skips ahead, never repeats), but not one commit per value, and cheaper per value than a committed row; see its fsyncs/1k.');
  }
}

// ---- standalone: node --import tsx bench/shared-stores.mjs ----------------------------------

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const cleanup = () => {
    killAllChildren();
    killAllDbServersSync();
  };
  process.on('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      cleanup();
      process.exit(130);
    });
  }
  const settings = sharedStoresSettings();
  const planned = sharedStoresPlannedMs(settings) + 60_000;
  const watchdog = setTimeout(() => {
    process.stderr.write(`shared-stores benchmark: still running after ${planned / 1000} s, giving up\n`);
    cleanup();
    process.exit(1);
  }, planned);
  watchdog.unref();
  try {
    const startedAt = new Date();
    console.log(`ticket-server shared-stores benchmark — ${startedAt.toISOString()}; ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}${process.env.BENCH_QUICK === '1' ? '  [BENCH_QUICK]' : ''}`);
    const result = await runSharedStores({ ...settings, log: (message) => process.stderr.write(`· ${message}\n`) });
    printSharedStores(result);
    const dir = fileURLToPath(new URL('./results/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${startedAt.toISOString().replace(/[:.]/g, '-')}-shared.json`);
    const json = { startedAt: startedAt.toISOString(), quick: process.env.BENCH_QUICK === '1', loadAverageAtEnd: os.loadavg(), targets: { sharedOverNaive: TARGET_SHARED_OVER_NAIVE }, sharedStores: result };
    writeFileSync(file, `${JSON.stringify(json, (_key, value) => (typeof value === 'bigint' ? value.toString() : value), 2)}\n`);
    console.log(`results: bench/results/${file.slice(dir.length)}`);
  } catch (error) {
    process.stderr.write(`shared-stores benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  } finally {
    cleanup();
  }
  // zeromq (imported through zmq-load.mjs) may keep threads alive: do not wait on them.
  process.exit(process.exitCode ?? 0);
}
