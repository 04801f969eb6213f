/**
 * `line://HOST:PORT` — the long-lived TCP protocol from the
 * client side: one connection, requests pipelined as `NEXT name count last`
 * lines, replies matched in order. Names with spaces cannot be sent on this
 * protocol (EBADNAME); use tcp:// or http:// for them.
 *
 * Replies carry no id, so a lost or late reply would shift every later one:
 * when a request times out the connection is dropped, every request on it
 * fails, and the next request opens a fresh connection.
 */
import { connect, type Socket } from 'node:net';
import { TicketError, isErrorCode } from '../core/errors.js';
import { MAX_TICKET_TEXT, readTicket, type Ticket } from '../core/ticket.js';
import { validateSequenceName } from '../core/names.js';
import { MAX_COUNT } from '../core/request.js';
import type { TicketReply, TicketRequest, Transport, TransportSecurity } from './transport.js';
import { checkValueCount, parseValueList, parseValueRun, startsWithBytes, type TicketRun } from './reply.js';

interface Pending {
  /** The `AUTH` sent first on a connection: `OK` is expected, an ERR fails the connection. */
  readonly auth?: boolean;
  readonly single: boolean;
  readonly count: number;
  /** The request takes a `TicketRun` for consecutive values. */
  readonly run: boolean;
  /** performance.now() after which the request has timed out. */
  readonly deadline: number;
  readonly timeoutMs: number;
  resolve(value: TicketReply): void;
  reject(error: unknown): void;
}

/**
 * How often outstanding requests are checked against their deadlines. One
 * check timer per connection instead of one timer per request: creating and
 * clearing a timer cost more than the rest of a request.
 */
const DEADLINE_CHECK_MS = 20;

/**
 * Longest reply line accepted, in bytes: the most values of a request, each a
 * formatted ticket of the longest text (up to three UTF-8 bytes per UTF-16
 * unit) and a space.
 */
export const MAX_REPLY_BYTES = MAX_COUNT * (MAX_TICKET_TEXT * 3 + 1);

const LF = 0x0a;
const ERR = Buffer.from('ERR ');

/** Parses `line://HOST:PORT`. @throws TypeError */
function parseLineUri(uri: string): { host: string; port: number } {
  const match = /^line:\/\/(\[[0-9a-fA-F:.]+\]|[^\s/:[\]]+):([0-9]{1,5})$/.exec(uri);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port < 1 || port > 65535) throw new TypeError(`invalid server URI "${uri}": expected line://HOST:PORT`);
  const host = match[1] as string;
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port };
}

/** Long-lived TCP transport to one server. */
export class LineTransport implements Transport {
  readonly uri: string;
  private readonly host: string;
  private readonly port: number;
  private socket: Socket | undefined;
  /** Requests sent and not answered, oldest first from `head` (replies come in request order). */
  private pending: Pending[] = [];
  private head = 0;
  private deadlineTimer: NodeJS.Timeout | undefined;
  /** The start of a reply line whose end has not arrived yet. */
  private partial: Buffer | undefined;
  private closed = false;
  /** Lines asked for in this turn of the event loop, sent together in one write. */
  private outgoing = '';

  private readonly token: string | undefined;

  /**
   * @param security `token`: sent by `AUTH` first on every connection; when the server refuses it,
   *   the requests on that connection fail with its error (EAUTH)
   * @throws TypeError for a malformed URI
   */
  constructor(uri: string, security: TransportSecurity = {}) {
    this.uri = uri;
    this.token = security.token;
    ({ host: this.host, port: this.port } = parseLineUri(uri));
  }

