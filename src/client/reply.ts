/**
 * Decoding of ticket replies on the client side, shared by every
 * transport whose replies use the `[null, value]` / `[code, message]` shape.
 */
import { TicketError, isErrorCode } from '../core/errors.js';
import { readTicket, type Ticket } from '../core/ticket.js';

/**
 * Turns a parsed reply into values or throws the server's error.
 * @throws TicketError with the server's code (unknown codes become EINTERNAL)
 */
export function decodeReply(reply: unknown): Ticket | Ticket[] {
  if (!Array.isArray(reply) || reply.length !== 2) throw new TicketError('EINTERNAL', 'server sent a malformed reply');
  const [code, payload] = reply as [unknown, unknown];
  if (code !== null) {
    const message = typeof payload === 'string' ? payload : 'server error';
    throw new TicketError(isErrorCode(code) ? code : 'EINTERNAL', message);
  }
  return Array.isArray(payload) ? payload.map(readTicket) : readTicket(payload);
}

/**
 * Checks that a reply holds as many values as were asked for: `expected` for
 * a counted request, 1 for the single form (where a list is a malformed reply
 * too). One check for every transport and for gathered requests.
 * @throws TicketError EINTERNAL otherwise
 */
export function checkValueCount(reply: Ticket | Ticket[] | TicketRun, count: number | undefined): void {
  const received = Array.isArray(reply) ? reply.length : reply instanceof TicketRun ? reply.count : 1;
  const expected = count ?? 1;
  if (received !== expected || (count === undefined && typeof reply === 'object')) {
    throw new TicketError('EINTERNAL', `server sent ${received} values for ${expected}${count === undefined ? ' (single form)' : ''}`);
  }
}

/** Longest run of digits that Number holds exactly (10^15 < 2^53). */
const EXACT_DIGITS = 15;

/**
 * A batch of consecutive values `first`, `first + 1`, … (`count` of them),
 * held without a bigint per value: a prefetching client makes each value
 * only when it hands it out, so a batch of 1000 costs one pass over its text
 * and no array. Only for replies whose values are plain numbers of up to 15
 * digits, each one more than the one before (what a server sends from one
 * lease); any other batch stays an array.
 */
export class TicketRun {
  /** The first value. */
  readonly first: bigint;
  /** Number of values, at least 1. */
  readonly count: number;

  constructor(first: bigint, count: number) {
    this.first = first;
    this.count = count;
  }

  /** The last value. */
  get last(): bigint {
    return this.first + BigInt(this.count - 1);
  }

  /** Every value, in order (for callers that need an array). */
  toArray(): bigint[] {
    const values = new Array<bigint>(this.count);
    let value = this.first;
    for (let index = 0; index < this.count; index++) values[index] = value++;
    return values;
  }
}

/**
 * The values of `bytes[start, end)` as a `TicketRun`, when the bytes are what
 * `parseValueList` reads and every value has at most 15 digits and is one
 * more than the one before; undefined otherwise (the caller then reads them
 * with `parseValueList`, which gives the same values one by one).
 */
export function parseValueRun(bytes: Uint8Array, start: number, end: number, separator: number, quoted: boolean): TicketRun | undefined {
  let index = start;
  let first = -1;
  let expected = -1;
  let count = 0;
  while (index < end) {
    if (quoted && bytes[index++] !== 0x22) return undefined;
    const digitsStart = index;
    let number = 0;
    let code = index < end ? (bytes[index] as number) : -1;
    while (code >= 0x30 && code <= 0x39) {
      number = number * 10 + (code - 0x30);
      code = ++index < end ? (bytes[index] as number) : -1;
    }
    const digits = index - digitsStart;
    if (digits === 0 || digits > EXACT_DIGITS) return undefined;
    if (count === 0) first = number;
    else if (number !== expected) return undefined;
    expected = number + 1;
    count++;
    if (quoted && (index >= end || bytes[index++] !== 0x22)) return undefined;
    if (index === end) return new TicketRun(BigInt(first), count);
    if (bytes[index++] !== separator || index === end) return undefined;
  }
  return undefined;
}

