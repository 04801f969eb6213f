/**
 * The ZeroMQ request/reply protocol (SPEC §6.1, §7, §2.5) against one real
 * server process on an LMDB data directory: both request forms, name rules,
 * and every malformed request — each of which must get its error code and
 * leave the sequence exactly where it was.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempDir, removeTempDirs, startServer, stopAllServers, type ServerProcess } from '../helpers/server-process.js';
import { Dealer } from 'zeromq';
import { nextValue, nextValues, request, requestFrames, requestTicket } from '../helpers/zmq-client.js';

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer([], { dataDir: await createTempDir() });
});

afterAll(async () => {
  await stopAllServers();
  await removeTempDirs();
});

/** Sequence names unique to each test, so tests never share a position. */
let nameCounter = 0;
function freshName(label: string): string {
  nameCounter++;
  return `${label}-${nameCounter}`;
}

function expectError(reply: unknown, code: string): void {
  expect(reply, `reply ${JSON.stringify(reply)}`).toEqual([code, expect.any(String)]);
  expect(((reply as unknown[])[1] as string).length).toBeGreaterThan(0);
}

describe('well-formed requests', () => {
  it('answers [name, "0"] with [null, "value"], the first value of a new sequence being 1', async () => {
    const name = freshName('single');
    expect(await requestTicket(server.endpoint, name)).toEqual([null, '1']);
    expect(await requestTicket(server.endpoint, name)).toEqual([null, '2']);
  });

  it('answers [name, "0", count] with an array of count consecutive values as strings', async () => {
    const name = freshName('count');
    const reply = await requestTicket(server.endpoint, name, '0', 5);
    expect(reply).toEqual([null, ['1', '2', '3', '4', '5']]);
  });

  it('answers a count of 1 with an array of one value', async () => {
    const name = freshName('count-one');
    expect(await requestTicket(server.endpoint, name, '0', 1)).toEqual([null, ['1']]);
  });

  it('answers a count of 1000 with 1000 increasing values', async () => {
    const name = freshName('count-max');
    const values = await nextValues(server.endpoint, name, 1000);
    expect(values).toHaveLength(1000);
    for (let index = 1; index < values.length; index++) {
      expect(values[index]).toBe((values[index - 1] as bigint) + 1n);
    }
  });

  it('accepts a count given as a decimal string', async () => {
    const name = freshName('count-string');
    expect(await request(server.endpoint, JSON.stringify([name, '0', '3']))).toEqual([null, ['1', '2', '3']]);
  });

  it('continues one sequence across single and count requests without a gap', async () => {
    const name = freshName('mixed');
    expect(await nextValue(server.endpoint, name)).toBe(1n);
    expect(await nextValues(server.endpoint, name, 3)).toEqual([2n, 3n, 4n]);
    expect(await nextValue(server.endpoint, name)).toBe(5n);
  });

  it('accepts a request of the name alone ([name]) as the single-value form', async () => {
    const name = freshName('name-only');
    expect(await request(server.endpoint, JSON.stringify([name]))).toEqual([null, '1']);
  });

  it('accepts a last value the server has already passed without moving the sequence', async () => {
    const name = freshName('last-behind');
    await nextValues(server.endpoint, name, 10);
    expect(await nextValue(server.endpoint, name, '3')).toBe(11n);
  });

  it('answers a DEALER client that sends the empty delimiter itself', async () => {
    const name = freshName('dealer');
    expect(await requestFrames(server.endpoint, [Buffer.alloc(0), Buffer.from(JSON.stringify([name, '0']))])).toEqual([null, '1']);
  });

  it('echoes extra envelope frames before the delimiter, as a REP socket does, so DEALER clients can match replies', async () => {
    const name = freshName('envelope');
    const socket = new Dealer({ receiveTimeout: 5_000, sendTimeout: 5_000, linger: 0 });
    try {
      socket.connect(server.endpoint);
      await socket.send([Buffer.from('request-7'), Buffer.alloc(0), Buffer.from(JSON.stringify([name, '0', 2]))]);
      const [id, delimiter, body] = await socket.receive();
      expect(id?.toString()).toBe('request-7');
      expect(delimiter?.length).toBe(0);
      expect(JSON.parse(body?.toString() ?? '')).toEqual([null, ['1', '2']]);
    } finally {
      socket.close();
    }
  });

  it('treats names as case-sensitive, independent sequences', async () => {
    const lower = freshName('orders');
    const upper = lower.toUpperCase();
    expect(await nextValues(server.endpoint, lower, 3)).toEqual([1n, 2n, 3n]);
    expect(await nextValue(server.endpoint, upper)).toBe(1n);
    expect(await nextValue(server.endpoint, lower)).toBe(4n);
    expect(await nextValue(server.endpoint, upper)).toBe(2n);
  });

  it('accepts a 128-byte name made of multi-byte UTF-8 characters', async () => {
    const name = 'é'.repeat(64); // 64 × 2 bytes
    expect(Buffer.byteLength(name)).toBe(128);
    expect(await requestTicket(server.endpoint, name)).toEqual([null, '1']);
  });

  it('accepts names with spaces, punctuation and non-Latin characters', async () => {
    const name = freshName('invoice 2024/Q1 — Größe ✓ 注文');
    expect(await requestTicket(server.endpoint, name)).toEqual([null, '1']);
  });
});

