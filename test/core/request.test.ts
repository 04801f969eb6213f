import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { TicketError } from '../../src/core/errors.js';
import { MAX_VALUE } from '../../src/core/numbering.js';
import { MAX_COUNT, parseCount, parseLast } from '../../src/core/request.js';

function errorCode(parse: () => unknown): string | undefined {
  try {
    parse();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(TicketError);
    return (error as TicketError).code;
  }
}

describe('parseLast', () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['the string "0"', '0'],
    ['the number 0', 0],
  ])('reads %s as unknown (undefined)', (_label, input) => {
    expect(parseLast(input)).toBeUndefined();
  });

  it.each<[string, unknown, bigint]>([
    ['"1"', '1', 1n],
    ['"2^63 − 1"', '9223372036854775807', MAX_VALUE],
    ['the number 42', 42, 42n],
    ['the largest safe integer', Number.MAX_SAFE_INTEGER, BigInt(Number.MAX_SAFE_INTEGER)],
  ])('reads %s exactly', (_label, input, expected) => {
    expect(parseLast(input)).toBe(expected);
  });

  it('reads every decimal string from 1 to 2^63 − 1 exactly', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: MAX_VALUE }), (value) => {
        expect(parseLast(value.toString())).toBe(value);
      }),
    );
  });

  it('refuses every decimal string above 2^63 − 1 with EBADREQ', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: MAX_VALUE + 1n, max: 10n ** 25n }), (value) => {
        expect(errorCode(() => parseLast(value.toString()))).toBe('EBADREQ');
      }),
    );
  });

  it.each<[string, unknown]>([
    ['2^63', '9223372036854775808'],
    ['twenty nines', '99999999999999999999'],
    ['the empty string', ''],
    ['a negative string', '-1'],
    ['a plus sign', '+1'],
    ['a leading space', ' 1'],
    ['a trailing newline', '1\n'],
    ['a decimal point', '1.0'],
    ['an exponent', '1e3'],
    ['hexadecimal', '0x10'],
    ['letters', 'abc'],
    ['non-ASCII digits', '١٢٣'],
    ['a negative number', -1],
    ['a fraction', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['an unsafe integer', 2 ** 53],
    ['a boolean', true],
    ['an object', { last: '1' }],
    ['an array', ['1']],
  ])('refuses %s with EBADREQ', (_label, input) => {
    expect(errorCode(() => parseLast(input))).toBe('EBADREQ');
  });
});

describe('parseCount', () => {
  it.each<[string, unknown, number]>([
    ['the number 1', 1, 1],
    ['the number 1000', 1000, 1000],
    ['the string "1"', '1', 1],
    ['the string "1000"', '1000', 1000],
    ['the string "250"', '250', 250],
  ])('reads %s', (_label, input, expected) => {
    expect(parseCount(input)).toBe(expected);
  });

  it('reads every count from 1 to MAX_COUNT, as a number or a string', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_COUNT }), (count) => {
        expect(parseCount(count)).toBe(count);
        expect(parseCount(String(count))).toBe(count);
      }),
    );
  });

  it.each<[string, unknown]>([
    ['0', 0],
    ['1001', 1001],
    ['a negative number', -1],
    ['a fraction', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['the string "0"', '0'],
    ['the string "1001"', '1001'],
    ['the string "10000"', '10000'],
    ['the empty string', ''],
    ['a leading space', ' 1'],
    ['a decimal point', '1.0'],
    ['an exponent', '1e3'],
    ['a plus sign', '+5'],
    ['a negative string', '-5'],
    ['undefined', undefined],
    ['null', null],
    ['a boolean', true],
    ['a bigint', 5n],
  ])('refuses %s with EBADREQ', (_label, input) => {
    expect(errorCode(() => parseCount(input))).toBe('EBADREQ');
  });
});
