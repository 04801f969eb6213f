/**
 * HttpTransport (`http://`, SPEC §6.2 from the client side): the request it
 * sends (path, encoded name, body), the replies it accepts, errors by code,
 * bounded bodies, timeouts, unreachable servers (ETIMEOUT, so the pool fails
 * over), keep-alive reuse, redirects, close(), and failover through a client.
 *
 * Each test talks to a small `node:http` server on 127.0.0.1 that mimics the
 * API; nothing else runs.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpTransport, MAX_REPLY_BYTES, decodeHttpReply } from '../../src/client/http-transport.js';
import { defaultConnect } from '../../src/client/pool.js';
import { createClient } from '../../src/client/client.js';
import { TicketError, type ErrorCode } from '../../src/core/errors.js';
import type { TicketRequest } from '../../src/client/transport.js';
import { failure as failing } from '../helpers/ticket-errors.js';
import { deadPort } from '../helpers/ports.js';

/** One request as the fake server received it. */
interface Received {
  readonly method: string;
  /** The raw request target, as sent. */
  readonly url: string;
  readonly contentType: string | undefined;
  readonly body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A fake HTTP API server; by default it answers like SPEC §6.2 with 1, 2, 3, … per sequence. */
interface FakeApi {
  readonly server: Server;
  readonly port: number;
  readonly uri: string;
  readonly received: Received[];
  /** Connections accepted so far. */
  connections: number;
  handler: Handler;
}

const servers: Server[] = [];
const transports: HttpTransport[] = [];

afterEach(async () => {
  for (const transport of transports.splice(0)) transport.close();
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The API of SPEC §6.2, for requests under `base`. */
function apiHandler(base = ''): Handler {
  const counters = new Map<string, bigint>();
  return (req, res, body) => {
    const match = new RegExp(`^${base}/v1/sequences/([^/]+)/next$`).exec(req.url ?? '');
    if (req.method !== 'POST' || !match) return send(res, 404, { error: { code: 'EBADREQ', message: 'no such route' } });
    const name = decodeURIComponent(match[1] as string);
    const parsed = JSON.parse(body) as { count?: number; last?: string };
    const values: string[] = [];
    for (let i = 0; i < (parsed.count ?? 1); i++) {
      const next = (counters.get(name) ?? 0n) + 1n;
      counters.set(name, next);
      values.push(next.toString());
    }
    send(res, 200, { sequence: name, values });
  };
}

async function startApi(handler: Handler = apiHandler()): Promise<FakeApi> {
  const server = createServer();
  const api: FakeApi = { server, port: 0, uri: '', received: [], connections: 0, handler };
  server.on('connection', () => api.connections++);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      api.received.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], body });
      api.handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  const port = (server.address() as AddressInfo).port;
  return Object.assign(api, { port, uri: `http://127.0.0.1:${port}` });
}

function open(uri: string): HttpTransport {
  const transport = new HttpTransport(uri);
  transports.push(transport);
  return transport;
}

function single(name: string, last?: bigint): TicketRequest {
  return { name, count: undefined, last };
}

function counted(name: string, count: number, last?: bigint): TicketRequest {
  return { name, count, last };
}

/** The TicketError a promise rejects with. */
/** The TicketError a request's promise rejects with. */
function failure(promise: Promise<unknown>): Promise<TicketError> {
  return failing(() => promise);
}

