/**
 * Long-lived TCP protocol (SPEC §6.5): STX → value + ETX, BEL → BEL,
 * `NEXT <name> [count] [last]` → values separated by spaces + LF, `PING` →
 * `PONG`, errors → `ERR <ECODE> <message>`. Requests may be pipelined; replies
 * go out in request order, and every reply that is ready after one socket read
 * leaves in one write. A line over 4 KiB gets `ERR EBADREQ` and the connection
 * is closed; an idle connection is closed after `--idle-timeout`.
 *
 * Bounds: at most `maxConnections` connections; a connection stops being read
 * while its socket's write buffer is full (a slow reader cannot grow memory)
 * or while `MAX_PENDING` replies are still being worked out.
 *
 * The hot path is a read holding many pipelined single-value requests (STX,
 * `NEXT <name>`), and its cost is mostly per read, not per request:
 * - reads reach the connection straight from the socket (see the `push`
 *   shortcut in the constructor);
 * - the parser hands frames over as raw bytes; `NEXT <name>` with a printable
 *   ASCII name is recognised on the bytes, and the connection's last name
 *   string is reused while the bytes are the same;
 * - consecutive single-value requests for one sequence form a run that is
 *   answered by one `next(name, n)` call (the values n single calls would get,
 *   in order), falling back to one call per request when that call fails at once;
 * - replies are written as digits straight into a shared output slab, whose
 *   region is the read's one write and is reused once the kernel took it.
 * A reply that is not ready at once (a lease to wait for, proxy mode) is
 * queued as text, and so is every reply after it until it is ready.
 */
import type { Socket } from 'node:net';
import { TicketError, toTicketError } from '../core/errors.js';
import { DEFAULT_SEQUENCE } from '../core/names.js';
import type { ProtocolStats } from '../core/protocol-stats.js';
import { MAX_COUNT, parseCount, parseLast } from '../core/request.js';
import type { TicketSource } from '../core/ticket-source.js';
import { ETX, LineParser, decodeLine, type LineSink } from './line-parser.js';
import { TcpListener } from './tcp-listener.js';
import type { ProtocolLogger } from './zmq.js';

/** Replies a connection may have in the works before it is read no further. */
export const MAX_PENDING = 1024;

const BEL_TEXT = '\u0007';
const PONG = 'PONG\n';
const LF = 0x0a;
const SPACE = 0x20;

/** Options of the line server. */
export interface LineServerOptions {
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  readonly stats?: ProtocolStats | undefined;
}

/** An error reply; the message is kept on one line. */
export function encodeLineError(error: unknown): string {
  const ticketError = toTicketError(error);
  return `ERR ${ticketError.code} ${ticketError.message.replace(/[\r\n]+/g, ' ')}\n`;
}

// ---- output slab --------------------------------------------------------------------

/** Size of a fresh output slab; replies of one read larger than this go out in several writes. */
const SLAB_BYTES = 64 * 1024;
/** Most bytes one value takes: 19 digits and a separator. */
const VALUE_BYTES = 20;
/**
 * Shared by every connection (one thread; a read is answered before the next
 * is handled). `slabUsed` is where the next read's replies start: everything
 * below it may still be held by a socket write that has not completed.
 */
let slab = Buffer.allocUnsafe(SLAB_BYTES);
let slabUsed = 0;

/** "00" … "99" as pairs of ASCII digits, tens first. */
const DIGIT_PAIRS = new Uint8Array(200);
for (let index = 0; index < 100; index++) {
  DIGIT_PAIRS[2 * index] = 0x30 + Math.floor(index / 10);
  DIGIT_PAIRS[2 * index + 1] = 0x30 + (index % 10);
}

