/**
 * LineParser (SPEC §6.5), the incremental framer of the long-lived TCP
 * protocol, on its own (no sockets):
 *
 * - every valid input gives the same frames fed whole, split at every byte
 *   offset, split at every pair of offsets, and fed one byte at a time;
 * - STX (0x02) and BEL (0x07) are frames only between lines; inside a line they
 *   are bytes of the line;
 * - the 4 KiB bound: 4096 bytes (+ an optional CR) is a line, 4097 is an
 *   `overflow` frame after which nothing more is produced;
 * - a line that is not UTF-8 is an `invalid` frame;
 * - property-based: arbitrary bytes in arbitrary chunkings never throw, give
 *   the same frames as one push, and the frames a plain, non-incremental
 *   reference model of the protocol gives.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BEL, ETX, LineParser, MAX_LINE_BYTES, STX, type LineFrame } from '../../src/protocols/line-parser.js';

const LF = 0x0a;
const CR = 0x0d;

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');
const stx: LineFrame = { kind: 'stx' };
const bel: LineFrame = { kind: 'bel' };
const overflow: LineFrame = { kind: 'overflow' };
const invalid: LineFrame = { kind: 'invalid' };
const line = (text: string): LineFrame => ({ kind: 'line', text });

/** Feeds `chunks` to a fresh parser; returns every frame, in order. */
function feed(chunks: readonly Uint8Array[]): LineFrame[] {
  const parser = new LineParser();
  const frames: LineFrame[] = [];
  for (const chunk of chunks) frames.push(...parser.push(chunk));
  return frames;
}

/** `input` cut at the given offsets (sorted, within bounds). */
function cut(input: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const offset of offsets) {
    chunks.push(input.subarray(start, offset));
    start = offset;
  }
  chunks.push(input.subarray(start));
  return chunks;
}

/**
 * The protocol written the plain way, on the whole input at once: at the
 * start of a line STX and BEL are frames; otherwise a line runs to LF, one CR
 * before the LF is dropped, empty lines are skipped, a line over 4096 bytes
 * (or an unterminated tail over 4096 + CR) is `overflow` and ends everything,
 * and a line that is not UTF-8 is `invalid`.
 */
function reference(input: Uint8Array): LineFrame[] {
  const frames: LineFrame[] = [];
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let index = 0;
  while (index < input.length) {
    const byte = input[index] as number;
    if (byte === STX || byte === BEL) {
      frames.push(byte === STX ? stx : bel);
      index++;
      continue;
    }
    const end = input.indexOf(LF, index);
    if (end < 0) {
      if (input.length - index > MAX_LINE_BYTES + 1) frames.push(overflow);
      return frames;
    }
    let lineEnd = end;
    if (lineEnd > index && input[lineEnd - 1] === CR) lineEnd--;
    if (lineEnd - index > MAX_LINE_BYTES) {
      frames.push(overflow);
      return frames;
    }
    try {
      const text = decoder.decode(input.subarray(index, lineEnd));
      if (text.length > 0) frames.push(line(text));
    } catch {
      frames.push(invalid);
    }
    index = end + 1;
  }
  return frames;
}

/** Valid inputs and the frames they must give, however they are split. */
const VALID: ReadonlyArray<{ readonly name: string; readonly input: Buffer; readonly frames: LineFrame[] }> = [
  { name: 'one STX', input: Buffer.from([STX]), frames: [stx] },
  { name: 'one BEL', input: Buffer.from([BEL]), frames: [bel] },
  { name: 'STX STX BEL STX', input: Buffer.from([STX, STX, BEL, STX]), frames: [stx, stx, bel, stx] },
  { name: 'NEXT with LF', input: bytes('NEXT a\n'), frames: [line('NEXT a')] },
  { name: 'NEXT with CRLF', input: bytes('NEXT a 3 500\r\n'), frames: [line('NEXT a 3 500')] },
  { name: 'PING', input: bytes('PING\n'), frames: [line('PING')] },
  { name: 'empty lines are skipped', input: bytes('\n\r\n\nPING\r\n\n'), frames: [line('PING')] },
  {
    name: 'a mix of everything',
    input: Buffer.concat([
      Buffer.from([STX]),
      bytes('NEXT orders 10\r\n'),
      Buffer.from([BEL, BEL]),
      bytes('\nPING\n\r\n'),
      Buffer.from([STX]),
      bytes('NEXT café 2 17\n'),
      bytes('next x\n'),
      Buffer.from([BEL]),
    ]),
    frames: [stx, line('NEXT orders 10'), bel, bel, line('PING'), stx, line('NEXT café 2 17'), line('next x'), bel],
  },
  {
    name: 'STX and BEL inside a line are bytes of the line',
    input: Buffer.concat([bytes('NEXT a'), Buffer.from([STX, BEL]), bytes('b\n'), Buffer.from([STX])]),
    frames: [line('NEXT a\u0002\u0007b'), stx],
  },
  {
    name: 'STX after a CR-only prefix is part of the line',
    input: Buffer.concat([bytes('\r'), Buffer.from([STX]), bytes('\r\n')]),
    frames: [line('\r\u0002')],
  },
  {
    name: 'multi-byte UTF-8 (split inside a character must not matter)',
    input: bytes('NEXT 票据-🎫 1\nNEXT ÆØÅ\r\n'),
    frames: [line('NEXT 票据-🎫 1'), line('NEXT ÆØÅ')],
  },
  {
    name: 'an invalid line between valid ones',
    input: Buffer.concat([bytes('PING\n'), Buffer.from([0x4e, 0xff, 0xfe, LF]), bytes('PING\n')]),
    frames: [line('PING'), invalid, line('PING')],
  },
  {
    name: 'an unterminated line gives nothing yet',
    input: Buffer.concat([bytes('PING\n'), Buffer.from([STX]), bytes('NEXT a')]),
    frames: [line('PING'), stx],
  },
];

