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
 */
import type { Socket } from 'node:net';
import { TicketError, toTicketError } from '../core/errors.js';
import { DEFAULT_SEQUENCE } from '../core/names.js';
import type { ProtocolStats } from '../core/protocol-stats.js';
import { parseCount, parseLast } from '../core/request.js';
import type { TicketSource } from '../core/ticket-source.js';
import { BEL, LineParser, type LineFrame } from './line-parser.js';
import { TcpListener } from './tcp-listener.js';
import type { ProtocolLogger } from './zmq.js';

/** Replies a connection may have in the works before it is read no further. */
export const MAX_PENDING = 1024;

const BEL_REPLY = Buffer.from([BEL]);
const PONG = 'PONG\n';

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

/**
 * Answers one text line: `NEXT name [count] [last]` or `PING` (commands are
 * case-insensitive). Returns the reply text, or a promise of it. Never throws.
 */
export function answerLine(source: TicketSource, text: string, stats?: ProtocolStats): string | Promise<string> {
  const failed = (error: unknown): string => {
    stats?.countError('line', toTicketError(error).code);
    return encodeLineError(error);
  };
  try {
    const words = text.split(' ').filter((word) => word.length > 0);
    const command = (words[0] ?? '').toUpperCase();
    if (command === 'PING' && words.length === 1) return PONG;
    if (command !== 'NEXT') throw new TicketError('EBADREQ', 'expected NEXT <name> [count] [last] or PING');
    if (words.length < 2 || words.length > 4) throw new TicketError('EBADREQ', 'expected NEXT <name> [count] [last]');
    const name = words[1] as string;
    const count = words[2] === undefined ? 1 : parseCount(words[2]);
    const last = parseLast(words[3]);
    const result = source.next(name, count, last);
    const encode = (values: bigint[]): string => {
      stats?.countIssued('line', values.length);
      return `${values.join(' ')}\n`;
    };
    return Array.isArray(result) ? encode(result) : result.then(encode, failed);
  } catch (error) {
    return failed(error);
  }
}

/** Answers STX: the value then ETX, or an ERR line. Never throws. */
function answerStx(source: TicketSource, stats?: ProtocolStats): string | Promise<string> {
  const encode = (value: bigint): string => {
    stats?.countIssued('line', 1);
    return `${value}\u0003`; // ETX
  };
  const failed = (error: unknown): string => {
    stats?.countError('line', toTicketError(error).code);
    return encodeLineError(error);
  };
  try {
    const result = source.nextValue(DEFAULT_SEQUENCE);
    return typeof result === 'bigint' ? encode(result) : result.then(encode, failed);
  } catch (error) {
    return failed(error);
  }
}

/** One connection: parser, ordered replies, backpressure. */
class LineConnection {
  private readonly parser = new LineParser();
  /** Replies in request order; `reply` is undefined while it is being worked out. */
  private readonly replies: Array<{ reply: string | Buffer | undefined }> = [];
  private pending = 0;
  private closing = false;
  /** The client half-closed: end once every reply is out. */
  private ended = false;
  /** Index of the first reply not yet written (the queue is compacted as it drains). */
  private head = 0;

  constructor(
    private readonly socket: Socket,
    private readonly source: TicketSource,
    private readonly stats: ProtocolStats | undefined,
  ) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('drain', () => this.resume());
    socket.on('end', () => {
      this.ended = true;
      this.flush();
    });
  }

  private receive(chunk: Buffer): void {
    for (const frame of this.parser.push(chunk)) this.handle(frame);
    this.flush();
  }

  private handle(frame: LineFrame): void {
    if (this.closing) return;
    switch (frame.kind) {
      case 'bel':
        this.replies.push({ reply: BEL_REPLY });
        return;
      case 'stx':
        this.enqueue(answerStx(this.source, this.stats));
        return;
      case 'line':
        this.enqueue(answerLine(this.source, frame.text, this.stats));
        return;
      case 'invalid':
        this.stats?.countError('line', 'EBADREQ');
        this.replies.push({ reply: encodeLineError(new TicketError('EBADREQ', 'line is not valid UTF-8')) });
        return;
      case 'overflow': {
        this.stats?.countError('line', 'EBADREQ');
        this.replies.push({ reply: encodeLineError(new TicketError('EBADREQ', 'line longer than 4096 bytes')) });
        this.closing = true;
        // Closed, not half-closed: a peer that keeps writing is cut off after a short grace for the ERR to arrive.
        this.socket.pause();
        setTimeout(() => this.socket.destroy(), 1000).unref();
        return;
      }
    }
  }

  private enqueue(answer: string | Promise<string>): void {
    if (typeof answer === 'string') {
      this.replies.push({ reply: answer });
      return;
    }
    const entry: { reply: string | Buffer | undefined } = { reply: undefined };
    this.replies.push(entry);
    this.pending++;
    if (this.pending >= MAX_PENDING) this.socket.pause();
    void answer.then((text) => {
      entry.reply = text;
      this.pending--;
      this.flush();
    });
  }

  /** Writes every ready reply at the head of the queue, in one write. */
  private flush(): void {
    const parts: Buffer[] = [];
    let text = '';
    while (this.head < this.replies.length) {
      const head = (this.replies[this.head] as { reply: string | Buffer | undefined }).reply;
      if (head === undefined) break;
      if (typeof head === 'string') {
        text += head;
      } else {
        if (text) parts.push(Buffer.from(text));
        text = '';
        parts.push(head);
      }
      this.head++;
    }
    // Drop written replies in one splice, not one shift each (a burst of 200k frames stays linear).
    if (this.head === this.replies.length) {
      this.replies.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      this.replies.splice(0, this.head);
      this.head = 0;
    }
    if (text) parts.push(Buffer.from(text));
    if (parts.length > 0 && !this.socket.destroyed) {
      const ok = this.socket.write(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts));
      if (!ok) this.socket.pause(); // resumed on 'drain': a slow reader stops being read
    }
    if ((this.closing || this.ended) && this.replies.length === 0) this.socket.end();
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
