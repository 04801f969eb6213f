/**
 * One behaviour suite for every ticket protocol (ZeroMQ, HTTP, line, one-shot
 * TCP), run in process against a scripted fake `TicketSource`, in the style of
 * hono's `runTest({ newRouter, skip })`: each protocol gives a small driver
 * (how to start it, send requests on one connection and read the replies) and
 * a `skip` list, with a reason, of what its wire form cannot express. Each
 * protocol's own test file keeps only what differs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, TicketError, type ErrorCode } from '../src/core/errors.js';
import { DEFAULT_SEQUENCE } from '../src/core/names.js';
import type { TicketSource } from '../src/core/ticket-source.js';

/** One request as the suite means it; the driver writes it in its protocol. */
export interface ContractRequest {
  /** Undefined: the protocol's form without a name (its default sequence). */
  readonly name?: string | undefined;
  /** Undefined: the single-value form. */
  readonly count?: number | undefined;
  readonly last?: bigint | undefined;
}

/** A reply as read off the wire. */
export type ContractReply =
  | { readonly values: readonly bigint[] }
  /** `code` undefined: the protocol has no code on the wire (one-shot TCP's `-1`). */
  | { readonly error: true; readonly code: ErrorCode | undefined; readonly message: string };

/** One client connection to the protocol under test. */
export interface ContractConnection {
  /** Sends every request at once (pipelined where the protocol allows), resolves with the replies in arrival order. */
  send(requests: readonly ContractRequest[]): Promise<ContractReply[]>;
  /** Sends input over the protocol's size bound; resolves with the reply. */
  sendOversize(): Promise<ContractReply>;
  close(): Promise<void>;
}

/** How the suite drives one protocol. */
export interface ProtocolDriver {
  /** Starts the protocol in process on 127.0.0.1, port 0, over `source`. */
  start(source: TicketSource): Promise<void>;
  connect(): Promise<ContractConnection>;
  stop(): Promise<void>;
}

/** Cases a protocol may skip, each with the reason its wire form cannot express it. */
export type ContractCase = 'counted' | 'last' | 'named' | 'default sequence' | 'pipelined order' | 'error codes' | 'oversize';

/** Options of `runProtocolContract`. */
export interface ProtocolContractOptions {
  readonly driver: ProtocolDriver;
  readonly skip?: Partial<Record<ContractCase, string>>;
}

/** One call the protocol made on the source. */
export interface SourceCall {
  readonly method: 'nextValue' | 'next';
  readonly name: string;
  readonly count: number;
  readonly last: bigint | undefined;
}

type Answer = bigint | bigint[] | Promise<bigint | bigint[]>;

/**
 * A TicketSource whose answers each test scripts: `answer(call)` returns a
 * value, values or a promise of them, or throws. Every call is recorded.
 */
export class ScriptedSource implements TicketSource {
  readonly calls: SourceCall[] = [];
  answer: (call: SourceCall) => Answer = (call) => (call.method === 'next' ? counting(1n, call.count) : 1n);

  nextValue(name: string, last?: bigint): bigint | Promise<bigint> {
    const call: SourceCall = { method: 'nextValue', name, count: 1, last };
    this.calls.push(call);
    return this.answer(call) as bigint | Promise<bigint>;
  }

  next(name: string, count: number, last?: bigint): bigint[] | Promise<bigint[]> {
    const call: SourceCall = { method: 'next', name, count, last };
    this.calls.push(call);
    return this.answer(call) as bigint[] | Promise<bigint[]>;
  }
}

/** `first, first + 1, …` (`count` values). */
export const counting = (first: bigint, count: number): bigint[] => Array.from({ length: count }, (_, index) => first + BigInt(index));

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Values of a successful reply; fails the test on an error reply. */
function valuesOf(reply: ContractReply | undefined): readonly bigint[] {
  if (reply === undefined || !('values' in reply)) throw new Error(`expected values, got ${JSON.stringify(reply, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`);
  return reply.values;
}

