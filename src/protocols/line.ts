/**
 * Long-lived TCP protocol (SPEC §6.5): STX → value + ETX, BEL → BEL,
 * `NEXT <name> [count] [last]` → values separated by spaces + LF, `PING` →
 * `PONG`, `AUTH <token>` → `OK` (issuing tokens), errors → `ERR <ECODE> <message>`.
 * With issuing tokens, NEXT and STX need a connection whose `AUTH` covers
 * their sequence (`default` for STX). Requests may be pipelined; replies
 * go out in request order, and every reply that is ready after one socket read
 * leaves in one write. A line over 4 KiB gets `ERR EBADREQ` and the connection
 * is closed; an idle connection is closed after `--idle-timeout`.
 *
 * Bounds: at most `maxConnections` connections; a connection stops being read
 * while its socket's write buffer is full, while `MAX_PENDING` replies are
 * still being worked out, or once `maxReplyBytes` of replies are outstanding —
 * checked between the requests of one read, so a read of thousands of
 * `NEXT x 1000` lines is answered a part at a time, the rest held until the
 * client has read the replies (a client that never reads cannot grow memory).
 *
 * The hot path is a read holding many pipelined single-value requests (STX,
 * `NEXT <name>`), and its cost is mostly per read, not per request:
 * - reads reach the connection straight from the socket (the `push`
 *   shortcut, `socket-reads.ts`);
 * - the parser hands frames over as raw bytes; `NEXT <name>` with a printable
 *   ASCII name is recognised on the bytes, and the connection's last name
 *   string is reused while the bytes are the same;
 * - consecutive single-value requests for one sequence form a run that is
 *   answered by one `next(name, n)` call (the values n single calls would get,
 *   in order), falling back to one call per request when that call fails at once;
 * - replies are written as digits straight into a shared output slab, whose
 *   region is the read's one write and is reused once the kernel took it
 *   (`line-output.ts`, which also keeps replies in order and applies backpressure).
 */
import type { Socket } from 'node:net';
import { TicketError, toTicketError } from '../core/errors.js';
import { authorizeIssue, type IssueTokens, type TokenGrant } from '../core/issue-tokens.js';
import { DEFAULT_SEQUENCE } from '../core/names.js';
import type { ProtocolStats } from '../core/protocol-stats.js';
import { MAX_COUNT, parseCount } from '../core/request.js';
import { parseLastTicket, type Ticket } from '../core/ticket.js';
import type { TicketSource } from '../core/ticket-source.js';
import { ETX, LineParser, decodeLine, type LineSink } from './line-parser.js';
import { DEFAULT_MAX_REPLY_BYTES, LineOutput } from './line-output.js';
import { VALUE_BYTES } from './decimal-output.js';
import { receiveReads } from './socket-reads.js';
import type { HostPort, ProtocolServer } from './protocol-server.js';
import { TcpListener } from './tcp-listener.js';
import type { ProtocolLogger } from './zmq.js';

const BEL_TEXT = '\u0007';
const PONG = 'PONG\n';
const OK = 'OK\n';
const LF = 0x0a;
const SPACE = 0x20;

/** Options of the line server. */
export interface LineServerOptions {
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  /** Reply bytes a connection may have outstanding before it is read no further. Default 256 KiB. */
  readonly maxReplyBytes?: number | undefined;
  readonly stats?: ProtocolStats | undefined;
  /**
   * Issuing tokens; undefined: none needed. With them a connection sends
   * `AUTH TOKEN` (answered `OK`) before it asks for values; STX needs a token
   * covering `default`. BEL and PING issue nothing and need none.
   */
  readonly tokens?: IssueTokens | undefined;
}

/** An error reply; the message is kept on one line. */
export function encodeLineError(error: unknown): string {
  const ticketError = toTicketError(error);
  return `ERR ${ticketError.code} ${ticketError.message.replace(/[\r\n]+/g, ' ')}\n`;
}

// ---- one connection ----------------------------------------------------------------

/** One connection: what its requests mean (the output side is `LineOutput`). */
class LineConnection extends LineOutput implements LineSink {
  private readonly parser = new LineParser();
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
  /** Requests read but not answered yet because the reply bound was reached (from a frame boundary). */
  private held: Buffer | undefined;

