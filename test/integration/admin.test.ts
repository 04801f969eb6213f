/**
 * The admin and status port (SPEC §6.3) against real server processes:
 * dashboard, /healthz, /readyz, /status, Prometheus /metrics (counts matching
 * what the test issued over HTTP and ZeroMQ, error and jump counters, lease
 * histogram, the per-sequence label cap), and the mutations behind
 * `--admin-token`: creating sequences (strict mode) and raising floors
 * (never lowering, durable across a restart). Proxy mode never forwards admin
 * requests; `--http off` / `--admin off` disable the ports; a short token is
 * refused at start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempDir, removeTempDirs, runCli, startServer, stopAllServers, urlOf, type ServerProcess } from '../helpers/server-process.js';
import { nextValue, nextValues } from '../helpers/zmq-client.js';

const TOKEN = 'admin-token-for-tests-0123456789';

afterAll(async () => {
  await stopAllServers();
  await removeTempDirs();
});

interface Reply {
  readonly status: number;
  readonly type: string;
  readonly text: string;
  /** The Allow header of a 405. */
  readonly allow: string | null;
}

async function call(url: string, init: RequestInit = {}): Promise<Reply> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type') ?? '', text, allow: response.headers.get('allow') };
}

const json = <T = Record<string, unknown>>(reply: Reply): T => JSON.parse(reply.text) as T;

/** An admin mutation: `token` undefined sends no Authorization header. */
function mutate(url: string, method: 'PUT' | 'POST' | 'DELETE', body: unknown, token: string | undefined = TOKEN): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return call(url, { method, headers, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
}

function expectError(reply: Reply, status: number, code: string): void {
  expect(reply.status, reply.text).toBe(status);
  expect(reply.type).toMatch(/^application\/json/);
  const body = json<{ error: { code: string; message: string } }>(reply);
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
}

async function nextHttp(server: ServerProcess, name: string, query = ''): Promise<bigint[]> {
  const reply = await call(`${urlOf(server, 'http')}/v1/sequences/${encodeURIComponent(name)}/next${query}`, { method: 'POST' });
  expect(reply.status, reply.text).toBe(200);
  return json<{ values: string[] }>(reply).values.map((value) => BigInt(value));
}

async function one(server: ServerProcess, name: string): Promise<bigint> {
  return (await nextHttp(server, name))[0] as bigint;
}

/** Waits (bounded) until `check` returns a value; fails with `what` otherwise. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Prometheus text → samples: `name{labels}` → value (labels kept as written). */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$/.exec(line);
    expect(match, `not a Prometheus sample line: ${line}`).not.toBeNull();
    if (!match) continue;
    const raw = match[2] as string;
    samples.set(match[1] as string, raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw));
  }
  return samples;
}

async function scrape(server: ServerProcess): Promise<{ text: string; samples: Map<string, number> }> {
  const reply = await call(`${urlOf(server, 'admin')}/metrics`);
  expect(reply.status).toBe(200);
  expect(reply.type.startsWith('text/plain')).toBe(true);
  return { text: reply.text, samples: parseMetrics(reply.text) };
}

interface StatusSequence {
  name: string;
  last_value: string | null;
  issued: number;
  lease_remaining: string;
  rate: number;
}

interface StatusDocument {
  mode: string;
  ready: boolean;
  numbering: { instance: number; instances: number; offset: string } | null;
  store: { kind: string; ok: boolean } | null;
  sequences: StatusSequence[];
  sequence_count: number;
  upstreams: Array<{ uri: string; up: boolean }> | null;
}

async function status(server: ServerProcess): Promise<StatusDocument> {
  const reply = await call(`${urlOf(server, 'admin')}/status`);
  expect(reply.status).toBe(200);
  expect(reply.type).toMatch(/^application\/json/);
  return json<StatusDocument>(reply);
}

let server: ServerProcess;
let metricsServer: ServerProcess;
let noToken: ServerProcess;
let strict: ServerProcess;

