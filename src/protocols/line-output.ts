/**
 * How the line protocol's replies reach the socket: decimal digits written
 * straight into a shared output slab, one write per read, replies kept in
 * request order while some are still being worked out, and backpressure.
 *
 * The slab is shared by every connection (one thread; a read is answered
 * before the next is handled). A read's replies are `slab[outStart, outEnd)`;
 * once the kernel took them whole the region is reused by the next read,
 * otherwise it stays reserved until the socket has written it.
 *
 * A reply that is not ready at once (a lease to wait for, proxy mode) is
 * queued as text, and so is every reply after it until it is ready.
 */
import type { Socket } from 'node:net';
import type { ProtocolStats } from '../core/protocol-stats.js';
import { VALUE_BYTES, writeDigits, writeValues } from './decimal-output.js';

/** Replies a connection may have in the works before it is read no further. */
export const MAX_PENDING = 1024;
/** Default of `--max-reply-bytes`: reply bytes a connection may have unsent before it is read no further. */
export const DEFAULT_MAX_REPLY_BYTES = 256 * 1024;

/** Size of a fresh output slab; replies of one read larger than this go out in several writes. */
const SLAB_BYTES = 64 * 1024;
const SPACE = 0x20;
const LF = 0x0a;

/** `slabUsed` is where the next read's replies start: everything below may still be held by a socket write. */
let slab = Buffer.allocUnsafe(SLAB_BYTES);
let slabUsed = 0;

/** A reply in the queue; `reply` is undefined while it is being worked out, `bytes` its (estimated) size. */
interface Queued {
  reply: string | undefined;
  bytes: number;
}

/**
 * The output side of one line connection: what a read's replies are written
 * into, the queue that keeps them in order, and backpressure. The protocol
 * (`LineConnection`) extends it with what requests mean.
 */
export abstract class LineOutput {
  /**
   * Replies that could not be written into the current read's output because
   * one before them is not ready yet, in request order, from `head` on.
   */
  private readonly queue: Queued[] = [];
  private head = 0;
  /** Queued replies still being worked out. */
  private pending = 0;
  /** No more requests are answered; end once every reply is out. */
  protected closing = false;
  /** The client half-closed: end once every reply is out. */
  protected ended = false;
  /** The current read's replies: `slab[outStart, outEnd)`. */
  private outStart = 0;
  private outEnd = 0;
  /** Values written this read, counted into the stats once. */
  private issued = 0;
  /**
   * Set by every read and write, cleared by the idle sweep (`LineServer`): one
   * store per read instead of re-arming a timer per read and per write.
   */
  active = true;
  /** Bytes of the queued replies (estimated while being worked out). */
  private queuedBytes = 0;

  /**
   * @param maxReplyBytes reply bytes this connection may have outstanding
   * (unsent in the socket, queued, or of this read) before no further request
   * is read: a client that sends and never reads cannot grow memory.
   */
  constructor(
    protected readonly socket: Socket,
    protected readonly stats: ProtocolStats | undefined,
    private readonly maxReplyBytes: number = DEFAULT_MAX_REPLY_BYTES,
  ) {
    socket.on('drain', () => this.resume());
  }

  /** Reply bytes outstanding, plus `more` not written yet (a run being gathered), reached the bound. */
  protected outstandingOver(more: number): boolean {
    return this.socket.writableLength + (this.outEnd - this.outStart) + this.queuedBytes + more >= this.maxReplyBytes;
  }

  /**
   * Feeds requests read earlier but left unanswered when the bound was
   * reached; true while some are still held (the socket then stays paused).
   */
  protected abstract feedHeld(): boolean;

  /** Starts a read's output; its replies go out in one write at `flush()`. */
  protected beginRead(): void {
    if (SLAB_BYTES - slabUsed < 4 * VALUE_BYTES) {
      slab = Buffer.allocUnsafe(SLAB_BYTES);
      slabUsed = 0;
    }
    this.outStart = this.outEnd = slabUsed;
  }