/** A malformed request and the error code it must get. */
interface BadRequest {
  readonly label: string;
  readonly code: 'EBADREQ' | 'EBADNAME';
  /** Body for the sequence under test (some ignore the name). */
  readonly body: (name: string) => string | Buffer | Buffer[];
}

const MAX_PLUS_ONE = ((1n << 63n) - 1n + 1n).toString();

const BAD_REQUESTS: BadRequest[] = [
  { label: 'bytes that are not JSON', code: 'EBADREQ', body: () => 'hello, ticket server' },
  { label: 'bytes that are not UTF-8 (0xff 0xfe)', code: 'EBADREQ', body: () => Buffer.from([0xff, 0xfe]) },
  {
    label: 'a JSON request whose name holds an invalid UTF-8 byte',
    code: 'EBADREQ',
    body: (name) => Buffer.concat([Buffer.from(`["${name}`), Buffer.from([0xc3]), Buffer.from('","0"]')]),
  },
  { label: 'an empty frame', code: 'EBADREQ', body: () => Buffer.alloc(0) },
  { label: 'a JSON object instead of an array', code: 'EBADREQ', body: (name) => JSON.stringify({ name, last: '0' }) },
  { label: 'a JSON string instead of an array', code: 'EBADREQ', body: (name) => JSON.stringify(name) },
  { label: 'a JSON number instead of an array', code: 'EBADREQ', body: () => '42' },
  { label: 'JSON null', code: 'EBADREQ', body: () => 'null' },
  { label: 'an empty array', code: 'EBADREQ', body: () => '[]' },
  // Four elements are [name, last, count, token]; the token must be a string (ignored by a server without tokens).
  { label: 'an array of four elements whose 4th is not a token', code: 'EBADREQ', body: (name) => JSON.stringify([name, '0', 1, 7]) },
  { label: 'an array of five elements', code: 'EBADREQ', body: (name) => JSON.stringify([name, '0', 1, 'token', 'extra']) },
  { label: 'a last that is not a number', code: 'EBADREQ', body: (name) => JSON.stringify([name, 'abc']) },
  { label: 'a negative last', code: 'EBADREQ', body: (name) => JSON.stringify([name, '-1']) },
  { label: 'a last with a fraction', code: 'EBADREQ', body: (name) => JSON.stringify([name, '1.5']) },
  { label: 'an empty last', code: 'EBADREQ', body: (name) => JSON.stringify([name, '']) },
  { label: 'a last of 2^63, one above the largest value', code: 'EBADREQ', body: (name) => JSON.stringify([name, MAX_PLUS_ONE]) },
  { label: 'a last of boolean type', code: 'EBADREQ', body: (name) => JSON.stringify([name, true]) },
  { label: 'a count of 0', code: 'EBADREQ', body: (name) => JSON.stringify([name, '0', 0]) },
  { label: 'a count of 1001', code: 'EBADREQ', body: (name) => JSON.stringify([name, '0', 1001]) },
  { label: 'a count of 2.5', code: 'EBADREQ', body: (name) => JSON.stringify([name, '0', 2.5]) },
  { label: 'a negative count', code: 'EBADREQ', body: (name) => JSON.stringify([name, '0', -3]) },
  { label: 'a count that is not a number', code: 'EBADREQ', body: (name) => JSON.stringify([name, '0', 'many']) },
  { label: 'a null count', code: 'EBADREQ', body: (name) => JSON.stringify([name, '0', null]) },
  { label: 'an empty name', code: 'EBADNAME', body: () => JSON.stringify(['', '0']) },
  { label: 'a 129-byte ASCII name', code: 'EBADNAME', body: () => JSON.stringify(['n'.repeat(129), '0']) },
  { label: 'a 129-byte name of multi-byte characters', code: 'EBADNAME', body: () => JSON.stringify([`${'é'.repeat(64)}x`, '0']) },
  { label: 'a name that is a number', code: 'EBADNAME', body: () => JSON.stringify([42, '0']) },
  { label: 'a name with a control character', code: 'EBADNAME', body: (name) => JSON.stringify([`${name}\n`, '0']) },
  { label: 'a request of two body frames', code: 'EBADREQ', body: (name) => [Buffer.from(JSON.stringify([name, '0'])), Buffer.from('["x","0"]')] },
  {
    label: 'a 5000-byte frame holding an otherwise valid request',
    code: 'EBADREQ',
    body: (name) => {
      const valid = JSON.stringify([name, '0']);
      return `${valid}${' '.repeat(5000 - Buffer.byteLength(valid))}`;
    },
  },
];

