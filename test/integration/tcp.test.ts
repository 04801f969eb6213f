/**
 * The raw TCP protocols against real server processes over real sockets:
 *
 * - one number per connection (`--tcp`, SPEC §6.4): 200 concurrent
 *   connections all distinct, each reply exactly `<digits>\n` then EOF;
 *   `--tcp-sequence`; `-1\n` on failure; half-open clients do not block
 *   others; txn-id-server's `TXNID_SERVER_IP`/`TXNID_SERVER_PORT`;
 * - long-lived (`--line`, SPEC §6.5): PING, STX → value + ETX, BEL → BEL,
 *   `NEXT <name> [count] [last]` (drift), pipelining in order (one write and
 *   random chunks), errors that keep the connection, the 4 KiB line bound
 *   (closes), the idle timeout, `--max-connections`, a slow reader, a half-open
 *   client;
 * - proxy mode (SPEC §8) serving both protocols from an upstream;
 * - half-close, chattering peers and oversize lines (regressions of fixed bugs).
 *
 * Servers use `--store memory:` (durability does not matter here). Every
 * wait is bounded; nothing asserts on timing beyond those bounds.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, stopAllServers, urlOf, type ServerProcess } from '../helpers/server-process.js';
import { Reply as ReplySocket } from 'zeromq';
import { nextValue } from '../helpers/zmq-client.js';
import { seededRandom } from '../../scripts/wire-fixtures.mjs';

/** Bound of every single wait for a reply or a close. */
const WAIT_MS = 5_000;
const STX = 0x02;
const ETX = 0x03;
const BEL = 0x07;
const LF = 0x0a;
const ADMIN_TOKEN = 'tcp-test-admin-token-0123456789';

afterAll(async () => {
  await stopAllServers();
});

// ---- helpers -------------------------------------------------------------------

interface Address {
  readonly host: string;
  readonly port: number;
}

/** Address of the `tcp` or `line` listener, from the server's `listening` log line. */
function addressOf(server: ServerProcess, protocol: 'tcp' | 'line'): Address {
  for (const entry of server.logLines()) {
    if (entry.msg === 'listening' && entry.protocol === protocol && typeof entry.address === 'string') {
      const colon = entry.address.lastIndexOf(':');
      return { host: entry.address.slice(0, colon), port: Number(entry.address.slice(colon + 1)) };
    }
  }
  throw new Error(`${protocol} is not listening; stdout: ${server.stdout()}`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (bounded) until `check` holds; returns whether it did. */
async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = WAIT_MS, stepMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(stepMs);
  }
}

/** A free loopback port (listen on 0, close). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** What one one-shot connection saw. */
interface OneShot {
  readonly text: string;
  /** The server ended the stream (EOF). */
  readonly ended: boolean;
  readonly error: string | undefined;
  readonly timedOut: boolean;
}

/**
 * One §6.4 connection: connect, read to EOF (bounded). With `halfClose` the
 * client shuts its write side at once, like `nc -N host port </dev/null`.
 */
function oneShot(address: Address, { halfClose = false, timeoutMs = WAIT_MS } = {}): Promise<OneShot> {
  return new Promise((resolve) => {
    const socket = connect(address);
    const chunks: Buffer[] = [];
    let ended = false;
    let error: string | undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      ended = true;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString('latin1'), ended, error, timedOut });
    });
    if (halfClose) socket.on('connect', () => socket.end());
  });
}

/** Asserts a successful one-shot reply and returns its value. */
function oneShotValue(reply: OneShot): bigint {
  expect(reply.text, JSON.stringify(reply)).toMatch(/^[1-9][0-9]{0,18}\n$/);
  expect(reply.ended).toBe(true);
  expect(reply.timedOut).toBe(false);
  return BigInt(reply.text.slice(0, -1));
}

/** One reply of the long-lived protocol. */
type Reply = { kind: 'stx'; value: bigint } | { kind: 'bel' } | { kind: 'line'; text: string };

/** Splits complete replies off the front of `buffer`: BEL, digits + ETX, or a line. */
function takeReplies(buffer: Buffer, replies: Reply[], max = Infinity): Buffer {
  let start = 0;
  while (start < buffer.length && replies.length < max) {
    if (buffer[start] === BEL) {
      replies.push({ kind: 'bel' });
      start++;
      continue;
    }
    let end = start;
    while (end < buffer.length && buffer[end] !== ETX && buffer[end] !== LF) end++;
    if (end === buffer.length) break;
    const text = buffer.toString('utf8', start, end);
    if (buffer[end] === ETX) {
      if (!/^[1-9][0-9]{0,18}$/.test(text)) throw new Error(`not a value before ETX: ${JSON.stringify(text)}`);
      replies.push({ kind: 'stx', value: BigInt(text) });
    } else {
      replies.push({ kind: 'line', text });
    }
    start = end + 1;
  }
  return buffer.subarray(start);
}

