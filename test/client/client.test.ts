/**
 * The client library (SPEC §9): the callback, promise and `{ count }` forms,
 * errors as `Error`s with `.code` (SPEC §7), `last` remembered and sent
 * (drift catch-up, SPEC §3), prefetching, and close().
 *
 * Pure logic runs against fake transports; what needs a server runs against
 * real server processes on the memory store (`dist/cli/main.js`, built first).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BATCHES_AHEAD, createClient, type ClientOptions, type TicketClient } from '../../src/client/client.js';
import ticketServer from '../../src/index.js';
import { TicketError, type ErrorCode } from '../../src/core/errors.js';
import type { PoolOptions } from '../../src/client/pool.js';
import { TicketRun } from '../../src/client/reply.js';
import type { TicketReply, TicketRequest, Transport } from '../../src/client/transport.js';
import { startServer, stopAllServers, type ServerProcess } from '../helpers/server-process.js';
import { nextValue, nextValues } from '../helpers/zmq-client.js';

/** A fake server: issues 1, 2, 3, … per sequence (or follows `override`), records every request. */
class FakeServer implements Transport {
  readonly uri: string;
  readonly requests: TicketRequest[] = [];
  private readonly counters = new Map<string, bigint>();
  closed = false;
  /** Returns an error code to fail a request, or a value to answer instead of the counter. */
  override: ((request: TicketRequest) => ErrorCode | bigint | undefined) | undefined;

  constructor(uri: string) {
    this.uri = uri;
  }

  async request(request: TicketRequest): Promise<bigint | bigint[]> {
    this.requests.push(request);
    await Promise.resolve(); // answer asynchronously, as a network would
    if (this.closed) throw new TicketError('EUNAVAILABLE', 'client is closed');
    const outcome = this.override?.(request);
    if (typeof outcome === 'string') throw new TicketError(outcome, `fake says ${outcome}`);
    if (typeof outcome === 'bigint') return request.count === undefined ? outcome : [outcome];
    const take = (): bigint => {
      const next = (this.counters.get(request.name) ?? 0n) + 1n;
      this.counters.set(request.name, next);
      return next;
    };
    return request.count === undefined ? take() : Array.from({ length: request.count }, take);
  }

  close(): void {
    this.closed = true;
  }
}

/**
 * A client over fake servers. createClient hands its options to the pool, so
 * the pool's `connect` reaches it; ClientOptions does not declare it (a test seam).
 */
function fakeClient(count = 1, options: ClientOptions = {}): { client: TicketClient; servers: FakeServer[] } {
  const servers: FakeServer[] = [];
  const connect: PoolOptions['connect'] = (uri) => {
    const server = new FakeServer(uri);
    servers.push(server);
    return server;
  };
  const uris = Array.from({ length: count }, (_, index) => `tcp://fake-${index}:6410`);
  const client = createClient(uris, { ...options, connect } as ClientOptions);
  return { client, servers };
}

