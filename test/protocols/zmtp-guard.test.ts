/**
 * The ZMTP frame meter of the ZeroMQ front: it must follow frames in any
 * chunking, let every stream within the bounds through (the greeting, the
 * handshake commands, pings and messages of up to 32 frames / 64 KiB), and
 * refuse a stream at the header of the frame that passes a bound — before
 * that frame's body is sent, so a peer cannot make the server hold more.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES, MAX_MESSAGE_FRAMES, ZmtpFrameMeter } from '../../src/protocols/zmtp-guard.js';
import { zmtpHandshake } from '../../scripts/wire-fixtures.mjs';

const MORE = 0x01;
const COMMAND = 0x04;

/** One ZMTP frame: flags, a 1- or 8-byte size, the body. */
function frame(body: Buffer, flags = 0): Buffer {
  if (body.length < 256) return Buffer.concat([Buffer.from([flags, body.length]), body]);
  const size = Buffer.alloc(8);
  size.writeBigUInt64BE(BigInt(body.length));
  return Buffer.concat([Buffer.from([flags | 0x02]), size, body]);
}

/** A message of `sizes.length` frames, MORE on every frame but the last. */
function message(sizes: readonly number[]): Buffer {
  return Buffer.concat(sizes.map((size, index) => frame(Buffer.alloc(size, 0x61), index < sizes.length - 1 ? MORE : 0)));
}

const ping = frame(Buffer.concat([Buffer.from([4]), Buffer.from('PING'), Buffer.from([0, 100])]), COMMAND);

/** Feeds `stream` cut at `cuts`; returns false as soon as the meter refuses. */
function feedInPieces(meter: ZmtpFrameMeter, stream: Buffer, cuts: readonly number[]): boolean {
  const points = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) => a - b);
  let start = 0;
  for (const point of [...points, stream.length]) {
    if (!meter.feed(stream.subarray(start, point))) return false;
    start = point;
  }
  return true;
}

/** Sizes of one message within the bounds. */
const messageWithin = fc
  .array(fc.integer({ min: 0, max: 600 }), { minLength: 1, maxLength: MAX_MESSAGE_FRAMES })
  .filter((sizes) => sizes.reduce((sum, size) => sum + size, 0) <= MAX_MESSAGE_BYTES);

describe('ZmtpFrameMeter', () => {
  it('lets through the handshake, pings and messages within the bounds, however the bytes are cut', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(messageWithin, fc.constant('ping' as const)), { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 12 }), (parts, cuts) => {
        const stream = Buffer.concat([zmtpHandshake(), ...parts.map((part) => (part === 'ping' ? ping : message(part)))]);
        const meter = new ZmtpFrameMeter();
        expect(feedInPieces(meter, stream, cuts)).toBe(true);
        expect(meter.reason).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('takes a message of exactly the bounds, and a long (8-byte size) frame', () => {
    const meter = new ZmtpFrameMeter();
    expect(meter.feed(zmtpHandshake())).toBe(true);
    expect(meter.feed(message(Array.from({ length: MAX_MESSAGE_FRAMES }, () => 0)))).toBe(true);
    expect(meter.feed(message([MAX_MESSAGE_BYTES]))).toBe(true);
    expect(meter.feed(message([1000, MAX_MESSAGE_BYTES - 1000]))).toBe(true);
  });

  it('refuses a message one frame or one byte past the bounds, at the header of the frame that passes it', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 8 }), (cuts) => {
        // An endless multipart: MAX frames with MORE, then one more header (its body never needs to come).
        const frames = Buffer.concat(Array.from({ length: MAX_MESSAGE_FRAMES }, () => frame(Buffer.from('x'), MORE)));
        const meter = new ZmtpFrameMeter();
        const header = Buffer.from([MORE, 1]);
        expect(feedInPieces(meter, Buffer.concat([zmtpHandshake(), frames]), cuts)).toBe(true);
        expect(meter.feed(header)).toBe(false);
        expect(meter.reason).toMatch(/frames/);
      }),
      { numRuns: 50 },
    );
    const bytes = new ZmtpFrameMeter();
    expect(bytes.feed(zmtpHandshake())).toBe(true);
    expect(bytes.feed(frame(Buffer.alloc(MAX_MESSAGE_BYTES - 10), MORE))).toBe(true);
    const size = Buffer.alloc(8);
    size.writeBigUInt64BE(11n);
    expect(bytes.feed(Buffer.from([MORE | 0x02]))).toBe(true);
    expect(bytes.feed(size)).toBe(false); // refused on the size field, before any byte of the body
    expect(bytes.reason).toMatch(/bytes/);
  });

  it('counts frames per message: many small messages in a row pass', () => {
    const meter = new ZmtpFrameMeter();
    expect(meter.feed(zmtpHandshake())).toBe(true);
    for (let index = 0; index < 1000; index++) expect(meter.feed(message([1, 2, 30]))).toBe(true);
  });

  it('refuses a huge command frame, reserved flag bits, ZMTP 1.0 and unknown revisions', () => {
    const huge = Buffer.alloc(9);
    huge[0] = COMMAND | 0x02;
    huge.writeBigUInt64BE(2n ** 40n, 1);
    const cases: Array<[string, Buffer]> = [
      ['command', Buffer.concat([zmtpHandshake(), huge])],
      ['reserved', Buffer.concat([zmtpHandshake(), Buffer.from([0x80, 0])])],
      ['ZMTP 2 or 3', Buffer.from([5, 0x00, 0x41, 0x42, 0x43, 0x44, 0, 0, 0, 0, 0])], // ZMTP 1.0: a length-prefixed identity
      ['revision', Buffer.concat([Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 2]), Buffer.alloc(53)])],
    ];
    for (const [reason, stream] of cases) {
      const meter = new ZmtpFrameMeter();
      expect(meter.feed(stream), reason).toBe(false);
      expect(meter.reason).toContain(reason);
      expect(meter.feed(message([1])), 'stays refused').toBe(false);
    }
  });

  it('follows a ZMTP 2.0 greeting (12 bytes) and then meters frames', () => {
    const meter = new ZmtpFrameMeter();
    const greeting = Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 1, 5]);
    expect(meter.feed(Buffer.concat([greeting, frame(Buffer.alloc(0)), message([10, 20])]))).toBe(true);
    expect(meter.feed(Buffer.concat(Array.from({ length: MAX_MESSAGE_FRAMES + 1 }, () => frame(Buffer.alloc(1), MORE))))).toBe(false);
  });

  it('stands aside after a CURVE greeting: the MORE flags are encrypted, boundaries cannot be seen', () => {
    const greeting = zmtpHandshake().subarray(0, 64);
    greeting.fill(0, 12, 32);
    greeting.write('CURVE', 12, 'latin1');
    const meter = new ZmtpFrameMeter();
    expect(meter.feed(greeting)).toBe(true);
    expect(meter.opaque).toBe(true);
    expect(meter.feed(Buffer.concat(Array.from({ length: 100 }, () => frame(Buffer.alloc(100), MORE))))).toBe(true);
  });
});