  /** What this connection's `AUTH` allows; undefined until a valid one. */
  private grant: TokenGrant | undefined;

  constructor(
    socket: Socket,
    private readonly source: TicketSource,
    stats: ProtocolStats | undefined,
    private readonly tokens: IssueTokens | undefined,
    maxReplyBytes: number,
  ) {
    super(socket, stats, maxReplyBytes);
    receiveReads(socket, this.receive);
    socket.on('end', () => {
      this.ended = true;
      this.flush();
    });
  }

  private readonly receive = (chunk: Buffer): void => {
    this.active = true;
    this.beginRead();
    const taken = this.parser.scan(chunk, this);
    if (this.runCount > 0) this.endRun();
    if (taken < chunk.length) {
      // A copy: the rest waits until the replies drained, and the chunk's memory is not ours to keep.
      this.held = Buffer.from(chunk.subarray(taken));
      this.socket.pause();
    }
    this.flush();
  };

  /** Closed by the idle sweep. */
  closeIdle(): void {
    this.socket.destroy();
  }

  protected feedHeld(): boolean {
    const held = this.held;
    if (held === undefined) return false;
    this.held = undefined;
    this.receive(held);
    return this.held !== undefined;
  }

  full(): boolean {
    return this.outstandingOver(this.runCount * VALUE_BYTES);
  }

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
    if (this.tokens !== undefined && !this.grant?.covers(name)) {
      if (this.runCount > 0) this.endRun();
      this.refuse(name);
      return;
    }
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
    let result: Ticket[] | Promise<Ticket[]>;
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
          (error: unknown) => this.answerOneByOne(name, count, terminator, error),
        ),
        count * VALUE_BYTES,
      );
      return;
    }
    if (this.queued() || !isNumbers(result)) {
      this.textOrQueue(this.encodeRun(result, terminator));
      return;
    }
    this.writeRun(result, terminator);
  }

  /**
   * A run whose one call failed later: near the end of the number space the
   * run's call waits for a lease, and fails with EXHAUSTED as a whole although
   * its first requests could each still get a value. Those get it; the others
   * their own error. Any other error answers every request of the run.
   */
  private async answerOneByOne(name: string, count: number, terminator: number, error: unknown): Promise<string> {
    if (toTicketError(error).code !== 'EXHAUSTED') return this.failed(error, count);
    const encode = terminator === ETX ? this.encodeStx : this.encodeValue;
    let text = '';
    for (let index = 0; index < count; index++) {
      try {
        text += encode(await this.source.nextValue(name));
      } catch (single) {
        text += this.failed(single);
      }
    }
    return text;
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
      if (command === 'AUTH') {
        this.authenticate(words);
        return;
      }
      if (command !== 'NEXT') throw new TicketError('EBADREQ', 'expected NEXT <name> [count] [last], AUTH <token> or PING');
      if (words.length < 2 || words.length > 4) throw new TicketError('EBADREQ', 'expected NEXT <name> [count] [last]');
      const name = words[1] as string;
      const count = words[2] === undefined ? 1 : parseCount(words[2]);
      let last = parseLastTicket(words[3]);
      if (this.tokens !== undefined) last = authorizeIssue(this.grant, name, last);
      if (count === 1) {
        this.answerValue(name, last, LF);
        return;
      }
      const result = this.source.next(name, count, last);
      if (!Array.isArray(result)) {
        this.later(result.then((values) => this.encodeValues(values), this.failed), count * VALUE_BYTES);
        return;
      }
      if (this.queued() || !isNumbers(result)) {
        this.textOrQueue(this.encodeValues(result));
        return;
      }
      this.writeList(result);
    } catch (error) {
      this.error(error);
    }
  }

  /**
   * `AUTH TOKEN`: replaces the connection's grant (a wrong token leaves it with
   * none). A server without tokens accepts any, so a client configured with a
   * token works against it too.
   */
  private authenticate(words: readonly string[]): void {
    if (words.length !== 2) throw new TicketError('EBADREQ', 'expected AUTH <token>');
    if (this.tokens === undefined) {
      this.text(OK);
      return;
    }
    this.grant = this.tokens.find(words[1]);
    if (this.grant === undefined) throw new TicketError('EAUTH', 'wrong issuing token');
    this.text(OK);
  }

  /** The EAUTH reply of a request the connection's grant does not allow. */
  private refuse(name: string): void {
    try {
      authorizeIssue(this.grant, name, undefined);
    } catch (error) {
      this.error(error);
    }
  }

  /** One value of `name`, then `terminator` (ETX for STX, LF for NEXT); or an ERR line. */
  private answerValue(name: string, last: Ticket | undefined, terminator: number): void {
    let result: Ticket | Promise<Ticket>;
    try {
      result = this.source.nextValue(name, last);
    } catch (error) {
      this.error(error);
      return;
    }
    if (result instanceof Promise) {
      const encode = terminator === ETX ? this.encodeStx : this.encodeValue;
      this.later(result.then(encode, this.failed));
      return;
    }
    if (this.queued() || typeof result === 'string') {
      this.textOrQueue(terminator === ETX ? this.encodeStx(result) : this.encodeValue(result));
      return;
    }
    this.writeValue(result, terminator);
  }

  /** A reply already encoded: into this read's output, or the queue when one before it is not ready. */
  private textOrQueue(reply: string): void {
    if (this.queued()) this.enqueue(reply);
    else this.text(reply);
  }

  private readonly encodeStx = (value: Ticket): string => {
    this.stats?.countIssued('line', 1);
    return `${value}\u0003`;
  };

  private readonly encodeValue = (value: Ticket): string => {
    this.stats?.countIssued('line', 1);
    return `${value}\n`;
  };

  private encodeRun(values: Ticket[], terminator: number): string {
    this.stats?.countIssued('line', values.length);
    const separator = String.fromCharCode(terminator);
    return `${values.join(separator)}${separator}`;
  }

  private encodeValues(values: Ticket[]): string {
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
}