async function errorOf(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

function isIncreasing(values: readonly bigint[]): boolean {
  return values.every((value, index) => index === 0 || value > (values[index - 1] as bigint));
}

describe('call forms (fake servers)', () => {
  it('promise form resolves with a bigint', async () => {
    const { client } = fakeClient();
    const value = await client.next('orders');
    expect(typeof value).toBe('bigint');
    expect(value).toBe(1n);
    expect(await client.next('orders')).toBe(2n);
    await client.close();
  });

  it('callback form calls back (null, bigint), once and never synchronously', async () => {
    const { client } = fakeClient();
    const calls: Array<[Error | null, bigint | undefined]> = [];
    let returned = false;
    const done = new Promise<void>((resolve) => {
      const result = client.next('orders', (error, value) => {
        expect(returned).toBe(true);
        calls.push([error, value]);
        resolve();
      });
      expect(result).toBeUndefined();
      returned = true;
    });
    await done;
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(calls).toEqual([[null, 1n]]);
    await client.close();
  });

  it('{count} form resolves with count increasing bigints, also with a callback', async () => {
    const { client, servers } = fakeClient();
    const values = await client.next('orders', { count: 5 });
    expect(values).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(servers[0]?.requests[0]?.count).toBe(5);
    const viaCallback = await new Promise<bigint[] | undefined>((resolve, reject) =>
      client.next('orders', { count: 2 }, (error, result) => (error ? reject(error) : resolve(result))),
    );
    expect(viaCallback).toEqual([6n, 7n]);
    await client.close();
  });

  it('the single form sends no count, the options form without count is the single form', async () => {
    const { client, servers } = fakeClient();
    expect(await client.next('orders', {})).toBe(1n);
    expect(servers[0]?.requests.map((r) => r.count)).toEqual([undefined]);
    await client.close();
  });

  it('is the default export of the package root (import ticketServer from "ticket-server")', () => {
    expect(ticketServer).toBe(createClient);
  });
});

describe('errors (fake servers)', () => {
  it.each([0, 1001, 1.5, -1, Number.NaN])('refuses count %s with EBADREQ before sending anything', async (count) => {
    const { client, servers } = fakeClient();
    const error = await errorOf(client.next('orders', { count }));
    expect(error.code).toBe('EBADREQ');
    expect(servers[0]?.requests).toEqual([]);
    await client.close();
  });

  it('accepts the count bounds 1 and 1000', async () => {
    const { client } = fakeClient();
    expect(await client.next('orders', { count: 1 })).toEqual([1n]);
    expect(await client.next('orders', { count: 1000 })).toHaveLength(1000);
    await client.close();
  });

  it('refuses a name that is not a string with EBADNAME', async () => {
    const { client, servers } = fakeClient();
    const error = await errorOf(client.next(42 as unknown as string));
    expect(error.code).toBe('EBADNAME');
    expect(servers[0]?.requests).toEqual([]);
    await client.close();
  });

  it("passes a server's error on as an Error with its .code", async () => {
    const { client, servers } = fakeClient();
    servers[0]!.override = () => 'EJUMP';
    const error = await errorOf(client.next('orders'));
    expect(error).toBeInstanceOf(TicketError);
    expect(error.code).toBe('EJUMP');
    expect(error.message.length).toBeGreaterThan(0);
    await client.close();
  });

  it('calls back with the error (and no value) in the callback form', async () => {
    const { client } = fakeClient();
    const [error, value] = await new Promise<[Error | null, unknown]>((resolve) =>
      client.next('orders', { count: 0 }, (e, v) => resolve([e, v])),
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error & { code?: string }).code).toBe('EBADREQ');
    expect(value).toBeUndefined();
    await client.close();
  });

  it('refuses invalid construction with a TypeError', () => {
    expect(() => createClient([])).toThrow(TypeError);
    expect(() => createClient(['udp://127.0.0.1:6410'])).toThrow(TypeError);
    expect(() => createClient(['tcp://127.0.0.1:6410'], { timeout: 0 })).toThrow(TypeError);
  });

  it.each([-1, 1001, 1.5, Number.NaN])('refuses prefetch %s with a TypeError', (prefetch) => {
    expect(() => createClient(['tcp://127.0.0.1:6410'], { prefetch })).toThrow(TypeError);
  });

  it('accepts prefetch 0 and 1000, and a single server URI as a string', async () => {
    const a = createClient('tcp://127.0.0.1:6410', { prefetch: 0 });
    const b = createClient(['tcp://127.0.0.1:6410'], { prefetch: 1000 });
    expect(a.stats().map((s) => s.uri)).toEqual(['tcp://127.0.0.1:6410']);
    await a.close();
    await b.close();
  });

});

