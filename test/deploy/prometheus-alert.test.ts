/**
 * End to end: a real Prometheus (Debian's `prometheus`) scrapes a real
 * ticket-server on a real PostgreSQL store, evaluates deploy/monitoring/
 * alerts.yml, and once the database is killed reports TicketServerStoreDown
 * as firing through its HTTP API (`/api/v1/alerts`).
 *
 * The rules are the shipped file with every `for:` shortened to 2s (so the
 * test does not wait a minute); promtool's unit tests check the real
 * durations. Prometheus runs in a temp dir on a free loopback port, scraping
 * every 2 s and evaluating every second, and is SIGKILLed in teardown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dbAvailable, destroyAllDbServers, emptyStoreUri, startPostgres } from '../helpers/db-servers.js';
import { startServer, stopAllServers, urlOf } from '../helpers/server-process.js';
import { deployFile, requireTool } from './deploy-files.js';

const prometheusBinary = requireTool('prometheus', 'prometheus');
/** Bound of every wait (Prometheus ready, target up, alert firing). */
const WAIT_MS = 60_000;
const POLL_MS = 500;
const REQUEST_TIMEOUT_MS = 5_000;
const MAX_OUTPUT_CHARS = 1024 * 1024;

let prometheus: { child: ChildProcess; exited: Promise<void>; output: () => string } | undefined;
const dirs: string[] = [];

afterAll(async () => {
  if (prometheus) {
    prometheus.child.kill('SIGKILL');
    await prometheus.exited;
  }
  await stopAllServers();
  await destroyAllDbServers();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

/** Polls `probe` until it returns a value (not undefined), at most WAIT_MS. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, describeFailure: () => string): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await sleep(POLL_MS);
  }
  throw new Error(`${what} did not happen within ${WAIT_MS} ms\n${describeFailure()}`);
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return (await response.json()) as T;
}

interface AlertsAnswer {
  data: { alerts: Array<{ labels: Record<string, string>; state: string; annotations: Record<string, string> }> };
}

describe.skipIf(prometheusBinary === undefined || !dbAvailable('postgres'))('Prometheus sees the store alert fire', () => {
  it('scrapes ticket_store_up 1, then fires TicketServerStoreDown once PostgreSQL is killed', async () => {
    const postgres = await startPostgres();
    const server = await startServer(['--store', await emptyStoreUri(postgres)]);
    const adminTarget = new URL(urlOf(server, 'admin')).host;

    const dir = await mkdtemp(join(tmpdir(), 'ticket-server-prometheus-'));
    dirs.push(dir);
    const rules = deployFile('monitoring/alerts.yml').replace(/^(\s+)for: \S+$/gm, '$1for: 2s');
    expect(rules).toContain('for: 2s');
    await writeFile(join(dir, 'alerts.yml'), rules);
    await writeFile(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 2s',
        '  scrape_timeout: 2s',
        '  evaluation_interval: 1s',
        'rule_files: [alerts.yml]',
        'scrape_configs:',
        '  - job_name: ticket-server',
        `    static_configs: [{ targets: ["${adminTarget}"] }]`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const child = spawn(
      prometheusBinary as string,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    const collect = (chunk: Buffer): void => {
      if (output.length < MAX_OUTPUT_CHARS) output += chunk.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const exited = new Promise<void>((resolveExit) => child.once('close', () => resolveExit()));
    prometheus = { child, exited, output: () => output };
    const context = (): string => `--- prometheus ---\n${output}\n--- ticket-server ---\n${server.stdout().slice(-4000)}`;

    await waitFor('Prometheus ready', async () => ((await fetch(`${base}/-/ready`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).ok ? true : undefined), context);
    const started = Date.now();
    await waitFor(
      'ticket_store_up 1 scraped',
      async () => {
        const answer = await getJson<{ data: { result: Array<{ value: [number, string] }> } }>(`${base}/api/v1/query?query=ticket_store_up`);
        return answer.data.result[0]?.value[1] === '1' ? true : undefined;
      },
      context,
    );
    const before = await getJson<AlertsAnswer>(`${base}/api/v1/alerts`);
    expect(before.data.alerts.filter((alert) => alert.labels.alertname === 'TicketServerStoreDown')).toEqual([]);

    await postgres.kill();
    const killedAt = Date.now();
    const firing = await waitFor(
      'TicketServerStoreDown firing',
      async () => {
        const answer = await getJson<AlertsAnswer>(`${base}/api/v1/alerts`);
        return answer.data.alerts.find((alert) => alert.labels.alertname === 'TicketServerStoreDown' && alert.state === 'firing');
      },
      context,
    );
    console.log(`store up seen after ${killedAt - started} ms; alert firing ${Date.now() - killedAt} ms after the kill`);
    expect(firing.labels).toMatchObject({ job: 'ticket-server', instance: adminTarget, severity: 'critical' });
    expect(firing.annotations.summary).toContain('cannot reach its store');
    // The server itself is still up and scraped: the store is down, not the target.
    const up = await getJson<{ data: { result: Array<{ value: [number, string] }> } }>(`${base}/api/v1/query?query=up`);
    expect(up.data.result[0]?.value[1]).toBe('1');
  }, 180_000);
});
