/**
 * The digit writers (line protocol and ZeroMQ replies) against
 * `BigInt#toString`: single values over the whole range, and runs of
 * consecutive values (the counting-up path), including across 9…9 → 10…0 and
 * above 2^53 where the writer falls back; bare and between quotes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QUOTED_VALUE_BYTES, writeDigits, writeValues } from '../../src/protocols/decimal-output.js';

const MAX_VALUE = 2n ** 63n - 1n;
const ETX = 0x03;
const LF = 0x0a;
const SPACE = 0x20;

/** The bytes `writeDigits` wrote for `value`, at an offset inside a dirty buffer. */
function digitsOf(value: bigint, offset: number): string {
  const target = Buffer.alloc(offset + 40, 0x7a);
  const end = writeDigits(target, offset, value);
  return target.subarray(offset, end).toString('latin1');
}

const QUOTE = 0x22;
const COMMA = 0x2c;

/** What `writeValues` wrote (quoted when `quote` is given), and checks it did not write past the end it returned. */
function valuesOf(values: readonly bigint[], terminator: number, quote?: number): string {
  const target = Buffer.alloc(values.length * QUOTED_VALUE_BYTES + 8, 0x7a);
  const end = quote === undefined ? writeValues(target, 3, values, terminator) : writeValues(target, 3, values, terminator, quote);
  expect(end - 3).toBeLessThanOrEqual(values.length * (quote === undefined ? 20 : QUOTED_VALUE_BYTES));
  expect(target[end]).toBe(0x7a);
  return target.subarray(3, end).toString('latin1');
}

const expected = (values: readonly bigint[], terminator: number, quote?: number): string => {
  const around = quote === undefined ? '' : String.fromCharCode(quote);
  return values.map((value) => `${around}${value.toString()}${around}${String.fromCharCode(terminator)}`).join('');
};

/** Values near powers of ten and near 2^53, where digit counts and the exact-double bound change. */
const edgeValue = fc.oneof(
  fc.bigInt({ min: 0n, max: MAX_VALUE }),
  fc.integer({ min: 0, max: 18 }).chain((exponent) => fc.bigInt({ min: -3n, max: 3n }).map((delta) => 10n ** BigInt(exponent) + delta)),
  fc.bigInt({ min: -5n, max: 5n }).map((delta) => 2n ** 53n + delta),
  fc.bigInt({ min: 0n, max: 100_000n }),
).filter((value) => value >= 0n && value <= MAX_VALUE);

describe('writeDigits', () => {
  it('writes what BigInt#toString gives, for any value 0 … 2^63 − 1 and any offset', () => {
    fc.assert(
      fc.property(edgeValue, fc.integer({ min: 0, max: 17 }), (value, offset) => {
        expect(digitsOf(value, offset)).toBe(value.toString());
      }),
      { numRuns: 2000 },
    );
  });

  it('gets the bounds right', () => {
    for (const value of [0n, 9n, 10n, 99n, 100n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, MAX_VALUE]) {
      expect(digitsOf(value, 1)).toBe(value.toString());
    }
  });
});

describe('writeValues', () => {
  it('writes runs of consecutive values as BigInt#toString would (across 9…9 → 10…0 and past 2^53)', () => {
    fc.assert(
      fc.property(edgeValue, fc.integer({ min: 1, max: 300 }), fc.constantFrom(ETX, LF, SPACE), (first, count, terminator) => {
        const values = Array.from({ length: count }, (_, index) => first + BigInt(index)).filter((value) => value <= MAX_VALUE);
        if (values.length === 0) return;
        expect(valuesOf(values, terminator)).toBe(expected(values, terminator));
      }),
      { numRuns: 1000 },
    );
  });

  it('counts up through every carry: 999 → 1000, 9 999 999 → 10 000 000, 10^15 − 1 → 10^15', () => {
    for (const first of [0n, 8n, 97n, 998n, 9_999_998n, 10n ** 15n - 2n, 2n ** 53n - 2n, MAX_VALUE - 3n]) {
      const values = Array.from({ length: 4 }, (_, index) => first + BigInt(index));
      expect(valuesOf(values, LF)).toBe(expected(values, LF));
    }
  });

  it('between quotes (ZeroMQ JSON strings): runs and any other lists as BigInt#toString would', () => {
    fc.assert(
      fc.property(edgeValue, fc.integer({ min: 1, max: 300 }), (first, count) => {
        const values = Array.from({ length: count }, (_, index) => first + BigInt(index)).filter((value) => value <= MAX_VALUE);
        if (values.length === 0) return;
        expect(valuesOf(values, COMMA, QUOTE)).toBe(expected(values, COMMA, QUOTE));
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.array(edgeValue, { minLength: 1, maxLength: 50 }), (values) => {
        expect(valuesOf(values, COMMA, QUOTE)).toBe(expected(values, COMMA, QUOTE));
      }),
      { numRuns: 500 },
    );
    for (const first of [0n, 8n, 998n, 10n ** 15n - 2n, 2n ** 53n - 2n, MAX_VALUE - 3n]) {
      const values = Array.from({ length: 4 }, (_, index) => first + BigInt(index));
      expect(valuesOf(values, COMMA, QUOTE)).toBe(expected(values, COMMA, QUOTE));
    }
  });

  it('writes any other list (gaps, repeats, decreasing, huge) one value at a time', () => {
    fc.assert(
      fc.property(fc.array(edgeValue, { minLength: 1, maxLength: 50 }), fc.constantFrom(ETX, LF), (values, terminator) => {
        expect(valuesOf(values, terminator)).toBe(expected(values, terminator));
      }),
      { numRuns: 1000 },
    );
  });
});