/**
 * The values of `bytes[start, end)` (ASCII): base-10 integers of 1–19
 * digits, each in double quotes when `quoted`, separated by the byte
 * `separator`. One pass over the bytes, no string for values that fit a
 * double exactly: a batch of 1000 values costs a tenth of decoding, split,
 * test and `BigInt(string)`.
 * @returns the values, or undefined when the bytes are anything else (the
 *   caller then decodes them the general way, which names the error)
 */
export function parseValueList(bytes: Uint8Array, start: number, end: number, separator: number, quoted: boolean): bigint[] | undefined {
  const values: bigint[] = [];
  let index = start;
  while (index < end) {
    if (quoted && bytes[index++] !== 0x22) return undefined;
    const first = index;
    let number = 0;
    let code = index < end ? (bytes[index] as number) : -1;
    while (code >= 0x30 && code <= 0x39) {
      number = number * 10 + (code - 0x30);
      code = ++index < end ? (bytes[index] as number) : -1;
    }
    const digits = index - first;
    if (digits === 0 || digits > 19) return undefined;
    values.push(digits <= EXACT_DIGITS ? BigInt(number) : BigInt(String.fromCharCode(...bytes.subarray(first, index))));
    if (quoted && (index >= end || bytes[index++] !== 0x22)) return undefined;
    if (index === end) return values;
    if (bytes[index++] !== separator || index === end) return undefined;
  }
  return undefined;
}

/** `[null,[` and `[null,"`: how a ZeroMQ reply of a list and of one value start. */
const ZMQ_LIST_PREFIX = Buffer.from('[null,[');
const ZMQ_VALUE_PREFIX = Buffer.from('[null,"');
const CLOSE_BRACKET = 0x5d;
/** As `Buffer#toString('utf8')`: invalid bytes become U+FFFD, a BOM is kept (JSON.parse refuses it). */
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** Whether `bytes[start, end)` begins with `prefix`. */
export function startsWithBytes(bytes: Uint8Array, prefix: Uint8Array, start = 0, end = bytes.length): boolean {
  if (end - start < prefix.length) return false;
  for (let index = 0; index < prefix.length; index++) if (bytes[start + index] !== prefix[index]) return false;
  return true;
}

/**
 * A ZeroMQ reply body: the values of a success (`[null,"1"]`,
 * `[null,["1","2"]]`) read straight from the bytes, anything else (errors,
 * other spellings of the same JSON) decoded as UTF-8 through `JSON.parse` and
 * `decodeReply`. With `run`, a list of consecutive values comes back as a
 * `TicketRun` (the same values); default false.
 * @throws TicketError as `decodeReply`; SyntaxError for a body that is not JSON
 */
export function decodeReplyBody(body: Uint8Array): Ticket | Ticket[];
export function decodeReplyBody(body: Uint8Array, run: boolean): Ticket | Ticket[] | TicketRun;
export function decodeReplyBody(body: Uint8Array, run = false): Ticket | Ticket[] | TicketRun {
  const length = body.length;
  if (startsWithBytes(body, ZMQ_LIST_PREFIX) && length >= ZMQ_LIST_PREFIX.length + 2 && body[length - 1] === CLOSE_BRACKET && body[length - 2] === CLOSE_BRACKET) {
    if (run) {
      const values = parseValueRun(body, ZMQ_LIST_PREFIX.length, length - 2, 0x2c, true);
      if (values !== undefined) return values;
    }
    const values = parseValueList(body, ZMQ_LIST_PREFIX.length, length - 2, 0x2c, true);
    if (values !== undefined) return values;
  } else if (startsWithBytes(body, ZMQ_VALUE_PREFIX) && body[length - 1] === CLOSE_BRACKET) {
    const values = parseValueList(body, ZMQ_VALUE_PREFIX.length - 1, length - 1, 0x2c, true);
    if (values !== undefined && values.length === 1) return values[0] as bigint;
  }
  return decodeReply(JSON.parse(utf8.decode(body)));
}
