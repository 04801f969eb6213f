/**
 * The client's `line://HOST:PORT` transport (SPEC §6.5 from the client side,
 * through `createClient`, SPEC §9):
 *
 * - against real servers (`--store memory: --line`): single and count forms,
 *   callbacks, `last` sent so a second server jumps (drift), a real `EJUMP`,
 *   1000 concurrent `next()` calls pipelined on one connection, all distinct;
 * - against small fake `node:net` servers: the exact lines sent, names with
 *   spaces refused (EBADNAME) without sending anything, ERR replies mapped to
 *   codes, malformed replies, requests really pipelined, a server that never
 *   answers (ETIMEOUT, then a fresh connection), a server that closes the
 *   connection, a dead server (ETIMEOUT), failover to a second server, close().
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BATCHES_AHEAD, createClient, type ClientOptions, type TicketClient } from '../../src/client/client.js';
import { LineTransport, MAX_REPLY_BYTES } from '../../src/client/line-transport.js';
import { MAX_TICKET_TEXT } from '../../src/core/ticket.js';
import { TicketRun } from '../../src/client/reply.js';
import { defaultConnect } from '../../src/client/pool.js';
import type { ErrorCode } from '../../src/core/errors.js';
import { startServer, stopAllServers, type ServerProcess } from '../helpers/server-process.js';
import { deadPort } from '../helpers/ports.js';

const clients: TicketClient[] = [];
const fakes: Fake[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(fakes.splice(0).map((fake) => fake.close()));
});

afterAll(async () => {
  await stopAllServers();
});

function client(servers: string[], options: ClientOptions = {}): TicketClient {
  const created = createClient(servers, { timeout: 2_000, ...options });
  clients.push(created);
  return created;
}

/** Address of a server's line listener, as a `line://` URI. */
function lineUri(server: ServerProcess): string {
  for (const entry of server.logLines()) {
    if (entry.msg === 'listening' && entry.protocol === 'line' && typeof entry.address === 'string') return `line://${entry.address}`;
  }
  throw new Error(`line is not listening; stdout: ${server.stdout()}`);
}

/** Resolves with the error a promise rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error & { code?: ErrorCode }> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    return error as Error & { code?: ErrorCode };
  }
  throw new Error('expected a rejection');
}

/** What a fake server answers to one received line: a reply (LF added), or undefined to stay silent. */
type Answer = (line: string, connection: number) => string | undefined;

interface Fake {
  readonly uri: string;
  /** Every line received, in order, with the number (1-based) of the connection it came on. */
  readonly lines: Array<{ line: string; connection: number }>;
  connections: number;
  answer: Answer;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
  readonly sockets: Set<Socket>;
}

/** Values 1, 2, 3, … per sequence, the way a server answers `NEXT name count [last]`. */
function counting(): Answer {
  const counters = new Map<string, bigint>();
  return (line) => {
    const [command, name = '', count = '1'] = line.split(' ');
    if (command !== 'NEXT') return 'ERR EBADREQ expected NEXT';
    const values: bigint[] = [];
    for (let index = 0; index < Number(count); index++) {
      const next = (counters.get(name) ?? 0n) + 1n;
      counters.set(name, next);
      values.push(next);
    }
    return values.join(' ');
  };
}

