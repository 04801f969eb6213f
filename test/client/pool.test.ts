/**
 * UpstreamPool (SPEC §8, §9): round-robin over healthy servers, failover on
 * errors another server may fix, no retry on errors of the request itself,
 * marking servers down and back up, and closing.
 *
 * Every transport here is a fake injected through `connect`, and the clock is
 * injected through `now`, so nothing touches the network or real time.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TicketError, type ErrorCode } from '../../src/core/errors.js';
import { MAX_SERVERS, UpstreamPool, defaultConnect, type PoolOptions } from '../../src/client/pool.js';
import type { TicketRequest, Transport } from '../../src/client/transport.js';

/** What a fake server does with one request: answer a value, or fail with a code (or a foreign error). */
type Outcome = bigint | ErrorCode | 'FOREIGN' | 'HANG';

/** A transport whose answers are scripted; records every request and the timeout it got. */
class FakeTransport implements Transport {
  readonly uri: string;
  readonly requests: Array<{ request: TicketRequest; timeoutMs: number }> = [];
  closed = false;
  /** Decides the outcome of each request; default: answers 1n. */
  behave: (request: TicketRequest) => Outcome = () => 1n;
  private readonly hanging = new Set<(error: unknown) => void>();

  constructor(uri: string) {
    this.uri = uri;
  }

  get calls(): number {
    return this.requests.length;
  }

  request(request: TicketRequest, timeoutMs: number): Promise<bigint | bigint[]> {
    this.requests.push({ request, timeoutMs });
    if (this.closed) return Promise.reject(new TicketError('EUNAVAILABLE', 'client is closed'));
    const outcome = this.behave(request);
    if (outcome === 'HANG') return new Promise((_resolve, reject) => this.hanging.add(reject));
    if (outcome === 'FOREIGN') return Promise.reject(new Error('socket exploded'));
    if (typeof outcome === 'bigint') {
      return Promise.resolve(request.count === undefined ? outcome : Array.from({ length: request.count }, (_, i) => outcome + BigInt(i)));
    }
    return Promise.reject(new TicketError(outcome, `${this.uri} says ${outcome}`));
  }

  close(): void {
    this.closed = true;
    for (const reject of this.hanging) reject(new TicketError('EUNAVAILABLE', 'client is closed'));
    this.hanging.clear();
  }
}

interface Harness {
  pool: UpstreamPool;
  servers: FakeTransport[];
  clock: { now: number };
  events: Array<{ uri: string; state: 'down' | 'up'; error: unknown }>;
}

/** A pool over `count` fake servers `tcp://fake-N:6410`, with a manual clock starting at 1,000,000 ms. */
function harness(count: number, options: Omit<PoolOptions, 'connect' | 'now' | 'onStateChange'> = {}): Harness {
  const servers: FakeTransport[] = [];
  const clock = { now: 1_000_000 };
  const events: Harness['events'] = [];
  const uris = Array.from({ length: count }, (_, index) => `tcp://fake-${index}:6410`);
  const pool = new UpstreamPool(uris, {
    ...options,
    now: () => clock.now,
    connect: (uri) => {
      const server = new FakeTransport(uri);
      servers.push(server);
      return server;
    },
    onStateChange: (uri, state, error) => events.push({ uri, state, error }),
  });
  return { pool, servers, clock, events };
}

const ONE: TicketRequest = { name: 'orders', count: undefined, last: undefined };

/** Runs one request and returns the error's code (or fails the test when it succeeds). */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TicketError);
    return (error as TicketError).code;
  }
  throw new Error('expected the request to fail');
}

/** Which server answered each of `n` sequential requests, each server answering its own index. */
async function answeredBy(h: Harness, n: number): Promise<number[]> {
  h.servers.forEach((server, index) => {
    const previous = server.behave;
    server.behave = (request) => {
      const outcome = previous(request);
      return typeof outcome === 'bigint' ? BigInt(index) : outcome;
    };
  });
  const result: number[] = [];
  for (let i = 0; i < n; i++) result.push(Number(await h.pool.request(ONE)));
  return result;
}

const RETRYABLE: ErrorCode[] = ['ETIMEOUT', 'EUNAVAILABLE', 'EXHAUSTED'];
const FINAL: ErrorCode[] = ['EBADNAME', 'EJUMP', 'ENOSEQ', 'ELIMIT', 'EBADREQ'];