beforeAll(async () => {
  [server, metricsServer, noToken, strict] = await Promise.all([
    startServer(['--store', 'memory:', '--admin-token', TOKEN, '--instances', '2', '--instance', '2', '--offset', '100']),
    startServer(['--store', 'memory:']),
    startServer(['--store', 'memory:']),
    startServer(['--store', 'memory:', '--strict-sequences', '--admin-token', TOKEN]),
  ]);
});

describe('status pages', () => {
  it('GET / is the HTML dashboard', async () => {
    const reply = await call(`${urlOf(server, 'admin')}/`);
    expect(reply.status).toBe(200);
    expect(reply.type).toMatch(/^text\/html/);
    expect(reply.text).toContain('ticket-server');
    expect(reply.text.toLowerCase()).toContain('<html');
  });

  it('GET /healthz is 200 and GET /readyz is 200 {"ready":true} on a healthy server', async () => {
    expect((await call(`${urlOf(server, 'admin')}/healthz`)).status).toBe(200);
    const ready = await call(`${urlOf(server, 'admin')}/readyz`);
    expect(ready.status).toBe(200);
    expect(json(ready)).toEqual({ ready: true });
  });

  it('GET /status reports numbering, store, sequence_count and the sequences issued from', async () => {
    await nextHttp(server, 'status-seq', '?count=5');
    await nextHttp(server, 'status-seq');
    await nextHttp(server, 'other seq');
    // The sampler refreshes on /status (at most every 250 ms): wait until it lists both.
    const doc = await eventually('both sequences in /status', async () => {
      const current = await status(server);
      const names = current.sequences.map((sequence) => sequence.name);
      return names.includes('status-seq') && names.includes('other seq') ? current : undefined;
    });
    expect(doc.mode).toBe('server');
    expect(doc.ready).toBe(true);
    expect(doc.numbering).toEqual({ instance: 2, instances: 2, offset: '100' });
    expect(doc.store?.kind).toBe('memory');
    expect(doc.store?.ok).toBe(true);
    expect(doc.sequence_count).toBeGreaterThanOrEqual(2);
    const seq = doc.sequences.find((sequence) => sequence.name === 'status-seq') as StatusSequence;
    // Instance 2 of 2, offset 100: 101, 103, …, the sixth value is 111.
    expect(seq.last_value).toBe('111');
    expect(seq.issued).toBe(6);
    expect(seq.lease_remaining).toMatch(/^[0-9]+$/);
    expect(typeof seq.rate).toBe('number');
    expect(seq.rate).toBeGreaterThanOrEqual(0);
    const other = doc.sequences.find((sequence) => sequence.name === 'other seq') as StatusSequence;
    expect(other.last_value).toBe('101');
    expect(other.issued).toBe(1);
  });
});

