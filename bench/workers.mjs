// `--workers` benchmark: HTTP (autocannon, keep-alive) and the line protocol (pipelined) against
// `ticket-server --workers 1` and `--workers 2` on LMDB, interleaved. Reports requests/s and
// requests per CPU-second of ALL server processes (owner + workers, summed from /proc/PID/stat).
//
//   npm run build && node bench/workers.mjs
//
// Knobs (bounded): BENCH_WORKERS_SECONDS (per run, 1–10, default 3), BENCH_WORKERS_REPEATS (1–5,
// default 2), BENCH_WORKERS_COUNTS (comma list, default "1,2"). A watchdog kills everything after
// 4 minutes; every child is killed at the end, on error and on Ctrl-C.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAutocannon } from './http-load.mjs';
import { runPipelined } from './tcp-load.mjs';
import { envNumber, median, renderTable, round } from './stats.mjs';
import { processCpuSeconds } from './zmq-load.mjs';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const SECONDS = envNumber('BENCH_WORKERS_SECONDS', 3, 1, 10);
const REPEATS = envNumber('BENCH_WORKERS_REPEATS', 2, 1, 5);
const COUNTS = (process.env.BENCH_WORKERS_COUNTS ?? '1,2').split(',').map(Number).filter((n) => Number.isInteger(n) && n >= 1 && n <= 16);
const HTTP_CONNECTIONS = 50;
const LINE_CONNECTIONS = 50;
const LINE_DEPTH = 16;
const WARMUP_MS = 500;

const children = new Set();
const dirs = [];
function cleanup() {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});
const watchdog = setTimeout(() => {
  process.stderr.write('workers bench: watchdog (4 min), killing everything\n');
  cleanup();
  process.exit(1);
}, 240_000);
watchdog.unref();

/** Starts a server and resolves once its `ready` line is out, with every process id (owner first). */
function startServer(workers) {
  const dir = mkdtempSync(join(tmpdir(), 'ticket-bench-workers-'));
  dirs.push(dir);
  const args = [CLI, '--data', dir, '--workers', String(workers), '--bind', 'off', '--admin', 'off', '--http', '127.0.0.1:0', '--line', '127.0.0.1:0', '--log-level', 'info'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  return new Promise((resolve, reject) => {
    let text = '';
    const pids = [child.pid];
    const timer = setTimeout(() => reject(new Error(`--workers ${workers} not ready in 30 s`)), 30_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      text += chunk;
      let newline;
      while ((newline = text.indexOf('\n')) >= 0) {
        const line = text.slice(0, newline);
        text = text.slice(newline + 1);
        let entry;
        try {
          entry = JSON.parse(line);
        } catch {
          continue;
        }
        if (entry.msg === 'worker ready') pids.push(entry.workerPid);
        if (entry.msg === 'ready') {
          clearTimeout(timer);
          const server = { label: `workers ${workers}`, pid: child.pid, failure: undefined, onFailure: () => () => undefined };
          resolve({ child, pids, endpoints: entry.endpoints, server });
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`--workers ${workers} exited (${code}) before ready`)));
  });
}

async function stopServer(running) {
  const exited = new Promise((resolve) => running.child.once('exit', resolve));
  running.child.kill('SIGTERM');
  await exited;
  children.delete(running.child);
}

function cpuOf(pids) {
  return pids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0);
}

async function measure(running, kind) {
  const latencies = new Float64Array(1_000_000);
  const before = cpuOf(running.pids);
  let result;
  if (kind === 'http') {
    result = await runAutocannon({ server: running.server, url: `${running.endpoints.http}/v1/sequences/x/next`, connections: HTTP_CONNECTIONS, pipelining: 1, durationMs: SECONDS * 1000, latencies });
  } else {
    const [host, port] = running.endpoints.line.split(':');
    result = await runPipelined({ server: running.server, host, port: Number(port), request: 'NEXT x\n', connections: LINE_CONNECTIONS, depth: LINE_DEPTH, warmupMs: WARMUP_MS, durationMs: SECONDS * 1000, latencies });
    if (result.orderViolations > 0) throw new Error(`line: ${result.orderViolations} values out of order on a connection`);
  }
  const serverCpu = cpuOf(running.pids) - before;
  const requests = result.requestsPerSecond * SECONDS;
  return { requestsPerSecond: result.requestsPerSecond, serverCpuSeconds: round(serverCpu), perCpuSecond: round(requests / serverCpu), errors: result.errors ?? 0 };
}

const results = {};
try {
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    const order = repeat % 2 === 0 ? COUNTS : [...COUNTS].reverse();
    for (const workers of order) {
      const running = await startServer(workers);
      for (const kind of ['http', 'line']) {
        const key = `${kind} --workers ${workers}`;
        (results[key] ??= []).push(await measure(running, kind));
      }
      await stopServer(running);
    }
  }
} finally {
  cleanup();
}

const rows = Object.entries(results).map(([key, runs]) => [
  key,
  `${Math.round(median(runs.map((run) => run.requestsPerSecond))).toLocaleString('en')}`,
  `${Math.round(median(runs.map((run) => run.perCpuSecond))).toLocaleString('en')}`,
  `${round(median(runs.map((run) => run.serverCpuSeconds / SECONDS)), 2)}`,
]);
process.stdout.write(`machine: ${cpus()[0]?.model ?? 'unknown'}, ${availableParallelism()} cores usable; load generator in this process (same machine)\n`);
process.stdout.write(`${SECONDS} s per run, ${REPEATS} repeats, medians; HTTP ${HTTP_CONNECTIONS} keep-alive connections, line ${LINE_CONNECTIONS} connections x ${LINE_DEPTH} pipelined\n`);
process.stdout.write(`${renderTable(['target', 'requests/s', 'requests per server CPU-s', 'server cores busy'], rows)}\n`);
process.stdout.write(`${JSON.stringify(results)}\n`);
clearTimeout(watchdog);