describe('last (fake servers)', () => {
  it('sends no last for a sequence it has not seen, then the highest value received, per sequence', async () => {
    const { client, servers } = fakeClient();
    await client.next('a');
    await client.next('a');
    await client.next('b');
    await client.next('a', { count: 3 });
    await client.next('a');
    expect(servers[0]?.requests.map((r) => [r.name, r.last])).toEqual([
      ['a', undefined],
      ['a', 1n],
      ['b', undefined],
      ['a', 2n],
      ['a', 5n], // the last value of the {count} reply
    ]);
    await client.close();
  });

  it('never lowers last when a server answers below it', async () => {
    const { client, servers } = fakeClient(2);
    servers[0]!.override = () => 1000n;
    await client.next('a'); // server 0: 1000
    await client.next('a'); // server 1: 1
    await client.next('a'); // server 0 again
    const lasts = servers.flatMap((server) => server.requests.map((r) => r.last));
    expect(lasts).toEqual([undefined, 1000n, 1000n]);
    await client.close();
  });

  it('sends last to whichever server it asks next (the means by which a lagging server catches up)', async () => {
    const { client, servers } = fakeClient(2);
    await client.next('a');
    await client.next('a');
    expect(servers[1]?.requests[0]?.last).toBe(1n);
    await client.close();
  });

  it('sends no last with sendLast: false', async () => {
    const { client, servers } = fakeClient(1, { sendLast: false });
    for (let i = 0; i < 3; i++) await client.next('a');
    await client.next('a', { count: 2 });
    expect(servers[0]?.requests.map((r) => r.last)).toEqual([undefined, undefined, undefined, undefined]);
    await client.close();
  });
});

describe('prefetch (fake servers)', () => {
  it('fetches batches of `prefetch` values and hands them out increasing, unique and gap-free', async () => {
    const { client, servers } = fakeClient(1, { prefetch: 10 });
    const values: bigint[] = [];
    for (let i = 0; i < 95; i++) values.push(await client.next('orders'));
    expect(values).toEqual(Array.from({ length: 95 }, (_, i) => BigInt(i + 1)));
    const requests = servers[0]!.requests;
    expect(requests.every((r) => r.count === 10)).toBe(true);
    // 10 batches hand out 95 values; at most two more are on their way.
    expect(requests.length).toBeGreaterThanOrEqual(10);
    expect(requests.length).toBeLessThanOrEqual(12);
    await client.close();
  });

  it('keeps prefetched values apart per sequence', async () => {
    const { client } = fakeClient(1, { prefetch: 5 });
    expect(await client.next('a')).toBe(1n);
    expect(await client.next('b')).toBe(1n);
    expect(await client.next('a')).toBe(2n);
    await client.close();
  });

  it('hands out values from concurrent callers of one server exactly once', async () => {
    const { client } = fakeClient(1, { prefetch: 7 });
    const values = await Promise.all(Array.from({ length: 200 }, () => client.next('orders')));
    expect(new Set(values).size).toBe(200);
    await client.close();
  });

  it('passes a refill failure to the waiting caller and recovers on the next call', async () => {
    const { client, servers } = fakeClient(1, { prefetch: 10 });
    let fail = true;
    servers[0]!.override = () => (fail ? 'EUNAVAILABLE' : undefined);
    const error = await errorOf(client.next('orders'));
    expect(error.code).toBe('EUNAVAILABLE');
    fail = false;
    expect(await client.next('orders')).toBe(1n);
    await client.close();
  });

  it('passes a bad name through to the server check (EBADNAME) also when prefetching', async () => {
    const { client, servers } = fakeClient(1, { prefetch: 10 });
    servers[0]!.override = (request) => (request.name === '' ? 'EBADNAME' : undefined);
    expect((await errorOf(client.next(''))).code).toBe('EBADNAME');
    await client.close();
  });

  it('answers a {count} request from prefetched values when enough are held', async () => {
    const { client, servers } = fakeClient(1, { prefetch: 50 });
    expect(await client.next('orders')).toBe(1n);
    const before = servers[0]!.requests.length;
    expect(await client.next('orders', { count: 5 })).toEqual([2n, 3n, 4n, 5n, 6n]);
    expect(servers[0]!.requests.length).toBe(before);
    await client.close();
  });
});

