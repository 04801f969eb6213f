/**
 * Sequence-name rules (SPEC §3): 1–128 bytes of UTF-8, no control characters,
 * case-sensitive. The byte bound keeps store keys, metrics labels and log lines small.
 */
import { TicketError } from './errors.js';

/** Longest sequence name in UTF-8 bytes. */
export const MAX_NAME_BYTES = 128;

/** The sequence used by protocols that carry no name (POST /, TCP one-shot, STX). */
export const DEFAULT_SEQUENCE = 'default';

// C0 controls, DEL and C1 controls; lone surrogates cannot be encoded as UTF-8.
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Checks a sequence name and returns it unchanged.
 *
 * @throws TicketError EBADNAME when the name is not a string, is empty, longer
 *   than 128 UTF-8 bytes, or holds a control character or a lone surrogate.
 */
export function validateSequenceName(name: unknown): string {
  if (typeof name !== 'string') throw new TicketError('EBADNAME', 'sequence name must be a string');
  if (name.length === 0) throw new TicketError('EBADNAME', 'sequence name must not be empty');
  // A UTF-16 unit is at most 3 UTF-8 bytes, so short names skip the byte count.
  if (name.length * 3 > MAX_NAME_BYTES && Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) {
    throw new TicketError('EBADNAME', `sequence name longer than ${MAX_NAME_BYTES} bytes`);
  }
  if (FORBIDDEN.test(name)) {
    throw new TicketError('EBADNAME', 'sequence name must not contain control characters');
  }
  return name;
}
