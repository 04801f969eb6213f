/**
 * What the ZeroMQ transport does with a misbehaving server, against a real
 * zeromq ROUTER socket standing in for one: a reply frame larger than any
 * real reply drops the connection (the request times out) instead of being
 * read, and the next request is answered once the server behaves.
 */
import { Router } from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_REPLY_BYTES, ZmqTransport } from '../../src/client/zmq-transport.js';

const routers: Router[] = [];
const transports: ZmqTransport[] = [];

afterEach(() => {
  for (const transport of transports.splice(0)) transport.close();
  for (const router of routers.splice(0)) router.close();
});

/** A ROUTER that answers each request with `reply(body)`: the envelope echoed, then that frame. */
async function fakeServer(reply: (body: string) => Buffer): Promise<string> {
  const router = new Router({ linger: 0 });
  routers.push(router);
  await router.bind('tcp://127.0.0.1:*');
  void (async () => {
    try {
      for await (const frames of router) {
        const body = (frames.at(-1) as Buffer).toString('utf8');
        await router.send([...frames.slice(0, -1), reply(body)]);
      }
    } catch {
      // closed by the test
    }
  })();
  return router.lastEndpoint as string;
}

describe('ZeroMQ transport against a misbehaving server', () => {
  it('a reply frame larger than MAX_REPLY_BYTES is not taken: the request times out, the next one is answered', async () => {
    const endpoint = await fakeServer((body) => (body.includes('"huge"') ? Buffer.alloc(MAX_REPLY_BYTES + 1, 0x20) : Buffer.from('[null,"7"]')));
    const transport = new ZmqTransport(endpoint);
    transports.push(transport);
    expect(await transport.request({ name: 'small', count: undefined, last: undefined }, 5_000)).toBe(7n);
    const error = await transport.request({ name: 'huge', count: undefined, last: undefined }, 500).then(
      () => undefined,
      (failure: unknown) => failure as { code?: string },
    );
    expect(error?.code).toBe('ETIMEOUT');
    // ZeroMQ does not reconnect after such a protocol error by itself: the transport connects afresh (within
    // about 1.5 s); requests sent meanwhile fail fast.
    let answered: unknown;
    for (let attempt = 0; attempt < 50 && answered === undefined; attempt++) {
      answered = await transport.request({ name: 'small', count: undefined, last: undefined }, 1_000).catch(() => undefined);
      if (answered === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(answered).toBe(7n);
  });

  it('takes a reply of 1000 formatted tickets of the longest text, every character escaped', async () => {
    const ticket = '\u0001'.repeat(64); // JSON-escaped as \u0001: six bytes per character
    const list = Buffer.from(JSON.stringify([null, Array.from({ length: 1000 }, () => ticket)]));
    expect(list.length).toBeLessThanOrEqual(MAX_REPLY_BYTES);
    const endpoint = await fakeServer(() => list);
    const transport = new ZmqTransport(endpoint);
    transports.push(transport);
    // Control characters are not tickets: the reply is read (not dropped) and refused as malformed.
    const error = await transport.request({ name: 'long', count: 1000, last: undefined }, 5_000).then(
      () => undefined,
      (failure: unknown) => failure as { code?: string },
    );
    expect(error?.code).toBe('EINTERNAL');
  });
});
