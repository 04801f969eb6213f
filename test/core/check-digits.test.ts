import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { TicketError } from '../../src/core/errors.js';
import { CHECK_KINDS, checkWidth, computeCheck, type CheckKind } from '../../src/core/check-digits.js';

type RealKind = Exclude<CheckKind, 'none'>;
const KINDS: readonly RealKind[] = ['luhn', 'damm', 'mod97'];

/** True when `codeword` (payload followed by its check) carries the right check. */
function isValid(kind: RealKind, codeword: string): boolean {
  const width = checkWidth(kind);
  return computeCheck(kind, codeword.slice(0, -width)) === codeword.slice(-width);
}

const digitString = (maxLength: number) =>
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength }).map((digits) => digits.join(''));

describe('computeCheck: published vectors', () => {
  it.each([
    // Wikipedia "Luhn algorithm", worked example: account number 7992739871, check digit 3.
    ['luhn', '7992739871', '3'],
    // Wikipedia "Damm algorithm", worked example: 572 gives interim 4, and 5724 validates.
    ['damm', '572', '4'],
    // ISO/IEC 7064:2003 §8.4 (simplified procedure for MOD 97-10), the standard's own example.
    ['mod97', '794', '44'],
    // Wikipedia "International Bank Account Number": GB82 WEST 1234 5698 7654 32, rearranged
    // (BBAN, then GB as 1611, then 00): the check digits are 82.
    ['mod97', '32142829123456987654321611', '82'],
  ] as const)('%s of %s is %s', (kind, digits, check) => {
    expect(computeCheck(kind, digits)).toBe(check);
    expect(isValid(kind, digits + check)).toBe(true);
  });

  it('Damm: a codeword run through the table ends at interim 0 (the table is the published one)', () => {
    // 5724 is Wikipedia's valid example; computing over the codeword itself must give 0.
    expect(computeCheck('damm', '5724')).toBe('0');
  });

  it('MOD 97-10: number‖check is 1 mod 97 and the check is always two digits in 02…98', () => {
    fc.assert(
      fc.property(digitString(19), (digits) => {
        const check = computeCheck('mod97', digits);
        expect(check).toMatch(/^[0-9]{2}$/);
        expect(Number(check)).toBeGreaterThanOrEqual(2);
        expect(Number(check)).toBeLessThanOrEqual(98);
        expect(BigInt(digits + check) % 97n).toBe(1n);
      }),
      { numRuns: 500 },
    );
  });

  it('Luhn: the codeword passes the textbook validation (sum of digits with every second one doubled ≡ 0)', () => {
    fc.assert(
      fc.property(digitString(19), (digits) => {
        const codeword = digits + computeCheck('luhn', digits);
        let sum = 0;
        [...codeword].reverse().forEach((character, position) => {
          const digit = Number(character);
          const weighted = position % 2 === 1 ? digit * 2 : digit;
          sum += weighted > 9 ? weighted - 9 : weighted;
        });
        expect(sum % 10).toBe(0);
      }),
      { numRuns: 500 },
    );
  });
});

describe('computeCheck: error detection', () => {
  it.each(KINDS)('%s catches every single-digit substitution, check part included', (kind) => {
    fc.assert(
      fc.property(digitString(19), fc.nat(), fc.integer({ min: 1, max: 9 }), (digits, where, shift) => {
        const codeword = digits + computeCheck(kind, digits);
        const index = where % codeword.length;
        const changed = String((Number(codeword[index]) + shift) % 10);
        const mistyped = codeword.slice(0, index) + changed + codeword.slice(index + 1);
        expect(isValid(kind, mistyped)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it.each(['damm', 'mod97'] as const)('%s catches every adjacent transposition of different digits', (kind) => {
    fc.assert(
      fc.property(digitString(19), fc.nat(), (digits, where) => {
        const codeword = digits + computeCheck(kind, digits);
        const index = where % (codeword.length - 1);
        fc.pre(codeword[index] !== codeword[index + 1]);
        const swapped = codeword.slice(0, index) + codeword[index + 1]! + codeword[index]! + codeword.slice(index + 2);
        expect(isValid(kind, swapped)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('luhn catches every adjacent transposition except 09 ↔ 90, which it misses', () => {
    fc.assert(
      fc.property(digitString(19), fc.nat(), (digits, where) => {
        const codeword = digits + computeCheck('luhn', digits);
        const index = where % (codeword.length - 1);
        const pair = codeword.slice(index, index + 2);
        fc.pre(pair[0] !== pair[1]);
        const swapped = codeword.slice(0, index) + pair[1]! + pair[0]! + codeword.slice(index + 2);
        expect(isValid('luhn', swapped)).toBe(pair === '09' || pair === '90');
      }),
      { numRuns: 2000 },
    );
  });

  it('luhn misses 09 ↔ 90 at every position (exhaustive over the pair, with random surroundings)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: 8 }), fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: 8 }), (before, after) => {
        const digits = `${before}09${after}`;
        const codeword = digits + computeCheck('luhn', digits);
        const swapped = `${before}90${after}` + codeword.slice(-1);
        expect(isValid('luhn', swapped)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it.each(KINDS)('%s ignores leading zeros (padding does not change the check)', (kind) => {
    fc.assert(
      fc.property(digitString(19), fc.integer({ min: 1, max: 10 }), (digits, zeros) => {
        expect(computeCheck(kind, '0'.repeat(zeros) + digits)).toBe(computeCheck(kind, digits));
      }),
      { numRuns: 300 },
    );
  });
});

describe('computeCheck: input bounds', () => {
  it.each(KINDS)('%s refuses empty, non-digit and overlong input with EBADREQ', (kind) => {
    for (const bad of ['', '12a4', '１２', '-1', ' 1', '1'.repeat(65)]) {
      let caught: unknown;
      try {
        computeCheck(kind, bad);
      } catch (error) {
        caught = error;
      }
      expect(caught, JSON.stringify(bad)).toBeInstanceOf(TicketError);
      expect((caught as TicketError).code).toBe('EBADREQ');
    }
  });
});

describe('checkWidth and CHECK_KINDS', () => {
  it('lists the four kinds with widths 0, 1, 1, 2', () => {
    expect(CHECK_KINDS).toEqual(['none', 'luhn', 'damm', 'mod97']);
    expect(CHECK_KINDS.map(checkWidth)).toEqual([0, 1, 1, 2]);
    expect(Object.isFrozen(CHECK_KINDS)).toBe(true);
  });

  it('every kind computes exactly its width in characters', () => {
    for (const kind of KINDS) expect(computeCheck(kind, '1234567890123456789')).toHaveLength(checkWidth(kind));
  });
});