  request(request: TicketRequest, timeoutMs: number): Promise<TicketReply> {
    if (this.closed) return Promise.reject(new TicketError('EUNAVAILABLE', 'client is closed'));
    try {
      validateSequenceName(request.name);
      if (/\s/.test(request.name)) throw new TicketError('EBADNAME', 'line:// cannot send a name with spaces; use tcp:// or http://');
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    this.connection(timeoutMs);
    const count = request.count ?? 1;
    const line = request.last === undefined ? `NEXT ${request.name} ${count}\n` : `NEXT ${request.name} ${count} ${request.last}\n`;
    return new Promise((resolve, reject) => {
      this.pending.push({ single: request.count === undefined, count, run: request.run === true && request.count !== undefined, deadline: performance.now() + timeoutMs, timeoutMs, resolve, reject });
      if (this.deadlineTimer === undefined) {
        this.deadlineTimer = setInterval(this.checkDeadlines, Math.min(DEADLINE_CHECK_MS, timeoutMs));
        this.deadlineTimer.unref();
      }
      // Many callers ask in the same turn (say, every caller a reply just woke up): one write for all.
      if (this.outgoing === '') queueMicrotask(this.send);
      this.outgoing += line;
    });
  }

  /** Writes the lines asked for so far; they belong to the current connection (a drop clears both). */
  private readonly send = (): void => {
    const text = this.outgoing;
    this.outgoing = '';
    const socket = this.socket;
    if (text !== '' && socket && !socket.destroyed) socket.write(text);
  };

  private connection(timeoutMs: number): Socket {
    if (this.socket && !this.socket.destroyed) return this.socket;
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    // Bytes, not text: replies are read digit by digit from the buffer as it came (a line ends at LF,
    // which is never part of a multi-byte UTF-8 character, so only text lines are decoded, whole).
    socket.on('data', (chunk: Buffer) => this.receive(socket, chunk));
    socket.on('error', (error) => this.drop(socket, new TicketError('ETIMEOUT', `cannot reach ${this.uri}`, { cause: error })));
    socket.on('close', () => this.drop(socket, new TicketError('ETIMEOUT', `${this.uri} closed the connection`)));
    this.socket = socket;
    this.partial = undefined;
    if (this.token !== undefined) {
      // Before any request of this connection: its reply is the first line to come back.
      socket.write(`AUTH ${this.token}\n`);
      const ignore = (): void => undefined;
      this.pending.push({ auth: true, single: true, count: 0, run: false, deadline: performance.now() + timeoutMs, timeoutMs, resolve: ignore, reject: ignore });
    }
    return socket;
  }

  private receive(socket: Socket, chunk: Buffer): void {
    if (socket !== this.socket) return;
    let start = 0;
    let newline = chunk.indexOf(LF);
    if (this.partial !== undefined) {
      // The rest of a line that began in an earlier chunk: joined once its end is here.
      if (newline < 0) {
        this.keepPartial(socket, Buffer.concat([this.partial, chunk]));
        return;
      }
      const line = Buffer.concat([this.partial, chunk.subarray(0, newline)]);
      this.partial = undefined;
      this.settle(line, 0, line.length);
      if (socket !== this.socket) return; // settling failed the connection
      start = newline + 1;
      newline = chunk.indexOf(LF, start);
    }
    while (newline >= 0) {
      this.settle(chunk, start, newline);
      if (socket !== this.socket) return;
      start = newline + 1;
      newline = chunk.indexOf(LF, start);
    }
    if (start < chunk.length) this.keepPartial(socket, chunk.subarray(start));
  }

  /** Holds the unfinished line `bytes` (a view of the chunk is fine: Node hands every read a buffer of its own). */
  private keepPartial(socket: Socket, bytes: Buffer): void {
    if (bytes.length > MAX_REPLY_BYTES) this.drop(socket, new TicketError('EINTERNAL', 'server sent an overlong reply'));
    else this.partial = bytes;
  }

  /** Replies are matched by order: after a lost reply nothing on this connection can be trusted. */
  private readonly checkDeadlines = (): void => {
    const socket = this.socket;
    if (this.head === this.pending.length || !socket) {
      clearInterval(this.deadlineTimer);
      this.deadlineTimer = undefined;
      return;
    }
    const now = performance.now();
    for (let index = this.head; index < this.pending.length; index++) {
      const entry = this.pending[index] as Pending;
      if (entry.deadline <= now) {
        this.drop(socket, new TicketError('ETIMEOUT', `${this.uri} did not answer within ${entry.timeoutMs} ms`));
        return;
      }
    }
  };

  /** Matches the reply line `bytes[start, end)` to the oldest request waiting. */
  private settle(bytes: Buffer, start: number, end: number): void {
    if (this.head === this.pending.length) return;
    const entry = this.pending[this.head++] as Pending;
    if (this.head === this.pending.length) {
      this.pending = [];
      this.head = 0;
    } else if (this.head >= 1024) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
    if (entry.auth === true) {
      const line = bytes.toString('utf8', start, end);
      if (line !== 'OK') this.drop(this.socket as Socket, this.replyError(line));
      return;
    }
    if (startsWithBytes(bytes, ERR, start, end)) {
      entry.reject(this.replyError(bytes.toString('utf8', start, end)));
      return;
    }
    // A batch for a prefetching client is usually consecutive: no bigint per value until it is handed out.
    // Otherwise plain numbers the fast way; anything else (a formatted sequence's tickets) as text, word by word.
    let values: Ticket[] | TicketRun | undefined =
      (entry.run ? parseValueRun(bytes, start, end, 0x20, false) : undefined) ?? parseValueList(bytes, start, end, 0x20, false);
    try {
      values ??= bytes.toString('utf8', start, end).split(' ').map(readTicket);
      checkValueCount(values, entry.count);
    } catch (error) {
      entry.reject(error instanceof TicketError ? error : new TicketError('EINTERNAL', 'server sent a malformed reply'));
      return;
    }
    entry.resolve(entry.single && Array.isArray(values) ? (values[0] as Ticket) : values);
  }

  /** The error an `ERR CODE message` line carries. */
  private replyError(line: string): TicketError {
    if (!line.startsWith('ERR ')) return new TicketError('EINTERNAL', 'server sent a malformed reply');
    const space = line.indexOf(' ', 4);
    const code = space < 0 ? line.slice(4) : line.slice(4, space);
    return new TicketError(isErrorCode(code) ? code : 'EINTERNAL', space < 0 ? 'server error' : line.slice(space + 1));
  }

  /** Fails every request on `socket` and forgets it. */
  private drop(socket: Socket, error: TicketError): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    this.outgoing = '';
    this.partial = undefined;
    socket.destroy();
    const failed = this.pending.slice(this.head);
    this.pending = [];
    this.head = 0;
    clearInterval(this.deadlineTimer);
    this.deadlineTimer = undefined;
    for (const entry of failed) entry.reject(error);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.socket) this.drop(this.socket, new TicketError('EUNAVAILABLE', 'client is closed'));
  }
}