describe('metrics', () => {
  it('counts tickets per protocol exactly as issued over HTTP and ZeroMQ', async () => {
    const before = await scrape(metricsServer);
    expect(before.samples.get('ticket_issued_total{protocol="http"}')).toBe(0);
    expect(before.samples.get('ticket_issued_total{protocol="zmq"}')).toBe(0);
    expect(before.samples.get('ticket_jumps_total')).toBe(0);

    const httpUrl = urlOf(metricsServer, 'http');
    // 2 + 3 + 4 + 1 = 10 values over HTTP
    for (const path of ['/', '/']) expect((await call(`${httpUrl}${path}`, { method: 'POST' })).status).toBe(200);
    expect((await call(`${httpUrl}/tickets/create/3`)).status).toBe(200);
    await nextHttp(metricsServer, 'counted', '?count=4');
    await nextHttp(metricsServer, 'counted');
    // 1 + 1 + 5 = 7 values over ZeroMQ
    await nextValue(metricsServer.endpoint, 'counted');
    await nextValue(metricsServer.endpoint, 'zmq-only');
    expect(await nextValues(metricsServer.endpoint, 'zmq-only', 5)).toHaveLength(5);

    const after = await scrape(metricsServer);
    expect(after.samples.get('ticket_issued_total{protocol="http"}')).toBe(10);
    expect(after.samples.get('ticket_issued_total{protocol="zmq"}')).toBe(7);
    expect(after.text).toMatch(/^# TYPE ticket_issued_total counter$/m);
  });

  it('counts errors by protocol and code', async () => {
    const bad = await call(`${urlOf(metricsServer, 'http')}/v1/sequences/${'x'.repeat(129)}/next`, { method: 'POST' });
    expectError(bad, 400, 'EBADNAME');
    await call(`${urlOf(metricsServer, 'http')}/v1/sequences/${encodeURIComponent('a\u0001')}/next`, { method: 'POST' });
    await call(`${urlOf(metricsServer, 'http')}/tickets/create/0`);
    const { samples } = await scrape(metricsServer);
    expect(samples.get('ticket_errors_total{protocol="http",code="EBADNAME"}')).toBe(2);
    expect(samples.get('ticket_errors_total{protocol="http",code="EBADREQ"}')).toBe(1);
    // Bad requests issue nothing.
    expect(samples.get('ticket_issued_total{protocol="http"}')).toBe(10);
  });

  it('reports lease reservations, their latency histogram, jumps and runway', async () => {
    const jumped = await nextHttp(metricsServer, 'jumper', '?last=5000');
    expect(jumped).toEqual([5001n]);
    const { text, samples } = await scrape(metricsServer);
    expect(samples.get('ticket_leases_reserved_total')).toBeGreaterThan(0);
    expect(samples.get('ticket_lease_slots_reserved_total')).toBeGreaterThan(0);
    expect(samples.get('ticket_lease_failures_total')).toBe(0);
    expect(text).toMatch(/^# TYPE ticket_lease_reservation_seconds histogram$/m);
    expect(samples.get('ticket_lease_reservation_seconds_count')).toBeGreaterThan(0);
    expect(samples.get('ticket_lease_reservation_seconds_bucket{le="+Inf"}')).toBe(samples.get('ticket_lease_reservation_seconds_count'));
    expect(samples.has('ticket_lease_reservation_seconds_sum')).toBe(true);
    expect(samples.get('ticket_jumps_total')).toBeGreaterThanOrEqual(1);
    expect(samples.has('ticket_runway_seconds')).toBe(true);
    expect(samples.get('ticket_sequences')).toBeGreaterThanOrEqual(4);
  });

  it('counts one drift jump on a sequence in use once in ticket_jumps_total', async () => {
    await nextHttp(metricsServer, 'jump-twice', '?count=10');
    const before = (await scrape(metricsServer)).samples.get('ticket_jumps_total') as number;
    expect(await nextHttp(metricsServer, 'jump-twice', '?last=5000')).toEqual([5001n]);
    expect((await scrape(metricsServer)).samples.get('ticket_jumps_total')).toBe(before + 1);
  });

  it('caps per-sequence series at 20 with 50 sequences', async () => {
    for (let index = 0; index < 50; index++) await nextHttp(metricsServer, `many-${index}`);
    await eventually('50 sequences sampled', async () => {
      const doc = await status(metricsServer);
      return doc.sequences.filter((sequence) => sequence.name.startsWith('many-')).length === 50 ? true : undefined;
    });
    const { samples } = await scrape(metricsServer);
    const rateSeries = [...samples.keys()].filter((key) => key.startsWith('ticket_sequence_rate{'));
    const runwaySeries = [...samples.keys()].filter((key) => key.startsWith('ticket_sequence_runway_seconds{'));
    expect(rateSeries.length).toBeGreaterThan(0);
    expect(rateSeries.length).toBeLessThanOrEqual(20);
    expect(runwaySeries.length).toBeLessThanOrEqual(20);
    expect(samples.get('ticket_sequences')).toBeGreaterThanOrEqual(50);
  });
});

describe('mutations need a token', () => {
  it('are off without --admin-token: 401 EAUTH, even with a bearer header', async () => {
    const adminUrl = urlOf(noToken, 'admin');
    expectError(await mutate(`${adminUrl}/admin/sequences/x`, 'PUT', undefined, undefined), 401, 'EAUTH');
    expectError(await mutate(`${adminUrl}/admin/sequences/x`, 'PUT', undefined, TOKEN), 401, 'EAUTH');
    expectError(await mutate(`${adminUrl}/admin/sequences/x/floor`, 'POST', { floor: '1000' }, TOKEN), 401, 'EAUTH');
    expectError(await mutate(`${adminUrl}/admin/sequences/x/floor`, 'POST', { floor: '1000' }, ''), 401, 'EAUTH');
    // Nothing moved.
    expect(await one(noToken, 'x')).toBe(1n);
  });

  it('refuse a missing or wrong token with 401 EAUTH and change nothing', async () => {
    const adminUrl = urlOf(server, 'admin');
    const start = await one(server, 'guarded');
    const attempts: Array<RequestInit> = [
      {},
      { headers: { authorization: `Bearer ${TOKEN}x` } },
      { headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}` } },
      { headers: { authorization: TOKEN } },
      { headers: { authorization: `Basic ${TOKEN}` } },
      { headers: { authorization: `bearer${TOKEN}` } },
      { headers: { authorization: 'Bearer ' } },
    ];
    for (const init of attempts) {
      const headers = { ...(init.headers as Record<string, string> | undefined), 'content-type': 'application/json' };
      expectError(await call(`${adminUrl}/admin/sequences/guarded/floor`, { method: 'POST', headers, body: '{"floor":"100000"}' }), 401, 'EAUTH');
      expectError(await call(`${adminUrl}/admin/sequences/new-guarded`, { method: 'PUT', headers: init.headers ?? {} }), 401, 'EAUTH');
    }
    expect(await one(server, 'guarded')).toBe(start + 2n);
  });

  it('PUT /admin/sequences/{name} creates (201, created true), then answers 200 created false', async () => {
    const adminUrl = urlOf(server, 'admin');
    const created = await mutate(`${adminUrl}/admin/sequences/made`, 'PUT', undefined);
    expect(created.status, created.text).toBe(201);
    expect(json(created)).toMatchObject({ sequence: 'made', created: true });
    const again = await mutate(`${adminUrl}/admin/sequences/made`, 'PUT', undefined);
    expect(again.status).toBe(200);
    expect(json(again)).toMatchObject({ sequence: 'made', created: false });
    // An empty JSON object body is fine; a name with a slash round-trips.
    const slashed = await mutate(`${adminUrl}/admin/sequences/${encodeURIComponent('a/b c')}`, 'PUT', {});
    expect(slashed.status).toBe(201);
    expect(json(slashed)).toMatchObject({ sequence: 'a/b c', created: true });
    // With a floor in the body the new sequence starts above it.
    const floored = await mutate(`${adminUrl}/admin/sequences/floored-at-create`, 'PUT', { floor: '5000' });
    expect(floored.status).toBe(201);
    expect(await one(server, 'floored-at-create')).toBeGreaterThan(5000n);
    // Bad requests.
    expectError(await mutate(`${adminUrl}/admin/sequences/${'n'.repeat(129)}`, 'PUT', undefined), 400, 'EBADNAME');
    expectError(await mutate(`${adminUrl}/admin/sequences/bad-body`, 'PUT', { unknown: 1 }), 400, 'EBADREQ');
    expectError(await mutate(`${adminUrl}/admin/sequences/bad-body`, 'PUT', '[1]'), 400, 'EBADREQ');
    expectError(await mutate(`${adminUrl}/admin/sequences/bad-body`, 'PUT', '{"floor":'), 400, 'EBADREQ');
    expectError(await mutate(`${adminUrl}/admin/sequences/bad-body`, 'PUT', { floor: 'abc' }), 400, 'EBADREQ');
  });

  it('in --strict-sequences mode a sequence created with PUT works over /v1 while others get 404 ENOSEQ', async () => {
    const httpUrl = urlOf(strict, 'http');
    const adminUrl = urlOf(strict, 'admin');
    expectError(await call(`${httpUrl}/v1/sequences/strict-made/next`, { method: 'POST' }), 404, 'ENOSEQ');
    const created = await mutate(`${adminUrl}/admin/sequences/strict-made`, 'PUT', undefined);
    expect(created.status, created.text).toBe(201);
    expect(await nextHttp(strict, 'strict-made', '?count=2')).toEqual([1n, 2n]);
    expectError(await call(`${httpUrl}/v1/sequences/strict-other/next`, { method: 'POST' }), 404, 'ENOSEQ');
    // A floor on a missing sequence does not create it in strict mode.
    expectError(await mutate(`${adminUrl}/admin/sequences/strict-missing/floor`, 'POST', { floor: '10' }), 404, 'ENOSEQ');
    expectError(await call(`${httpUrl}/v1/sequences/strict-missing/next`, { method: 'POST' }), 404, 'ENOSEQ');
    // A floor on the created one works.
    expect((await mutate(`${adminUrl}/admin/sequences/strict-made/floor`, 'POST', { floor: '700' })).status).toBe(200);
    expect(await one(strict, 'strict-made')).toBeGreaterThan(700n);
  });
});

describe('admin errors', () => {
  it('answers unknown routes with 404, a wrong method with 405 and Allow, and oversized bodies with 413, in the error shape', async () => {
    const adminUrl = urlOf(server, 'admin');
    for (const [method, path, status, allow] of [
      ['GET', '/nope', 404, null],
      ['POST', '/admin/sequences', 404, null],
      ['POST', '/admin/sequences/x', 405, 'DELETE, GET, HEAD, PUT'],
      ['GET', '/admin/sequences/x/floor', 405, 'POST'],
      ['POST', '/status', 405, 'GET, HEAD'],
      ['DELETE', '/metrics', 405, 'GET, HEAD'],
    ] as const) {
      const reply = await call(`${adminUrl}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } });
      expect(reply.status, `${method} ${path}`).toBe(status);
      expect(reply.allow, `${method} ${path}`).toBe(allow);
      const error = json<{ error: { code: string; message: string } }>(reply).error;
      expect(Object.keys(error).sort()).toEqual(['code', 'message']);
      expect(error.code).toBe('EBADREQ');
    }
    const big = await mutate(`${adminUrl}/admin/sequences/big-body/floor`, 'POST', { floor: '5', padding: 'x'.repeat(8192) });
    expect(big.status).toBe(413);
    expect(Object.keys(json<{ error: { code: string; message: string } }>(big).error).sort()).toEqual(['code', 'message']);
  });

  it('answers a malformed percent-encoded admin path in the {"error":{"code","message"}} shape', async () => {
    const reply = await mutate(`${urlOf(server, 'admin')}/admin/sequences/%ZZ`, 'PUT', undefined);
    expect(reply.status).toBe(400);
    expect(Object.keys(json(reply))).toEqual(['error']);
  });
});

