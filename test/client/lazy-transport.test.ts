/**
 * LazyTransport: the stand-in that loads a transport's module on first use
 * (zeromq's native addon for tcp://). Requests made while it loads wait for
 * it within their timeout; closing during the load closes what was loaded;
 * a module that cannot load is EUNAVAILABLE, so the pool tries another server.
 */
import { describe, expect, it } from 'vitest';
import { TicketError } from '../../src/core/errors.js';
import { LazyTransport } from '../../src/client/lazy-transport.js';
import { defaultConnect } from '../../src/client/pool.js';
import type { TicketRequest, Transport } from '../../src/client/transport.js';
import { expectCode } from '../helpers/ticket-errors.js';

const REQUEST: TicketRequest = { name: 'orders', count: undefined, last: undefined };

/** A transport that answers 7n and records the timeouts it was given. */
class Answering implements Transport {
  readonly timeouts: number[] = [];
  closed = false;
  constructor(readonly uri: string) {}
  request(_request: TicketRequest, timeoutMs: number): Promise<bigint> {
    this.timeouts.push(timeoutMs);
    if (this.closed) return Promise.reject(new TicketError('EUNAVAILABLE', 'client is closed'));
    return Promise.resolve(7n);
  }
  close(): void {
    this.closed = true;
  }
}

/** A loader the test finishes by hand. */
function gate(): { load: (uri: string) => Promise<Transport>; finish: () => Answering; fail: (error: Error) => void; calls: () => number } {
  let resolve: ((transport: Transport) => void) | undefined;
  let reject: ((error: Error) => void) | undefined;
  let calls = 0;
  let made: Answering | undefined;
  return {
    load: (uri) => {
      calls++;
      made = new Answering(uri);
      return new Promise<Transport>((res, rej) => {
        resolve = res;
        reject = rej;
      });
    },
    finish: () => {
      resolve?.(made as Answering);
      return made as Answering;
    },
    fail: (error) => reject?.(error),
    calls: () => calls,
  };
}

describe('LazyTransport', () => {
  it('loads once, at creation, and sends requests made while loading once loaded', async () => {
    const loader = gate();
    const transport = new LazyTransport('tcp://127.0.0.1:1', loader.load);
    expect(loader.calls()).toBe(1);
    const pending = [transport.request(REQUEST, 5_000), transport.request(REQUEST, 5_000)];
    const inner = loader.finish();
    await expect(Promise.all(pending)).resolves.toEqual([7n, 7n]);
    await expect(transport.request(REQUEST, 1_000)).resolves.toBe(7n);
    expect(loader.calls()).toBe(1);
    // The wait for the load counts against the request's timeout; afterwards requests go straight through.
    expect(inner.timeouts.slice(0, 2).every((ms) => ms >= 1 && ms <= 5_000)).toBe(true);
    expect(inner.timeouts[2]).toBe(1_000);
    transport.close();
    expect(inner.closed).toBe(true);
  });

  it('times a request out with ETIMEOUT when the load takes longer than its timeout', async () => {
    const loader = gate();
    const transport = new LazyTransport('tcp://127.0.0.1:1', loader.load);
    await expectCode(() => transport.request(REQUEST, 20), 'ETIMEOUT');
    loader.finish();
    await expect(transport.request(REQUEST, 1_000)).resolves.toBe(7n);
    transport.close();
  });

  it('fails requests with EUNAVAILABLE, keeping the cause, when the module cannot load', async () => {
    const loader = gate();
    const transport = new LazyTransport('tcp://127.0.0.1:1', loader.load);
    const pending = transport.request(REQUEST, 5_000);
    loader.fail(new Error('cannot find the native addon'));
    const error = await pending.then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(TicketError);
    expect((error as TicketError).code).toBe('EUNAVAILABLE');
    expect(((error as TicketError).cause as Error).message).toBe('cannot find the native addon');
    await expectCode(() => transport.request(REQUEST, 1_000), 'EUNAVAILABLE');
    transport.close();
  });

  it('closes the transport that finishes loading after close(), and fails the requests that waited', async () => {
    const loader = gate();
    const transport = new LazyTransport('tcp://127.0.0.1:1', loader.load);
    const pending = transport.request(REQUEST, 5_000);
    transport.close();
    const inner = loader.finish();
    await expectCode(() => pending, 'EUNAVAILABLE');
    expect(inner.closed).toBe(true);
    await expectCode(() => transport.request(REQUEST, 1_000), 'EUNAVAILABLE');
  });

  it('is what defaultConnect gives for tcp://, with the URI it was given', () => {
    const transport = defaultConnect('tcp://127.0.0.1:6410');
    expect(transport).toBeInstanceOf(LazyTransport);
    expect(transport.uri).toBe('tcp://127.0.0.1:6410');
    transport.close();
  });
});
