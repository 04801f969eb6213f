/**
 * Parsing of the request fields every protocol shares: `last` and `count`.
 * Protocols call these so that the same input gets the same error everywhere.
 */
import { TicketError } from './errors.js';
import { MAX_VALUE } from './numbering.js';

/** Largest `count` one request may ask for (ZeroMQ and HTTP `count`, line `NEXT name count`). */
export const MAX_COUNT = 1000;

const DIGITS = /^[0-9]{1,19}$/;

/**
 * Parses a ticket value given by a client (`last`, a floor): a base-10
 * string, or a non-negative safe integer, from 0 to 2^63 − 1.
 *
 * @throws TicketError EBADREQ naming `field` for anything else.
 */
export function parseValue(input: unknown, field: string): bigint {
  let value: bigint | undefined;
  if (typeof input === 'string' && DIGITS.test(input)) value = BigInt(input);
  else if (typeof input === 'number' && Number.isSafeInteger(input) && input >= 0) value = BigInt(input);
  if (value === undefined || value > MAX_VALUE) {
    throw new TicketError('EBADREQ', `${field} must be a base-10 integer string from 0 to 2^63 - 1`);
  }
  return value;
}

/**
 * Parses `last` (see `parseValue`). `undefined`, `null` and "0" mean unknown
 * and give `undefined`.
 *
 * @throws TicketError EBADREQ for anything else.
 */
export function parseLast(input: unknown): bigint | undefined {
  if (input === undefined || input === null) return undefined;
  const value = parseValue(input, 'last');
  return value === 0n ? undefined : value;
}

/**
 * Parses `count`: an integer from 1 to 1000, as a number or a base-10 string.
 *
 * @throws TicketError EBADREQ for anything else.
 */
export function parseCount(input: unknown): number {
  const value =
    typeof input === 'number' ? input : typeof input === 'string' && /^[0-9]{1,4}$/.test(input) ? Number(input) : NaN;
  if (!Number.isInteger(value) || value < 1 || value > MAX_COUNT) {
    throw new TicketError('EBADREQ', `count must be an integer from 1 to ${MAX_COUNT}`);
  }
  return value;
}