describe('floors', () => {
  const floor = (name: string, body: unknown, token?: string): Promise<Reply> =>
    mutate(`${urlOf(server, 'admin')}/admin/sequences/${encodeURIComponent(name)}/floor`, 'POST', body, token);

  it('raises a sequence in use: the next value is above the floor', async () => {
    const first = await nextHttp(server, 'floored', '?count=3');
    expect(first[2]).toBeLessThan(1000n);
    const reply = await floor('floored', { floor: '1000' });
    expect(reply.status, reply.text).toBe(200);
    expect(json(reply)).toMatchObject({ sequence: 'floored', floor: '1000', raised: true });
    const next = await one(server, 'floored');
    expect(next).toBeGreaterThan(1000n);
    expect(next).toBeLessThan(1100n);
    // Own class still: instance 2 of 2, offset 100 → 101, 103, …: odd values.
    expect(next % 2n).toBe(1n);
    // The values that follow keep increasing above it, also over ZeroMQ.
    expect(await nextValue(server.endpoint, 'floored')).toBeGreaterThan(next);
  });

  it('raises a sequence never used since start (and creates it outside strict mode)', async () => {
    expect((await floor('fresh-floor', { floor: 300 })).status).toBe(200);
    expect(await one(server, 'fresh-floor')).toBeGreaterThan(300n);
  });

  it('never lowers: a floor at or below the current position changes nothing', async () => {
    await floor('never-lower', { floor: '2000' });
    const high = await one(server, 'never-lower');
    expect(high).toBeGreaterThan(2000n);
    const below = await floor('never-lower', { floor: '10' });
    expect(below.status).toBe(200);
    expect(json(below)).toMatchObject({ raised: false });
    const atLast = await floor('never-lower', { floor: high.toString() });
    expect(atLast.status).toBe(200);
    expect(json(atLast)).toMatchObject({ raised: false });
    expect(await one(server, 'never-lower')).toBe(high + 2n);
  });

  it('keeps digits above 2^53 exact', async () => {
    // Far above --max-jump: it needs force.
    expect((await floor('wide-floor', { floor: '9007199254740993', force: true })).status).toBe(200);
    // Instance 2 of 2 with offset 100 owns odd values: the smallest one above the floor.
    expect(await one(server, 'wide-floor')).toBe(9007199254740995n);
  });

  it.each([
    ['negative string', { floor: '-1' }],
    ['negative number', { floor: -1 }],
    ['non-numeric', { floor: 'abc' }],
    ['hexadecimal', { floor: '0x10' }],
    ['fractional', { floor: 1.5 }],
    ['exponent', { floor: '1e3' }],
    ['above 2^63 - 1', { floor: '9223372036854775808' }],
    ['20 digits', { floor: '10000000000000000000' }],
    ['an unsafe number', { floor: 2 ** 60 }],
    ['missing', {}],
    ['null', { floor: null }],
    ['an array', { floor: ['1'] }],
    ['no body', undefined],
    ['an unknown field', { floor: '5', extra: true }],
    ['malformed JSON', '{"floor": "5"'],
  ])('refuses a floor that is %s with 400 EBADREQ, changing nothing', async (_what, body) => {
    const before = await one(server, 'bad-floor');
    expectError(await floor('bad-floor', body), 400, 'EBADREQ');
    expect(await one(server, 'bad-floor')).toBe(before + 2n);
  });

  it('is durable: after SIGTERM and a restart on the same data directory the next value is still above the floor', async () => {
    const dataDir = await createTempDir();
    const args = ['--admin-token', TOKEN];
    let durable = await startServer(args, { dataDir });
    expect(await one(durable, 'durable-floor')).toBe(1n);
    const raised = await mutate(`${urlOf(durable, 'admin')}/admin/sequences/durable-floor/floor`, 'POST', { floor: '1000' });
    expect(raised.status).toBe(200);
    // A floor on a sequence this process never issued from is durable too.
    expect((await mutate(`${urlOf(durable, 'admin')}/admin/sequences/durable-unused/floor`, 'POST', { floor: '2000' })).status).toBe(200);
    expect((await durable.stop('SIGTERM')).code).toBe(0);

    durable = await startServer(args, { dataDir });
    expect(await one(durable, 'durable-floor')).toBeGreaterThan(1000n);
    expect(await one(durable, 'durable-unused')).toBeGreaterThan(2000n);
    // And after a crash too.
    await durable.kill();
    durable = await startServer(args, { dataDir });
    expect(await one(durable, 'durable-floor')).toBeGreaterThan(1001n);
    expect((await durable.stop()).code).toBe(0);
  });
});

