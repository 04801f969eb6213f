/**
 * Incremental parser of the long-lived TCP protocol (SPEC §6.5), kept apart
 * from sockets so it can be fed any split of the bytes.
 *
 * Frames: byte 0x02 (STX) asks for one value of the default sequence; byte
 * 0x07 (BEL) is a ping; anything else is a text line ending in LF (a CR
 * before it is dropped). STX and BEL count as frames only between lines —
 * inside a line they are just bytes of it. Empty lines are ignored. A line
 * longer than 4 KiB yields an `overflow` frame, after which the parser takes
 * nothing more (the connection is to be closed).
 *
 * Two ways to read it, one framing: `push` returns frame objects (lines
 * decoded, invalid UTF-8 flagged); `scan` hands each frame to a sink as it is
 * found, lines as raw bytes, so a server can answer without allocating per
 * frame.
 */

/** STX: one value, answered as the value then ETX. */
export const STX = 0x02;
/** ETX: ends a value answered to STX. */
export const ETX = 0x03;
/** BEL: ping, answered with BEL. */
export const BEL = 0x07;
const LF = 0x0a;
const CR = 0x0d;

/** Longest text line in bytes, LF excluded. */
export const MAX_LINE_BYTES = 4096;

/** A complete frame. */
export type LineFrame =
  | { readonly kind: 'stx' }
  | { readonly kind: 'bel' }
  | { readonly kind: 'line'; readonly text: string }
  /** A line that is not valid UTF-8. */
  | { readonly kind: 'invalid' }
  | { readonly kind: 'overflow' };

/** Receives the frames `scan` finds, in order. */
export interface LineSink {
  stx(): void;
  bel(): void;
  /**
   * A non-empty line: `bytes[start, end)`, LF and one CR before it dropped, at
   * most `MAX_LINE_BYTES` bytes, not checked for UTF-8 (see `decodeLine`).
   * The bytes are only valid during the call.
   */
  line(bytes: Uint8Array, start: number, end: number): void;
  /** A line too long; nothing follows. */
  overflow(): void;
  /**
   * Asked between frames: true stops `scan` there (the sink has enough
   * replies outstanding); the caller feeds the rest of the chunk later.
   */
  full(): boolean;
}

const STX_FRAME: LineFrame = { kind: 'stx' };
const BEL_FRAME: LineFrame = { kind: 'bel' };
const OVERFLOW_FRAME: LineFrame = { kind: 'overflow' };
const INVALID_FRAME: LineFrame = { kind: 'invalid' };
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The text of `bytes[start, end)`, or null when it is not valid UTF-8. */
export function decodeLine(bytes: Uint8Array, start: number, end: number): string | null {
  try {
    return utf8.decode(bytes.subarray(start, end));
  } catch {
    return null;
  }
}

/** Collects frame objects for `push`. */
class FrameCollector implements LineSink {
  frames: LineFrame[] = [];

  stx(): void {
    this.frames.push(STX_FRAME);
  }

  bel(): void {
    this.frames.push(BEL_FRAME);
  }

  line(bytes: Uint8Array, start: number, end: number): void {
    const text = decodeLine(bytes, start, end);
    this.frames.push(text === null ? INVALID_FRAME : { kind: 'line', text });
  }

  overflow(): void {
    this.frames.push(OVERFLOW_FRAME);
  }

  full(): boolean {
    return false;
  }
}

/** Turns a byte stream into frames. */
export class LineParser {
  /** Bytes of the line being read (only while it is incomplete). */
  private partial: Uint8Array[] = [];
  private partialLength = 0;
  private overflowed = false;

  /** True once a line was too long; `push` and `scan` then produce nothing. */
  get closed(): boolean {
    return this.overflowed;
  }

  /** Feeds bytes; returns every frame they complete, in order. */
  push(chunk: Uint8Array): LineFrame[] {
    const collector = new FrameCollector();
    this.scan(chunk, collector);
    return collector.frames;
  }

  /**
   * Feeds bytes; hands every frame they complete to `sink`, in order, until
   * `sink.full()` says stop (asked after each frame). Keeps no reference to `chunk`.
   * @returns how many bytes of `chunk` were taken: the rest, from a frame
   * boundary, is to be fed again later (all of it once the parser is closed).
   */
  scan(chunk: Uint8Array, sink: LineSink): number {
    const length = chunk.length;
    if (this.overflowed) return length;
    let start = 0;
    while (start < length) {
      // Only between frames of this chunk: nothing is then held in `partial`.
      if (start > 0 && sink.full()) return start;
      if (this.partialLength === 0) {
        const first = chunk[start];
        if (first === STX) {
          start++;
          sink.stx();
          continue;
        }
        if (first === BEL) {
          start++;
          sink.bel();
          continue;
        }
      }
      // At most MAX_LINE_BYTES + 1 bytes (a CR) may come before the LF: look that far.
      const room = MAX_LINE_BYTES + 1 - this.partialLength;
      const stop = start + room + 1 < length ? start + room + 1 : length;
      let index = start;
      while (index < stop && chunk[index] !== LF) index++;
      if (index === stop) {
        if (stop - start > room) {
          // This byte makes the line longer than the bound plus a possible CR: stop here.
          this.fail(sink);
          return length;
        }
        // Incomplete: keep a copy (the caller may reuse its buffer).
        const copy = new Uint8Array(length - start);
        copy.set(chunk.subarray(start, length));
        this.partial.push(copy);
        this.partialLength += length - start;
        return length;
      }
      if (this.partialLength === 0) {
        const lineStart = start;
        let end = index;
        if (end > lineStart && chunk[end - 1] === CR) end--;
        start = index + 1;
        if (end - lineStart > MAX_LINE_BYTES) {
          this.fail(sink);
          return length;
        }
        if (end > lineStart) sink.line(chunk, lineStart, end);
      } else {
        this.partial.push(chunk.subarray(start, index));
        const bytes = concat(this.partial, this.partialLength + index - start);
        this.partial = [];
        this.partialLength = 0;
        start = index + 1;
        let end = bytes.length;
        if (end > 0 && bytes[end - 1] === CR) end--;
        if (end > MAX_LINE_BYTES) {
          this.fail(sink);
          return length;
        }
        if (end > 0) sink.line(bytes, 0, end);
      }
    }
    return length;
  }

  private fail(sink: LineSink): void {
    this.overflowed = true;
    this.partial = [];
    this.partialLength = 0;
    sink.overflow();
  }
}

function concat(parts: readonly Uint8Array[], length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}
