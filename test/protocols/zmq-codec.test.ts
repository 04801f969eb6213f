import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TicketError } from '../../src/core/errors.js';
import type { TicketSource } from '../../src/core/ticket-source.js';
import {
  MAX_REQUEST_BYTES,
  answerZmqRequest,
  encodeError,
  encodeValues,
  parseZmqRequest,
} from '../../src/protocols/zmq.js';

const bytes = (text: string): Uint8Array => Buffer.from(text, 'utf8');

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    return error instanceof TicketError ? error.code : 'not a TicketError';
  }
  return undefined;
}

/** The first element of a reply: null or an error code. */
/** A reply body as the peer reads it: UTF-8 JSON, whether it was made as text or as bytes. */
const json = (reply: string | Buffer): unknown => JSON.parse(typeof reply === 'string' ? reply : reply.toString('utf8'));
const replyCode = (reply: string | Buffer): unknown => (json(reply) as unknown[])[0];

/** A source that records calls and answers with fixed values, synchronously or not. */
class RecordingSource implements TicketSource {
  calls: Array<{ name: string; count: number | undefined; last: bigint | undefined }> = [];
  constructor(private readonly asynchronous: boolean) {}
  nextValue(name: string, last?: bigint): bigint | Promise<bigint> {
    this.calls.push({ name, count: undefined, last });
    return this.asynchronous ? Promise.resolve(7n) : 7n;
  }
  next(name: string, count: number, last?: bigint): bigint[] | Promise<bigint[]> {
    this.calls.push({ name, count, last });
    const values = Array.from({ length: count }, (_, index) => 10n + BigInt(index));
    return this.asynchronous ? Promise.resolve(values) : values;
  }
}

describe('parseZmqRequest', () => {
  it('reads the seed form [name, last]', () => {
    expect(parseZmqRequest(bytes('["orders","41"]'))).toEqual({ name: 'orders', last: 41n, count: undefined });
  });

  it('treats last "0" as unknown', () => {
    expect(parseZmqRequest(bytes('["orders","0"]')).last).toBeUndefined();
  });

  it('reads the count form [name, last, count]', () => {
    expect(parseZmqRequest(bytes('["orders","0",5]'))).toEqual({ name: 'orders', last: undefined, count: 5 });
  });

  it('accepts last at 2^63 - 1 and refuses one above', () => {
    expect(parseZmqRequest(bytes('["a","9223372036854775807"]')).last).toBe(9223372036854775807n);
    expect(codeOf(() => parseZmqRequest(bytes('["a","9223372036854775808"]')))).toBe('EBADREQ');
  });

  it.each([
    ['not JSON', 'hello'],
    ['an object', '{"name":"a"}'],
    ['an empty array', '[]'],
    ['four elements', '["a","0",1,2]'],
    ['a negative number as last', '["a",-1]'],
    ['a fractional number as last', '["a",1.5]'],
    ['a last longer than any ticket', `["a","${'x'.repeat(65)}"]`],
    ['a last with a control character', '["a","INV\\u0007"]'],
    ['an empty last', '["a",""]'],
    ['count zero', '["a","0",0]'],
    ['count above 1000', '["a","0",1001]'],
    ['a fractional count', '["a","0",2.5]'],
  ])('refuses %s with EBADREQ', (_label, text) => {
    expect(codeOf(() => parseZmqRequest(bytes(text)))).toBe('EBADREQ');
  });

  it.each([
    ['an empty name', '["","0"]'],
    ['a numeric name', '[5,"0"]'],
    ['a name with a newline', '["a\\nb","0"]'],
    ['a 129-byte name', JSON.stringify(['x'.repeat(129), '0'])],
  ])('refuses %s with EBADNAME', (_label, text) => {
    expect(codeOf(() => parseZmqRequest(bytes(text)))).toBe('EBADNAME');
  });

  it('refuses bytes that are not UTF-8', () => {
    expect(codeOf(() => parseZmqRequest(new Uint8Array([0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d])))).toBe('EBADREQ');
  });

  it('refuses a body over the size bound before decoding it', () => {
    const body = bytes(JSON.stringify(['a', '0'])).length;
    expect(body).toBeLessThan(MAX_REQUEST_BYTES);
    expect(codeOf(() => parseZmqRequest(new Uint8Array(MAX_REQUEST_BYTES + 1).fill(0x20)))).toBe('EBADREQ');
  });

  it('never throws anything but a TicketError, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (body) => {
        const code = codeOf(() => parseZmqRequest(body));
        expect(code === undefined || code === 'EBADREQ' || code === 'EBADNAME').toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws anything but a TicketError for JSON-shaped input', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        const code = codeOf(() => parseZmqRequest(bytes(text)));
        expect(code === undefined || code === 'EBADREQ' || code === 'EBADNAME').toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('encoding replies', () => {
  it('writes a single value as a base-10 string', () => {
    expect(json(encodeValues(9223372036854775807n))).toEqual([null, '9223372036854775807']);
  });

  it('writes several values as an array of strings: numbers (a run or not) as bytes, formatted tickets as text', () => {
    expect(json(encodeValues([1n, 3n, 5n]))).toEqual([null, ['1', '3', '5']]);
    const run = Array.from({ length: 1000 }, (_, index) => 9_999_500n + BigInt(index));
    expect(encodeValues(run)).toBeInstanceOf(Buffer);
    expect(json(encodeValues(run))).toEqual([null, run.map(String)]);
    expect(json(encodeValues([9223372036854775806n, 9223372036854775807n]))).toEqual([null, ['9223372036854775806', '9223372036854775807']]);
    expect(json(encodeValues(['INV-"1"', 'Nº-2']))).toEqual([null, ['INV-"1"', 'Nº-2']]);
    expect(json(encodeValues([7n]))).toEqual([null, ['7']]);
  });

  it('writes a ticket error as [code, message]', () => {
    expect(JSON.parse(encodeError(new TicketError('EJUMP', 'too far')))).toEqual(['EJUMP', 'too far']);
  });

  it('hides the message of an unexpected error', () => {
    const reply = JSON.parse(encodeError(new Error('/secret/path exploded'))) as [string, string];
    expect(reply[0]).toBe('EINTERNAL');
    expect(reply[1]).not.toContain('secret');
  });
});

// Single and counted forms (sync and pending), `last`, and every error code thrown or rejected
// are in the protocol contract suite (test/protocol-contract.ts); here only what it cannot send.
describe('answerZmqRequest', () => {
  it('does not call the source for a malformed request', async () => {
    const source = new RecordingSource(false);
    expect(replyCode(await answerZmqRequest(source, bytes('["s",')))).toBe('EBADREQ');
    expect(source.calls).toEqual([]);
  });
});