describe('proxy mode', () => {
  let proxy: ServerProcess;

  beforeAll(async () => {
    proxy = await startServer(['--host', server.endpoint, '--admin-token', TOKEN]);
  });

  it('answers admin mutations with 503 EUNAVAILABLE and forwards nothing', async () => {
    const adminUrl = urlOf(proxy, 'admin');
    expectError(await mutate(`${adminUrl}/admin/sequences/proxied`, 'PUT', undefined), 503, 'EUNAVAILABLE');
    expectError(await mutate(`${adminUrl}/admin/sequences/proxied/floor`, 'POST', { floor: '100000' }), 503, 'EUNAVAILABLE');
    // Still behind the token.
    expectError(await mutate(`${adminUrl}/admin/sequences/proxied/floor`, 'POST', { floor: '100000' }, 'wrong-token-wrong-token'), 401, 'EAUTH');
    // The upstream was not raised: its next value is small.
    expect(await one(server, 'proxied')).toBeLessThan(1000n);
  });

  it('reports mode "proxy" with its upstreams on /status', async () => {
    const doc = await status(proxy);
    expect(doc.mode).toBe('proxy');
    expect(doc.numbering).toBeNull();
    expect(doc.store).toBeNull();
    expect(Array.isArray(doc.upstreams)).toBe(true);
    expect(doc.upstreams?.map((upstream) => upstream.uri)).toEqual([server.endpoint]);
    expect(typeof doc.upstreams?.[0]?.up).toBe('boolean');
    expect((await call(`${urlOf(proxy, 'admin')}/healthz`)).status).toBe(200);
    const metrics = await scrape(proxy);
    expect([...metrics.samples.keys()].some((key) => key.startsWith('ticket_upstream_up{'))).toBe(true);
  });
});

