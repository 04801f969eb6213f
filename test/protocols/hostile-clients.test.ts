/**
 * Hostile clients against the protocol servers, in process, with a real
 * TicketService on a memory store:
 *
 * - a client that pipelines big requests and never reads its replies must
 *   stop being read once a bounded amount of replies is outstanding (counted
 *   here by the values the service issued, which a server that kept reading
 *   would issue for every request), and must get every reply, in order, once
 *   it reads;
 * - HTTP connections that hold a request open, or that exceed the connection
 *   bound, are closed;
 * - a ZeroMQ peer that completes the handshake on raw TCP and then goes
 *   silent is disconnected by heartbeats; one that sends a multipart message
 *   that never ends is disconnected at the message bound; peers beyond the
 *   connection bound are closed at once;
 * - near 2^63 − 1 a pipelined run of single requests gets the values that are
 *   left, then EXHAUSTED, as the requests would one at a time.
 */
import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Dealer } from 'zeromq';
import { MAX_VALUE } from '../../src/core/numbering.js';
import { createHttpApi } from '../../src/protocols/http.js';
import { LineServer } from '../../src/protocols/line.js';
import { DEFAULT_HTTP_LIMITS, FastifyProtocolServer, type ProtocolServer } from '../../src/protocols/protocol-server.js';
import { ZmqServer } from '../../src/protocols/zmq.js';
import { MAX_MESSAGE_BYTES, MAX_MESSAGE_FRAMES } from '../../src/protocols/zmtp-guard.js';
import { TicketService } from '../../src/service/ticket-service.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { zmtpHandshake } from '../../scripts/wire-fixtures.mjs';

const logger = pino({ level: 'silent' });
const LOCAL = { host: '127.0.0.1', port: 0 };
/** Values of 19 digits: every value takes 20 bytes of reply, so bytes and values convert simply. */
const BIG_OFFSET = 1_000_000_000_000_000_000n;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startService(offset: bigint): Promise<TicketService> {
  const service = new TicketService({ store: new MemoryStore(), numbering: { instance: 1, instances: 1, offset } });
  await service.start();
  cleanups.push(() => service.close());
  return service;
}

async function listen(server: ProtocolServer): Promise<string> {
  const address = await server.listen(LOCAL);
  cleanups.push(() => server.close());
  return address;
}

async function openSocket(address: string): Promise<Socket> {
  const url = new URL(address.startsWith('http') ? address : `tcp://${address}`);
  const socket = connect(Number(url.port), url.hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => undefined);
  cleanups.push(() => void socket.destroy());
  return socket;
}

/** Values issued of `name` so far (the service's last value minus the first). */
function issuedOf(service: TicketService, name: string, offset: bigint): number {
  const last = service.lastValue(name);
  return last === undefined ? 0 : Number((last as bigint) - offset + 1n);
}

