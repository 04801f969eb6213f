/**
 * Decimal digits written straight into bytes, for every protocol that puts
 * many values on the wire: no string per value, and a run of consecutive
 * values (what one lease gives) is counted up in decimal from the first
 * instead of converting each value.
 *
 * The line protocol writes values followed by a space or LF; ZeroMQ writes
 * them as JSON strings (`"12","13"`), each in double quotes.
 */

/** Most bytes one value takes on the line protocol: 19 digits and a separator. */
export const VALUE_BYTES = 20;
/** Most bytes one quoted value takes: 19 digits, two quotes and a separator. */
export const QUOTED_VALUE_BYTES = 22;
/** `quote` of `writeValues` for values written bare. */
export const NO_QUOTE = -1;
/** 2^53 − 1: up to here a value converts to a double exactly. */
const MAX_EXACT = 0x1fffffffffffff;

/** "00" … "99" as pairs of ASCII digits, tens first. */
const DIGIT_PAIRS = new Uint8Array(200);
for (let index = 0; index < 100; index++) {
  DIGIT_PAIRS[2 * index] = 0x30 + Math.floor(index / 10);
  DIGIT_PAIRS[2 * index + 1] = 0x30 + (index % 10);
}

/**
 * Writes the decimal digits of `value` (0 … 2^63 − 1) at `offset`; returns the
 * offset after them. The caller makes sure 19 bytes fit.
 */
export function writeDigits(target: Uint8Array, offset: number, value: bigint): number {
  // One conversion (a BigInt comparison costs about as much); below 2^53 it is exact.
  let number = Number(value);
  if (number > MAX_EXACT || number < 0) {
    const text = value.toString();
    for (let index = 0; index < text.length; index++) target[offset + index] = text.charCodeAt(index);
    return offset + text.length;
  }
  let end = offset + 1;
  for (let bound = 10; bound <= number; bound *= 10) end++;
  let position = end;
  // Two digits per division; integer division on 32 bits when the value fits.
  while (number >= 100) {
    const quotient = number < 0x80000000 ? ((number / 100) | 0) : Math.floor(number / 100);
    const pair = (number - quotient * 100) * 2;
    target[--position] = DIGIT_PAIRS[pair + 1] as number;
    target[--position] = DIGIT_PAIRS[pair] as number;
    number = quotient;
  }
  if (number >= 10) {
    target[--position] = DIGIT_PAIRS[number * 2 + 1] as number;
    target[--position] = DIGIT_PAIRS[number * 2] as number;
  } else {
    target[--position] = 0x30 + number;
  }
  return end;
}

/**
 * Writes each value (at least one) followed by `terminator`, its digits
 * between two `quote` bytes unless `quote` is `NO_QUOTE`; returns the offset
 * after the last terminator. Values that are consecutive integers (what a run
 * of requests to one sequence, or a counted request, gets from one lease)
 * are written by counting up in decimal from the first; any others one by
 * one. The caller makes sure `values.length × VALUE_BYTES` bytes fit
 * (`QUOTED_VALUE_BYTES` when quoted).
 */
export function writeValues(target: Uint8Array, offset: number, values: readonly bigint[], terminator: number, quote = NO_QUOTE): number {
  const count = values.length;
  const first = values[0] as bigint;
  const quoted = quote !== NO_QUOTE;
  // Strictly increasing integers whose span is count − 1 are first, first + 1, …
  let increasing = count > 1;
  for (let index = 1; increasing && index < count; index++) increasing = (values[index] as bigint) > (values[index - 1] as bigint);
  if (!increasing || Number(values[count - 1]) - Number(first) !== count - 1 || Number(values[count - 1]) > MAX_EXACT) {
    for (let index = 0; index < count; index++) {
      if (quoted) target[offset++] = quote;
      offset = writeDigits(target, offset, values[index] as bigint);
      if (quoted) target[offset++] = quote;
      target[offset++] = terminator;
    }
    return offset;
  }
  // Between two values' digits: the terminator, or quote, terminator, quote.
  const gap = quoted ? 3 : 1;
  if (quoted) target[offset++] = quote;
  let start = offset;
  let end = writeDigits(target, offset, first);
  for (let value = 1; value < count; value++) {
    // Copy the previous value's digits after the gap, then add one.
    const length = end - start;
    const next = end + gap;
    for (let index = 0; index < length; index++) target[next + index] = target[start + index] as number;
    if (quoted) {
      target[end] = quote;
      target[end + 1] = terminator;
      target[end + 2] = quote;
    } else {
      target[end] = terminator;
    }
    let position = next + length - 1;
    while (position >= next && target[position] === 0x39) target[position--] = 0x30;
    start = next;
    if (position >= next) {
      target[position] = (target[position] as number) + 1;
      end = next + length;
    } else {
      // 99…9 + 1: one digit more.
      target[next] = 0x31;
      target[next + length] = 0x30;
      end = next + length + 1;
    }
  }
  if (quoted) target[end++] = quote;
  target[end] = terminator;
  return end + 1;
}