  /** True while a reply before the next one is not ready: the next goes in the queue. */
  protected queued(): boolean {
    return this.head < this.queue.length;
  }

  /** A reply known now, as text. */
  protected text(text: string): void {
    if (this.queued()) {
      this.enqueue(text);
      return;
    }
    const length = text.length * 3;
    this.reserve(length);
    this.outEnd += slab.write(text, this.outEnd, length, 'utf8');
  }

  /** A reply known now that the caller has already encoded (the queue is not empty). */
  protected enqueue(text: string): void {
    this.queue.push({ reply: text, bytes: text.length });
    this.queuedBytes += text.length;
  }

  /** One value then `terminator`; the queue must be empty (see `queued()`). */
  protected writeValue(value: bigint, terminator: number): void {
    this.reserve(VALUE_BYTES);
    const offset = writeDigits(slab, this.outEnd, value);
    slab[offset] = terminator;
    this.outEnd = offset + 1;
    this.issued++;
  }

  /** Each value followed by `terminator`; the queue must be empty. */
  protected writeRun(values: readonly bigint[], terminator: number): void {
    this.reserve(values.length * VALUE_BYTES);
    this.outEnd = writeValues(slab, this.outEnd, values, terminator);
    this.issued += values.length;
  }

  /** Values separated by spaces, then LF; the queue must be empty. */
  protected writeList(values: readonly bigint[]): void {
    if (values.length === 0) {
      this.text('\n');
      return;
    }
    this.reserve(values.length * VALUE_BYTES);
    // Each value followed by a space (consecutive values counted up in decimal), the last space made the LF.
    const offset = writeValues(slab, this.outEnd, values, SPACE);
    slab[offset - 1] = LF;
    this.outEnd = offset;
    this.issued += values.length;
  }

  /** A reply worked out later: it and every reply after it wait in the queue. */
  protected later(answer: Promise<string>, estimatedBytes = VALUE_BYTES): void {
    const entry: Queued = { reply: undefined, bytes: estimatedBytes };
    this.queue.push(entry);
    this.queuedBytes += estimatedBytes;
    this.pending++;
    if (this.pending >= MAX_PENDING) this.socket.pause();
    void answer.then((text) => {
      entry.reply = text;
      this.queuedBytes += text.length - entry.bytes;
      entry.bytes = text.length;
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
    this.active = true;
    const ok = this.socket.write(slab.subarray(start, end));
    // Taken whole by the kernel: the region is free again. Otherwise the socket holds it until written.
    slabUsed = this.socket.writableLength === 0 ? start : (end + 7) & ~7;
    if (!ok) this.socket.pause(); // resumed on 'drain': a slow reader stops being read
  }

  /** Writes the read's output, then every ready reply at the head of the queue, in one write. */
  protected flush(): void {
    this.writeOut();
    if (this.queued()) {
      let text = '';
      while (this.head < this.queue.length) {
        const entry = this.queue[this.head] as Queued;
        if (entry.reply === undefined) break;
        text += entry.reply;
        this.queuedBytes -= entry.bytes;
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
        this.active = true;
        if (!this.socket.write(text)) this.socket.pause();
      }
    }
    if ((this.closing || this.ended) && this.queue.length === 0) this.socket.end();
    else this.resume();
  }

  /**
   * Graceful stop: nothing more is read or answered, and the connection ends once every reply
   * already asked for (values already issued) has been written.
   */
  finish(): void {
    this.closing = true;
    this.socket.pause();
    this.flush();
  }

  private resume(): void {
    if (this.closing || this.pending >= MAX_PENDING || !this.socket.isPaused()) return;
    // A write that filled the socket's buffer: 'drain' calls again.
    if (this.socket.writableNeedDrain) return;
    // Over the bound without a full buffer: queued replies are being worked out, and their flush calls again.
    if (this.outstandingOver(0) || this.feedHeld()) return;
    this.socket.resume();
  }
}
