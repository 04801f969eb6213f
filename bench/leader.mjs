// (h) Leader mode: three ticket-servers with --leader on a three-node etcd cluster (the test
// harness starts it in a temp dir on free loopback ports).
//
// 1. Throughput: C concurrent callers of this package's client, each waiting for one value at a
//    time, against the leader directly and through a follower, over http:// (the follower answers
//    307; the client follows it and then asks the leader first) and line:// (the follower forwards
//    every request to the leader over ZeroMQ). Reported: values/s, latency, the follower ÷ direct
//    ratio, and the CPU seconds of the leader and the follower per 1000 values.
// 2. Failover: K times, kill -9 the leader under load (two closed loops: an http:// client and a
//    line:// client, each knowing all three servers) and measure the pause each loop sees — its
//    longest silence after the kill — and the time until a new leader is known; then start the
//    killed server again so the cluster keeps three. Values of each loop must increase strictly
//    (one issuer), across every change.
//
// Alone: `npm run build && node --import tsx bench/leader.mjs`. In `npm run bench` it is part (h).
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import ticketServer from '../dist/index.js';
import { clientLoops, killAllDbServersSync } from './shared-stores.mjs';
import { envNumber, formatLatency, formatRate, median, renderTable, round } from './stats.mjs';
import { killAllChildren, processCpuSeconds, startServer } from './zmq-load.mjs';

const { missingBinary, startEtcd } = await import('../test/helpers/db-servers.ts');

/** Through a follower ÷ direct to the leader, over http:// (the client follows the redirect once). */
export const TARGET_FOLLOWER_HTTP_OVER_DIRECT = 0.9;
const CALL_TIMEOUT_MS = 5_000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Settings of (h); every knob bounded. */
export function leaderSettings(quick = process.env.BENCH_QUICK === '1') {
  return {
    concurrency: Math.round(envNumber('BENCH_LEADER_CONCURRENCY', 32, 1, 256)),
    durationMs: Math.round(envNumber('BENCH_LEADER_SECONDS', quick ? 1 : 3, 0.5, 10) * 1000),
    warmupMs: quick ? 300 : 1000,
    kills: Math.round(envNumber('BENCH_LEADER_KILLS', quick ? 3 : 10, 1, 20)),
    /** Rounds of each direct / via-follower pair, the order alternating (direct first, then follower first, …). */
    repeats: Math.round(envNumber('BENCH_LEADER_REPEATS', quick ? 1 : 3, 1, 9)),
    ttlSeconds: 2,
    sequence: 'leader-bench',
  };
}

/** Upper bound of the section, for watchdogs. */
export function leaderPlannedMs(s) {
  return 90_000 + 4 * s.repeats * (s.warmupMs + s.durationMs + 5_000) + s.kills * (4 * s.ttlSeconds * 1000 + 20_000);
}

async function status(server) {
  try {
    const response = await globalThis.fetch(`${server.urls.admin}/status?limit=0`, { signal: globalThis.AbortSignal.timeout(2_000) });
    return (await response.json()).leader;
  } catch {
    return undefined;
  }
}

/** Waits until exactly one of `servers` leads and all know it; returns it. */
async function waitForLeader(servers, timeoutMs = 60_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const views = await Promise.all(servers.map(status));
    const leading = servers.filter((_server, index) => views[index]?.role === 'leader');
    if (leading.length === 1 && views.every((view) => view?.id === views[servers.indexOf(leading[0])]?.id)) return leading[0];
    await sleep(50);
  }
  throw new Error(`no single leader among ${servers.map((server) => server.label).join(', ')} within ${timeoutMs} ms`);
}

function startNode(label, store, s) {
  return startServer(label, ['--store', store, '--leader', '--leader-ttl', String(s.ttlSeconds), '--line', '127.0.0.1:0', '--timeout', '1000']);
}

/** One throughput row: warm-up, then the measurement with the leader's and the follower's CPU. */
async function throughputRow({ row, uris, leader, follower, s, latencies }) {
  const client = ticketServer(uris, { timeout: CALL_TIMEOUT_MS });
  try {
    await clientLoops({ client, sequence: s.sequence, concurrency: s.concurrency, durationMs: s.warmupMs, latencies });
    const cpuBefore = [processCpuSeconds(leader.pid), processCpuSeconds(follower.pid)];
    const run = await clientLoops({ client, sequence: s.sequence, concurrency: s.concurrency, durationMs: s.durationMs, latencies });
    const cpu = [processCpuSeconds(leader.pid) - cpuBefore[0], processCpuSeconds(follower.pid) - cpuBefore[1]];
    // CPU milliseconds per 1000 values issued.
    const msPer1000 = (seconds) => (run.completed > 0 ? round((seconds * 1000 * 1000) / run.completed, 3) : null);
    return { row, uris, ...run, cpuSeconds: { leader: round(cpu[0], 3), follower: round(cpu[1], 3) }, cpuMsPer1000: { leader: msPer1000(cpu[0]), follower: msPer1000(cpu[1]) } };
  } finally {
    await client.close();
  }
}