async function startFake(answer: Answer = counting()): Promise<Fake> {
  const sockets = new Set<Socket>();
  const server: Server = createServer();
  const fake: Fake = {
    uri: '',
    lines: [],
    connections: 0,
    answer,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('connection', (socket: Socket) => {
    const connection = ++fake.connections;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.setEncoding('utf8');
    let buffer = '';
    socket.on('data', (text: string) => {
      buffer += text;
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        fake.lines.push({ line, connection });
        const reply = fake.answer(line, connection);
        if (reply !== undefined && !socket.destroyed) socket.write(`${reply}\n`);
        newline = buffer.indexOf('\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fakes.push(fake);
  return Object.assign(fake, { uri: `line://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

const increasing = (values: readonly bigint[]): boolean => values.every((value, index) => index === 0 || value > (values[index - 1] as bigint));

describe('line:// against real servers', () => {
  /** Two independent memory servers; B refuses jumps over 500. */
  let a: ServerProcess;
  let b: ServerProcess;

  beforeAll(async () => {
    [a, b] = await Promise.all([
      startServer(['--store', 'memory:', '--line', '127.0.0.1:0']),
      startServer(['--store', 'memory:', '--line', '127.0.0.1:0', '--max-jump', '500']),
    ]);
  });

  it('single form (promise and callback) and count form', async () => {
    const ticket = client([lineUri(a)]);
    const first = await ticket.next('forms');
    expect(typeof first).toBe('bigint');
    const batch = await ticket.next('forms', { count: 5 });
    expect(batch).toHaveLength(5);
    expect(increasing([first, ...batch])).toBe(true);
    const viaCallback = await new Promise<bigint>((resolve, reject) => {
      ticket.next('forms', (error, value) => (error ? reject(error) : resolve(value as bigint)));
    });
    expect(viaCallback).toBeGreaterThan(batch[4] as bigint);
    const thousand = await ticket.next('forms', { count: 1000 });
    expect(thousand).toHaveLength(1000);
    expect(increasing(thousand)).toBe(true);
  });

  it('sends last: a second server that is behind jumps past what the client has seen (drift)', async () => {
    const ticket = client([lineUri(a), lineUri(b)]);
    // Round-robin: the first request goes to a, the second to b.
    const fromA = await ticket.next('drift', { count: 100 });
    expect(fromA).toEqual(Array.from({ length: 100 }, (_, index) => BigInt(index + 1)));
    // b never issued `drift`: without last it would answer 1.
    expect(await ticket.next('drift')).toBe(101n);
  });

  it('a real ERR reply (EJUMP: last is further ahead than --max-jump) reaches the caller with its code', async () => {
    const ticket = client([lineUri(a), lineUri(b)]);
    expect(await ticket.next('jump', { count: 1000 })).toHaveLength(1000);
    const error = await rejection(ticket.next('jump'));
    expect(error.code).toBe('EJUMP');
  });

  it('1000 concurrent next() calls are pipelined and all distinct', async () => {
    const ticket = client([lineUri(a)]);
    const values = await Promise.all(Array.from({ length: 1000 }, () => ticket.next('pipelined')));
    expect(new Set(values).size).toBe(1000);
    // One connection, replies matched in order: the values come back in request order.
    expect(increasing(values)).toBe(true);
    const mixed = await Promise.all(
      Array.from({ length: 200 }, (_, index) => (index % 2 === 0 ? ticket.next('pipelined') : ticket.next('pipelined', { count: 3 }))),
    );
    const flat = mixed.flatMap((value) => (typeof value === 'bigint' ? [value] : value));
    expect(flat).toHaveLength(400);
    expect(new Set([...values, ...flat]).size).toBe(1400);
  });

  it('prefetch 1000: a loop of tryNext ?? await next hands out 1 … 20000 in order, every batch asked for once', async () => {
    const ticket = client([lineUri(a)], { prefetch: 1000 });
    let expected = 1n;
    let wrong = 0;
    for (let index = 0; index < 20_000; index++) {
      const value = ticket.tryNext('prefetched') ?? (await ticket.next('prefetched'));
      if (value !== expected) wrong++;
      expected = value + 1n;
    }
    expect(wrong).toBe(0);
    expect(expected).toBe(20_001n);
    // 20 batches handed out, at most MAX_BATCHES_AHEAD more on their way.
    const requests = ticket.stats()[0]?.requests ?? 0;
    expect(requests).toBeGreaterThanOrEqual(20);
    expect(requests).toBeLessThanOrEqual(20 + MAX_BATCHES_AHEAD);
  });

  it('names with spaces are refused with EBADNAME, and the connection stays usable', async () => {
    const ticket = client([lineUri(a)]);
    expect((await rejection(ticket.next('with space'))).code).toBe('EBADNAME');
    expect((await rejection(ticket.next('x'.repeat(129)))).code).toBe('EBADNAME');
    expect(typeof (await ticket.next('no-space'))).toBe('bigint');
  });
});

describe('line:// against fake servers', () => {
  it('sends NEXT <name> <count> [last] lines: last is the highest value seen', async () => {
    const fake = await startFake();
    const ticket = client([fake.uri]);
    expect(await ticket.next('f')).toBe(1n);
    expect(await ticket.next('f', { count: 3 })).toEqual([2n, 3n, 4n]);
    expect(await ticket.next('f')).toBe(5n);
    expect(await ticket.next('other')).toBe(1n);
    expect(fake.lines.map((entry) => entry.line)).toEqual(['NEXT f 1', 'NEXT f 3 1', 'NEXT f 1 4', 'NEXT other 1']);
    expect(fake.connections).toBe(1);
  });

  it('sendLast: false sends no last', async () => {
    const fake = await startFake();
    const ticket = client([fake.uri], { sendLast: false });
    await ticket.next('f');
    await ticket.next('f');
    expect(fake.lines.map((entry) => entry.line)).toEqual(['NEXT f 1', 'NEXT f 1']);
  });

  it('names with spaces (or control characters, or too long) fail with EBADNAME without sending anything', async () => {
    const fake = await startFake();
    const ticket = client([fake.uri]);
    for (const name of ['a b', ' lead', 'trail ', 'a\tb', 'a\nb', '', 'x'.repeat(129)]) {
      expect((await rejection(ticket.next(name))).code, JSON.stringify(name)).toBe('EBADNAME');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(fake.connections).toBe(0);
    expect(fake.lines).toEqual([]);
  });

  it('ERR replies become errors with their code; unknown codes and malformed replies are EINTERNAL', async () => {
    const replies: Record<string, string> = {
      noseq: 'ERR ENOSEQ no sequence "noseq" (strict mode)',
      badreq: 'ERR EBADREQ count must be an integer from 1 to 1000',
      jump: 'ERR EJUMP jump larger than --max-jump refused',
      limit: 'ERR ELIMIT at most 1 sequences may exist',
      weird: 'ERR EWEIRD something new',
      bare: 'ERR ENOSEQ',
      garbage: 'hello there',
      control: 'INV\u0001',
      empty: '',
      toolong: '1'.repeat(65),
      ticket: 'INV-2026-0000018',
    };
    const fake = await startFake((line) => replies[line.split(' ')[1] ?? ''] ?? '7');
    const ticket = client([fake.uri]);
    const expected: Record<string, ErrorCode> = {
      noseq: 'ENOSEQ',
      badreq: 'EBADREQ',
      jump: 'EJUMP',
      limit: 'ELIMIT',
      weird: 'EINTERNAL',
      bare: 'ENOSEQ',
      garbage: 'EINTERNAL',
      control: 'EINTERNAL',
      empty: 'EINTERNAL',
      toolong: 'EINTERNAL',
    };
    for (const [name, code] of Object.entries(expected)) {
      const error = await rejection(ticket.next(name));
      expect(error.code, name).toBe(code);
    }
    const noseq = await rejection(ticket.next('noseq'));
    expect(noseq.message).toContain('no sequence "noseq"');
    // A formatted sequence's ticket is a text, not an error.
    expect(await ticket.next('ticket')).toBe('INV-2026-0000018');
    // Error replies do not cost the connection.
    expect(await ticket.next('fine')).toBe(7n);
    expect(fake.connections).toBe(1);
  });

  /*
   * Regression (src/client/line-transport.ts, settle, fixed): the number of values in a reply
   * is not checked against the request. A count request answered with fewer
   * values resolves with the short array (the caller asked for N and silently
   * gets fewer), and a single-form request answered with several values
   * resolves with the first one. HttpTransport refuses both ("server sent M
   * values instead of N", EINTERNAL); the line transport should too.
   */
  it('refuses a reply with the wrong number of values with EINTERNAL', async () => {
    const fake = await startFake((line) => (line.startsWith('NEXT one ') ? '1 2' : '3'));
    const ticket = client([fake.uri]);
    expect((await rejection(ticket.next('two', { count: 2 }))).code).toBe('EINTERNAL');
    expect((await rejection(ticket.next('one'))).code).toBe('EINTERNAL');
  });

  it('with run (a prefetching client), a consecutive reply is a TicketRun of the same values; others stay arrays', async () => {
    const fake = await startFake((line) => (line.startsWith('NEXT gap ') ? '1 2 4' : line.startsWith('NEXT short ') ? '5 6' : '7 8 9'));
    const transport = new LineTransport(fake.uri);
    try {
      const run = await transport.request({ name: 'run', count: 3, last: undefined, run: true }, 2_000);
      expect(run).toBeInstanceOf(TicketRun);
      expect((run as TicketRun).toArray()).toEqual([7n, 8n, 9n]);
      expect(await transport.request({ name: 'plain', count: 3, last: undefined }, 2_000)).toEqual([7n, 8n, 9n]);
      expect(await transport.request({ name: 'gap', count: 3, last: undefined, run: true }, 2_000)).toEqual([1n, 2n, 4n]);
      expect((await rejection(transport.request({ name: 'short', count: 3, last: undefined, run: true }, 2_000))).code).toBe('EINTERNAL');
    } finally {
      transport.close();
    }
  });

  it('replies split anywhere (inside a value, inside a UTF-8 character) are read whole', async () => {
    const pieces: Buffer[] = [];
    const reply = Buffer.from('12 13 14\nNº-1 Nº-2\nERR ENOSEQ no such sequence\n15\n');
    // One byte per write, each after the client read the one before: every line arrives in pieces.
    const server = createServer((socket) => {
      socket.setNoDelay(true);
      socket.on('error', () => undefined);
      let asked = 0;
      socket.on('data', (chunk) => {
        asked += chunk.toString().split('\n').length - 1;
        if (asked < 4) return;
        void (async () => {
          for (const byte of reply) {
            if (socket.destroyed) return;
            socket.write(Buffer.from([byte]));
            pieces.push(Buffer.from([byte]));
            await new Promise((resolve) => setTimeout(resolve, 2));
          }
        })();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const transport = new LineTransport(`line://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const replies = await Promise.allSettled([
        transport.request({ name: 'a', count: 3, last: undefined, run: true }, 5_000),
        transport.request({ name: 'b', count: 2, last: undefined }, 5_000),
        transport.request({ name: 'c', count: undefined, last: undefined }, 5_000),
        transport.request({ name: 'd', count: undefined, last: undefined }, 5_000),
      ]);
      expect(pieces.length).toBe(reply.length);
      const [a, b, c, d] = replies;
      expect(a.status === 'fulfilled' && a.value instanceof TicketRun ? a.value.toArray() : a).toEqual([12n, 13n, 14n]);
      expect(b.status === 'fulfilled' ? b.value : b).toEqual(['Nº-1', 'Nº-2']);
      expect(c.status === 'rejected' ? (c.reason as { code?: string }).code : c).toBe('ENOSEQ');
      expect(d.status === 'fulfilled' ? d.value : d).toBe(15n);
    } finally {
      transport.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('takes a reply of 1000 formatted tickets of the longest text in pieces; a line longer than any reply fails the connection', async () => {
    const ticket = (index: number): string => `${'T'.repeat(MAX_TICKET_TEXT - 6)}${String(index).padStart(6, '0')}`;
    const long = Buffer.from(`${Array.from({ length: 1000 }, (_, index) => ticket(index)).join(' ')}\n`);
    // Pieces of 16 KiB, written apart: the client holds an unfinished line of up to 48 KiB.
    const server = createServer((socket) => {
      socket.on('error', () => undefined);
      let buffered = '';
      socket.on('data', (chunk) => {
        buffered += chunk.toString();
        let newline = buffered.indexOf('\n');
        while (newline >= 0) {
          const name = buffered.slice(0, newline).split(' ')[1];
          buffered = buffered.slice(newline + 1);
          newline = buffered.indexOf('\n');
          const reply = name === 'long' ? long : name === 'endless' ? Buffer.alloc(MAX_REPLY_BYTES + 1, 0x78) : Buffer.from('1\n');
          void (async () => {
            for (let offset = 0; offset < reply.length && !socket.destroyed; offset += 16 * 1024) {
              socket.write(reply.subarray(offset, offset + 16 * 1024));
              await new Promise((resolve) => setTimeout(resolve, 10));
            }
          })();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const transport = new LineTransport(`line://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const values = await transport.request({ name: 'long', count: 1000, last: undefined }, 5_000);
      expect(Array.isArray(values) && values.length === 1000 && values[999] === ticket(999)).toBe(true);
      expect((await rejection(transport.request({ name: 'endless', count: undefined, last: undefined }, 5_000))).code).toBe('EINTERNAL');
      expect(await transport.request({ name: 'after', count: undefined, last: undefined }, 5_000)).toBe(1n);
    } finally {
      transport.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('requests are pipelined: 50 are on the wire before the first reply', async () => {
    const held: Array<{ socket: Socket; reply: string }> = [];
    const fake = await startFake(() => undefined);
    const answer = counting();
    fake.answer = (line, connection) => {
      const socket = [...fake.sockets][0] as Socket;
      held.push({ socket, reply: answer(line, connection) as string });
      if (held.length === 50) for (const entry of held.splice(0)) entry.socket.write(`${entry.reply}\n`);
      return undefined;
    };
    const ticket = client([fake.uri]);
    // 50 sequences: callers of one sequence in the same turn would share one request.
    const values = await Promise.all(Array.from({ length: 50 }, (_, index) => ticket.next(`p${index}`)));
    expect(values).toEqual(Array.from({ length: 50 }, () => 1n));
    expect(fake.lines.map((entry) => entry.line)).toEqual(Array.from({ length: 50 }, (_, index) => `NEXT p${index} 1`));
    expect(fake.connections).toBe(1);
  });

  it('without prefetch, callers of one sequence share a request while one is in flight, values in call order', async () => {
    const fake = await startFake();
    const ticket = client([fake.uri]);
    const values = await Promise.all(Array.from({ length: 16 }, () => ticket.next('g')));
    expect(values).toEqual(Array.from({ length: 16 }, (_, index) => BigInt(index + 1)));
    // A lone caller (nothing in flight) keeps the single-value form, at once.
    expect(await ticket.next('g')).toBe(17n);
    const callbacks = await new Promise<bigint[]>((resolve, reject) => {
      const got: bigint[] = [];
      for (let index = 0; index < 3; index++) {
        ticket.next('g', (error, value) => {
          if (error) reject(error);
          got[index] = value as bigint;
          if (got.filter((each) => each !== undefined).length === 3) resolve(got);
        });
      }
    });
    expect(callbacks).toEqual([18n, 19n, 20n]);
    // The first of each burst goes out at once; the others, arrived while it was in flight, share one.
    expect(fake.lines.map((entry) => entry.line)).toEqual(['NEXT g 1', 'NEXT g 15', 'NEXT g 1 16', 'NEXT g 1 17', 'NEXT g 2 17']);
  });

  it('a shared request that fails reaches every caller; EXHAUSTED is asked again one by one', async () => {
    let left = 2;
    const fake = await startFake((line) => {
      const [, name = '', count = '1'] = line.split(' ');
      if (name === 'broken') return 'ERR EUNAVAILABLE store unreachable and no lease left';
      if (Number(count) > left) return 'ERR EXHAUSTED sequence exhausted';
      left -= Number(count);
      return String(100 - left);
    });
    const ticket = client([fake.uri], { downAfter: 1000 });
    const broken = await Promise.all(Array.from({ length: 3 }, () => rejection(ticket.next('broken'))));
    expect(broken.map((error) => error.code)).toEqual(['EUNAVAILABLE', 'EUNAVAILABLE', 'EUNAVAILABLE']);
    const settled = await Promise.allSettled(Array.from({ length: 3 }, () => ticket.next('end')));
    expect(settled.map((result) => (result.status === 'fulfilled' ? result.value : (result.reason as { code: string }).code))).toEqual([99n, 100n, 'EXHAUSTED']);
    expect(fake.lines.filter((entry) => entry.line.startsWith('NEXT end')).map((entry) => entry.line.split(' ').slice(0, 3).join(' '))).toEqual([
      'NEXT end 1',
      'NEXT end 2',
      'NEXT end 1',
      'NEXT end 1',
    ]);
  });

  it('a server that never answers: ETIMEOUT for every request on that connection, then a fresh connection works', async () => {
    const answer = counting();
    const fake = await startFake((line, connection) => (connection === 1 ? undefined : answer(line, connection)));
    const ticket = client([fake.uri], { timeout: 300 });
    const errors = await Promise.all([rejection(ticket.next('t')), rejection(ticket.next('t')), rejection(ticket.next('t', { count: 2 }))]);
    expect(errors.map((error) => error.code)).toEqual(['ETIMEOUT', 'ETIMEOUT', 'ETIMEOUT']);
    expect(await ticket.next('t')).toBe(1n);
    expect(fake.connections).toBe(2);
    // The late replies of the first connection can never be mistaken for answers.
    expect(fake.lines.filter((entry) => entry.connection === 2).map((entry) => entry.line)).toEqual(['NEXT t 1']);
  });

  it('a server that closes the connection (as an idle timeout does): the next request reconnects', async () => {
    const answer = counting();
    const fake = await startFake((line, connection) => {
      const reply = answer(line, connection);
      // Answer, then close (after the reply is flushed).
      setTimeout(() => {
        for (const socket of fake.sockets) socket.end();
      }, 20);
      return reply;
    });
    const ticket = client([fake.uri]);
    expect(await ticket.next('c')).toBe(1n);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await ticket.next('c')).toBe(2n);
    expect(fake.connections).toBe(2);
  });

  it('a dead server (nothing listening): ETIMEOUT', async () => {
    const ticket = client([`line://127.0.0.1:${await deadPort()}`], { timeout: 1_000 });
    const error = await rejection(ticket.next('d'));
    expect(error.code).toBe('ETIMEOUT');
    // …and again (a fresh connection attempt each time).
    expect((await rejection(ticket.next('d'))).code).toBe('ETIMEOUT');
  });

  it('fails over to a second server: when the first is dead from the start, and when it goes away', async () => {
    const dead = `line://127.0.0.1:${await deadPort()}`;
    const second = await startFake();
    const ticket = client([dead, second.uri], { downAfter: 1, probeInterval: 60_000 });
    const values = [];
    for (let index = 0; index < 10; index++) values.push(await ticket.next('fo'));
    expect(values).toEqual(Array.from({ length: 10 }, (_, index) => BigInt(index + 1)));
    expect(ticket.stats().find((entry) => entry.uri === dead)?.up).toBe(false);

    const first = await startFake(() => '1000');
    const both = client([first.uri, second.uri]);
    expect(await both.next('go')).toBe(1000n);
    await first.close();
    const after = await Promise.all(Array.from({ length: 5 }, () => both.next('go')));
    expect(after.every((value) => typeof value === 'bigint')).toBe(true);
  });

  it('close(): pending requests fail, later ones fail with EUNAVAILABLE, the socket is gone', async () => {
    const fake = await startFake(() => undefined);
    const ticket = createClient([fake.uri], { timeout: 5_000 });
    const pending = rejection(ticket.next('z'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await ticket.close();
    expect((await pending).code).toBe('EUNAVAILABLE');
    expect((await rejection(ticket.next('z'))).code).toBe('EUNAVAILABLE');
    expect(await new Promise<boolean>((resolve) => {
      const deadline = Date.now() + 2_000;
      const check = (): void => {
        if (fake.sockets.size === 0) resolve(true);
        else if (Date.now() > deadline) resolve(false);
        else setTimeout(check, 20);
      };
      check();
    })).toBe(true);
  });

  it('URIs: line://HOST:PORT and line://[v6]:PORT are accepted; anything else is a TypeError', () => {
    for (const uri of ['line://127.0.0.1:6413', 'line://localhost:1', 'line://[::1]:65535']) {
      const transport = defaultConnect(uri);
      expect(transport).toBeInstanceOf(LineTransport);
      expect(transport.uri).toBe(uri);
      transport.close();
    }
    for (const uri of ['line://127.0.0.1', 'line://127.0.0.1:0', 'line://127.0.0.1:65536', 'line://a b:1', 'line://h:1/x', 'line://']) {
      expect(() => defaultConnect(uri), uri).toThrow(TypeError);
    }
  });
});