describe('tryNext (fake servers)', () => {
  it('hands out the prefetched values in order, synchronously, interleaved with next(), and keeps batches coming', async () => {
    const { client, servers } = fakeClient(1, { prefetch: 10 });
    expect(client.tryNext('orders')).toBeUndefined(); // nothing fetched yet
    const values: bigint[] = [await client.next('orders')];
    for (let i = 0; i < 95; i++) values.push(client.tryNext('orders') ?? (await client.next('orders')));
    expect(values).toEqual(Array.from({ length: 96 }, (_, i) => BigInt(i + 1)));
    expect(servers[0]!.requests.every((r) => r.count === 10)).toBe(true);
    expect(servers[0]!.requests.length).toBeLessThanOrEqual(12);
    await client.close();
  });

  it('is undefined without prefetch, for another sequence, and once closed', async () => {
    const plain = fakeClient(1).client;
    await plain.next('orders');
    expect(plain.tryNext('orders')).toBeUndefined();
    await plain.close();
    const { client } = fakeClient(1, { prefetch: 10 });
    expect(await client.next('orders')).toBe(1n);
    expect(client.tryNext('orders')).toBe(2n);
    expect(client.tryNext('other')).toBeUndefined();
    await client.close();
    expect(client.tryNext('orders')).toBeUndefined();
  });
});

/**
 * A fake server answering batches from its own counter, each reply a macrotask later (as from
 * a network): a `TicketRun` when the request takes one and the values are consecutive, else an
 * array. `jumpEvery`: every so many batches one value is skipped mid-batch (a lease boundary),
 * so that batch is an array. Records every value it sent, in the order the replies went out.
 */
class BatchServer implements Transport {
  readonly uri: string;
  readonly requests: TicketRequest[] = [];
  readonly sent: bigint[] = [];
  readonly lasts: bigint[] = [];
  runs = 0;
  down = false;
  /** Requests not answered yet, and the most there were at once. */
  outstanding = 0;
  mostOutstanding = 0;
  private next: bigint;
  private batches = 0;
  private readonly jumpEvery: number;
  /** Reply after this many ms instead of a turn of the event loop. */
  delayMs = 0;
  /** Per request, the turn of the event loop it was asked in (requests asked together share one). */
  readonly turns: number[] = [];
  private turn = 0;
  private inTurn = false;

  constructor(uri: string, first: bigint, jumpEvery = 0) {
    this.uri = uri;
    this.next = first;
    this.jumpEvery = jumpEvery;
  }

  async request(request: TicketRequest): Promise<TicketReply> {
    this.requests.push(request);
    if (!this.inTurn) {
      this.turn++;
      this.inTurn = true;
      setImmediate(() => (this.inTurn = false));
    }
    this.turns.push(this.turn);
    this.mostOutstanding = Math.max(this.mostOutstanding, ++this.outstanding);
    await new Promise((resolve) => (this.delayMs > 0 ? setTimeout(resolve, this.delayMs) : setImmediate(resolve)));
    this.outstanding--;
    if (this.down) throw new TicketError('EUNAVAILABLE', 'fake is down');
    const count = request.count ?? 1;
    const jump = this.jumpEvery > 0 && ++this.batches % this.jumpEvery === 0;
    const values: bigint[] = [];
    for (let index = 0; index < count; index++) {
      if (jump && index === count >> 1) this.next += 7n;
      values.push(this.next++);
    }
    this.sent.push(...values);
    this.lasts.push(values[values.length - 1] as bigint);
    if (request.count === undefined) return values[0] as bigint;
    if (request.run === true && !jump && values.every((value) => value < 10n ** 15n)) {
      this.runs++;
      return new TicketRun(values[0] as bigint, count);
    }
    return values;
  }

  close(): void {
    this.down = true;
  }
}