/** A closed loop that records every value and when it came; stops when told. */
function failoverLoop(uris, sequence) {
  const client = ticketServer(uris, { timeout: 1_000 });
  const loop = { values: [], times: [], errors: 0, orderViolations: 0, stop: false };
  loop.done = (async () => {
    let last = -1n;
    while (!loop.stop) {
      try {
        const value = await client.next(sequence);
        if (value <= last) loop.orderViolations++;
        last = value;
        loop.values.push(value);
        loop.times.push(performance.now());
      } catch {
        loop.errors++;
        await sleep(5);
      }
    }
    await client.close();
  })();
  return loop;
}

/**
 * The pause a loop saw around a kill: the longest time between two consecutive values among those
 * that came from `from` to `to` (a reply already on its way when the leader died may still arrive
 * just after the kill; the pause is the silence that follows), or null when no value came after `from`.
 */
function pauseAround(loop, from, to) {
  let longest = null;
  let previous = from;
  for (const time of loop.times) {
    if (time <= from) continue;
    if (time > to) break;
    longest = Math.max(longest ?? 0, time - previous);
    previous = time;
  }
  return longest === null ? null : Math.round(longest);
}

export async function runLeader(options) {
  const s = { ...leaderSettings(), ...options };
  const log = s.log ?? (() => undefined);
  const missing = missingBinary('etcd');
  if (missing !== null) return { skipped: missing, settings: s };
  const cluster = await startEtcd({ nodes: 3 });
  const store = `${String(cluster.uri)}/bench-leader-${process.pid}`;
  const servers = [];
  try {
    for (const label of ['n1', 'n2', 'n3']) servers.push(await startNode(label, store, s));
    let leader = await waitForLeader(servers);
    const follower = servers.find((server) => server !== leader);
    const latencies = new Float64Array(200_000);
    const rows = [];
    const targets = {
      http: { direct: [leader.urls.http], follower: [follower.urls.http] },
      line: { direct: [`line://${leader.addresses.line}`], follower: [`line://${follower.addresses.line}`] },
    };
    const ratios = {};
    for (const protocol of ['http', 'line']) {
      const runs = { direct: [], follower: [] };
      for (let repeat = 0; repeat < s.repeats; repeat++) {
        // Alternate which goes first, so warming (leases growing, JIT) favours neither.
        const order = repeat % 2 === 0 ? ['direct', 'follower'] : ['follower', 'direct'];
        for (const way of order) {
          log(`(h) ${protocol} ${way} (${repeat + 1}/${s.repeats}) …`);
          runs[way].push(await throughputRow({ row: `${protocol} ${way}`, uris: targets[protocol][way], leader, follower, s, latencies }));
        }
      }
      for (const way of ['direct', 'follower']) {
        const rates = runs[way].map((run) => run.valuesPerSecond);
        const middle = median(rates);
        const chosen = runs[way].find((run) => run.valuesPerSecond === middle) ?? runs[way][0];
        rows.push({ ...chosen, row: `${protocol} ${way === 'direct' ? 'direct' : 'via follower'}`, valuesPerSecond: middle, spread: middle > 0 ? round((Math.max(...rates) - Math.min(...rates)) / middle, 3) : null, repeats: runs[way] });
      }
      const direct = median(runs.direct.map((run) => run.valuesPerSecond));
      ratios[`${protocol}FollowerOverDirect`] = direct > 0 ? round(median(runs.follower.map((run) => run.valuesPerSecond)) / direct, 3) : null;
    }

    log(`(h) failover: ${s.kills} kills …`);
    const allHttp = () => servers.map((server) => server.urls.http);
    const allLine = () => servers.map((server) => `line://${server.addresses.line}`);
    const kills = [];
    const loops = [failoverLoop(allHttp(), `${s.sequence}-failover`), failoverLoop(allLine(), `${s.sequence}-failover`)];
    try {
      await sleep(500);
      for (let kill = 0; kill < s.kills; kill++) {
        const index = servers.indexOf(leader);
        const killedAt = performance.now();
        leader.stopping = true;
        leader.child.kill('SIGKILL');
        const others = servers.filter((server) => server !== leader);
        leader = await waitForLeader(others);
        const electedMs = Math.round(performance.now() - killedAt);
        await sleep(1_000);
        const to = performance.now();
        kills.push({ electedMs, httpPauseMs: pauseAround(loops[0], killedAt, to), linePauseMs: pauseAround(loops[1], killedAt, to) });
        // Back to three servers (on the same addresses is not needed: the loops' clients skip the dead one).
        servers[index] = await startNode(`n${index + 1}r${kill + 1}`, store, s);
        await waitForLeader(servers);
        await sleep(300);
      }
    } finally {
      for (const loop of loops) loop.stop = true;
      await Promise.all(loops.map((loop) => loop.done));
    }
    const pauses = (key) => kills.map((kill) => kill[key]).filter((value) => value !== null);
    const summary = (values) => (values.length === 0 ? null : { p50: Math.round(median(values)), max: Math.round(Math.max(...values)) });
    return {
      settings: { ...s, log: undefined },
      rows,
      ratios,
      failover: {
        kills,
        electedMs: summary(kills.map((kill) => kill.electedMs)),
        httpPauseMs: summary(pauses('httpPauseMs')),
        linePauseMs: summary(pauses('linePauseMs')),
        loops: loops.map((loop, index) => ({ protocol: index === 0 ? 'http' : 'line', values: loop.values.length, errors: loop.errors, orderViolations: loop.orderViolations })),
      },
    };
  } finally {
    await Promise.all(servers.map((server) => server.stop?.().catch(() => undefined)));
    await cluster.destroy();
  }
}