describe('HttpTransport: requests and replies', () => {
  it('single form: POSTs an empty JSON body and resolves one bigint', async () => {
    const api = await startApi();
    const transport = open(api.uri);
    await expect(transport.request(single('orders'), 1000)).resolves.toBe(1n);
    await expect(transport.request(single('orders'), 1000)).resolves.toBe(2n);
    expect(api.received[0]).toEqual({ method: 'POST', url: '/v1/sequences/orders/next', contentType: 'application/json', body: '{}' });
  });

  it('count form: sends count and resolves bigint[]', async () => {
    const api = await startApi();
    const transport = open(api.uri);
    await expect(transport.request(counted('orders', 3), 1000)).resolves.toEqual([1n, 2n, 3n]);
    expect(JSON.parse(api.received[0]?.body ?? '')).toEqual({ count: 3 });
  });

  it('sends last as a base-10 string, with and without count', async () => {
    const api = await startApi();
    const transport = open(api.uri);
    const last = 2n ** 63n - 2n; // beyond any JSON number's exact range
    await transport.request(single('a', last), 1000);
    await transport.request(counted('a', 2, 9007199254740993n), 1000);
    expect(JSON.parse(api.received[0]?.body ?? '')).toEqual({ last: last.toString() });
    expect(JSON.parse(api.received[1]?.body ?? '')).toEqual({ count: 2, last: '9007199254740993' });
  });

  it('percent-encodes the name in the path', async () => {
    const api = await startApi();
    const transport = open(api.uri);
    const names = ['a/b c?d#e', 'é%25', 'x+y&z=1', '..', '.'];
    for (const name of names) await transport.request(single(name), 1000);
    expect(api.received.map((r) => r.url)).toEqual([
      '/v1/sequences/a%2Fb%20c%3Fd%23e/next',
      '/v1/sequences/%C3%A9%2525/next',
      '/v1/sequences/x%2By%26z%3D1/next',
      '/v1/sequences/%2E%2E/next',
      '/v1/sequences/%2E/next',
    ]);
    expect(api.received.map((r) => decodeURIComponent(r.url.split('/')[3] as string))).toEqual(names);
  });

  it.each(['/tickets', '/tickets/', '/tickets//'])('puts requests under a base path (%s)', async (base) => {
    const api = await startApi(apiHandler('/tickets'));
    const transport = open(`${api.uri}${base}`);
    await expect(transport.request(single('orders'), 1000)).resolves.toBe(1n);
    expect(api.received[0]?.url).toBe('/tickets/v1/sequences/orders/next');
  });

  it('a base path of "/" is no base path', async () => {
    const api = await startApi();
    await expect(open(`${api.uri}/`).request(single('orders'), 1000)).resolves.toBe(1n);
    expect(api.received[0]?.url).toBe('/v1/sequences/orders/next');
  });

  it('refuses names the server would refuse without sending anything (EBADNAME)', async () => {
    const api = await startApi();
    const transport = open(api.uri);
    for (const name of ['', 'a\ud800', 'tab\there', 'x'.repeat(129)]) {
      expect((await failure(transport.request(single(name), 1000))).code).toBe('EBADNAME');
    }
    expect(api.received).toHaveLength(0);
  });
});