describe('prefetched runs of consecutive values (fake servers)', () => {
  it('hand out exactly the values the servers sent, in order, across a failover and a digit boundary', async () => {
    // B starts 25 below 10^15: its batches cross from 15 to 16 digits, which stay arrays.
    const a = new BatchServer('tcp://a:1', 1n, 3);
    const b = new BatchServer('tcp://b:1', 10n ** 15n - 25n, 4);
    const servers = new Map<string, Transport>([
      [a.uri, a],
      [b.uri, b],
    ]);
    const client = createClient([a.uri, b.uri], { prefetch: 10, connect: (uri: string) => servers.get(uri) as Transport } as ClientOptions);
    const handed: bigint[] = [];
    b.down = true; // A serves first (B is skipped once down), then B takes over
    try {
      for (let i = 0; i < 300; i++) {
        if (i === 120) {
          a.down = true; // A's batches on their way now fail; B answers them
          b.down = false;
        }
        handed.push(client.tryNext('orders') ?? (await client.next('orders')));
      }
      expect(a.runs).toBeGreaterThan(0);
      expect(b.runs).toBeGreaterThan(0);
      expect(b.sent.some((value) => value >= 10n ** 15n)).toBe(true);
      // Every value handed out was sent, in the order sent: all of A's, then B's.
      expect(a.sent.length).toBeGreaterThanOrEqual(120);
      expect(handed.slice(0, a.sent.length)).toEqual(a.sent);
      const fromB = handed.slice(a.sent.length);
      expect(fromB.length).toBeGreaterThan(100);
      expect(fromB).toEqual(b.sent.slice(0, fromB.length));
      expect(isIncreasing(handed)).toBe(true);
      // `last` follows the runs too: each one sent is the end of a batch received before.
      const lasts = new Set([...a.lasts, ...b.lasts]);
      for (const request of [...a.requests, ...b.requests]) if (request.last !== undefined) expect(lasts.has(request.last as bigint)).toBe(true);
      expect(b.requests.every((request) => request.run === true && request.count === 10)).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('are not asked for on formatted sequences nor for {count} and single requests', async () => {
    const a = new BatchServer('tcp://a:1', 1n);
    const client = createClient([a.uri], { prefetch: 10, formatted: ['INV'], connect: () => a } as ClientOptions<'INV'>);
    try {
      await client.next('INV');
      await client.next('plain', { count: 3 });
      const plain = createClient([a.uri], { connect: () => a } as ClientOptions);
      await plain.next('single');
      await plain.close();
      expect(a.requests.filter((request) => request.run === true)).toEqual([]);
    } finally {
      await client.close();
    }
  });
});

describe('prefetch: batches kept on their way (fake servers)', () => {
  it('two at first; one more each time the caller ran out while batches were on their way, up to MAX_BATCHES_AHEAD, refilled in steps of half of them', async () => {
    const slow = new BatchServer('tcp://a:1', 1n);
    slow.delayMs = 2;
    const client = createClient([slow.uri], { prefetch: 10, connect: () => slow } as ClientOptions);
    try {
      // A caller that pauses 3 ms per value never runs out (a reply has 20 values' time): two batches ahead stay enough.
      for (let i = 0; i < 40; i++) {
        await client.next('calm');
        await new Promise((resolve) => setTimeout(resolve, 3));
      }
      expect(slow.mostOutstanding).toBe(2);
      // A synchronous loop outruns replies that take 2 ms each.
      for (let i = 0; i < 2000; i++) if (client.tryNext('fast') === undefined) await client.next('fast');
      expect(slow.mostOutstanding).toBe(MAX_BATCHES_AHEAD);
      const fast = slow.requests.filter((request) => request.name === 'fast').length;
      expect(fast).toBeLessThanOrEqual(2000 / 10 + MAX_BATCHES_AHEAD);
      // Ten ahead: refills go in steps of five, asked together (one write on line://), not one by one.
      const groups = new Map<number, number>();
      slow.requests.forEach((request, index) => {
        if (request.name === 'fast') groups.set(slow.turns[index] as number, (groups.get(slow.turns[index] as number) ?? 0) + 1);
      });
      expect(Math.max(...groups.values())).toBeGreaterThanOrEqual(MAX_BATCHES_AHEAD >> 1);
      expect(groups.size).toBeLessThan(fast / 2);
    } finally {
      await client.close();
    }
  });
});

describe('prefetch: the event loop turns once per batch (fake servers)', () => {
  it('tryNext leaves the value after a half-done batch to next() while a refill is on its way; the order is kept', async () => {
    const { client } = fakeClient(1, { prefetch: 10 });
    const values: bigint[] = [];
    const viaNext: bigint[] = [];
    for (let i = 0; i < 40; i++) {
      let value = client.tryNext('orders');
      if (value === undefined) {
        value = await client.next('orders');
        viaNext.push(value);
      }
      values.push(value);
    }
    expect(values).toEqual(Array.from({ length: 40 }, (_, i) => BigInt(i + 1)));
    // 1: nothing fetched yet; then the value after the 5th of each batch of 10 (a refill is then on its way).
    expect(viaNext).toEqual([1n, 6n, 16n, 26n, 36n]);
    await client.close();
  });

  it('a caller that only uses tryNext gets values again once the event loop has turned', async () => {
    const { client } = fakeClient(1, { prefetch: 10 });
    expect(await client.next('orders')).toBe(1n);
    for (let i = 2; i <= 5; i++) expect(client.tryNext('orders')).toBe(BigInt(i));
    expect(client.tryNext('orders')).toBeUndefined(); // the turn is owed
    await new Promise((resolve) => setImmediate(resolve));
    const values: bigint[] = [];
    for (let i = 0; i < 30; i++) {
      values.push(client.tryNext('orders') ?? -1n);
      await new Promise((resolve) => setImmediate(resolve)); // the caller's own turns (say, one request each)
    }
    expect(values).toEqual(Array.from({ length: 30 }, (_, i) => BigInt(i + 6)));
    await client.close();
  });

  it('a close() during that turn fails the call with EUNAVAILABLE', async () => {
    const { client } = fakeClient(1, { prefetch: 10 });
    expect(await client.next('orders')).toBe(1n);
    for (let i = 2; i <= 5; i++) expect(client.tryNext('orders')).toBe(BigInt(i));
    expect(client.tryNext('orders')).toBeUndefined();
    const pending = client.next('orders'); // the turn after the batch is half done
    await client.close();
    expect((await errorOf(pending)).code).toBe('EUNAVAILABLE');
  });

  it('a batch that arrives just as close() is called hands out nothing', async () => {
    const { client, servers } = fakeClient(1, { prefetch: 10 });
    // The reply is on its way through the pool when close() runs.
    servers[0]!.override = () => {
      queueMicrotask(() => void client.close());
      return undefined;
    };
    expect((await errorOf(client.next('orders'))).code).toBe('EUNAVAILABLE');
  });
});

describe('close() (fake servers)', () => {
  it('fails later calls with EUNAVAILABLE, in both forms', async () => {
    const { client, servers } = fakeClient(2);
    await client.next('orders');
    await client.close();
    expect(servers.every((server) => server.closed)).toBe(true);
    expect((await errorOf(client.next('orders'))).code).toBe('EUNAVAILABLE');
    expect((await errorOf(client.next('orders', { count: 2 }))).code).toBe('EUNAVAILABLE');
    const error = await new Promise<Error | null>((resolve) => client.next('orders', (e) => resolve(e)));
    expect((error as Error & { code?: string }).code).toBe('EUNAVAILABLE');
  });

  // A closed client fails every call alike, prefetched values or not.
  it('fails later calls with EUNAVAILABLE also when values were prefetched', async () => {
    const { client } = fakeClient(1, { prefetch: 10 });
    await client.next('orders');
    await client.close();
    expect((await errorOf(client.next('orders'))).code).toBe('EUNAVAILABLE');
  });

  it('is idempotent', async () => {
    const { client } = fakeClient();
    await client.close();
    await expect(client.close()).resolves.toBeUndefined();
  });
});

describe('against real servers (memory store)', () => {
  let single: ServerProcess;
  let odd: ServerProcess;
  let even: ServerProcess;

  beforeAll(async () => {
    [single, odd, even] = await Promise.all([
      startServer(['--store', 'memory:']),
      startServer(['--store', 'memory:', '--instances', '2', '--instance', '1']),
      startServer(['--store', 'memory:', '--instances', '2', '--instance', '2']),
    ]);
  });

  afterAll(async () => {
    await stopAllServers();
  });

  it('issues values in the promise, callback and {count} forms', async () => {
    const client = createClient([single.endpoint]);
    try {
      expect(await client.next('real-forms')).toBe(1n);
      const viaCallback = await new Promise<bigint | undefined>((resolve, reject) =>
        client.next('real-forms', (error, value) => (error ? reject(error) : resolve(value))),
      );
      expect(viaCallback).toBe(2n);
      expect(await client.next('real-forms', { count: 3 })).toEqual([3n, 4n, 5n]);
    } finally {
      await client.close();
    }
  });

  it.each([
    ['an empty name', ''],
    ['a name of 129 bytes', 'x'.repeat(129)],
    ['a name with a control character', 'a\nb'],
  ])('answers %s with an Error whose code is EBADNAME', async (_label, name) => {
    const client = createClient([single.endpoint]);
    try {
      const error = await errorOf(client.next(name));
      expect(error.code).toBe('EBADNAME');
      // A bad name is the request's fault, not the server's: it stays up.
      expect(client.stats()[0]?.up).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('fails next() after close() with EUNAVAILABLE', async () => {
    const client = createClient([single.endpoint]);
    expect(await client.next('real-close')).toBe(1n);
    await client.close();
    expect((await errorOf(client.next('real-close'))).code).toBe('EUNAVAILABLE');
  });

  it('sends last, so a server that fell behind jumps ahead and the values of two servers stay close', async () => {
    const name = 'real-drift';
    const drift = 20n; // default: 10 × instances
    // The odd server runs ahead: 1, 3, …, 99. The even one has issued nothing.
    await nextValues(odd.endpoint, name, 50);
    const client = createClient([odd.endpoint, even.endpoint]);
    try {
      const values: bigint[] = [];
      for (let i = 0; i < 40; i++) values.push(await client.next(name));
      const fromEven = values.filter((v) => v % 2n === 0n);
      const fromOdd = values.filter((v) => v % 2n === 1n);
      expect(fromEven.length).toBeGreaterThan(0);
      expect(fromOdd.length).toBeGreaterThan(0);
      // Without last the even server would start at 2; with it, it jumped past what the client had seen.
      expect(fromEven[0]).toBeGreaterThan(99n - drift);
      expect(new Set(values).size).toBe(values.length);
      let maxStep = 0n;
      for (let i = 1; i < values.length; i++) {
        const step = (values[i] as bigint) - (values[i - 1] as bigint);
        const abs = step < 0n ? -step : step;
        if (abs > maxStep) maxStep = abs;
      }
      expect(maxStep).toBeLessThan(3n * drift);
    } finally {
      await client.close();
    }
  });

  it('with sendLast: false a lagging server does not catch up', async () => {
    const name = 'real-no-last';
    await nextValues(odd.endpoint, name, 50);
    const client = createClient([odd.endpoint, even.endpoint], { sendLast: false });
    try {
      const values: bigint[] = [];
      for (let i = 0; i < 4; i++) values.push(await client.next(name));
      expect(values.filter((v) => v % 2n === 0n)).toEqual([2n, 4n]);
    } finally {
      await client.close();
    }
  });

  it('prefetch: 100 fetches whole blocks of 100 and hands out increasing unique values', async () => {
    const name = 'real-prefetch';
    const client = createClient([single.endpoint], { prefetch: 100 });
    try {
      const handed: bigint[] = [await client.next(name)];
      expect(handed[0]).toBe(1n);
      // Another caller of the server lands just past a whole number of blocks of 100.
      const outside = await nextValue(single.endpoint, name);
      expect(outside).toBeGreaterThan(100n);
      expect((outside - 1n) % 100n).toBe(0n);
      for (let i = 0; i < 250; i++) handed.push(await client.next(name));
      expect(isIncreasing(handed)).toBe(true);
      expect(handed).not.toContain(outside);
      // Handed out gap-free except for the one value the other caller took between two blocks.
      const steps = handed.slice(1).map((v, i) => v - (handed[i] as bigint));
      expect(steps.filter((step) => step !== 1n)).toEqual(handed.includes(outside - 1n) ? [2n] : []);
      const requests = client.stats()[0]?.requests ?? 0;
      expect(requests).toBeLessThanOrEqual(Math.ceil(251 / 100) + 3);
    } finally {
      await client.close();
    }
  });
});
