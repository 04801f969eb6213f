import { describe, expect, it } from 'vitest';
import { TicketError } from '../../src/core/errors.js';
import type { TicketRequest, Transport } from '../../src/client/transport.js';
import { ProxySource } from '../../src/proxy/proxy-source.js';

/** An upstream that records requests and answers them from a counter when told to. */
class FakeUpstream implements Transport {
  readonly uri = 'tcp://fake:1';
  readonly requests: TicketRequest[] = [];
  private counter = 0n;
  private readonly held: Array<() => void> = [];
  failWith: TicketError | undefined;

  request(request: TicketRequest): Promise<bigint | bigint[]> {
    this.requests.push(request);
    return new Promise((resolve, reject) => {
      this.held.push(() => {
        if (this.failWith) return reject(this.failWith);
        if (request.count === undefined) return resolve(++this.counter);
        resolve(Array.from({ length: request.count }, () => ++this.counter));
      });
    });
  }

  /** Answers every request received so far. */
  answerAll(): void {
    for (const answer of this.held.splice(0)) answer();
  }

  close(): void {}
}

function proxyOver(upstream: FakeUpstream): ProxySource {
  return new ProxySource(['tcp://fake:1'], { connect: () => upstream });
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ProxySource', () => {
  it('never forwards last', async () => {
    const upstream = new FakeUpstream();
    const proxy = proxyOver(upstream);
    const single = proxy.nextValue('a', 1_000_000n);
    const counted = proxy.next('a', 2, 1_000_000n);
    upstream.answerAll();
    await Promise.all([single, counted]);
    expect(upstream.requests.map((request) => request.last)).toEqual([undefined, undefined]);
  });

  it('forwards last when told to (a leader-mode follower), the highest of a gathered batch', async () => {
    const upstream = new FakeUpstream();
    const proxy = new ProxySource(['tcp://fake:1'], { connect: () => upstream, forwardLast: true });
    const first = proxy.nextValue('a', 10n);
    const gathered = [proxy.nextValue('a', 50n), proxy.nextValue('a', 70n), proxy.nextValue('a')];
    const counted = proxy.next('a', 2, 99n);
    upstream.answerAll();
    await first;
    await turn();
    upstream.answerAll();
    await Promise.all([...gathered, counted]);
    expect(upstream.requests.map((request) => [request.count, request.last])).toEqual([
      [undefined, 10n],
      [2, 99n],
      [3, 70n],
    ]);
  });

  it('sends a lone request at once, without waiting for the end of the turn', () => {
    const upstream = new FakeUpstream();
    void proxyOver(upstream).nextValue('a');
    expect(upstream.requests).toEqual([{ name: 'a', count: undefined, last: undefined }]);
  });

  it('gathers requests that arrive while one is in flight into one counted request, answered in order', async () => {
    const upstream = new FakeUpstream();
    const proxy = proxyOver(upstream);
    const results = Array.from({ length: 10 }, () => proxy.nextValue('a'));
    await turn();
    expect(upstream.requests.map((request) => request.count)).toEqual([undefined, 9]);
    upstream.answerAll();
    expect(await Promise.all(results)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n]);
  });

  it('keeps sequences apart', async () => {
    const upstream = new FakeUpstream();
    const proxy = proxyOver(upstream);
    const results = [proxy.nextValue('a'), proxy.nextValue('b'), proxy.nextValue('a'), proxy.nextValue('b')];
    await turn();
    expect(upstream.requests.map((request) => [request.name, request.count])).toEqual([
      ['a', undefined],
      ['b', undefined],
      ['a', undefined],
      ['b', undefined],
    ]);
    upstream.answerAll();
    expect(await Promise.all(results)).toEqual([1n, 2n, 3n, 4n]);
  });

  it('fails every request of a batch with the upstream error', async () => {
    const upstream = new FakeUpstream();
    upstream.failWith = new TicketError('EUNAVAILABLE');
    const proxy = proxyOver(upstream);
    const results = Array.from({ length: 3 }, () => proxy.nextValue('a').catch((error: TicketError) => error.code));
    await turn();
    upstream.answerAll();
    expect(await Promise.all(results)).toEqual(['EUNAVAILABLE', 'EUNAVAILABLE', 'EUNAVAILABLE']);
  });

  it('asks a batch that got EXHAUSTED again one by one (the values left still reach the first callers)', async () => {
    const upstream = new FakeUpstream();
    upstream.failWith = new TicketError('EXHAUSTED');
    const proxy = proxyOver(upstream);
    const results = Array.from({ length: 3 }, () => proxy.nextValue('a').catch((error: TicketError) => error.code));
    await turn();
    upstream.answerAll(); // the lone first request and the batch of two fail
    await turn();
    expect(upstream.requests.map((request) => request.count)).toEqual([undefined, 2, undefined, undefined]);
    upstream.answerAll();
    expect(await Promise.all(results)).toEqual(['EXHAUSTED', 'EXHAUSTED', 'EXHAUSTED']);
  });

  it('fails a batch whose reply has the wrong number of values (EINTERNAL), and a single request answered with a list', async () => {
    const replies: Array<bigint | bigint[]> = [[1n, 2n], [3n]];
    const upstream: Transport = { uri: 'tcp://fake:1', request: () => Promise.resolve(replies.shift() as bigint | bigint[]), close: () => undefined };
    const proxy = new ProxySource(['tcp://fake:1'], { connect: () => upstream, downAfter: 1000 });
    const lone = proxy.nextValue('a').catch((error: TicketError) => error.code);
    const batch = [proxy.nextValue('a'), proxy.nextValue('a')].map((value) => value.catch((error: TicketError) => error.code));
    expect(await lone).toBe('EINTERNAL');
    expect(await Promise.all(batch)).toEqual(['EINTERNAL', 'EINTERNAL']);
  });

  it('refuses a bad name itself, before any upstream request', () => {
    const upstream = new FakeUpstream();
    expect(() => proxyOver(upstream).nextValue('')).toThrow(TicketError);
    expect(upstream.requests).toEqual([]);
  });
});