/** A client of the long-lived protocol over one socket, reading replies as they come. */
class LineClient {
  private pending: Buffer = Buffer.alloc(0);
  private readonly replies: Reply[] = [];
  private wake: (() => void) | undefined;
  ended = false;
  closed = false;
  error: string | undefined;
  /** Bytes received in total. */
  bytes = 0;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      this.pending = takeReplies(this.pending, this.replies);
      this.wake?.();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error = err.code ?? err.message;
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static open(address: Address, options: { allowHalfOpen?: boolean } = {}): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ ...address, noDelay: true, allowHalfOpen: options.allowHalfOpen ?? false });
      const client = new LineClient(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('connect timed out'));
      }, WAIT_MS);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(client);
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  write(data: string | Uint8Array): void {
    this.socket.write(data);
  }

  /** Waits (bounded) until `count` replies are in; returns them and forgets them. */
  async read(count: number, timeoutMs = WAIT_MS): Promise<Reply[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length < count) {
      if (this.closed) throw new Error(`connection closed after ${this.replies.length} of ${count} replies`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`only ${this.replies.length} of ${count} replies within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return this.replies.splice(0, count);
  }

  /** Sends `text` and reads one reply. */
  async ask(text: string | Uint8Array): Promise<Reply> {
    this.write(text);
    return (await this.read(1))[0] as Reply;
  }

  /** Replies received and not yet read. */
  get unread(): number {
    return this.replies.length;
  }

  /** Waits (bounded) until the socket is closed (or the server ended it); returns whether it was. */
  waitClosed(timeoutMs = WAIT_MS): Promise<boolean> {
    return eventually(() => this.closed || this.ended, timeoutMs);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const lineReply = (text: string): Reply => ({ kind: 'line', text });

/** The values of a `NEXT` reply line. */
function valuesOf(reply: Reply | undefined): bigint[] {
  if (reply?.kind !== 'line' || !/^[1-9][0-9]{0,18}( [1-9][0-9]{0,18})*$/.test(reply.text)) {
    throw new Error(`expected values, got ${JSON.stringify(reply, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`);
  }
  return reply.text.split(' ').map((word) => BigInt(word));
}

/** Asserts an `ERR <code> <message>` line. */
function expectErr(reply: Reply | undefined, code: string): void {
  expect(reply?.kind).toBe('line');
  const text = reply?.kind === 'line' ? reply.text : '';
  expect(text).toMatch(new RegExp(`^ERR ${code} \\S`));
}

// ---- servers ---------------------------------------------------------------------

const TCP_AND_LINE = ['--tcp', '127.0.0.1:0', '--line', '127.0.0.1:0'];

/** The main server: memory store, both TCP protocols, defaults otherwise. */
let main: ServerProcess;
let mainTcp: Address;
let mainLine: Address;

beforeAll(async () => {
  main = await startServer(['--store', 'memory:', ...TCP_AND_LINE]);
  mainTcp = addressOf(main, 'tcp');
  mainLine = addressOf(main, 'line');
});

// ---- §6.4 -------------------------------------------------------------------------

describe('--tcp: one number per connection (SPEC §6.4)', () => {
  it('200 concurrent connections get 200 distinct values, each exactly "<digits>\\n" then EOF', async () => {
    const replies = await Promise.all(Array.from({ length: 200 }, () => oneShot(mainTcp)));
    const values = replies.map(oneShotValue);
    expect(new Set(values).size).toBe(200);
    for (const reply of replies) expect(reply.error).toBeUndefined();
  });

  it('the value comes without the client sending anything, and whatever the client sends is ignored', async () => {
    const socket = connect(mainTcp);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.write('NEXT a\nGET / HTTP/1.0\r\n\r\n\u0002');
    const closed = await eventually(() => socket.destroyed || socket.readableEnded);
    socket.destroy();
    expect(closed).toBe(true);
    expect(Buffer.concat(chunks).toString('latin1')).toMatch(/^[1-9][0-9]*\n$/);
  });

  it('values of sequential connections increase (one server, one sequence)', async () => {
    let previous = 0n;
    for (let index = 0; index < 20; index++) {
      const value = oneShotValue(await oneShot(mainTcp));
      expect(value).toBeGreaterThan(previous);
      previous = value;
    }
  });

  it('half-open clients (connect, never read, shut their write side) do not block others', async () => {
    const halfOpen: Socket[] = [];
    for (let index = 0; index < 20; index++) {
      const socket = connect({ ...mainTcp, allowHalfOpen: true });
      socket.on('error', () => undefined);
      socket.pause(); // never reads
      socket.on('connect', () => socket.end());
      halfOpen.push(socket);
    }
    try {
      expect(await eventually(() => halfOpen.every((socket) => socket.writableFinished))).toBe(true);
      const replies = await Promise.all(Array.from({ length: 20 }, () => oneShot(mainTcp)));
      expect(new Set(replies.map(oneShotValue)).size).toBe(20);
      // A one-shot connection that itself half-closes at once still gets its value (warm lease: answered synchronously).
      oneShotValue(await oneShot(mainTcp, { halfClose: true }));
    } finally {
      for (const socket of halfOpen) socket.destroy();
    }
  });

  describe('--tcp-sequence, and -1 on failure (--strict-sequences)', () => {
    let strict: ServerProcess;
    let address: Address;
    const admin = (path: string): Promise<Response> =>
      fetch(`${urlOf(strict, 'admin')}${path}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        signal: AbortSignal.timeout(WAIT_MS),
      });

    beforeAll(async () => {
      strict = await startServer([
        '--store', 'memory:', '--strict-sequences', '--admin-token', ADMIN_TOKEN,
        '--tcp', '127.0.0.1:0', '--tcp-sequence', 'orders',
      ]);
      address = addressOf(strict, 'tcp');
    });

    it('the listening line names the sequence', () => {
      const entry = strict.logLines().find((line) => line.msg === 'listening' && line.protocol === 'tcp');
      expect(entry?.sequence).toBe('orders');
    });

    it('a sequence that does not exist (ENOSEQ) gives exactly "-1\\n" then EOF', async () => {
      const replies = await Promise.all(Array.from({ length: 5 }, () => oneShot(address)));
      for (const reply of replies) {
        expect(reply.text).toBe('-1\n');
        expect(reply.ended).toBe(true);
      }
    });

    it('once created, --tcp-sequence is the sequence that moves; default does not', async () => {
      expect((await admin('/admin/sequences/orders')).status).toBe(201);
      expect((await admin('/admin/sequences/default')).status).toBe(201);
      const values = (await Promise.all(Array.from({ length: 30 }, () => oneShot(address)))).map(oneShotValue);
      expect(new Set(values).size).toBe(30);
      const highest = values.reduce((a, b) => (a > b ? a : b));
      // ZeroMQ: `orders` moved past every one-shot value; `default` still starts at 1.
      expect(await nextValue(strict.endpoint, 'orders')).toBeGreaterThan(highest);
      expect(await nextValue(strict.endpoint, 'default')).toBe(1n);
    });
  });

  describe("txn-id-server's variables", () => {
    it('TXNID_SERVER_IP/TXNID_SERVER_PORT start the one-shot listener there', async () => {
      const port = await freePort();
      const server = await startServer(['--store', 'memory:'], {
        env: { TXNID_SERVER_IP: '127.0.0.1', TXNID_SERVER_PORT: String(port) },
      });
      try {
        expect(addressOf(server, 'tcp')).toEqual({ host: '127.0.0.1', port });
        oneShotValue(await oneShot({ host: '127.0.0.1', port }));
      } finally {
        await server.stop();
      }
    });

    it('--tcp overrides TXNID_SERVER_PORT', async () => {
      const port = await freePort();
      const server = await startServer(['--store', 'memory:', '--tcp', '127.0.0.1:0'], {
        env: { TXNID_SERVER_IP: '127.0.0.1', TXNID_SERVER_PORT: String(port) },
      });
      try {
        const bound = addressOf(server, 'tcp');
        expect(bound.port).not.toBe(port);
        oneShotValue(await oneShot(bound));
      } finally {
        await server.stop();
      }
    });
  });
});