describe('LineParser: valid input, every split', () => {
  for (const { name, input, frames } of VALID) {
    it(`${name}: whole, at every offset, at every pair of offsets, byte by byte`, () => {
      expect(feed([input])).toEqual(frames);
      expect(reference(input)).toEqual(frames);
      for (let offset = 0; offset <= input.length; offset++) {
        expect(feed(cut(input, [offset])), `split at ${offset}`).toEqual(frames);
      }
      for (let first = 0; first <= input.length; first++) {
        for (let second = first; second <= input.length; second++) {
          expect(feed(cut(input, [first, second])), `split at ${first} and ${second}`).toEqual(frames);
        }
      }
      expect(feed([...input].map((byte) => Uint8Array.of(byte)))).toEqual(frames);
    });
  }

  it('empty chunks change nothing', () => {
    const input = bytes('PING\n');
    expect(feed([new Uint8Array(0), input.subarray(0, 2), new Uint8Array(0), input.subarray(2), new Uint8Array(0)])).toEqual([
      line('PING'),
    ]);
  });

  it('accepts chunks that are views into a larger buffer (byteOffset ≠ 0)', () => {
    const backing = Buffer.from('xxxxPING\nNEXT a\nyyyy');
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 4, 12);
    expect(feed([view])).toEqual([line('PING'), line('NEXT a')]);
  });

  it('does not keep a reference to the caller’s chunk (the caller may reuse it)', () => {
    const parser = new LineParser();
    const chunk = Buffer.from('NEXT ab');
    expect(parser.push(chunk)).toEqual([]);
    chunk.fill(0x7a); // 'z'
    expect(parser.push(bytes('c\n'))).toEqual([line('NEXT abc')]);
  });
});

describe('LineParser: the 4 KiB line bound', () => {
  const filler = (length: number): string => 'P'.repeat(length);

  it('a line of exactly 4096 bytes is accepted, with LF or CRLF, whole or byte by byte', () => {
    expect(MAX_LINE_BYTES).toBe(4096);
    for (const ending of ['\n', '\r\n']) {
      const input = bytes(`${filler(4096)}${ending}PING\n`);
      const frames = [line(filler(4096)), line('PING')];
      expect(feed([input])).toEqual(frames);
      expect(feed([...input].map((byte) => Uint8Array.of(byte)))).toEqual(frames);
      expect(feed(cut(input, [4095, 4096, 4097]))).toEqual(frames);
    }
  });

  it('a 4096-byte line counts bytes, not characters (multi-byte UTF-8)', () => {
    const text = 'é'.repeat(2048); // 4096 bytes
    expect(feed([bytes(`${text}\n`)])).toEqual([line(text)]);
    expect(feed([bytes(`${text}x\n`)])).toEqual([overflow]);
  });

  it('a line of 4097 bytes is overflow, and nothing after it is parsed', () => {
    for (const ending of ['\n', '\r\n']) {
      const input = Buffer.concat([bytes(`PING\n${filler(4097)}${ending}PING\n`), Buffer.from([STX, BEL])]);
      const expected = [line('PING'), overflow];
      expect(feed([input])).toEqual(expected);
      for (const offset of [5, 4000, 4101, 4102, 4103, input.length - 3]) {
        expect(feed(cut(input, [offset])), `split at ${offset}`).toEqual(expected);
      }
      expect(feed([...input].map((byte) => Uint8Array.of(byte)))).toEqual(expected);
    }
  });

  it('an unterminated line is overflow as soon as it cannot be 4096 bytes + CR, not only at LF', () => {
    const parser = new LineParser();
    expect(parser.push(bytes(filler(4097)))).toEqual([]); // could still be 4096 + CR
    expect(parser.closed).toBe(false);
    expect(parser.push(bytes('P'))).toEqual([overflow]);
    expect(parser.closed).toBe(true);
    expect(parser.push(bytes('\nPING\n'))).toEqual([]);
    expect(parser.push(Buffer.from([STX, BEL]))).toEqual([]);
  });

  it('a huge chunk with no LF is one overflow frame, not one per byte', () => {
    expect(feed([Buffer.alloc(1 << 20, 0x61)])).toEqual([overflow]);
  });

  it('4096 bytes + CR + CR is overflow (only one CR is dropped)', () => {
    expect(feed([bytes(`${filler(4096)}\r\r\n`)])).toEqual([overflow]);
  });
});