export function printLeader(result) {
  console.log(`\n(h) Leader mode: 3 servers, --leader on a 3-node etcd, ${result.settings.concurrency} concurrent callers each waiting for one value;`);
  console.log(`    ${result.settings.durationMs / 1000} s per run, median of ${result.settings.repeats} runs per row, direct and via-follower runs alternating`);
  if (result.skipped) {
    console.log(`  skipped: ${result.skipped}`);
    return;
  }
  console.log(
    renderTable(
      ['row', 'values/s', 'spread', 'p50', 'p99', 'leader CPU ms/1000', 'follower CPU ms/1000', 'order', 'dups'],
      result.rows.map((row) => [
        row.row,
        formatRate(row.valuesPerSecond),
        row.spread === null ? '–' : `${(row.spread * 100).toFixed(0)} %`,
        formatLatency(row.latencyUs.p50 / 1000),
        formatLatency(row.latencyUs.p99 / 1000),
        String(row.cpuMsPer1000.leader ?? '–'),
        String(row.cpuMsPer1000.follower ?? '–'),
        String(row.orderViolations),
        String(row.duplicates ?? '?'),
      ]),
    ),
  );
  const { httpFollowerOverDirect, lineFollowerOverDirect } = result.ratios;
  console.log(`  via follower ÷ direct: http:// ${httpFollowerOverDirect} (target ≥ ${TARGET_FOLLOWER_HTTP_OVER_DIRECT}), line:// ${lineFollowerOverDirect} (forwarded over ZeroMQ)`);
  const f = result.failover;
  const show = (x) => (x === null ? '–' : `p50 ${x.p50} ms, max ${x.max} ms`);
  console.log(`  failover over ${f.kills.length} kill -9 of the leader (ttl ${result.settings.ttlSeconds} s): new leader known ${show(f.electedMs)}; pause seen by an http:// client ${show(f.httpPauseMs)}, by a line:// client ${show(f.linePauseMs)}`);
  for (const loop of f.loops) console.log(`  ${loop.protocol} loop: ${loop.values} values, ${loop.errors} failed calls, ${loop.orderViolations} out of order`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const watchdog = setTimeout(() => {
    process.stderr.write('bench/leader.mjs: still running after its bound, giving up\n');
    killAllChildren();
    killAllDbServersSync();
    process.exit(1);
  }, leaderPlannedMs(leaderSettings()));
  watchdog.unref();
  try {
    printLeader(await runLeader({ log: (message) => process.stderr.write(`${message}\n`) }));
  } catch (error) {
    process.stderr.write(`bench/leader.mjs failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  } finally {
    killAllChildren();
    killAllDbServersSync();
  }
  setTimeout(() => process.exit(), 100).unref();
}