describe('spreading load', () => {
  it('sends requests round-robin over healthy servers', async () => {
    const h = harness(3);
    expect(await answeredBy(h, 7)).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect(h.servers.map((server) => server.calls)).toEqual([3, 2, 2]);
  });

  it('passes the request (name, count, last) and the configured timeout to the transport unchanged', async () => {
    const h = harness(1, { timeout: 1234 });
    const request: TicketRequest = { name: 'invoices', count: 3, last: 99n };
    expect(await h.pool.request(request)).toEqual([1n, 2n, 3n]);
    expect(h.servers[0]?.requests).toEqual([{ request, timeoutMs: 1234 }]);
  });

  it('uses a 1000 ms timeout per server by default (SPEC §8)', async () => {
    const h = harness(1);
    await h.pool.request(ONE);
    expect(h.servers[0]?.requests[0]?.timeoutMs).toBe(1000);
  });

  it('reports per-server counters in stats()', async () => {
    const h = harness(2);
    h.servers[1]!.behave = () => 'ETIMEOUT';
    for (let i = 0; i < 4; i++) await h.pool.request(ONE);
    const stats = h.pool.stats();
    expect(stats.map((s) => s.uri)).toEqual(['tcp://fake-0:6410', 'tcp://fake-1:6410']);
    expect(stats[0]).toMatchObject({ up: true, failures: 0 });
    expect(stats[1]).toMatchObject({ up: false, failures: 2 });
    expect(stats[0]!.requests).toBe(h.servers[0]!.calls);
    expect(stats[1]!.requests).toBe(h.servers[1]!.calls);
  });
});