describe('LineParser: invalid UTF-8', () => {
  const cases: ReadonlyArray<readonly [string, number[]]> = [
    ['a lone continuation byte', [0x80]],
    ['0xff', [0xff]],
    ['a truncated 2-byte sequence', [0xc3]],
    ['an overlong encoding of "/"', [0xc0, 0xaf]],
    ['a UTF-16 surrogate (CESU-8)', [0xed, 0xa0, 0x80]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ];
  for (const [name, sequence] of cases) {
    it(`${name} makes the line 'invalid', and the next line is fine`, () => {
      const input = Buffer.concat([bytes('NEXT a'), Buffer.from(sequence), bytes('\r\nPING\n')]);
      expect(feed([input])).toEqual([invalid, line('PING')]);
      for (let offset = 0; offset <= input.length; offset++) {
        expect(feed(cut(input, [offset]))).toEqual([invalid, line('PING')]);
      }
    });
  }

  it('an ETX byte in a line is just a byte (the server never gets ETX as a command)', () => {
    expect(feed([Buffer.from([ETX, LF])])).toEqual([line('\u0003')]);
  });
});

describe('LineParser: property-based', () => {
  /** Bytes biased toward the ones that matter (STX, BEL, CR, LF, 0xff, multi-byte lead bytes). */
  const interestingByte = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(STX, BEL, CR, LF, 0x20, 0x50, 0xc3, 0xa9, 0xff, 0xf0, 0x9f, 0x80) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 255 }) },
  );
  const byteArray = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.array(interestingByte, { maxLength: 300 }).map((values) => Uint8Array.from(values)),
  );
  /** Valid-looking streams: frames and lines glued together, some long. */
  const token = fc.oneof(
    fc.constant(Uint8Array.of(STX)),
    fc.constant(Uint8Array.of(BEL)),
    fc.constant(bytes('PING\n')),
    fc.constant(bytes('\r\n')),
    fc.string({ unit: 'grapheme', maxLength: 20 }).map((text) => bytes(`NEXT ${text}\r\n`)),
    fc.integer({ min: 4090, max: 4100 }).map((length) => bytes(`${'x'.repeat(length)}\n`)),
  );
  const stream = fc.array(token, { maxLength: 12 }).map((tokens) => Buffer.concat(tokens));
  const input = fc.oneof(byteArray, stream);
  /** Cut points as fractions, so they fit any input length. */
  const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 });
  const chunked = (data: Uint8Array, fractions: readonly number[]): Uint8Array[] =>
    cut(
      data,
      fractions.map((fraction) => Math.floor(fraction * data.length)).sort((a, b) => a - b),
    );

  it('never throws, and any chunking gives the same frames as one push', () => {
    fc.assert(
      fc.property(input, cuts, (data, fractions) => {
        const whole = feed([data]);
        expect(feed(chunked(data, fractions))).toEqual(whole);
      }),
      { numRuns: 1500 },
    );
  });

  it('gives exactly the frames of the non-incremental reference model', () => {
    fc.assert(
      fc.property(input, cuts, (data, fractions) => {
        expect(feed(chunked(data, fractions))).toEqual(reference(data));
      }),
      { numRuns: 1500 },
    );
  });

  it('byte by byte equals one push', () => {
    fc.assert(
      fc.property(input, (data) => {
        expect(feed([...data].map((byte) => Uint8Array.of(byte)))).toEqual(feed([data]));
      }),
      { numRuns: 300 },
    );
  });

  it('after an overflow frame nothing more ever comes out', () => {
    fc.assert(
      fc.property(byteArray, fc.array(byteArray, { maxLength: 5 }), (tail, later) => {
        const parser = new LineParser();
        const frames = parser.push(Buffer.concat([Buffer.alloc(5000, 0x61), tail]));
        expect(frames).toEqual([overflow]);
        for (const chunk of later) expect(parser.push(chunk)).toEqual([]);
        expect(parser.closed).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('every frame is well-formed: lines are non-empty strings without LF', () => {
    fc.assert(
      fc.property(input, (data) => {
        for (const frame of feed([data])) {
          if (frame.kind === 'line') {
            expect(frame.text.length).toBeGreaterThan(0);
            expect(frame.text).not.toContain('\n');
            expect(Buffer.byteLength(frame.text)).toBeLessThanOrEqual(MAX_LINE_BYTES);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