/** Waits (bounded) until the issued count stops moving for `quietMs`; returns it. */
async function settledIssued(service: TicketService, name: string, offset: bigint, quietMs = 500, limitMs = 8_000): Promise<number> {
  const started = Date.now();
  let last = -1;
  let since = Date.now();
  for (;;) {
    const now = issuedOf(service, name, offset);
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs && now > 0) {
      return now;
    }
    if (Date.now() - started > limitMs) return now;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Reads from a paused socket until `done(count of LF, tail)` (tail: the last
 * bytes read) or a bound of time; returns the tail.
 */
async function readUntil(socket: Socket, done: (lines: number, tail: string) => boolean, limitMs = 30_000): Promise<string> {
  let lines = 0;
  let tail = '';
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not all replies within ${limitMs} ms (${lines} lines)`)), limitMs);
    socket.on('data', (chunk: Buffer) => {
      for (let index = chunk.indexOf(10); index >= 0; index = chunk.indexOf(10, index + 1)) lines++;
      tail = (tail + chunk.subarray(Math.max(0, chunk.length - 4096)).toString('latin1')).slice(-4096);
      if (done(lines, tail)) {
        clearTimeout(timer);
        resolve(tail);
      }
    });
    socket.resume();
  });
}

// Requests of 1000 values each: unanswered, REQUESTS × 1000 × 20 bytes of replies (60 MB).
const REQUESTS = 3_000;
const ALL_VALUES = REQUESTS * 1000;
/**
 * What a bounded server may issue to a client that never reads: the socket
 * buffers of both ends (loopback autotunes them to a few MB) plus the bound,
 * far below every request answered.
 */
const BOUNDED_VALUES = ALL_VALUES / 2;

describe('a client that pipelines and never reads', () => {
  it('line: stops being read once replies are outstanding, and gets every reply in order once it reads', async () => {
    const service = await startService(BIG_OFFSET);
    const address = await listen(new LineServer(service, logger, { idleTimeoutMs: 60_000, maxConnections: 10 }));
    const socket = await openSocket(address);
    socket.pause();
    socket.write('NEXT x 1000\n'.repeat(REQUESTS));
    const issued = await settledIssued(service, 'x', BIG_OFFSET);
    console.log(`line: ${issued} of ${ALL_VALUES} values issued to a client that does not read`);
    expect(issued).toBeLessThan(BOUNDED_VALUES);

    const tail = await readUntil(socket, (lines) => lines >= REQUESTS);
    expect(tail.split('\n').at(-2)?.split(' ').at(-1)).toBe((BIG_OFFSET + BigInt(ALL_VALUES) - 1n).toString());
    expect(issuedOf(service, 'x', BIG_OFFSET)).toBe(ALL_VALUES);
  }, 40_000);

  it('HTTP: stops being read once replies are outstanding, and answers every request once it reads', async () => {
    const service = await startService(BIG_OFFSET);
    const address = await listen(new FastifyProtocolServer('http', createHttpApi(service)));
    const socket = await openSocket(address);
    socket.pause();
    socket.write('GET /tickets/create/1000 HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(REQUESTS));
    const issued = await settledIssued(service, 'default', BIG_OFFSET);
    console.log(`http: ${issued} of ${ALL_VALUES} values issued to a client that does not read`);
    expect(issued).toBeLessThan(BOUNDED_VALUES);

    const closing = `${BIG_OFFSET + BigInt(ALL_VALUES) - 1n}]`;
    let responses = 0;
    await readUntil(socket, (_lines, tail) => {
      if (!tail.endsWith(closing)) return false;
      responses = issuedOf(service, 'default', BIG_OFFSET) / 1000;
      return true;
    });
    expect(responses).toBe(REQUESTS);
  }, 40_000);

  it('ZeroMQ: a DEALER that never receives cannot make the server queue its replies without bound', async () => {
    const service = await startService(BIG_OFFSET);
    const server = new ZmqServer(service, logger);
    const endpoint = await server.listen('tcp://127.0.0.1:0');
    cleanups.push(() => server.close());
    const dealer = new Dealer({ receiveHighWaterMark: 100, linger: 0 });
    cleanups.push(() => dealer.close());
    dealer.connect(endpoint);
    const body = JSON.stringify(['x', '0', 1000]);
    for (let index = 0; index < REQUESTS; index++) await dealer.send(body);
    const issued = await settledIssued(service, 'x', BIG_OFFSET);
    // ROUTER reads every request; those of a peer whose held replies are full are not worked out.
    console.log(`zmq: ${issued} of ${ALL_VALUES} values issued to a peer that does not receive`);
    expect(issued).toBeLessThan(BOUNDED_VALUES);
    // Now receive: what reaches the peer is what the server kept queued for it (plus the peer's own queue).
    let received = 0;
    for (;;) {
      const next = await Promise.race([dealer.receive(), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1000))]);
      if (next === undefined) break;
      received++;
      if (received >= REQUESTS) break;
    }
    console.log(`zmq: ${received} of ${REQUESTS} replies were kept for a peer that did not receive`);
    expect(received).toBeLessThan(REQUESTS / 2);
  }, 40_000);
});

describe('near 2^63 − 1', () => {
  it('line: a pipelined run of single requests gets the values left, then EXHAUSTED', async () => {
    const left = 10;
    const offset = MAX_VALUE - BigInt(left) + 1n;
    const service = await startService(offset);
    const address = await listen(new LineServer(service, logger, { idleTimeoutMs: 60_000, maxConnections: 10 }));
    const socket = await openSocket(address);
    socket.pause();
    socket.write('NEXT y\n'.repeat(left + 5));
    const tail = await readUntil(socket, (lines) => lines >= left + 5, 10_000);
    const replies = tail.split('\n').slice(0, left + 5);
    expect(replies.slice(0, left)).toEqual(Array.from({ length: left }, (_, index) => (offset + BigInt(index)).toString()));
    for (const reply of replies.slice(left)) expect(reply).toMatch(/^ERR EXHAUSTED /);
  });
});

/** Resolves with the ms until `socket` closed, or rejects after `limitMs`. */
function closedWithin(socket: Socket, limitMs: number): Promise<number> {
  const started = Date.now();
  return new Promise<number>((resolve, reject) => {
    if (socket.destroyed) {
      resolve(0);
      return;
    }
    const timer = setTimeout(() => reject(new Error(`still open after ${limitMs} ms`)), limitMs);
    // Flowing, or the end of the stream is never read and 'close' never comes.
    socket.resume();
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

describe('HTTP connections that hold the server', () => {
  const limits = { ...DEFAULT_HTTP_LIMITS, requestTimeoutMs: 1000, idleTimeoutMs: 4000, maxConnections: 3 };

  it('closes a connection whose request announced a body that never comes (408), and one that sends nothing', async () => {
    const service = await startService(1n);
    const address = await listen(new FastifyProtocolServer('http', createHttpApi(service), 'http', limits));
    const announcing = await openSocket(address);
    announcing.write('POST /v1/sequences/x/next HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n');
    let answer = '';
    announcing.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
    });
    const silent = await openSocket(address);
    const [bodyMs, silentMs] = await Promise.all([closedWithin(announcing, 10_000), closedWithin(silent, 10_000)]);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    console.log(`http: closed after ${bodyMs} ms (body never sent) and ${silentMs} ms (nothing sent)`);
  }, 15_000);

  it('closes connections beyond --max-connections at once, and serves again once they are gone', async () => {
    const service = await startService(1n);
    const address = await listen(new FastifyProtocolServer('http', createHttpApi(service), 'http', { ...limits, requestTimeoutMs: 60_000 }));
    const held = await Promise.all([openSocket(address), openSocket(address), openSocket(address)]);
    const beyond = await openSocket(address);
    await closedWithin(beyond, 5_000);
    for (const socket of held) socket.destroy();
    // The server notices the closes a moment later: a few tries, bounded.
    let tail = '';
    for (let attempt = 0; attempt < 20 && !tail.includes('200 OK'); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const fresh = await openSocket(address);
      fresh.write('GET /tickets/create HTTP/1.1\r\nHost: x\r\n\r\n');
      tail = await Promise.race([readUntil(fresh, (_lines, text) => text.includes(']'), 2_000).catch(() => ''), closedWithin(fresh, 2_000).then(() => '', () => '')]);
    }
    expect(tail).toContain('200 OK');
  }, 15_000);
});

describe('ZeroMQ peers that go silent', () => {
  it('disconnects a raw TCP peer that completed the handshake and then answers nothing', async () => {
    const service = await startService(1n);
    const server = new ZmqServer(service, logger, undefined, { heartbeatTimeoutMs: 1000 });
    const endpoint = await server.listen('tcp://127.0.0.1:0');
    cleanups.push(() => server.close());
    const socket = await openSocket(endpoint.replace('tcp://', ''));
    let greeted = false;
    socket.on('data', () => {
      greeted = true; // the server's greeting and READY, then its pings: never answered
    });
    socket.write(zmtpHandshake());
    const closedMs = await closedWithin(socket, 10_000);
    expect(greeted).toBe(true);
    console.log(`zmq: a silent peer was disconnected after ${closedMs} ms`);
  }, 15_000);

  it('keeps a live peer that is idle (its ZeroMQ answers the pings)', async () => {
    const service = await startService(1n);
    const server = new ZmqServer(service, logger, undefined, { heartbeatTimeoutMs: 1000 });
    const endpoint = await server.listen('tcp://127.0.0.1:0');
    cleanups.push(() => server.close());
    const dealer = new Dealer({ receiveTimeout: 5_000, linger: 0 });
    cleanups.push(() => dealer.close());
    dealer.connect(endpoint);
    await dealer.send(JSON.stringify(['idle', '0']));
    expect((await dealer.receive()).at(-1)?.toString()).toBe('[null,"1"]');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await dealer.send(JSON.stringify(['idle', '0']));
    expect((await dealer.receive()).at(-1)?.toString()).toBe('[null,"2"]');
  }, 15_000);
});

describe('ZeroMQ messages and peers beyond the bounds', () => {
  /** Asks `['name', '0']` on a fresh DEALER and returns the reply body. */
  async function askOnce(endpoint: string, name: string): Promise<string> {
    const dealer = new Dealer({ receiveTimeout: 5_000, linger: 0 });
    cleanups.push(() => dealer.close());
    dealer.connect(endpoint);
    await dealer.send(JSON.stringify([name, '0']));
    return String((await dealer.receive()).at(-1));
  }

  it.each([
    { frameBytes: 1000, bound: `${MAX_MESSAGE_FRAMES} frames` },
    { frameBytes: 20_000, bound: `${MAX_MESSAGE_BYTES} bytes` },
  ])('disconnects a peer whose multipart message never ends, once it passes $bound (frames of $frameBytes bytes)', async ({ frameBytes }) => {
    const service = await startService(1n);
    const server = new ZmqServer(service, logger);
    const endpoint = await server.listen('tcp://127.0.0.1:0');
    cleanups.push(() => server.close());
    const socket = await openSocket(endpoint.replace('tcp://', ''));
    // As a ZeroMQ peer does, send messages only after the server's READY (ZeroMQ drops a peer that sends earlier).
    let greeting = '';
    const ready = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        greeting += chunk.toString('latin1');
        if (greeting.includes('READY')) resolve();
      });
    });
    socket.write(zmtpHandshake());
    await ready;
    const closed = closedWithin(socket, 20_000);
    // Frames every one with MORE: ZeroMQ alone would keep them all, waiting for the last.
    const part = Buffer.concat([Buffer.from([0x03]), Buffer.alloc(8), Buffer.alloc(frameBytes, 0x61)]); // MORE | LONG
    part.writeBigUInt64BE(BigInt(frameBytes), 1);
    let sent = 0;
    // Paced (1 ms per frame), so that what was written is close to what the server has read.
    for (let index = 0; index < 2_000 && !socket.destroyed; index++) {
      socket.write(part);
      sent += frameBytes;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const closedMs = await closed;
    console.log(`zmq: an unfinished multipart of ${frameBytes}-byte frames was cut off after ${sent} bytes written, ${closedMs} ms`);
    expect(sent).toBeGreaterThan(Math.min(MAX_MESSAGE_FRAMES * frameBytes, MAX_MESSAGE_BYTES));
    expect(sent).toBeLessThan(8 * MAX_MESSAGE_BYTES);
    // Others are served as before.
    expect(await askOnce(endpoint, 'after-multipart')).toBe('[null,"1"]');
  }, 30_000);

  it('closes peers beyond --max-connections at once, keeps the connected ones, and serves again once they are gone', async () => {
    const service = await startService(1n);
    const server = new ZmqServer(service, logger, undefined, { maxConnections: 3 });
    const endpoint = await server.listen('tcp://127.0.0.1:0');
    cleanups.push(() => server.close());
    const held = await Promise.all([0, 1, 2].map(() => openSocket(endpoint.replace('tcp://', ''))));
    for (const socket of held) socket.write(zmtpHandshake());
    const beyond = await openSocket(endpoint.replace('tcp://', ''));
    await closedWithin(beyond, 5_000);
    for (const socket of held) expect(socket.destroyed).toBe(false);
    for (const socket of held) socket.destroy();
    // The server notices the closes a moment later: a few tries, bounded.
    let answer = '';
    for (let attempt = 0; attempt < 20 && answer === ''; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      answer = await askOnce(endpoint, 'after-limit').catch(() => '');
    }
    expect(answer).toBe('[null,"1"]');
  }, 30_000);
});
