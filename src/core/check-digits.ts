/**
 * Check digits for numbers that people read, type or say (issue 12): a
 * sequence may append one or two check characters to each value so that a
 * mistyped ticket number is recognised as wrong instead of naming another one.
 *
 * All three kinds work on decimal digits only, and all three ignore leading
 * zeros (a leading zero adds nothing to the Luhn sum, to the MOD 97 remainder,
 * and maps the Damm interim 0 to 0), so "000123" and "123" carry the same check.
 */
import { TicketError } from './errors.js';

/** Kinds of check characters a sequence may carry. */
export type CheckKind = 'none' | 'luhn' | 'damm' | 'mod97';

/** Every check kind, in the order the docs list them. */
export const CHECK_KINDS: readonly CheckKind[] = Object.freeze(['none', 'luhn', 'damm', 'mod97'] as const);

const ZERO = 0x30;

/**
 * Damm's totally anti-symmetric quasigroup of order 10 (Damm 2004, the table
 * published with the algorithm), row-major: `DAMM[interim * 10 + digit]`.
 */
const DAMM = Uint8Array.from(
  '0317598642709215486342068713591750983426612304597836742095815869720134894536201794386172052581436790',
  (character) => character.charCodeAt(0) - ZERO,
);

/** Luhn's doubled digit with its digits summed: 2·d, minus 9 when that has two digits. */
const LUHN_DOUBLED = Uint8Array.of(0, 2, 4, 6, 8, 1, 3, 5, 7, 9);

/** Longest digit string accepted: far above any value (19 digits), and keeps work bounded. */
const MAX_DIGITS = 64;

function digitAt(digits: string, index: number): number {
  const digit = digits.charCodeAt(index) - ZERO;
  if (digit < 0 || digit > 9) throw new TicketError('EBADREQ', 'check digits are computed over decimal digits only');
  return digit;
}

function luhn(digits: string): string {
  // The check digit will sit to the right, so the payload's last digit is the first one doubled.
  let sum = 0;
  let doubled = true;
  for (let index = digits.length - 1; index >= 0; index--) {
    const digit = digitAt(digits, index);
    sum += doubled ? LUHN_DOUBLED[digit]! : digit;
    doubled = !doubled;
  }
  return String.fromCharCode(ZERO + ((10 - (sum % 10)) % 10));
}

function damm(digits: string): string {
  let interim = 0;
  for (let index = 0; index < digits.length; index++) interim = DAMM[interim * 10 + digitAt(digits, index)]!;
  return String.fromCharCode(ZERO + interim);
}

function mod97(digits: string): string {
  // Horner's rule keeps the remainder small: values have up to 19 digits, more than a double holds exactly.
  let remainder = 0;
  for (let index = 0; index < digits.length; index++) remainder = (remainder * 10 + digitAt(digits, index)) % 97;
  const check = 98 - ((remainder * 100) % 97);
  return check < 10 ? `0${check}` : String(check);
}

/**
 * Check characters for a string of decimal digits.
 *
 * - `luhn`: one digit (the credit-card scheme); catches every single-digit
 *   error and every adjacent transposition except 09 ↔ 90.
 * - `damm`: one digit, Damm's quasigroup scheme; catches every single-digit
 *   error and every adjacent transposition.
 * - `mod97`: two digits, ISO/IEC 7064 MOD 97-10 as in IBAN:
 *   `98 − (digits·100 mod 97)`, zero-padded, always in 02…98, so that
 *   `digits‖check` mod 97 = 1.
 *
 * Leading zeros do not change the result.
 *
 * @throws TicketError EBADREQ when `digits` is empty, longer than 64 characters
 *   or holds anything but the ASCII digits 0–9.
 */
export function computeCheck(kind: Exclude<CheckKind, 'none'>, digits: string): string {
  if (digits.length === 0 || digits.length > MAX_DIGITS) {
    throw new TicketError('EBADREQ', `check digits need 1 to ${MAX_DIGITS} decimal digits`);
  }
  switch (kind) {
    case 'luhn':
      return luhn(digits);
    case 'damm':
      return damm(digits);
    case 'mod97':
      return mod97(digits);
    default:
      throw new TicketError('EBADREQ', `unknown check kind ${JSON.stringify(kind)}`);
  }
}

/** Width of the check part: 0 for `none`, 1 for `luhn` and `damm`, 2 for `mod97`. */
export function checkWidth(kind: CheckKind): number {
  switch (kind) {
    case 'none':
      return 0;
    case 'luhn':
    case 'damm':
      return 1;
    case 'mod97':
      return 2;
    default:
      throw new TicketError('EBADREQ', `unknown check kind ${JSON.stringify(kind)}`);
  }
}