/** Writes the decimal digits of `value` (0 … 2^63 − 1) at `offset`; returns the offset after them. */
function writeDigits(target: Buffer, offset: number, value: bigint): number {
  // One conversion (a BigInt comparison costs about as much); below 2^53 it is exact.
  let number = Number(value);
  if (number > 0x1fffffffffffff || number < 0) {
    const text = value.toString();
    for (let index = 0; index < text.length; index++) target[offset + index] = text.charCodeAt(index);
    return offset + text.length;
  }
  let end = offset + 1;
  for (let bound = 10; bound <= number; bound *= 10) end++;
  let position = end;
  // Two digits per division; integer division on 32 bits when the value fits.
  while (number >= 100) {
    const quotient = number < 0x80000000 ? ((number / 100) | 0) : Math.floor(number / 100);
    const pair = (number - quotient * 100) * 2;
    target[--position] = DIGIT_PAIRS[pair + 1] as number;
    target[--position] = DIGIT_PAIRS[pair] as number;
    number = quotient;
  }
  if (number >= 10) {
    target[--position] = DIGIT_PAIRS[number * 2 + 1] as number;
    target[--position] = DIGIT_PAIRS[number * 2] as number;
  } else {
    target[--position] = 0x30 + number;
  }
  return end;
}

/**
 * Writes each value followed by `terminator`; returns the offset after the
 * last. Values that are consecutive integers (what a run of requests to one
 * sequence gets from one lease, with one instance) are written by counting
 * up in decimal from the first; any others one by one.
 */
function writeValues(target: Buffer, offset: number, values: readonly bigint[], terminator: number): number {
  const count = values.length;
  const first = values[0] as bigint;
  // Strictly increasing integers whose span is count − 1 are first, first + 1, …
  let increasing = count > 1;
  for (let index = 1; increasing && index < count; index++) increasing = (values[index] as bigint) > (values[index - 1] as bigint);
  if (!increasing || Number(values[count - 1]) - Number(first) !== count - 1 || Number(values[count - 1]) > 0x1fffffffffffff) {
    for (let index = 0; index < count; index++) {
      offset = writeDigits(target, offset, values[index] as bigint);
      target[offset++] = terminator;
    }
    return offset;
  }
  let start = offset;
  let end = writeDigits(target, offset, first);
  target[end] = terminator;
  for (let value = 1; value < count; value++) {
    // Copy the previous value's digits after its terminator, then add one.
    const length = end - start;
    const next = end + 1;
    for (let index = 0; index < length; index++) target[next + index] = target[start + index] as number;
    let position = next + length - 1;
    while (position >= next && target[position] === 0x39) target[position--] = 0x30;
    if (position >= next) {
      target[position] = (target[position] as number) + 1;
      end = next + length;
    } else {
      // 99…9 + 1: one digit more.
      target[next] = 0x31;
      target[next + length] = 0x30;
      end = next + length + 1;
    }
    start = next;
    target[end] = terminator;
  }
  return end + 1;
}

// ---- one connection ----------------------------------------------------------------

/** A reply in the queue; `reply` is undefined while it is being worked out. */
interface Queued {
  reply: string | undefined;
}

/** One connection: parser, ordered replies, backpressure. */
class LineConnection implements LineSink {
  private readonly parser = new LineParser();
  /**
   * Replies that could not be written into the current read's output because
   * one before them is not ready yet, in request order, from `head` on.
   */
  private readonly queue: Queued[] = [];
  private head = 0;
  /** Queued replies still being worked out. */
  private pending = 0;
  private closing = false;
  /** The client half-closed: end once every reply is out. */
  private ended = false;
  /** The current read's replies: `slab[outStart, outEnd)`. */
  private outStart = 0;
  private outEnd = 0;
  /** Values written this read, counted into the stats once. */
  private issued = 0;
  /**
   * A run of single-value requests for one sequence (STX, or `NEXT <name>`),
   * answered together by one `next(name, runCount)` when the run ends.
   */
  private runName = '';
  private runTerminator = LF;
  private runCount = 0;
  /** The name of the last fast-path `NEXT`, and its bytes, so a repeated name costs no decoding. */
  private lastName = '';
  private readonly lastNameBytes = new Uint8Array(128);
  private lastNameLength = 0;