describe('malformed requests', () => {
  it.each(BAD_REQUESTS.map((bad) => [bad.label, bad.code, bad.body] as const))('answers %s with %s and leaves the sequence where it was', async (_label, code, body) => {
    const name = freshName('bad');
    const before = await nextValue(server.endpoint, name);
    expectError(await request(server.endpoint, body(name)), code);
    expect(await nextValue(server.endpoint, name)).toBe(before + 1n);
  });

  it('accepts a request just under the 4096-byte limit', async () => {
    const name = freshName('padded');
    const valid = JSON.stringify([name, '0']);
    expect(await request(server.endpoint, `${valid}${' '.repeat(4096 - Buffer.byteLength(valid))}`)).toEqual([null, '1']);
  });

  it('refuses a count above 1000 without issuing any value of it', async () => {
    const name = freshName('count-refused');
    await nextValues(server.endpoint, name, 5);
    expectError(await requestTicket(server.endpoint, name, '0', 1001), 'EBADREQ');
    expect(await nextValues(server.endpoint, name, 2)).toEqual([6n, 7n]);
  });

  it('answers every frame of random bytes and keeps serving', async () => {
    const name = freshName('fuzz');
    let expected = await nextValue(server.endpoint, name);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 64 }), async (bytes) => {
        const reply = await request(server.endpoint, Buffer.from(bytes));
        expect(Array.isArray(reply)).toBe(true);
        expect((reply as unknown[]).length).toBe(2);
        // A random frame that happens to be a valid request may move *its* sequence, never this one.
        expected++;
        expect(await nextValue(server.endpoint, name)).toBe(expected);
      }),
      { numRuns: 40 },
    );
  });

  it('still runs after every malformed request above', async () => {
    expect(server.child.exitCode).toBeNull();
    expect(server.child.signalCode).toBeNull();
    expect(await requestTicket(server.endpoint, freshName('alive'))).toEqual([null, '1']);
  });
});

describe('bursts', () => {
  /**
   * Sends every body pipelined on one DEALER before reading any reply, each
   * behind an id frame the server echoes (replies to different sequences may
   * come back in any order); returns the replies in request order.
   */
  async function burst(bodies: string[]): Promise<unknown[]> {
    const dealer = new Dealer({ receiveTimeout: 20_000, sendHighWaterMark: 0, receiveHighWaterMark: 0, linger: 0 });
    dealer.connect(server.endpoint);
    try {
      for (const [index, body] of bodies.entries()) await dealer.send([Buffer.from(String(index)), Buffer.alloc(0), body]);
      const replies = new Array<unknown>(bodies.length);
      for (let received = 0; received < bodies.length; received++) {
        const frames = await dealer.receive();
        replies[Number((frames[0] as Buffer).toString())] = JSON.parse((frames.at(-1) as Buffer).toString());
      }
      return replies;
    } finally {
      dealer.close();
    }
  }

  it('answers every one of 5000 pipelined requests on one connection (no send may stall the loop)', async () => {
    const name = freshName('burst');
    const replies = await burst(Array.from({ length: 5000 }, () => JSON.stringify([name, '0'])));
    const values = new Set(replies.map((reply) => (reply as [null, string])[1]));
    expect(replies.every((reply) => (reply as unknown[])[0] === null)).toBe(true);
    expect(values.size).toBe(5000);
    // And the server is still answering afterwards.
    expect(await nextValue(server.endpoint, name)).toBeGreaterThan(0n);
  });

  it('answers a burst of requests that all wait for the first lease of fresh sequences', async () => {
    const names = Array.from({ length: 50 }, () => freshName('burst-wait'));
    const bodies = Array.from({ length: 3000 }, (_, index) => JSON.stringify([names[index % names.length], '0', 2]));
    const replies = await burst(bodies);
    expect(replies.every((reply) => (reply as unknown[])[0] === null)).toBe(true);
    const perName = new Map<string, Set<string>>();
    replies.forEach((reply, index) => {
      const name = names[index % names.length] as string;
      const seen = perName.get(name) ?? new Set<string>();
      for (const value of (reply as [null, string[]])[1]) seen.add(value);
      perName.set(name, seen);
    });
    for (const seen of perName.values()) expect(seen.size).toBe(120);
  });
});