describe('configuration of the admin and HTTP ports', () => {
  it('refuses an --admin-token shorter than 16 characters with exit code 2 naming --admin-token', async () => {
    const token = 'short-token-15c';
    expect(token).toHaveLength(15);
    const result = await runCli(['--store', 'memory:', '--admin-token', token, '--bind', 'tcp://127.0.0.1:0', '--http', 'off', '--admin', 'off']);
    expect(result.code).toBe(2);
    expect(result.stderr + result.stdout).toContain('--admin-token');
  });

  it('--http off and --admin off disable both ports', async () => {
    const quiet = await startServer(['--store', 'memory:', '--http', 'off', '--admin', 'off']);
    const listening = quiet.logLines().filter((line) => line.msg === 'listening');
    expect(listening.map((line) => line.protocol)).toEqual(['zmq']);
    expect(() => urlOf(quiet, 'http')).toThrow();
    expect(() => urlOf(quiet, 'admin')).toThrow();
    expect(await nextValue(quiet.endpoint, 'still-serving')).toBe(1n);
    expect((await quiet.stop()).code).toBe(0);
  });
});

describe('admin OpenAPI document', () => {
  it('is served at /openapi.json on the admin port, and every documented path and method answers', async () => {
    const adminUrl = urlOf(server, 'admin');
    const reply = await call(`${adminUrl}/openapi.json`);
    expect(reply.status).toBe(200);
    const document = json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(reply);
    expect(document.openapi).toMatch(/^3\./);
    const paths = Object.keys(document.paths);
    for (const path of ['/status', '/healthz', '/readyz', '/metrics', '/admin/sequences/{name}', '/admin/sequences/{name}/floor']) {
      expect(paths).toContain(path);
    }
    let checked = 0;
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const method of Object.keys(methods).map((name) => name.toUpperCase())) {
        const concrete = `${adminUrl}${path.replace('{name}', 'documented-admin')}`;
        // PUT first (the documented order), so GET and DELETE find the sequence.
        const answer = method === 'GET' ? await call(concrete) : await mutate(concrete, method as 'PUT' | 'POST' | 'DELETE', { floor: '5' });
        expect(answer.status, `${method} ${path}: ${answer.text}`).toBeLessThan(400);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(8);
  });

  it('documents the floor body the routes accept: a field it does not list is refused', async () => {
    const adminUrl = urlOf(server, 'admin');
    const document = json<{ paths: Record<string, { post?: { requestBody: { content: Record<string, { schema: { properties: object } }> } } }> }>(
      await call(`${adminUrl}/openapi.json`),
    );
    const schema = document.paths['/admin/sequences/{name}/floor']?.post?.requestBody.content['application/json']?.schema;
    expect(Object.keys(schema?.properties ?? {})).toEqual(['floor', 'force']);
    expectError(await mutate(`${adminUrl}/admin/sequences/documented-body/floor`, 'POST', { floor: '5', extra: 1 }), 400, 'EBADREQ');
  });
});