// ---- §6.5 -------------------------------------------------------------------------

describe('--line: the long-lived protocol (SPEC §6.5)', () => {
  const clients: LineClient[] = [];
  const open = async (address: Address = mainLine, options: { allowHalfOpen?: boolean } = {}): Promise<LineClient> => {
    const client = await LineClient.open(address, options);
    clients.push(client);
    return client;
  };
  afterAll(() => {
    for (const client of clients) client.destroy();
  });

  it('PING → PONG (commands are case-insensitive), LF or CRLF', async () => {
    const client = await open();
    expect(await client.ask('PING\n')).toEqual(lineReply('PONG'));
    expect(await client.ask('ping\r\n')).toEqual(lineReply('PONG'));
    expect(await client.ask('  PING  \n')).toEqual(lineReply('PONG'));
  });

  it('STX → value then ETX (no LF); BEL → BEL; values of default increase', async () => {
    const client = await open();
    client.write(Uint8Array.of(STX));
    const [first] = await client.read(1);
    expect(first?.kind).toBe('stx');
    expect(await client.ask(Uint8Array.of(BEL))).toEqual({ kind: 'bel' });
    const second = await client.ask(Uint8Array.of(STX));
    expect(second.kind === 'stx' && first?.kind === 'stx' && second.value > first.value).toBe(true);
    // The raw bytes: digits, ETX, nothing else.
    const raw = await new Promise<Buffer>((resolve, reject) => {
      const socket = connect(mainLine, () => socket.write(Uint8Array.of(STX, BEL, STX)));
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => reject(new Error('no reply')), WAIT_MS);
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (Buffer.concat(chunks).filter((byte) => byte === ETX).length === 2) {
          clearTimeout(timer);
          socket.destroy();
          resolve(Buffer.concat(chunks));
        }
      });
      socket.on('error', reject);
    });
    expect(raw.toString('latin1').replace(/[1-9][0-9]*/g, 'N')).toBe('N\u0003\u0007N\u0003');
  });

  it('NEXT <name>, NEXT <name> <count>, NEXT <name> <count> <last> (a drift jump)', async () => {
    const client = await open();
    expect(valuesOf(await client.ask('NEXT drift-a 3 500\n'))).toEqual([501n, 502n, 503n]);
    expect(valuesOf(await client.ask('NEXT drift-a\n'))).toEqual([504n]);
    expect(valuesOf(await client.ask('next drift-a 2\r\n'))).toEqual([505n, 506n]);
    // last within the drift (default 10) of the position: no jump.
    expect(valuesOf(await client.ask('NEXT drift-a 1 510\n'))).toEqual([507n]);
    // last 0 means unknown.
    expect(valuesOf(await client.ask('NEXT drift-a 1 0\n'))).toEqual([508n]);
    const many = valuesOf(await client.ask('NEXT drift-b 1000\n'));
    expect(many).toHaveLength(1000);
    expect(many.every((value, index) => index === 0 || value > (many[index - 1] as bigint))).toBe(true);
    // Unicode names are fine.
    expect(valuesOf(await client.ask('NEXT 票据 2\n'))).toEqual([1n, 2n]);
  });

  /** A mixed pipeline: requests, and how to check each reply. */
  function mixedPipeline(count: number, seed: number, tag: string): { bytes: Buffer; check: (replies: Reply[]) => void } {
    const random = seededRandom(seed);
    const kinds: string[] = [];
    const parts: Buffer[] = [];
    for (let index = 0; index < count; index++) {
      const pick = Math.floor(random() * 8);
      const kind = ['stx', 'bel', 'ping', 'a1', 'b4', 'a2crlf', 'bad', 'stx'][pick] as string;
      kinds.push(kind);
      parts.push(
        kind === 'stx' ? Buffer.from([STX])
          : kind === 'bel' ? Buffer.from([BEL])
            : kind === 'ping' ? Buffer.from('PING\n')
              : kind === 'a1' ? Buffer.from(`NEXT ${tag}-a\n`)
                : kind === 'b4' ? Buffer.from(`NEXT ${tag}-b 4\n`)
                  : kind === 'a2crlf' ? Buffer.from(`NEXT ${tag}-a 2\r\n`)
                    : Buffer.from('NEXT\n'),
      );
    }
    const check = (replies: Reply[]): void => {
      expect(replies).toHaveLength(count);
      const lastOf = new Map<string, bigint>();
      const seen = new Set<string>();
      const take = (sequence: string, values: bigint[]): void => {
        for (const value of values) {
          const previous = lastOf.get(sequence) ?? 0n;
          expect(value, `${sequence} in order`).toBeGreaterThan(previous);
          lastOf.set(sequence, value);
          const key = `${sequence}:${value}`;
          expect(seen.has(key)).toBe(false);
          seen.add(key);
        }
      };
      replies.forEach((reply, index) => {
        const kind = kinds[index];
        if (kind === 'stx') {
          expect(reply.kind, `reply ${index}`).toBe('stx');
          if (reply.kind === 'stx') take('default', [reply.value]);
        } else if (kind === 'bel') {
          expect(reply, `reply ${index}`).toEqual({ kind: 'bel' });
        } else if (kind === 'ping') {
          expect(reply, `reply ${index}`).toEqual(lineReply('PONG'));
        } else if (kind === 'bad') {
          expectErr(reply, 'EBADREQ');
        } else {
          const values = valuesOf(reply);
          expect(values).toHaveLength(kind === 'b4' ? 4 : kind === 'a2crlf' ? 2 : 1);
          take(kind === 'b4' ? 'b' : 'a', values);
        }
      });
    };
    return { bytes: Buffer.concat(parts), check };
  }

  it('500 mixed requests in one write are answered in order, values distinct and increasing per sequence', async () => {
    const client = await open();
    const { bytes, check } = mixedPipeline(500, 1, 'pipe1');
    client.write(bytes);
    check(await client.read(500));
    expect(await client.ask('PING\n')).toEqual(lineReply('PONG'));
  });

  it('the same pipeline split into random chunks (every split point possible) gives the same kind of answers', async () => {
    for (const seed of [2, 3, 4]) {
      const client = await open();
      const { bytes, check } = mixedPipeline(500, seed, `pipe${seed}`);
      const random = seededRandom(seed * 7919);
      let offset = 0;
      while (offset < bytes.length) {
        const size = 1 + Math.floor(random() * 40);
        client.write(bytes.subarray(offset, offset + size));
        offset += size;
        // Let some chunks go out on their own.
        if (random() < 0.3) await new Promise((resolve) => setImmediate(resolve));
      }
      check(await client.read(500));
    }
  });

  it('errors answer ERR <ECODE> <message> and keep the connection usable', async () => {
    const client = await open();
    const cases: ReadonlyArray<readonly [string | Uint8Array, string]> = [
      ['HELLO\n', 'EBADREQ'],
      ['NEXT\n', 'EBADREQ'],
      ['PING extra\n', 'EBADREQ'],
      ['NEXT a 0\n', 'EBADREQ'],
      ['NEXT a 1001\n', 'EBADREQ'],
      ['NEXT a two\n', 'EBADREQ'],
      ['NEXT a 1 -5\n', 'EBADREQ'],
      ['NEXT a 1 9223372036854775808\n', 'EBADREQ'],
      ['NEXT a 1 2 3\n', 'EBADREQ'],
      [Buffer.concat([Buffer.from('NEXT a'), Buffer.from([0xff, 0xfe]), Buffer.from('\n')]), 'EBADREQ'],
      [`NEXT ${'n'.repeat(129)}\n`, 'EBADNAME'],
      ['NEXT a\u0001b\n', 'EBADNAME'],
      ['NEXT err-jump 1 1000000000000\n', 'EJUMP'],
    ];
    for (const [request, code] of cases) {
      expectErr(await client.ask(request), code);
      expect(await client.ask('PING\n')).toEqual(lineReply('PONG'));
    }
    // The refused jump moved nothing.
    expect(valuesOf(await client.ask('NEXT err-jump\n'))).toEqual([1n]);
    expect(client.closed).toBe(false);
  });

  it('a line of 4096 bytes (+ CR) is served; an oversize line (5000 bytes) gets ERR EBADREQ and the connection is closed', async () => {
    const client = await open();
    expect(await client.ask(`PING${' '.repeat(4092)}\r\n`)).toEqual(lineReply('PONG'));
    expect(await client.ask(`PING${' '.repeat(4092)}\n`)).toEqual(lineReply('PONG'));
    // Pipelined: the PING before is answered, the oversize line refused, nothing after it answered.
    client.write(`PING\n${'x'.repeat(5000)}\nPING\n`);
    client.write(Uint8Array.of(STX, BEL));
    const [pong, refused] = await client.read(2);
    expect(pong).toEqual(lineReply('PONG'));
    expectErr(refused, 'EBADREQ');
    expect(await client.waitClosed()).toBe(true);
    await sleep(50);
    expect(client.unread).toBe(0);
  });

  it('4097 bytes without LF is refused as soon as it arrives (the server does not wait for LF)', async () => {
    const client = await open();
    client.write('y'.repeat(4099));
    const [refused] = await client.read(1);
    expectErr(refused, 'EBADREQ');
    expect(await client.waitClosed()).toBe(true);
  });

  it('a slow reader: 50k pipelined requests (≈17 MB of replies) unread do not stall the server; all replies then arrive in order', async () => {
    const slow = await open();
    slow.socket.pause(); // reads nothing for now
    const singles = 50_000;
    const counted = 2_000;
    slow.write('NEXT slow-1\n'.repeat(singles) + 'NEXT slow-2 1000\n'.repeat(counted));
    await sleep(300);
    // Meanwhile the server answers others.
    const other = await open();
    expect(await other.ask('PING\n')).toEqual(lineReply('PONG'));
    expect(valuesOf(await other.ask('NEXT slow-other\n'))).toEqual([1n]);
    oneShotValue(await oneShot(mainTcp));
    slow.socket.resume();
    const replies = await slow.read(singles + counted, 30_000);
    let previous = 0n;
    for (const reply of replies.slice(0, singles)) {
      const [value] = valuesOf(reply);
      expect(value).toBeGreaterThan(previous);
      previous = value as bigint;
    }
    previous = 0n;
    for (const reply of replies.slice(singles)) {
      // Only the ends of each reply are parsed as numbers (2 M values).
      const text = reply.kind === 'line' ? reply.text : '';
      const words = text.split(' ');
      expect(words).toHaveLength(1000);
      const first = BigInt(words[0] as string);
      const last = BigInt(words[999] as string);
      expect(first).toBeGreaterThan(previous);
      expect(last).toBeGreaterThan(first);
      previous = last;
    }
    expect(await slow.ask('PING\n')).toEqual(lineReply('PONG'));
  });

  it('replies held for a slow reader are not overwritten by replies to busy connections (exact values, in order)', async () => {
    // Replies to single-value requests are written from a shared output buffer: a region the
    // kernel has not taken yet must stay intact while other connections are answered.
    const slow = await open();
    slow.socket.pause();
    // ≈ 12 MB of replies: more than the loopback socket buffers of a reader that reads nothing.
    const held = 1_500_000;
    slow.write('NEXT held-a\n'.repeat(held));
    await sleep(300);
    const busy = await open();
    // Other digits than the held replies' (a jump past 9,000,000), and reads larger than the held write.
    const busyValues = valuesOf(await busy.ask('NEXT held-b 1 9000000\n'));
    for (let round = 0; round < 20; round++) {
      busy.write('NEXT held-b\n'.repeat(5_000));
      for (const reply of await busy.read(5_000)) busyValues.push(...valuesOf(reply));
    }
    expect(new Set(busyValues).size).toBe(busyValues.length);
    slow.socket.resume();
    const replies = await slow.read(held, 60_000);
    let wrong = -1;
    for (let index = 0; index < held && wrong === -1; index++) {
      const reply = replies[index];
      if (reply?.kind !== 'line' || reply.text !== String(index + 1)) wrong = index;
    }
    expect(wrong === -1 ? 'all exact' : `reply ${wrong}: ${JSON.stringify(replies[wrong])}`).toBe('all exact');
  }, 90_000);

  it('a half-open client (sends, then shuts its write side) still gets its replies, then EOF', async () => {
    const client = await open(mainLine, { allowHalfOpen: true });
    client.write(Uint8Array.of(STX));
    client.write('PING\nNEXT half-open 2\n');
    client.socket.end();
    const [value, pong, values] = await client.read(3);
    expect(value?.kind).toBe('stx');
    expect(pong).toEqual(lineReply('PONG'));
    expect(valuesOf(values)).toHaveLength(2);
    expect(await client.waitClosed()).toBe(true);
  });

  describe('--idle-timeout 1', () => {
    let idle: ServerProcess;
    beforeAll(async () => {
      idle = await startServer(['--store', 'memory:', '--idle-timeout', '1', '--max-connections', '2', ...TCP_AND_LINE]);
    });

    it('an idle connection is closed by the server (within a bounded wait)', async () => {
      const client = await open(addressOf(idle, 'line'));
      expect(await client.ask('PING\n')).toEqual(lineReply('PONG'));
      expect(await client.waitClosed(5_000)).toBe(true);
      // …and the server still takes new connections afterwards.
      const next = await open(addressOf(idle, 'line'));
      expect(await next.ask('PING\n')).toEqual(lineReply('PONG'));
    });

    it('a connection that keeps asking stays open well past the idle timeout', async () => {
      const client = await open(addressOf(idle, 'line'));
      // 10 × 250 ms = 2.5 s of traffic, over twice --idle-timeout: activity, not age, decides.
      for (let index = 0; index < 10; index++) {
        expect(await client.ask('PING\n')).toEqual(lineReply('PONG'));
        await sleep(250);
      }
      expect(client.closed || client.ended).toBe(false);
      expect(await client.ask('PING\n')).toEqual(lineReply('PONG'));
      client.destroy();
    });

    it('a connection that never sends anything is closed too', async () => {
      const client = await open(addressOf(idle, 'line'));
      expect(await client.waitClosed(5_000)).toBe(true);
    });

    /*
     * Regression (src/protocols/tcp-oneshot.ts, fixed): after writing the value the one-shot
     * server only half-closes (`socket.end`) and keeps reading (`socket.resume()`
     * discards the data). A peer that keeps sending — even one byte every 200 ms —
     * therefore keeps the connection open for ever: every discarded read resets
     * the idle timer, so `--idle-timeout` never fires, and the connection keeps
     * its `--max-connections` slot. With `--max-connections 2`, two such peers
     * lock every other client out (they get nothing). The module comment says
     * "half-open clients cannot pile up"; these do. Fix: once the value is
     * written, destroy the socket (e.g. `socket.end(text, () => socket.destroy())`,
     * or `destroySoon`), or at least stop reading and keep the idle timer running.
     */
    it('does not let one-shot peers that keep sending after their value hold --max-connections slots for ever', async () => {
      const address = addressOf(idle, 'tcp');
      const trickling: Socket[] = [];
      const timers: NodeJS.Timeout[] = [];
      try {
        for (let index = 0; index < 2; index++) {
          const socket = connect({ ...address, allowHalfOpen: true });
          socket.on('error', () => undefined);
          socket.on('data', () => undefined);
          timers.push(
            setInterval(() => {
              if (socket.writable) socket.write('x');
            }, 150),
          );
          trickling.push(socket);
        }
        await sleep(2_500); // > 2 × --idle-timeout
        const third = await oneShot(address, { timeoutMs: 2_000 });
        expect(third.text).toMatch(/^[1-9][0-9]*\n$/);
      } finally {
        for (const timer of timers) clearInterval(timer);
        for (const socket of trickling) socket.destroy();
      }
    });

    /*
     * Regression (src/protocols/line.ts, same cause, fixed): after an oversize line the server
     * answers ERR EBADREQ and calls `socket.end()`, but the connection is only
     * half-closed: the server keeps reading (and discarding), so a peer that keeps
     * writing keeps the connection — and its --max-connections slot — open for
     * ever (the reads reset the idle timer). SPEC §6.5 says the connection is
     * closed. Fix: destroy the socket once the ERR reply is flushed.
     */
    it('disconnects a peer that keeps writing after an oversize line', async () => {
      const client = await open(addressOf(idle, 'line'), { allowHalfOpen: true });
      client.write(`${'x'.repeat(5000)}\n`);
      const [refused] = await client.read(1);
      expectErr(refused, 'EBADREQ');
      const timer = setInterval(() => {
        if (client.socket.writable) client.socket.write('x');
      }, 150);
      try {
        // A closed connection makes these writes fail (RST) and the socket close.
        expect(await eventually(() => client.closed, 3_000)).toBe(true);
      } finally {
        clearInterval(timer);
      }
    });
  });

  describe('--max-connections 2', () => {
    let limited: ServerProcess;
    beforeAll(async () => {
      limited = await startServer(['--store', 'memory:', '--max-connections', '2', ...TCP_AND_LINE]);
    });

    it('a third concurrent connection is closed at once while two are open; the two keep working', async () => {
      const address = addressOf(limited, 'line');
      const first = await open(address);
      const second = await open(address);
      expect(await first.ask('PING\n')).toEqual(lineReply('PONG'));
      expect(await second.ask('PING\n')).toEqual(lineReply('PONG'));
      const third = await open(address).catch(() => undefined);
      if (third) {
        third.write('PING\n');
        expect(await third.waitClosed()).toBe(true);
        expect(third.unread).toBe(0);
      }
      expect(await first.ask('PING\n')).toEqual(lineReply('PONG'));
      expect(await second.ask('PING\n')).toEqual(lineReply('PONG'));
      // When one goes away, a new connection is served again.
      first.destroy();
      expect(
        await eventually(async () => {
          const fresh = await open(address).catch(() => undefined);
          if (!fresh) return false;
          fresh.write('PING\n');
          const ok = await fresh.read(1, 1_000).then(
            (replies) => replies[0]?.kind === 'line',
            () => false,
          );
          fresh.destroy();
          return ok;
        }, WAIT_MS, 100),
      ).toBe(true);
    });

    it('the one-shot listener has its own limit and still serves', async () => {
      oneShotValue(await oneShot(addressOf(limited, 'tcp')));
    });
  });
});