/** True when the values are plain numbers (written as digits into the slab); formatted tickets go as text. */
function isNumbers(values: Ticket[]): values is bigint[] {
  return typeof values[0] === 'bigint';
}

/** Most time between two idle sweeps, in ms: a connection idle for the timeout closes within this much more. */
const MAX_SWEEP_INTERVAL_MS = 5_000;

/** The long-lived TCP server. */
export class LineServer implements ProtocolServer {
  readonly name = 'line';
  private readonly listener: TcpListener;
  /** Open connections, each with the last time (`performance.now()`) it was known to be active. */
  private readonly connections = new Map<LineConnection, number>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(source: TicketSource, logger: ProtocolLogger, options: LineServerOptions) {
    this.listener = new TcpListener('line', logger, options.maxConnections, (socket) => {
      const connection = new LineConnection(socket, source, options.stats, options.tokens, options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES);
      this.connections.set(connection, performance.now());
      socket.on('close', () => this.connections.delete(connection));
    });
    // One coarse sweep for every connection instead of `socket.setTimeout`, which re-arms a timer on
    // every read and every write: a connection with no read or write for `idleTimeoutMs` is closed
    // after `idleTimeoutMs` and within two sweep intervals more (an interval is a quarter of the timeout, at most 5 s).
    const idleTimeoutMs = options.idleTimeoutMs;
    const interval = Math.min(Math.max(Math.floor(idleTimeoutMs / 4), 1), MAX_SWEEP_INTERVAL_MS);
    this.sweeper = setInterval(() => this.sweep(idleTimeoutMs), interval);
    this.sweeper.unref();
  }

  private sweep(idleTimeoutMs: number): void {
    const now = performance.now();
    for (const [connection, activeAt] of this.connections) {
      if (connection.active) {
        // Active at some time since the last sweep: count the idle time from now, never from earlier.
        connection.active = false;
        this.connections.set(connection, now);
      } else if (now - activeAt >= idleTimeoutMs) {
        connection.closeIdle();
      }
    }
  }

  /** Listens; returns `host:port` actually bound. */
  listen(address: HostPort): Promise<string> {
    return this.listener.listen(address.host, address.port);
  }

  /**
   * Stops accepting and reading; every connection ends once the replies it owes are written
   * (values already issued are delivered, not lost), within `graceMs`; then the rest are cut.
   */
  close(graceMs = 2000): Promise<void> {
    clearInterval(this.sweeper);
    const closing = this.listener.close(graceMs);
    for (const connection of this.connections.keys()) connection.finish();
    return closing;
  }
}
