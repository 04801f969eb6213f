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

const STX_FRAME: LineFrame = { kind: 'stx' };
const BEL_FRAME: LineFrame = { kind: 'bel' };
const OVERFLOW_FRAME: LineFrame = { kind: 'overflow' };
const INVALID_FRAME: LineFrame = { kind: 'invalid' };
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Turns a byte stream into frames. */
export class LineParser {
  /** Bytes of the line being read (only while it is incomplete). */
  private partial: Buffer[] = [];
  private partialLength = 0;
  private overflowed = false;

  /** True once a line was too long; `push` then returns nothing. */
  get closed(): boolean {
    return this.overflowed;
  }

  /** Feeds bytes; returns every frame they complete, in order. */
  push(chunk: Uint8Array): LineFrame[] {
    const frames: LineFrame[] = [];
    if (this.overflowed) return frames;
    let start = 0;
    for (let index = 0; index < chunk.length; index++) {
      const byte = chunk[index];
      if (byte === LF) {
        const line = this.take(chunk, start, index);
        start = index + 1;
        if (line === undefined) {
          frames.push(OVERFLOW_FRAME);
          return frames;
        }
        if (line === null) frames.push(INVALID_FRAME);
        else if (line.length > 0) frames.push({ kind: 'line', text: line });
      } else if (index === start && this.partialLength === 0 && (byte === STX || byte === BEL)) {
        frames.push(byte === STX ? STX_FRAME : BEL_FRAME);
        start = index + 1;
      } else if (this.partialLength + (index - start) > MAX_LINE_BYTES) {
        // This byte makes the line longer than the bound plus a possible CR: stop here.
        this.overflowed = true;
        this.partial = [];
        frames.push(OVERFLOW_FRAME);
        return frames;
      }
    }
    if (start < chunk.length) {
      this.partial.push(Buffer.from(chunk.subarray(start)));
      this.partialLength += chunk.length - start;
    }
    return frames;
  }

  /** The line made of the held bytes and `chunk[start, end)`, CR dropped; undefined when too long, null when not UTF-8. */
  private take(chunk: Uint8Array, start: number, end: number): string | null | undefined {
    let bytes: Buffer;
    if (this.partialLength === 0) {
      bytes = Buffer.from(chunk.buffer, chunk.byteOffset + start, end - start);
    } else {
      this.partial.push(Buffer.from(chunk.subarray(start, end)));
      bytes = Buffer.concat(this.partial);
      this.partial = [];
      this.partialLength = 0;
    }
    let length = bytes.length;
    if (length > 0 && bytes[length - 1] === CR) length--;
    if (length > MAX_LINE_BYTES) {
      this.overflowed = true;
      return undefined;
    }
    try {
      return utf8.decode(bytes.subarray(0, length));
    } catch {
      return null;
    }
  }
}