// ---- proxy mode (§8) -------------------------------------------------------------

describe('proxy mode: --host <server> --tcp --line', () => {
  let proxy: ServerProcess;
  let proxyTcp: Address;
  let proxyLine: Address;
  const clients: LineClient[] = [];

  beforeAll(async () => {
    proxy = await startServer(['--host', main.endpoint, ...TCP_AND_LINE]);
    proxyTcp = addressOf(proxy, 'tcp');
    proxyLine = addressOf(proxy, 'line');
  });
  afterAll(() => {
    for (const client of clients) client.destroy();
  });

  it('one-shot connections through the proxy get distinct values of the upstream', async () => {
    const values = (await Promise.all(Array.from({ length: 30 }, () => oneShot(proxyTcp)))).map(oneShotValue);
    expect(new Set(values).size).toBe(30);
    const highest = values.reduce((a, b) => (a > b ? a : b));
    // The upstream's `default` is past every value the proxy handed out.
    expect(await nextValue(main.endpoint, 'default')).toBeGreaterThan(highest);
  });

  it('the line protocol through the proxy: PING, STX, BEL, NEXT with count, pipelining; last is not forwarded', async () => {
    const client = await LineClient.open(proxyLine);
    clients.push(client);
    expect(await client.ask('PING\n')).toEqual(lineReply('PONG'));
    expect((await client.ask(Uint8Array.of(STX))).kind).toBe('stx');
    expect(await client.ask(Uint8Array.of(BEL))).toEqual({ kind: 'bel' });
    const three = valuesOf(await client.ask('NEXT proxied 3\n'));
    expect(three).toEqual([1n, 2n, 3n]);
    // last is never forwarded (SPEC §8): no jump to 500.
    const [afterLast] = valuesOf(await client.ask('NEXT proxied 1 500\n'));
    expect(afterLast).toBeLessThan(500n);
    // Pipelined single values: distinct, one reply each, in order of the requests.
    client.write('NEXT proxied\n'.repeat(200));
    const values = (await client.read(200)).map((reply) => valuesOf(reply)[0] as bigint);
    expect(new Set(values).size).toBe(200);
    expect(values.every((value) => value > 3n)).toBe(true);
    expectErr(await client.ask('NEXT\n'), 'EBADREQ');
    expectErr(await client.ask(`NEXT ${'n'.repeat(129)}\n`), 'EBADNAME');
    // The upstream itself is past every value the proxy handed out.
    const highest = values.reduce((a, b) => (a > b ? a : b));
    expect(await nextValue(main.endpoint, 'proxied')).toBeGreaterThan(highest);
  });
});