/** Runs the suite for one protocol. */
export function runProtocolContract(label: string, options: ProtocolContractOptions): void {
  const { driver } = options;
  const skip = options.skip ?? {};
  const source = new ScriptedSource();
  const test = (kase: ContractCase | undefined, title: string, body: () => Promise<void>): void => {
    const reason = kase === undefined ? undefined : skip[kase];
    if (reason !== undefined) it.skip(`${title} (not expressible: ${reason})`, body);
    else it(title, body);
  };
  /** Sends on a fresh connection, closed afterwards. */
  const exchange = async (requests: readonly ContractRequest[]): Promise<ContractReply[]> => {
    const connection = await driver.connect();
    try {
      return await connection.send(requests);
    } finally {
      await connection.close();
    }
  };
  /** A name the protocol can send: its default when it has no names. */
  const named = skip.named === undefined ? 'orders' : undefined;
  const expectedName = named ?? DEFAULT_SEQUENCE;

  describe(`protocol contract: ${label}`, () => {
    beforeAll(async () => {
      await driver.start(source);
    });
    afterAll(async () => {
      await driver.stop();
    });
    const reset = (answer: ScriptedSource['answer']): void => {
      source.calls.length = 0;
      source.answer = answer;
    };

    test(undefined, 'a value available at once is sent as its exact digits (up to 2^63 − 1)', async () => {
      for (const value of [1n, 9_007_199_254_740_993n, 2n ** 63n - 1n]) {
        reset(() => value);
        const [reply] = await exchange([{ name: named }]);
        expect(valuesOf(reply)).toEqual([value]);
        expect(source.calls).toEqual([{ method: 'nextValue', name: expectedName, count: 1, last: undefined }]);
      }
    });

    test(undefined, 'a value that is a pending promise is sent once it resolves', async () => {
      reset(() => sleep(30).then(() => 77n));
      const [reply] = await exchange([{ name: named }]);
      expect(valuesOf(reply)).toEqual([77n]);
    });

    test('counted', 'a counted request asks next(name, count) and sends every value, in order (sync and pending)', async () => {
      reset((call) => counting(100n, call.count));
      expect(valuesOf((await exchange([{ name: named, count: 5 }]))[0])).toEqual(counting(100n, 5));
      expect(source.calls).toEqual([{ method: 'next', name: expectedName, count: 5, last: undefined }]);
      reset((call) => sleep(20).then(() => counting(2n ** 62n, call.count)));
      expect(valuesOf((await exchange([{ name: named, count: 1000 }]))[0])).toEqual(counting(2n ** 62n, 1000));
      // Consecutive values across a change of length, and values with steps (several instances), sync.
      reset((call) => counting(95n, call.count));
      expect(valuesOf((await exchange([{ name: named, count: 10 }]))[0])).toEqual(counting(95n, 10));
      reset(() => [7n, 10n, 13n, 1000n]);
      expect(valuesOf((await exchange([{ name: named, count: 4 }]))[0])).toEqual([7n, 10n, 13n, 1000n]);
    });

    test('last', '`last` reaches the source unchanged', async () => {
      reset(() => 43n);
      const [reply] = await exchange([{ name: 'orders', count: undefined, last: 2n ** 62n + 5n }]);
      expect(valuesOf(reply)).toEqual([43n]);
      expect(source.calls.map((call) => call.last)).toEqual([2n ** 62n + 5n]);
    });

    test('named', 'the name reaches the source unchanged', async () => {
      reset(() => 5n);
      await exchange([{ name: 'orders.eu-1' }]);
      expect(source.calls.map((call) => call.name)).toEqual(['orders.eu-1']);
    });

    test('default sequence', 'the form without a name asks for the default sequence', async () => {
      reset(() => 6n);
      const [reply] = await exchange([{ name: undefined }]);
      expect(valuesOf(reply)).toEqual([6n]);
      expect(source.calls.map((call) => call.name)).toEqual([DEFAULT_SEQUENCE]);
    });

    test('pipelined order', 'replies on one connection come in request order, whichever answer is ready first', async () => {
      const delays: Record<string, number> = { a: 80, b: 0, c: 10 };
      const values: Record<string, bigint> = { a: 1n, b: 2n, c: 3n };
      reset((call) => {
        const value = values[call.name] as bigint;
        const delay = delays[call.name] as number;
        return delay === 0 ? value : sleep(delay).then(() => value);
      });
      const replies = await exchange([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
      expect(replies.map((reply) => valuesOf(reply)[0])).toEqual([1n, 2n, 3n]);
    });

    test(undefined, 'every error code, thrown at once or rejected later, is sent in the protocol\'s error form', async () => {
      const codes = Object.keys(ERROR_CATALOGUE).filter((code) => code !== 'EINTERNAL') as ErrorCode[];
      for (const code of codes) {
        for (const later of [false, true]) {
          const error = new TicketError(code, `scripted ${code}`);
          reset(() => {
            if (later) return sleep(5).then(() => Promise.reject(error));
            throw error;
          });
          const [reply] = await exchange([{ name: named }]);
          expect(reply !== undefined && 'error' in reply, `${code} (later: ${later}) is an error reply`).toBe(true);
          if (reply === undefined || !('error' in reply) || skip['error codes'] !== undefined) continue;
          expect(reply.code).toBe(code);
          expect(reply.message).toBe(`scripted ${code}`);
        }
      }
    });

    test(undefined, 'a foreign failure is EINTERNAL and never leaks its message', async () => {
      for (const later of [false, true]) {
        const error = new Error('secret /var/lib/db password=hunter2');
        reset(() => {
          if (later) return Promise.reject(error);
          throw error;
        });
        const [reply] = await exchange([{ name: named }]);
        expect(reply !== undefined && 'error' in reply).toBe(true);
        if (reply === undefined || !('error' in reply)) continue;
        if (skip['error codes'] === undefined) expect(reply.code).toBe('EINTERNAL');
        expect(reply.message).not.toMatch(/secret|hunter2/);
      }
    });

    test(undefined, 'a connection keeps working after an error reply', async () => {
      let calls = 0;
      reset(() => {
        calls++;
        if (calls === 1) throw new TicketError('ENOSEQ', 'no such sequence');
        return 9n;
      });
      const connection = await driver.connect();
      try {
        const [first] = await connection.send([{ name: named }]);
        expect(first !== undefined && 'error' in first).toBe(true);
        expect(valuesOf((await connection.send([{ name: named }]))[0])).toEqual([9n]);
      } finally {
        await connection.close();
      }
    });

    test('oversize', 'input over the protocol\'s bound is refused with EBADREQ and reaches no source', async () => {
      reset(() => 1n);
      const connection = await driver.connect();
      try {
        const reply = await connection.sendOversize();
        expect(reply).toMatchObject({ error: true, code: 'EBADREQ' });
      } finally {
        await connection.close();
      }
      expect(source.calls).toEqual([]);
    });
  });
}
