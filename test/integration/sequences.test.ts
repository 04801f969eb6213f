/**
 * Sequence definitions end to end, against the built CLI: one sequence
 * defined with a yearly period, a format and a Luhn check digit answers the
 * same kind of ticket over every protocol (ZeroMQ, HTTP, line, one-shot TCP,
 * a proxy in front, the client library over tcp://, http:// and line://);
 * `last` given as a formatted ticket; the check endpoint; the admin
 * GET/PUT/DELETE and what they refuse; settings surviving a restart, dump and
 * restore; tombstones, --max-sequences and --strict-sequences; admin floors
 * and --max-jump; --js-safe; sequences defined in the config file.
 */
import { writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { createClient } from '../../src/client/client.js';
import { createTempDir, removeTempDirs, runCli, startServer, stopAllServers, urlOf, type ServerProcess } from '../helpers/server-process.js';
import { requestTicket } from '../helpers/zmq-client.js';

const TOKEN = 'sequences-test-admin-token-0123456789';
const INV_SETTINGS = { period: 'yearly', format: 'INV-{yyyy}-{value:6}{check}', check: 'luhn' } as const;
const INV_PATTERN = /^INV-(\d{4})-(\d{6})(\d)$/;
/** Bound of every single wait for a reply. */
const WAIT_MS = 5_000;
const STX = 0x02;
const ETX = 0x03;

afterAll(async () => {
  await stopAllServers();
  await removeTempDirs();
});

// ---- helpers -------------------------------------------------------------------

const year = (): string => String(new Date().getUTCFullYear());

/** Luhn check digit of a string of decimal digits. */
function luhnDigit(digits: string): number {
  let sum = 0;
  for (let index = 0; index < digits.length; index++) {
    let digit = Number(digits[digits.length - 1 - index]);
    if (index % 2 === 0) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return (10 - (sum % 10)) % 10;
}

/** An INV ticket of `value` in `ticketYear`, with its correct check digit. */
function invTicket(value: bigint, ticketYear = year()): string {
  return `INV-${ticketYear}-${value.toString().padStart(6, '0')}${luhnDigit(value.toString())}`;
}

/** Asserts `ticket` is a well-formed INV ticket of this year with a valid check digit; returns its value. */
function invValue(ticket: unknown): bigint {
  expect(typeof ticket, String(ticket)).toBe('string');
  const match = INV_PATTERN.exec(ticket as string);
  expect(match, String(ticket)).not.toBeNull();
  const [, ticketYear, padded, check] = match as unknown as [string, string, string, string];
  expect(ticketYear).toBe(year());
  const value = BigInt(padded);
  expect(Number(check), `check digit of ${String(ticket)}`).toBe(luhnDigit(value.toString()));
  return value;
}

interface Reply {
  readonly status: number;
  readonly text: string;
}

async function call(url: string, init: RequestInit = {}): Promise<Reply> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  return { status: response.status, text: await response.text() };
}

const json = <T = Record<string, unknown>>(reply: Reply): T => JSON.parse(reply.text) as T;

function admin(server: ServerProcess, method: 'PUT' | 'DELETE' | 'GET', name: string, body?: unknown, token: string | undefined = TOKEN): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (token !== undefined && method !== 'GET') headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return call(`${urlOf(server, 'admin')}/admin/sequences/${encodeURIComponent(name)}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

function expectError(reply: Reply, status: number, code: string): void {
  expect(reply.status, reply.text).toBe(status);
  expect(json<{ error: { code: string } }>(reply).error.code, reply.text).toBe(code);
}

/** `POST /v1/sequences/{name}/next` with a query; the raw reply. */
function httpNext(server: ServerProcess, name: string, query = ''): Promise<Reply> {
  return call(`${urlOf(server, 'http')}/v1/sequences/${encodeURIComponent(name)}/next${query}`, { method: 'POST' });
}

async function httpValues(server: ServerProcess, name: string, query = ''): Promise<string[]> {
  const reply = await httpNext(server, name, query);
  expect(reply.status, reply.text).toBe(200);
  return json<{ values: string[] }>(reply).values;
}

/** A ZeroMQ request's value(s); fails on an error reply. */
async function zmqValues(endpoint: string, name: string, last = '0', count?: number): Promise<string[]> {
  const reply = (await requestTicket(endpoint, name, last, count)) as [string | null, unknown];
  expect(reply[0], JSON.stringify(reply)).toBeNull();
  return count === undefined ? [reply[1] as string] : (reply[1] as string[]);
}

async function zmqError(endpoint: string, name: string, last: string): Promise<string> {
  const reply = (await requestTicket(endpoint, name, last)) as [string | null, unknown];
  expect(reply[0], JSON.stringify(reply)).not.toBeNull();
  return reply[0] as string;
}

function addressOf(server: ServerProcess, protocol: 'tcp' | 'line'): { host: string; port: number } {
  for (const entry of server.logLines()) {
    if (entry.msg === 'listening' && entry.protocol === protocol && typeof entry.address === 'string') {
      const colon = entry.address.lastIndexOf(':');
      return { host: entry.address.slice(0, colon), port: Number(entry.address.slice(colon + 1)) };
    }
  }
  throw new Error(`${protocol} is not listening; stdout: ${server.stdout()}`);
}

/** One one-shot TCP connection: everything the server wrote before closing. */
function oneShot(server: ServerProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(addressOf(server, 'tcp'));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('one-shot TCP: no close within 5 s'));
    }, WAIT_MS);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** A long-lived line-protocol connection that answers one request at a time. */
class LineConnection {
  private buffer = Buffer.alloc(0);
  private waiting: (() => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiting?.();
    });
    socket.on('error', () => undefined);
  }

  static open(server: ServerProcess): Promise<LineConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(addressOf(server, 'line'));
      socket.once('connect', () => resolve(new LineConnection(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends `bytes` and returns the reply up to (without) `terminator`. */
  async ask(bytes: string | Buffer, terminator: number): Promise<string> {
    this.socket.write(bytes);
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const end = this.buffer.indexOf(terminator);
      if (end >= 0) {
        const reply = this.buffer.subarray(0, end).toString('utf8');
        this.buffer = this.buffer.subarray(end + 1);
        return reply;
      }
      if (Date.now() > deadline) throw new Error(`line protocol: no reply within ${WAIT_MS} ms; have ${JSON.stringify(this.buffer.toString())}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  command(line: string): Promise<string> {
    return this.ask(`${line}\n`, 0x0a);
  }

  close(): void {
    this.socket.destroy();
  }
}

function expectIncreasing(values: readonly bigint[], what: string): void {
  for (let index = 1; index < values.length; index++) {
    expect(values[index] as bigint, `${what}: ${values.join(', ')}`).toBeGreaterThan(values[index - 1] as bigint);
  }
}

// ---- one server, every protocol ------------------------------------------------------

describe('a yearly, formatted, Luhn-checked sequence over every protocol', () => {
  let dataDir: string;
  let server: ServerProcess;
  let proxy: ServerProcess;
  /** Every value any protocol handed out, for the distinctness check. */
  const seen: bigint[] = [];
  /** Highest value handed out so far (values below it may still come from leases of other connections). */
  let highest = 0n;

  const serverArgs = (): string[] => ['--admin-token', TOKEN, '--tcp', '127.0.0.1:0', '--tcp-sequence', 'INV', '--line', '127.0.0.1:0'];

  beforeAll(async () => {
    dataDir = await createTempDir('seqtests-');
    server = await startServer(serverArgs(), { dataDir });
    const put = await admin(server, 'PUT', 'INV', INV_SETTINGS);
    expect(put.status, put.text).toBe(201);
    expect(json(put)).toMatchObject({ sequence: 'INV', created: true, raised: false, settings: { ...INV_SETTINGS, timezone: 'UTC', max: null } });
    proxy = await startServer(['--host', server.endpoint, '--line', '127.0.0.1:0']);
  });

  /** Records the values one connection got, in order. */
  function take(what: string, tickets: readonly unknown[]): bigint[] {
    const values = tickets.map(invValue);
    expectIncreasing(values, what);
    seen.push(...values);
    for (const value of values) if (value > highest) highest = value;
    return values;
  }

  it('answers INV tickets over ZeroMQ, HTTP, line, one-shot TCP, a proxy and the client library, all distinct', async () => {
    const zmq = [...(await zmqValues(server.endpoint, 'INV')), ...(await zmqValues(server.endpoint, 'INV', '0', 3))];
    expect(zmq).toHaveLength(4);
    take('ZeroMQ', zmq);

    const http = [...(await httpValues(server, 'INV')), ...(await httpValues(server, 'INV', '?count=3'))];
    expect(http).toHaveLength(4);
    take('HTTP', http);

    const line = await LineConnection.open(server);
    try {
      const single = await line.command('NEXT INV');
      const three = (await line.command('NEXT INV 3')).split(' ');
      expect(three).toHaveLength(3);
      take('line NEXT', [single, ...three]);
    } finally {
      line.close();
    }

    const shots: string[] = [];
    for (let index = 0; index < 3; index++) {
      const text = await oneShot(server);
      expect(text, JSON.stringify(text)).toMatch(/\n$/);
      shots.push(text.slice(0, -1));
    }
    take('one-shot TCP (--tcp-sequence INV)', shots);

    const viaProxy = [...(await zmqValues(proxy.endpoint, 'INV')), ...(await zmqValues(proxy.endpoint, 'INV', '0', 2))];
    take('proxy, ZeroMQ', viaProxy);
    take('proxy, HTTP', [...(await httpValues(proxy, 'INV')), ...(await httpValues(proxy, 'INV', '?count=2'))]);
    const proxyLine = await LineConnection.open(proxy);
    try {
      take('proxy, line', [await proxyLine.command('NEXT INV'), ...(await proxyLine.command('NEXT INV 2')).split(' ')]);
    } finally {
      proxyLine.close();
    }

    const uris = [server.endpoint, urlOf(server, 'http'), `line://127.0.0.1:${addressOf(server, 'line').port}`];
    for (const uri of uris) {
      const client = createClient(uri, { formatted: ['INV'], timeout: WAIT_MS });
      try {
        const one = await client.next('INV');
        const batch = await client.next('INV', { count: 3 });
        expectTypeOf(one).toEqualTypeOf<string>();
        expectTypeOf(batch).toEqualTypeOf<string[]>();
        // A function never called: only its type is checked (a call would leave a request open at close).
        const nextPlain = () => client.next('plain');
        expectTypeOf(nextPlain).returns.resolves.toEqualTypeOf<bigint>();
        expect(typeof one).toBe('string');
        take(`client ${uri}`, [one, ...batch]);
      } finally {
        await client.close();
      }
      // Without `formatted`, a ticket that is not all digits still resolves as its text (typed bigint).
      const untyped = createClient(uri, { timeout: WAIT_MS });
      try {
        const value = (await untyped.next('INV')) as unknown;
        take(`client ${uri} without formatted`, [value]);
      } finally {
        await untyped.close();
      }
    }

    expect(new Set(seen).size, seen.join(', ')).toBe(seen.length);
  });

  it('answers STX with a formatted ticket of the sequence "default" once it has a format', async () => {
    // There is no option naming the line protocol's STX sequence: STX always serves "default".
    const put = await admin(server, 'PUT', 'default', { period: 'yearly', format: 'DEF-{yyyy}-{value:6}{check}', check: 'luhn' });
    expect(put.status, put.text).toBe(201);
    const line = await LineConnection.open(server);
    try {
      const tickets = [await line.ask(Buffer.from([STX]), ETX), await line.ask(Buffer.from([STX]), ETX)];
      const values = tickets.map((ticket) => {
        const match = /^DEF-(\d{4})-(\d{6})(\d)$/.exec(ticket);
        expect(match, ticket).not.toBeNull();
        const [, ticketYear, padded, check] = match as unknown as [string, string, string, string];
        expect(ticketYear).toBe(year());
        expect(Number(check)).toBe(luhnDigit(BigInt(padded).toString()));
        return BigInt(padded);
      });
      expectIncreasing(values, 'STX');
    } finally {
      line.close();
    }
  });

  it('reads `last` as a formatted ticket: ahead in this period jumps, another year is ignored, malformed is refused', async () => {
    // ZeroMQ: a `last` far ahead makes the next value jump above it.
    const [afterZmq] = (await zmqValues(server.endpoint, 'INV', invTicket(500_000n))).map(invValue);
    expect(afterZmq).toBeGreaterThan(500_000n);
    // HTTP, in the query.
    const [afterHttp] = (await httpValues(server, 'INV', `?last=${encodeURIComponent(invTicket(600_000n))}`)).map(invValue);
    expect(afterHttp).toBeGreaterThan(600_000n);
    // Line: NEXT <name> <count> <last>.
    const line = await LineConnection.open(server);
    try {
      const afterLine = invValue(await line.command(`NEXT INV 1 ${invTicket(700_000n)}`));
      expect(afterLine).toBeGreaterThan(700_000n);
      highest = afterLine;

      // A `last` of another year is ignored: no jump to 900000.
      const otherYear = String(new Date().getUTCFullYear() - 1);
      const afterOldLast = invValue(await line.command(`NEXT INV 1 ${invTicket(900_000n, otherYear)}`));
      expect(afterOldLast).toBeGreaterThan(highest);
      expect(afterOldLast).toBeLessThan(900_000n);
      highest = afterOldLast;
      const [afterOldZmq] = (await zmqValues(server.endpoint, 'INV', invTicket(900_000n, otherYear))).map(invValue);
      const [afterOldHttp] = (await httpValues(server, 'INV', `?last=${encodeURIComponent(invTicket(900_000n, otherYear))}`)).map(invValue);
      for (const value of [afterOldZmq, afterOldHttp]) {
        expect(value).toBeGreaterThan(highest);
        expect(value).toBeLessThan(900_000n);
      }

      // Malformed: wrong shape, wrong check digit, another sequence's prefix.
      const good = invTicket(950_000n);
      const wrongCheck = `${good.slice(0, -1)}${(Number(good.slice(-1)) + 1) % 10}`;
      for (const bad of ['INV-12', wrongCheck, `ORD-${year()}-9500000`]) {
        expect(await line.command(`NEXT INV 1 ${bad}`)).toMatch(/^ERR EBADREQ /);
        expect(await zmqError(server.endpoint, 'INV', bad)).toBe('EBADREQ');
        expectError(await httpNext(server, 'INV', `?last=${encodeURIComponent(bad)}`), 400, 'EBADREQ');
      }
      const afterBad = invValue(await line.command('NEXT INV'));
      expect(afterBad).toBeGreaterThan(highest);
      expect(afterBad).toBeLessThan(900_000n);
      highest = afterBad;

      // A plain sequence refuses a formatted `last`.
      expect(await zmqError(server.endpoint, 'plain', invTicket(5n))).toBe('EBADREQ');
      expectError(await httpNext(server, 'plain', `?last=${encodeURIComponent(invTicket(5n))}`), 400, 'EBADREQ');
      expect(await line.command(`NEXT plain 1 ${invTicket(5n)}`)).toMatch(/^ERR EBADREQ /);
    } finally {
      line.close();
    }
  });

  it('checks a ticket: valid, one digit changed, garbage, unknown sequence', async () => {
    const check = (name: string, text: string): Promise<Reply> =>
      call(`${urlOf(server, 'http')}/v1/sequences/${encodeURIComponent(name)}/check/${encodeURIComponent(text)}`);
    const [ticket] = await httpValues(server, 'INV');
    const value = invValue(ticket);
    const valid = await check('INV', ticket as string);
    expect(valid.status, valid.text).toBe(200);
    expect(json(valid)).toEqual({ valid: true, value: value.toString(), period: year() });

    // Change the value's last digit (before the check digit): Luhn catches every single-digit change.
    const at = (ticket as string).length - 2;
    const changed = `${(ticket as string).slice(0, at)}${(Number((ticket as string)[at]) + 1) % 10}${(ticket as string).slice(-1)}`;
    const changedReply = await check('INV', changed);
    expect(changedReply.status, changedReply.text).toBe(200);
    expect(json(changedReply).valid).toBe(false);

    for (const garbage of ['hello', 'INV 2026/000001?%', '12345']) {
      const reply = await check('INV', garbage);
      expect(reply.status, reply.text).toBe(200);
      expect(json(reply)).toMatchObject({ valid: false, value: null });
    }
    expectError(await check('NO_SUCH_SEQUENCE', ticket as string), 404, 'ENOSEQ');
  });

  it('shows settings and state without a token, refuses bad settings and changes nothing', async () => {
    const before = await admin(server, 'GET', 'INV');
    expect(before.status, before.text).toBe(200);
    const view = json<{ settings: unknown; state: { lastIssued: string; issued: number } | null }>(before);
    expect(view.settings).toEqual({ ...INV_SETTINGS, timezone: 'UTC', max: null });
    expect(view.state).not.toBeNull();
    invValue(view.state?.lastIssued);
    expect(view.state?.issued).toBeGreaterThan(0);

    const refusals: Array<[string, unknown]> = [
      ['an unknown field', { colour: 'red' }],
      ['a bad period', { period: 'weekly' }],
      ['a bad time zone', { timezone: 'Mars/Olympus_Mons' }],
      ['a max below the current position', { max: '10' }],
      ['a new format after values were issued', { format: 'INV-{yyyy}-{value:7}{check}' }],
      ['a new check digit after values were issued', { check: 'damm' }],
    ];
    for (const [why, body] of refusals) {
      const reply = await admin(server, 'PUT', 'INV', body);
      expectError(reply, 400, 'EBADREQ');
      const after = await admin(server, 'GET', 'INV');
      expect(json<{ settings: unknown }>(after).settings, why).toEqual(view.settings);
    }
    // Issuing still works as before.
    expect(invValue((await httpValues(server, 'INV'))[0])).toBeGreaterThan(highest);

    const refusedAtCreation: Array<[string, unknown]> = [
      ['a yearly period with a format that cannot show the year', { period: 'yearly', format: 'NEW-{value}' }],
      ['a format with a space', { format: 'NEW {value}' }],
      ['an unknown field', { period: 'yearly', format: '{period}-{value}', colour: 'red' }],
      ['a bad time zone', { period: 'daily', format: '{period}-{value}', timezone: 'Nowhere/Special' }],
    ];
    for (const [index, [why, body]] of refusedAtCreation.entries()) {
      const name = `refused_${index}`;
      expectError(await admin(server, 'PUT', name, body), 400, 'EBADREQ');
      const after = await admin(server, 'GET', name);
      expect(after.status, `${why}: ${after.text}`).toBe(404);
      expect(json<{ error: { code: string } }>(after).error.code).toBe('ENOSEQ');
    }
    // Mutations need the token.
    expectError(await admin(server, 'PUT', 'INV', { max: null }, 'wrong-token-wrong-token-wrong'), 401, 'EAUTH');
  });

  it('keeps settings over a restart, shows them in dump and brings them back with restore', async () => {
    const lastBefore = invValue((await httpValues(server, 'INV'))[0]);
    await proxy.stop();
    expect((await server.stop()).code).toBe(0);

    server = await startServer(serverArgs(), { dataDir });
    const view = await admin(server, 'GET', 'INV');
    expect(view.status, view.text).toBe(200);
    expect(json<{ settings: unknown }>(view).settings).toEqual({ ...INV_SETTINGS, timezone: 'UTC', max: null });
    const afterRestart = invValue((await zmqValues(server.endpoint, 'INV'))[0]);
    expect(afterRestart).toBeGreaterThan(lastBefore);
    expect((await server.stop()).code).toBe(0);

    const dumped = await runCli(['dump', '--data', dataDir]);
    expect(dumped.code, dumped.stderr).toBe(0);
    const document = JSON.parse(dumped.stdout) as { settings: Array<{ name: string; settings: unknown }> };
    expect(document.settings).toContainEqual({ name: 'INV', settings: { ...INV_SETTINGS, timezone: 'UTC', max: null } });

    const dumpFile = join(await createTempDir('seqtests-dump-'), 'dump.json');
    await writeFile(dumpFile, dumped.stdout);
    const freshDir = await createTempDir('seqtests-fresh-');
    const restored = await runCli(['restore', dumpFile, '--data', freshDir]);
    expect(restored.code, restored.stderr).toBe(0);
    const fresh = await startServer(['--admin-token', TOKEN], { dataDir: freshDir });
    const freshView = await admin(fresh, 'GET', 'INV');
    expect(freshView.status, freshView.text).toBe(200);
    expect(json<{ settings: unknown }>(freshView).settings).toEqual({ ...INV_SETTINGS, timezone: 'UTC', max: null });
    expect(invValue((await httpValues(fresh, 'INV'))[0])).toBeGreaterThan(afterRestart);
    await fresh.stop();
  });
});

// ---- deleting sequences, floors, --js-safe ---------------------------------------------

describe('deleting sequences, admin floors and --js-safe (memory stores)', () => {
  let limited: ServerProcess;
  let strict: ServerProcess;
  let floors: ServerProcess;

  beforeAll(async () => {
    // Started together: each start is mostly Node loading, which the two cores share.
    [limited, strict, floors] = await Promise.all([
      startServer(['--store', 'memory:', '--admin-token', TOKEN, '--max-sequences', '2']),
      startServer(['--store', 'memory:', '--admin-token', TOKEN, '--strict-sequences']),
      startServer(['--store', 'memory:', '--admin-token', TOKEN, '--max-jump', '1000', '--js-safe']),
    ]);
  });

  afterAll(async () => {
    await Promise.all([limited.stop(), strict.stop(), floors.stop()]);
  });

  it('frees a place under --max-sequences; the name used again continues above its old values', async () => {
    const server = limited;
    expect((await admin(server, 'PUT', 'first', { format: 'F-{value}' })).status).toBe(201);
    const firstValues = (await httpValues(server, 'first', '?count=3')).map((ticket) => BigInt(ticket.slice(2)));
    expect((await admin(server, 'PUT', 'second')).status).toBe(201);
    expectError(await httpNext(server, 'third'), 400, 'ELIMIT');
    expectError(await admin(server, 'PUT', 'third'), 400, 'ELIMIT');

    expect(json(await admin(server, 'DELETE', 'first'))).toEqual({ sequence: 'first', deleted: true });
    expectError(await admin(server, 'GET', 'first'), 404, 'ENOSEQ');
    expect(await httpValues(server, 'third')).toHaveLength(1);

    expect((await admin(server, 'DELETE', 'third')).status).toBe(200);
    // Used again: it comes back with its old settings, above its old values.
    const [again] = await httpValues(server, 'first');
    expect(again).toMatch(/^F-\d+$/);
    expect(BigInt((again as string).slice(2))).toBeGreaterThan(firstValues[2] as bigint);
    expectError(await admin(server, 'DELETE', 'never_made'), 404, 'ENOSEQ');
  });

  it('in --strict-sequences, a deleted name answers ENOSEQ until it is PUT again', async () => {
    const server = strict;
    expectError(await httpNext(server, 'gone'), 404, 'ENOSEQ');
    expect((await admin(server, 'PUT', 'gone')).status).toBe(201);
    const old = (await httpValues(server, 'gone', '?count=2')).map(BigInt);
    expect((await admin(server, 'DELETE', 'gone')).status).toBe(200);
    expectError(await httpNext(server, 'gone'), 404, 'ENOSEQ');
    expect(await zmqError(server.endpoint, 'gone', '0')).toBe('ENOSEQ');
    expect((await admin(server, 'PUT', 'gone')).status).toBe(201);
    const [again] = (await httpValues(server, 'gone')).map(BigInt);
    expect(again).toBeGreaterThan(old[1] as bigint);
  });

  it('refuses a floor beyond --max-jump without force, raises it with force, and reports a floor at the position as not raised', async () => {
    const server = floors;
    expectError(await admin(server, 'PUT', 'floored', { floor: '5000' }), 409, 'EJUMP');
    // Refused: nothing was created.
    expectError(await admin(server, 'GET', 'floored'), 404, 'ENOSEQ');
    const forced = await admin(server, 'PUT', 'floored', { floor: '5000', force: true });
    expect(forced.status, forced.text).toBeLessThan(300);
    expect(json(forced).raised).toBe(true);
    const [value] = (await httpValues(server, 'floored')).map(BigInt);
    expect(value).toBeGreaterThan(5000n);
    const same = await admin(server, 'PUT', 'floored', { floor: String(value) });
    expect(same.status, same.text).toBe(200);
    expect(json(same).raised).toBe(false);
    expect((await httpValues(server, 'floored')).map(BigInt)[0]).toBe((value as bigint) + 1n);
    // The same over POST /admin/sequences/{name}/floor.
    const postFloor = (name: string, body: unknown): Promise<Reply> =>
      call(`${urlOf(server, 'admin')}/admin/sequences/${name}/floor`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expectError(await postFloor('posted', { floor: '5000' }), 409, 'EJUMP');
    expectError(await admin(server, 'GET', 'posted'), 404, 'ENOSEQ');
    expect(json(await postFloor('posted', { floor: '5000', force: true })).raised).toBe(true);
    expect((await httpValues(server, 'posted')).map(BigInt)[0]).toBeGreaterThan(5000n);
    // A settings change refused for its floor changes no setting either.
    expectError(await admin(server, 'PUT', 'floored', { format: 'FL-{value}', floor: '900000' }), 409, 'EJUMP');
    expect(json(await admin(server, 'GET', 'floored')).settings).toMatchObject({ format: null });
    expect((await httpValues(server, 'floored')).map(BigInt)[0]).toBe((value as bigint) + 2n);
  });

  it('ends every sequence at 2^53 - 1: the third value after a floor at 2^53 - 3 is EXHAUSTED', async () => {
    const server = floors;
    const floor = 2n ** 53n - 3n;
    const put = await admin(server, 'PUT', 'near_end', { floor: floor.toString(), force: true });
    expect(json(put).raised, put.text).toBe(true);
    expect((await httpValues(server, 'near_end')).map(BigInt)).toEqual([floor + 1n]);
    expect((await zmqValues(server.endpoint, 'near_end')).map(BigInt)).toEqual([floor + 2n]);
    expectError(await httpNext(server, 'near_end'), 503, 'EXHAUSTED');
  });

  it('gives Tickr JSON numbers that JSON.parse reads exactly', async () => {
    const server = floors;
    const floor = 2n ** 53n - 10n;
    const put = await admin(server, 'PUT', 'default', { floor: floor.toString(), force: true });
    expect(json(put).raised, put.text).toBe(true);
    const reply = await call(`${urlOf(server, 'http')}/tickets/create/2`);
    expect(reply.status, reply.text).toBe(200);
    const parsed = JSON.parse(reply.text) as number[];
    expect(parsed.every((value) => Number.isSafeInteger(value))).toBe(true);
    expect(parsed.map((value) => BigInt(value))).toEqual([floor + 1n, floor + 2n]);
    expect(reply.text.replace(/\s/g, '')).toBe(JSON.stringify(parsed));
  });
});

// ---- the config file ------------------------------------------------------------------

describe('sequences in the config file', () => {
  it('defines a sequence at start', async () => {
    const config = join(await createTempDir('seqtests-config-'), 'config.json');
    await writeFile(config, JSON.stringify({ sequences: { CFG: { period: 'yearly', format: 'CFG-{period}-{value:4}', check: 'damm' } } }));
    const server = await startServer(['--store', 'memory:', '--config', config]);
    try {
      const [ticket] = await httpValues(server, 'CFG');
      expect(ticket).toMatch(new RegExp(`^CFG-${year()}-\\d{5}$`));
      const view = await admin(server, 'GET', 'CFG');
      expect(json(view)).toMatchObject({ settings: { period: 'yearly', format: 'CFG-{period}-{value:4}', check: 'damm' } });
    } finally {
      await server.stop();
    }
  });

  it('exits 2 naming the sequence when its settings are bad', async () => {
    const config = join(await createTempDir('seqtests-config-'), 'config.json');
    await writeFile(config, JSON.stringify({ sequences: { GOOD: { format: 'G{value}' }, BAD_ONE: { period: 'yearly', format: 'B-{value}' } } }));
    const result = await runCli(['--store', 'memory:', '--config', config, '--bind', 'tcp://127.0.0.1:0', '--http', '127.0.0.1:0', '--admin', '127.0.0.1:0'], {
      timeoutMs: 10_000,
    });
    expect(result.code, result.stdout + result.stderr).toBe(2);
    expect(result.stderr).toContain('BAD_ONE');
  });
});