describe('proxy mode with a slow upstream (every answer arrives 200 ms later)', () => {
  /** A fake ZeroMQ upstream (SPEC §6.1) answering each request after 200 ms: 1, 2, 3, … */
  let upstream: ReplySocket;
  let loop: Promise<void>;
  let proxy: ServerProcess;
  const clients: LineClient[] = [];

  beforeAll(async () => {
    upstream = new ReplySocket({ linger: 0 });
    await upstream.bind('tcp://127.0.0.1:*');
    let counter = 0n;
    loop = (async () => {
      try {
        for await (const [frame] of upstream) {
          const request = JSON.parse(frame?.toString('utf8') ?? '[]') as unknown[];
          await sleep(200);
          const count = typeof request[2] === 'number' ? request[2] : undefined;
          const values = Array.from({ length: count ?? 1 }, () => String(++counter));
          await upstream.send(JSON.stringify([null, count === undefined ? values[0] : values]));
        }
      } catch {
        // closed in afterAll
      }
    })();
    proxy = await startServer(['--host', upstream.lastEndpoint as string, ...TCP_AND_LINE]);
  });
  afterAll(async () => {
    for (const client of clients) client.destroy();
    await proxy.stop();
    upstream.close();
    await loop;
  });

  it('answers normally (the client keeps its write side open)', async () => {
    oneShotValue(await oneShot(addressOf(proxy, 'tcp')));
    const client = await LineClient.open(addressOf(proxy, 'line'));
    clients.push(client);
    expect(valuesOf(await client.ask('NEXT slow-up\n'))).toHaveLength(1);
  });

  /*
   * Regression (src/protocols/tcp-oneshot.ts and src/protocols/line.ts, fixed): both servers
   * are created with Node's default `allowHalfOpen: false`, so when a client
   * shuts its write side (FIN) Node ends the server socket at once. An answer
   * that is not ready synchronously is then written to an ended socket and lost
   * (the value was issued: a gap; the client gets an empty reply). In proxy
   * mode every answer is asynchronous (an upstream round trip), so
   * `nc -N proxy 8963 </dev/null` or `printf 'NEXT a\n' | nc -N proxy PORT`
   * get nothing whenever the upstream is slower than the FIN — against a real,
   * fast upstream about 20–30 % of such connections came back empty
   * (50 tries each). The same happens on a server whenever a lease must be
   * reserved first (observed: the first one-shot connection and the first
   * `NEXT` of a fresh sequence on a fresh lmdb: data directory came back
   * empty). Fix: create both servers with `allowHalfOpen: true`; the one-shot
   * server ends the socket after its write anyway; the line server should
   * `end()` once every reply to requests received before the FIN is written.
   */
  it('gives a one-shot client that half-closes at once its value', async () => {
    oneShotValue(await oneShot(addressOf(proxy, 'tcp'), { halfClose: true }));
  });

  it('answers a line client that sends NEXT and then half-closes', async () => {
    const client = await LineClient.open(addressOf(proxy, 'line'), { allowHalfOpen: true });
    clients.push(client);
    client.write('NEXT half-closed\n');
    client.socket.end();
    valuesOf((await client.read(1, 2_000))[0]);
  });
});