describe('HttpTransport: errors', () => {
  it.each([
    [400, 'EBADNAME'],
    [404, 'ENOSEQ'],
    [409, 'EJUMP'],
    [503, 'EUNAVAILABLE'],
    [503, 'EXHAUSTED'],
  ] as Array<[number, ErrorCode]>)('HTTP %i with an error body → %s and its message', async (status, code) => {
    const api = await startApi((_req, res) => send(res, status, { error: { code, message: `server says ${code}` } }));
    const error = await failure(open(api.uri).request(single('orders'), 1000));
    expect(error.code).toBe(code);
    expect(error.message).toBe(`server says ${code}`);
  });

  it('an unknown error code becomes EINTERNAL, keeping the message', async () => {
    const api = await startApi((_req, res) => send(res, 500, { error: { code: 'EWHATEVER', message: 'odd' } }));
    const error = await failure(open(api.uri).request(single('orders'), 1000));
    expect(error.code).toBe('EINTERNAL');
    expect(error.message).toBe('odd');
  });

  it.each([
    ['text', 'Bad Gateway'],
    ['no error object', '{"message":"x"}'],
    ['empty', ''],
  ])('an error status without an error body (%s) → EINTERNAL', async (_label, body) => {
    const api = await startApi((_req, res) => {
      res.writeHead(502);
      res.end(body);
    });
    expect((await failure(open(api.uri).request(single('orders'), 1000))).code).toBe('EINTERNAL');
  });

  it.each([
    ['not JSON', 'hello'],
    ['no values', '{"sequence":"orders"}'],
    ['values not an array', '{"values":"1"}'],
    ['a number value', '{"values":[1]}'],
    ['an empty value', '{"values":[""]}'],
    ['a value longer than any ticket', `{"values":["${'9'.repeat(65)}"]}`],
    ['a value with a control character', '{"values":["INV\\u0000"]}'],
    ['no value at all', '{"values":[]}'],
    ['too many values', '{"values":["1","2"]}'],
    ['an array', '["1"]'],
  ])('a 200 reply with %s → EINTERNAL', async (_label, body) => {
    const api = await startApi((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    expect((await failure(open(api.uri).request(single('orders'), 1000))).code).toBe('EINTERNAL');
  });

  it('a count reply with the wrong number of values → EINTERNAL', async () => {
    const api = await startApi((_req, res) => send(res, 200, { sequence: 'o', values: ['1', '2'] }));
    expect((await failure(open(api.uri).request(counted('o', 3), 1000))).code).toBe('EINTERNAL');
  });

  it.each([
    ['with content-length', true],
    ['chunked', false],
  ])('a reply body over 1 MiB (%s) fails with EINTERNAL', async (_label, declared) => {
    const big = JSON.stringify({ values: ['1'], padding: 'x'.repeat(MAX_REPLY_BYTES) });
    const api = await startApi((_req, res) => {
      res.writeHead(200, declared ? { 'content-length': Buffer.byteLength(big) } : {});
      res.end(big);
    });
    const error = await failure(open(api.uri).request(single('orders'), 5000));
    expect(error.code).toBe('EINTERNAL');
    expect(error.message).toMatch(/larger than/);
  });

  it('a server that never answers → ETIMEOUT after timeoutMs, and the connection is dropped', async () => {
    let closed = 0;
    const api = await startApi((req) => req.socket.on('close', () => closed++));
    const started = Date.now();
    const error = await failure(open(api.uri).request(single('orders'), 100));
    expect(error.code).toBe('ETIMEOUT');
    expect(error.message).toMatch(/did not answer within 100 ms/);
    expect(Date.now() - started).toBeLessThan(1000);
    await expect.poll(() => closed).toBe(1);
  });

  it('connection refused → ETIMEOUT "cannot reach", at once, with the cause', async () => {
    const uri = `http://127.0.0.1:${await deadPort()}`;
    const started = Date.now();
    const error = await failure(open(uri).request(single('orders'), 5000));
    expect(error.code).toBe('ETIMEOUT');
    expect(error.message).toBe(`cannot reach ${uri}`);
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('a connection closed before the reply (fresh socket) → ETIMEOUT "cannot reach"', async () => {
    const api = await startApi((req) => req.socket.destroy());
    const error = await failure(open(api.uri).request(single('orders'), 5000));
    expect(error.code).toBe('ETIMEOUT');
    expect(error.message).toMatch(/^cannot reach/);
    expect(api.received).toHaveLength(1); // no retry on a socket that was not reused
  });

  it('a connection closed in the middle of the reply body → ETIMEOUT', async () => {
    const api = await startApi((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 100 });
      res.write('{"values":[');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    expect((await failure(open(api.uri).request(single('orders'), 5000))).code).toBe('ETIMEOUT');
  });
});

describe('HttpTransport: connections', () => {
  it('reuses one keep-alive connection for sequential requests', async () => {
    const api = await startApi();
    const transport = open(api.uri);
    for (let i = 1; i <= 5; i++) await expect(transport.request(single('orders'), 1000)).resolves.toBe(BigInt(i));
    expect(api.connections).toBe(1);
  });

  it('keeps the connection after an error reply', async () => {
    const api = await startApi((_req, res) => send(res, 409, { error: { code: 'EJUMP', message: 'no' } }));
    const transport = open(api.uri);
    for (let i = 0; i < 3; i++) expect((await failure(transport.request(single('o'), 1000))).code).toBe('EJUMP');
    expect(api.connections).toBe(1);
  });

  it('resends once on a new connection when a reused keep-alive socket turns out closed', async () => {
    const api = await startApi();
    const answer = apiHandler();
    let calls = 0;
    api.handler = (req, res, body) => {
      calls++;
      if (calls === 2) req.socket.destroy(); // the server dropped the idle socket as the client reused it
      else answer(req, res, body);
    };
    const transport = open(api.uri);
    await expect(transport.request(single('orders'), 1000)).resolves.toBe(1n);
    await expect(transport.request(single('orders'), 1000)).resolves.toBe(2n);
    expect(api.connections).toBe(2);
    expect(api.received).toHaveLength(3);
  });

  it('follows a 307 to another server, keeping method and body', async () => {
    const leader = await startApi();
    const follower = await startApi((req, res) => {
      res.writeHead(307, { location: `${leader.uri}${req.url ?? ''}` });
      res.end();
    });
    const transport = open(follower.uri);
    await expect(transport.request(counted('a b', 2, 41n), 1000)).resolves.toEqual([1n, 2n]);
    expect(leader.received[0]).toMatchObject({ method: 'POST', url: '/v1/sequences/a%20b/next', body: '{"count":2,"last":"41"}' });
  });

  it('asks the server a redirect led to (the leader) first on the next requests', async () => {
    const leader = await startApi();
    const follower = await startApi((req, res) => {
      res.writeHead(307, { location: `${leader.uri}${req.url ?? ''}` });
      res.end();
    });
    const transport = open(follower.uri);
    await expect(transport.request(single('orders'), 1000)).resolves.toBe(1n);
    await expect(transport.request(single('orders'), 1000)).resolves.toBe(2n);
    await expect(transport.request(counted('orders', 2), 1000)).resolves.toEqual([3n, 4n]);
    expect(follower.received).toHaveLength(1);
    expect(leader.received).toHaveLength(3);
  });

  it('when the remembered leader is gone, asks the configured server again within the same request', async () => {
    const oldLeader = await startApi();
    const newLeader = await startApi();
    let leaderUri = oldLeader.uri;
    const follower = await startApi((req, res) => {
      res.writeHead(307, { location: `${leaderUri}${req.url ?? ''}` });
      res.end();
    });
    const transport = open(follower.uri);
    await expect(transport.request(single('orders'), 1000)).resolves.toBe(1n);
    // The old leader dies; the follower now redirects to the new one.
    await new Promise<void>((resolve) => {
      oldLeader.server.closeAllConnections();
      oldLeader.server.close(() => resolve());
    });
    leaderUri = newLeader.uri;
    await expect(transport.request(single('orders'), 1000)).resolves.toBe(1n);
    expect(newLeader.received).toHaveLength(1);
    expect(follower.received).toHaveLength(2);
    // And the new leader is asked directly from then on.
    await expect(transport.request(single('orders'), 1000)).resolves.toBe(2n);
    expect(follower.received).toHaveLength(2);
  });

  it('a redirect loop fails with EINTERNAL', async () => {
    const api = await startApi((req, res) => {
      res.writeHead(307, { location: req.url ?? '/' });
      res.end();
    });
    const error = await failure(open(api.uri).request(single('orders'), 1000));
    expect(error.code).toBe('EINTERNAL');
    expect(api.received.length).toBe(4);
  });

  it('close() rejects pending requests with EUNAVAILABLE, and later ones too', async () => {
    const api = await startApi(() => undefined); // never answers
    const transport = open(api.uri);
    const pending = [transport.request(single('a'), 5000), transport.request(counted('b', 2), 5000)];
    await expect.poll(() => api.received.length).toBe(2);
    transport.close();
    for (const request of pending) {
      const error = await failure(request);
      expect(error.code).toBe('EUNAVAILABLE');
      expect(error.message).toBe('client is closed');
    }
    expect((await failure(transport.request(single('a'), 1000))).code).toBe('EUNAVAILABLE');
    transport.close(); // twice is fine
  });
});

describe('decodeHttpReply', () => {
  it('returns one bigint for the single form and an array for the counted form', () => {
    expect(decodeHttpReply(200, '{"sequence":"s","values":["9223372036854775807"]}', single('s'))).toBe(2n ** 63n - 1n);
    expect(decodeHttpReply(200, '{"sequence":"s","values":["5"]}', counted('s', 1))).toEqual([5n]);
  });
});

describe('defaultConnect with http://', () => {
  it.each(['http://127.0.0.1:6412', 'http://localhost:6412/tickets', 'http://[::1]:6412/', 'http://host.example:80/a/b/', 'https://127.0.0.1:6412'])(
    'accepts %s',
    (uri) => {
      const transport = defaultConnect(uri);
      expect(transport).toBeInstanceOf(HttpTransport);
      expect(transport.uri).toBe(uri);
      transport.close();
    },
  );

  it.each(['http://127.0.0.1', 'http://127.0.0.1:99999', 'http://127.0.0.1:6412/a b', 'http://:6412', 'http://h:1/x?y=1', 'http://h:1/#f'])(
    'refuses %s with a TypeError that names it',
    (uri) => {
      expect(() => defaultConnect(uri)).toThrow(TypeError);
      expect(() => defaultConnect(uri)).toThrow(uri);
    },
  );
});

describe('client over http://', () => {
  it('fails over from a dead server to a live one and succeeds, sending last', async () => {
    const api = await startApi();
    const dead = `http://127.0.0.1:${await deadPort()}`;
    const client = createClient([dead, api.uri], { timeout: 1000 });
    try {
      for (let i = 0; i < 4; i++) await expect(client.next('orders')).resolves.toBe(BigInt(i + 1));
      await expect(client.next('orders', { count: 2 })).resolves.toEqual([5n, 6n]);
      expect(JSON.parse(api.received.at(-1)?.body ?? '')).toEqual({ count: 2, last: '4' });
      const stats = client.stats();
      expect(stats.find((s) => s.uri === dead)?.failures).toBeGreaterThan(0);
      expect(stats.find((s) => s.uri === api.uri)?.requests).toBe(5);
    } finally {
      await client.close();
    }
  });
});