describe('failover', () => {
  it.each(RETRYABLE)('tries the next server when one answers %s', async (code) => {
    const h = harness(3);
    h.servers[0]!.behave = () => code;
    h.servers[1]!.behave = () => 42n;
    expect(await h.pool.request(ONE)).toBe(42n);
    expect(h.servers.map((server) => server.calls)).toEqual([1, 1, 0]);
  });

  it('tries the next server when a transport throws something that is not a TicketError', async () => {
    const h = harness(2);
    h.servers[0]!.behave = () => 'FOREIGN';
    h.servers[1]!.behave = () => 7n;
    expect(await h.pool.request(ONE)).toBe(7n);
  });

  it.each(FINAL)('throws %s at once: no other server is tried and the server is not marked down', async (code) => {
    const h = harness(3, { downAfter: 1 });
    h.servers[0]!.behave = () => code;
    const error = await h.pool.request(ONE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(TicketError);
    expect((error as TicketError).code).toBe(code);
    expect(h.servers.map((server) => server.calls)).toEqual([1, 0, 0]);
    expect(h.pool.stats()[0]).toMatchObject({ up: true, failures: 0 });
    expect(h.events).toEqual([]);
  });

  it('counts an answered error (e.g. EBADNAME) as a sign of life: it resets the consecutive-failure count', async () => {
    const h = harness(1, { downAfter: 2 });
    const script: Outcome[] = ['ETIMEOUT', 'EBADNAME', 'ETIMEOUT', 5n];
    h.servers[0]!.behave = () => script.shift() ?? 1n;
    await codeOf(h.pool.request(ONE));
    await codeOf(h.pool.request(ONE));
    await codeOf(h.pool.request(ONE));
    expect(h.pool.stats()[0]?.up).toBe(true); // 1 consecutive failure, not 2
    expect(h.events).toEqual([]);
  });

  it('answers ETIMEOUT when every server timed out, after trying each exactly once', async () => {
    const h = harness(4);
    for (const server of h.servers) server.behave = () => 'ETIMEOUT';
    expect(await codeOf(h.pool.request(ONE))).toBe('ETIMEOUT');
    expect(h.servers.map((server) => server.calls)).toEqual([1, 1, 1, 1]);
  });

  it('answers EINTERNAL when every server failed with a foreign error', async () => {
    const h = harness(2);
    for (const server of h.servers) server.behave = () => 'FOREIGN';
    expect(await codeOf(h.pool.request(ONE))).toBe('EINTERNAL');
  });

  it("answers the server's error when every server failed and one of them answered EUNAVAILABLE, whichever position it had", async () => {
    const h = harness(3, { downAfter: 100 });
    h.servers[0]!.behave = () => 'ETIMEOUT';
    h.servers[1]!.behave = () => 'EUNAVAILABLE';
    h.servers[2]!.behave = () => 'ETIMEOUT';
    // Three requests start at three different servers (round-robin), so EUNAVAILABLE is first, middle and last once.
    for (let i = 0; i < 3; i++) expect(await codeOf(h.pool.request(ONE))).toBe('EUNAVAILABLE');
  });

  it('answers EXHAUSTED when the only server that answered said EXHAUSTED', async () => {
    const h = harness(2);
    h.servers[0]!.behave = () => 'EXHAUSTED';
    h.servers[1]!.behave = () => 'ETIMEOUT';
    expect(await codeOf(h.pool.request(ONE))).toBe('EXHAUSTED');
  });

  it('answers the last answered error when several servers answered with errors', async () => {
    const h = harness(2, { downAfter: 100 });
    h.servers[0]!.behave = () => 'EUNAVAILABLE';
    h.servers[1]!.behave = () => 'EXHAUSTED';
    expect(await codeOf(h.pool.request(ONE))).toBe('EXHAUSTED'); // order 0, 1
    expect(await codeOf(h.pool.request(ONE))).toBe('EUNAVAILABLE'); // order 1, 0
  });

  it('tries each server at most once per request, and tries all before giving up on a retryable error (property)', async () => {
    const outcomeArb = fc.oneof(
      fc.constant<Outcome>(10n),
      fc.constantFrom<Outcome>('ETIMEOUT', 'EUNAVAILABLE', 'EXHAUSTED', 'FOREIGN', 'EBADNAME', 'EJUMP'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.array(outcomeArb, { minLength: 6, maxLength: 6 }), { minLength: 20, maxLength: 20 }),
        fc.nat({ max: 5000 }),
        async (count, downAfter, requests, script, tick) => {
          const h = harness(count, { downAfter, probeInterval: 1000 });
          let current = 0;
          h.servers.forEach((server, index) => {
            server.behave = () => script[current]![index]!;
          });
          for (current = 0; current < requests; current++) {
            const before = h.servers.map((server) => server.calls);
            let result: unknown;
            let error: TicketError | undefined;
            try {
              result = await h.pool.request(ONE);
            } catch (e) {
              error = e as TicketError;
            }
            const called = h.servers.map((server, index) => server.calls - before[index]!);
            expect(called.every((n) => n === 0 || n === 1)).toBe(true);
            expect(called.some((n) => n === 1)).toBe(true);
            if (error === undefined) {
              expect(result).toBe(10n);
            } else if (['ETIMEOUT', 'EUNAVAILABLE', 'EXHAUSTED', 'EINTERNAL'].includes(error.code)) {
              // Gave up on a retryable error: only after every server was tried, and none of them had a value.
              expect(called.every((n) => n === 1)).toBe(true);
              const all = script[current]!.slice(0, count);
              expect(all.some((o) => typeof o === 'bigint' || o === 'EBADNAME' || o === 'EJUMP')).toBe(false);
              if (all.every((o) => o === 'ETIMEOUT')) {
                expect(error.code).toBe('ETIMEOUT');
              } else {
                // Some server answered: its error wins over silence.
                const answered = all.map((o) => (o === 'FOREIGN' ? 'EINTERNAL' : o)).filter((o) => o !== 'ETIMEOUT');
                expect(answered).toContain(error.code);
              }
            } else {
              expect(['EBADNAME', 'EJUMP']).toContain(error.code);
            }
            h.clock.now += tick;
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('marking servers down and probing them', () => {
  it('marks a server down after downAfter consecutive failures, reports it once, and then skips it', async () => {
    const h = harness(2, { downAfter: 2, probeInterval: 1000 });
    h.servers[0]!.behave = () => 'ETIMEOUT';
    // Requests alternate starting points: server 0 is tried on the 1st and 3rd (and then skipped).
    for (let i = 0; i < 3; i++) expect(await h.pool.request(ONE)).toBe(1n);
    expect(h.servers[0]!.calls).toBe(2);
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({ uri: 'tcp://fake-0:6410', state: 'down' });
    expect((h.events[0]?.error as TicketError).code).toBe('ETIMEOUT');
    expect(h.pool.stats()[0]?.up).toBe(false);

    h.clock.now += 999; // not yet due a probe
    for (let i = 0; i < 10; i++) expect(await h.pool.request(ONE)).toBe(1n);
    expect(h.servers[0]!.calls).toBe(2);
    expect(h.events).toHaveLength(1);
  });

  it('does not report down again for further failures of a server already down', async () => {
    const h = harness(1, { downAfter: 2 });
    h.servers[0]!.behave = () => 'ETIMEOUT';
    for (let i = 0; i < 6; i++) await codeOf(h.pool.request(ONE));
    expect(h.events.map((e) => e.state)).toEqual(['down']);
  });

  it('still tries a down server as a last resort when every healthy server fails, and reports it up when it answers', async () => {
    const h = harness(2, { downAfter: 1, probeInterval: 60_000 });
    h.servers[0]!.behave = () => 'ETIMEOUT';
    await h.pool.request(ONE); // server 0 down
    expect(h.events.map((e) => e.state)).toEqual(['down']);
    h.servers[0]!.behave = () => 9n;
    h.servers[1]!.behave = () => 'ETIMEOUT';
    expect(await h.pool.request(ONE)).toBe(9n);
    expect(h.events.map((e) => [e.uri, e.state])).toEqual([
      ['tcp://fake-0:6410', 'down'],
      ['tcp://fake-1:6410', 'down'],
      ['tcp://fake-0:6410', 'up'],
    ]);
    expect(h.pool.stats()[0]?.up).toBe(true);
  });

  it('probes a down server once probeInterval has passed when it is the only server, and reports up', async () => {
    const h = harness(1, { downAfter: 2, probeInterval: 1000 });
    h.servers[0]!.behave = () => 'ETIMEOUT';
    await codeOf(h.pool.request(ONE));
    await codeOf(h.pool.request(ONE));
    expect(h.events.map((e) => e.state)).toEqual(['down']);
    h.servers[0]!.behave = () => 3n;
    h.clock.now += 1000;
    expect(await h.pool.request(ONE)).toBe(3n);
    expect(h.events.map((e) => e.state)).toEqual(['down', 'up']);
    expect(h.pool.stats()[0]?.up).toBe(true);
  });

  it('puts a server that came back up into the round-robin again', async () => {
    const h = harness(2, { downAfter: 2, probeInterval: 1000 });
    h.servers[0]!.behave = () => 'ETIMEOUT';
    for (let i = 0; i < 3; i++) await h.pool.request(ONE);
    expect(h.pool.stats()[0]?.up).toBe(false);
    // Server 0 recovers and answers through the last-resort path (server 1 fails once, not enough to be down).
    h.servers[0]!.behave = () => 1n;
    const script: Outcome[] = ['ETIMEOUT'];
    h.servers[1]!.behave = () => script.shift() ?? 1n;
    await h.pool.request(ONE);
    expect(h.pool.stats().map((s) => s.up)).toEqual([true, true]);
    const answered = await answeredBy(h, 4);
    expect(new Set(answered)).toEqual(new Set([0, 1]));
  });

  // A recovered server must get load again while others are healthy.
  it('probes a down server once probeInterval has passed even while another server is healthy', async () => {
    const h = harness(2, { downAfter: 2, probeInterval: 1000 });
    h.servers[0]!.behave = () => 'ETIMEOUT';
    for (let i = 0; i < 3; i++) await h.pool.request(ONE);
    expect(h.pool.stats()[0]?.up).toBe(false);
    const callsWhenDown = h.servers[0]!.calls;
    h.servers[0]!.behave = () => 1n; // it has recovered
    h.clock.now += 1000;
    for (let i = 0; i < 4; i++) await h.pool.request(ONE);
    expect(h.servers[0]!.calls).toBeGreaterThan(callsWhenDown); // src: stays equal, it is never tried again
    expect(h.events.map((e) => e.state)).toEqual(['down', 'up']);
  });

  it('tries a down server at most once per request even when it is due a probe', async () => {
    const h = harness(3, { downAfter: 1, probeInterval: 10 });
    for (const server of h.servers) server.behave = () => 'ETIMEOUT';
    for (let i = 0; i < 5; i++) {
      const before = h.servers.map((server) => server.calls);
      expect(await codeOf(h.pool.request(ONE))).toBe('ETIMEOUT');
      expect(h.servers.map((server, index) => server.calls - before[index]!)).toEqual([1, 1, 1]);
      h.clock.now += 25;
    }
  });
});

describe('constructor checks', () => {
  const fake = (uri: string): Transport => new FakeTransport(uri);

  it('refuses an empty server list', () => {
    expect(() => new UpstreamPool([], { connect: fake })).toThrow(TypeError);
  });

  it(`accepts ${MAX_SERVERS} servers and refuses ${MAX_SERVERS + 1}`, () => {
    const uris = (n: number): string[] => Array.from({ length: n }, (_, i) => `tcp://127.0.0.1:${20000 + i}`);
    expect(() => new UpstreamPool(uris(MAX_SERVERS), { connect: fake })).not.toThrow();
    expect(() => new UpstreamPool(uris(MAX_SERVERS + 1), { connect: fake })).toThrow(TypeError);
    expect(MAX_SERVERS).toBe(64);
  });

  it.each([
    'udp://127.0.0.1:6410',
    'ftp://127.0.0.1:6410',
    'tcp://127.0.0.1',
    'tcp://127.0.0.1:6410/path',
    'tcp://:6410',
    '127.0.0.1:6410',
    '',
    'tcp://127.0.0.1:123456',
  ])('refuses the server URI %j with a TypeError that names it (default transports)', (uri) => {
    expect(() => new UpstreamPool([uri])).toThrow(TypeError);
    expect(() => defaultConnect(uri)).toThrow(uri === '' ? /unsupported server URI/ : uri);
  });

  it('refuses a URI that is not a string', () => {
    expect(() => new UpstreamPool([42 as unknown as string], { connect: fake })).toThrow(TypeError);
  });

  it('closes the transports it already opened when a later URI is refused', () => {
    const opened: FakeTransport[] = [];
    const connect = (uri: string): Transport => {
      if (uri.startsWith('bad')) throw new TypeError('bad uri');
      const transport = new FakeTransport(uri);
      opened.push(transport);
      return transport;
    };
    expect(() => new UpstreamPool(['tcp://a:1', 'tcp://b:2', 'bad://c'], { connect })).toThrow(TypeError);
    expect(opened).toHaveLength(2);
    expect(opened.every((transport) => transport.closed)).toBe(true);
  });

  it.each([
    ['timeout', 0],
    ['timeout', -1],
    ['timeout', 1.5],
    ['timeout', Number.NaN],
    ['timeout', 3_600_001],
    ['downAfter', 0],
    ['downAfter', 2.5],
    ['probeInterval', 0],
    ['probeInterval', Number.POSITIVE_INFINITY],
  ] as const)('refuses %s = %s with a TypeError', (option, value) => {
    expect(() => new UpstreamPool(['tcp://a:1'], { connect: fake, [option]: value })).toThrow(TypeError);
  });

  it('accepts the bounds of the option ranges', () => {
    expect(() => new UpstreamPool(['tcp://a:1'], { connect: fake, timeout: 1, downAfter: 1, probeInterval: 1 })).not.toThrow();
    expect(
      () => new UpstreamPool(['tcp://a:1'], { connect: fake, timeout: 3_600_000, downAfter: 3_600_000, probeInterval: 3_600_000 }),
    ).not.toThrow();
  });
});

describe('close()', () => {
  it('closes every transport and fails later requests with EUNAVAILABLE without calling any server', async () => {
    const h = harness(3);
    h.pool.close();
    expect(h.servers.every((server) => server.closed)).toBe(true);
    const error = await h.pool.request(ONE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TicketError);
    expect((error as TicketError).code).toBe('EUNAVAILABLE');
    expect(h.servers.map((server) => server.calls)).toEqual([0, 0, 0]);
  });

  it('is idempotent', () => {
    const h = harness(1);
    h.pool.close();
    expect(() => h.pool.close()).not.toThrow();
  });

  it('fails a request in flight with EUNAVAILABLE and does not move on to the next server', async () => {
    const h = harness(2);
    h.servers[0]!.behave = () => 'HANG';
    const pending = h.pool.request(ONE).catch((e: unknown) => e);
    await Promise.resolve();
    h.pool.close();
    const error = await pending;
    expect((error as TicketError).code).toBe('EUNAVAILABLE');
    expect(h.servers[1]!.calls).toBe(0);
  });
});