  constructor(
    private readonly socket: Socket,
    private readonly source: TicketSource,
    private readonly stats: ProtocolStats | undefined,
  ) {
    socket.on('data', this.receive);
    // Shortcut of the readable-stream plumbing between a socket read and
    // 'data' (buffer bookkeeping and a process.nextTick per read: a sixth of
    // the server's CPU under pipelined load). A socket hands every chunk it
    // reads to `push`; while the socket flows and has nothing buffered, the
    // chunk is answered right there, as the 'data' listener would answer it
    // next. Everything else — end of stream, a paused socket, data already
    // buffered — takes the ordinary path, in order; and should a Node version
    // deliver reads some other way, the 'data' listener still gets them.
    const push = socket.push.bind(socket);
    socket.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (chunk instanceof Buffer && chunk.length > 0 && socket.readableLength === 0 && !socket.isPaused()) {
        this.receive(chunk);
        return true;
      }
      return push(chunk, encoding);
    };
    socket.on('drain', () => this.resume());
    socket.on('end', () => {
      this.ended = true;
      this.flush();
    });
  }

  private readonly receive = (chunk: Buffer): void => {
    if (SLAB_BYTES - slabUsed < 4 * VALUE_BYTES) {
      slab = Buffer.allocUnsafe(SLAB_BYTES);
      slabUsed = 0;
    }
    this.outStart = this.outEnd = slabUsed;
    this.parser.scan(chunk, this);
    if (this.runCount > 0) this.endRun();
    this.flush();
  };

  // ---- frames (LineSink) ----

  stx(): void {
    if (this.closing) return;
    this.single(DEFAULT_SEQUENCE, ETX);
  }

  bel(): void {
    if (this.closing) return;
    if (this.runCount > 0) this.endRun();
    this.text(BEL_TEXT);
  }

  line(bytes: Uint8Array, start: number, end: number): void {
    if (this.closing) return;
    // Fast path: `NEXT <name>` (command in any case), a name of printable ASCII.
    if (
      end - start > 5 &&
      ((bytes[start] as number) | 0x20) === 0x6e && // n
      ((bytes[start + 1] as number) | 0x20) === 0x65 && // e
      ((bytes[start + 2] as number) | 0x20) === 0x78 && // x
      ((bytes[start + 3] as number) | 0x20) === 0x74 && // t
      bytes[start + 4] === SPACE
    ) {
      const nameStart = start + 5;
      const length = end - nameStart;
      let same = length === this.lastNameLength;
      let index = nameStart;
      for (; index < end; index++) {
        const byte = bytes[index] as number;
        if (byte <= SPACE || byte >= 0x7f) break;
        if (same && this.lastNameBytes[index - nameStart] !== byte) same = false;
      }
      if (index === end) {
        if (!same) {
          this.lastName = String.fromCharCode.apply(null, bytes.subarray(nameStart, end) as unknown as number[]);
          if (length <= this.lastNameBytes.length) {
            this.lastNameBytes.set(bytes.subarray(nameStart, end));
            this.lastNameLength = length;
          } else {
            this.lastNameLength = -1;
          }
        }
        this.single(this.lastName, LF);
        return;
      }
    }
    if (this.runCount > 0) this.endRun();
    const text = decodeLine(bytes, start, end);
    if (text === null) {
      this.error(new TicketError('EBADREQ', 'line is not valid UTF-8'));
      return;
    }
    this.answerLine(text);
  }

  overflow(): void {
    if (this.runCount > 0) this.endRun();
    this.error(new TicketError('EBADREQ', 'line longer than 4096 bytes'));
    this.closing = true;
    // Closed, not half-closed: a peer that keeps writing is cut off after a short grace for the ERR to arrive.
    this.socket.pause();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  // ---- answers ----

  /** A single-value request: joins the current run, or ends it and starts one. */
  private single(name: string, terminator: number): void {
    if (this.runCount > 0 && (name !== this.runName || terminator !== this.runTerminator || this.runCount === MAX_COUNT)) {
      this.endRun();
    }
    this.runName = name;
    this.runTerminator = terminator;
    this.runCount++;
  }

  /**
   * Answers the run: its values are the next ones of the sequence, one per
   * request, in request order — what as many single requests would get, in
   * one call. When the call fails at once (say only some of the values are
   * left, or the store is known to be down), the requests are answered one by
   * one instead, so each gets what it would have got alone.
   */
  private endRun(): void {
    const name = this.runName;
    const terminator = this.runTerminator;
    const count = this.runCount;
    this.runCount = 0;
    if (count === 1) {
      this.answerValue(name, undefined, terminator);
      return;
    }
    let result: bigint[] | Promise<bigint[]>;
    try {
      result = this.source.next(name, count);
    } catch {
      for (let index = 0; index < count; index++) this.answerValue(name, undefined, terminator);
      return;
    }
    if (!Array.isArray(result)) {
      this.later(
        result.then(
          (values) => this.encodeRun(values, terminator),
          (error: unknown) => this.failed(error, count),
        ),
      );
      return;
    }
    if (this.queued()) {
      this.queue.push({ reply: this.encodeRun(result, terminator) });
      return;
    }
    this.reserve(count * VALUE_BYTES);
    this.outEnd = writeValues(slab, this.outEnd, result, terminator);
    this.issued += count;
  }

  /** `NEXT name [count] [last]` or `PING` (commands are case-insensitive), the general way. */
  private answerLine(text: string): void {
    try {
      const words = text.split(' ').filter((word) => word.length > 0);
      const command = (words[0] ?? '').toUpperCase();
      if (command === 'PING' && words.length === 1) {
        this.text(PONG);
        return;
      }
      if (command !== 'NEXT') throw new TicketError('EBADREQ', 'expected NEXT <name> [count] [last] or PING');
      if (words.length < 2 || words.length > 4) throw new TicketError('EBADREQ', 'expected NEXT <name> [count] [last]');
      const name = words[1] as string;
      const count = words[2] === undefined ? 1 : parseCount(words[2]);
      const last = parseLast(words[3]);
      if (count === 1) {
        this.answerValue(name, last, LF);
        return;
      }
      const result = this.source.next(name, count, last);
      if (!Array.isArray(result)) {
        this.later(result.then((values) => this.encodeValues(values), this.failed));
        return;
      }
      if (this.queued()) {
        this.queue.push({ reply: this.encodeValues(result) });
        return;
      }
      this.reserve(result.length * VALUE_BYTES);
      let offset = this.outEnd;
      for (let index = 0; index < result.length; index++) {
        if (index > 0) slab[offset++] = SPACE;
        offset = writeDigits(slab, offset, result[index] as bigint);
      }
      slab[offset++] = LF;
      this.outEnd = offset;
      this.issued += result.length;
    } catch (error) {
      this.error(error);
    }
  }

  /** One value of `name`, then `terminator` (ETX for STX, LF for NEXT); or an ERR line. */
  private answerValue(name: string, last: bigint | undefined, terminator: number): void {
    let result: bigint | Promise<bigint>;
    try {
      result = this.source.nextValue(name, last);
    } catch (error) {
      this.error(error);
      return;
    }
    if (typeof result !== 'bigint') {
      const encode = terminator === ETX ? this.encodeStx : this.encodeValue;
      this.later(result.then(encode, this.failed));
      return;
    }
    if (this.queued()) {
      this.queue.push({ reply: terminator === ETX ? this.encodeStx(result) : this.encodeValue(result) });
      return;
    }
    this.reserve(VALUE_BYTES);
    const offset = writeDigits(slab, this.outEnd, result);
    slab[offset] = terminator;
    this.outEnd = offset + 1;
    this.issued++;
  }

  private readonly encodeStx = (value: bigint): string => {
    this.stats?.countIssued('line', 1);
    return `${value}\u0003`;
  };

  private readonly encodeValue = (value: bigint): string => {
    this.stats?.countIssued('line', 1);
    return `${value}\n`;
  };

  private encodeRun(values: bigint[], terminator: number): string {
    this.stats?.countIssued('line', values.length);
    const separator = String.fromCharCode(terminator);
    return `${values.join(separator)}${separator}`;
  }

  private encodeValues(values: bigint[]): string {
    this.stats?.countIssued('line', values.length);
    return `${values.join(' ')}\n`;
  }

  /** The ERR line for `error`, once per request it answers. */
  private readonly failed = (error: unknown, requests = 1): string => {
    const code = toTicketError(error).code;
    for (let index = 0; index < requests; index++) this.stats?.countError('line', code);
    return encodeLineError(error).repeat(requests);
  };

  private error(error: unknown): void {
    this.text(this.failed(error));
  }

  // ---- ordered output ----

  /** True while a reply before the next one is not ready: the next goes in the queue. */
  private queued(): boolean {
    return this.head < this.queue.length;
  }

  /** A reply known now. */
  private text(text: string): void {
    if (this.queued()) {
      this.queue.push({ reply: text });
      return;
    }
    const length = text.length * 3;
    this.reserve(length);
    this.outEnd += slab.write(text, this.outEnd, length, 'utf8');
  }

  /** A reply worked out later: it and every reply after it wait in the queue. */
  private later(answer: Promise<string>): void {
    const entry: Queued = { reply: undefined };
    this.queue.push(entry);
    this.pending++;
    if (this.pending >= MAX_PENDING) this.socket.pause();
    void answer.then((text) => {
      entry.reply = text;
      this.pending--;
      this.flush();
    });
  }

  /** Makes room for `bytes` more bytes of output at `outEnd`. */
  private reserve(bytes: number): void {
    if (this.outEnd + bytes <= slab.length) return;
    this.writeOut();
    if (slab.length - slabUsed < bytes) {
      slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, bytes));
      slabUsed = 0;
    }
    this.outStart = this.outEnd = slabUsed;
  }

  /** Writes the current read's output, if any, and settles what of the slab it still holds. */
  private writeOut(): void {
    const start = this.outStart;
    const end = this.outEnd;
    if (this.issued > 0) {
      this.stats?.countIssued('line', this.issued);
      this.issued = 0;
    }
    if (end === start) return;
    this.outStart = this.outEnd = end;
    if (this.socket.destroyed) return;
    const ok = this.socket.write(slab.subarray(start, end));
    // Taken whole by the kernel: the region is free again. Otherwise the socket holds it until written.
    slabUsed = this.socket.writableLength === 0 ? start : (end + 7) & ~7;
    if (!ok) this.socket.pause(); // resumed on 'drain': a slow reader stops being read
  }

  /** Writes the read's output, then every ready reply at the head of the queue, in one write. */
  private flush(): void {
    this.writeOut();
    if (this.queued()) {
      let text = '';
      while (this.head < this.queue.length) {
        const reply = (this.queue[this.head] as Queued).reply;
        if (reply === undefined) break;
        text += reply;
        this.head++;
      }
      // Drop written replies in one splice, not one shift each (a burst of 200k frames stays linear).
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      } else if (this.head > 1024) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      if (text.length > 0 && !this.socket.destroyed) {
        if (!this.socket.write(text)) this.socket.pause();
      }
    }
    if ((this.closing || this.ended) && this.queue.length === 0) this.socket.end();
    else this.resume();
  }

  private resume(): void {
    if (!this.closing && this.pending < MAX_PENDING && this.socket.writableLength === 0 && this.socket.isPaused()) {
      this.socket.resume();
    }
  }
}

/** The long-lived TCP server. */
export class LineServer {
  private readonly listener: TcpListener;

  constructor(source: TicketSource, logger: ProtocolLogger, options: LineServerOptions) {
    this.listener = new TcpListener('line', logger, options.maxConnections, (socket) => {
      socket.setTimeout(options.idleTimeoutMs, () => socket.destroy());
      new LineConnection(socket, source, options.stats);
    });
  }

  /** Listens; returns `host:port` actually bound. */
  listen(host: string, port: number): Promise<string> {
    return this.listener.listen(host, port);
  }

  /** Stops accepting, closes every connection. */
  close(): Promise<void> {
    return this.listener.close();
  }
}
