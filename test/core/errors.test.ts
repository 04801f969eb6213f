import { describe, it, expect } from 'vitest';
import { ERROR_CATALOGUE, TicketError, isErrorCode, toTicketError, type ErrorCode } from '../../src/core/errors.js';

const codes = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

describe('ERROR_CATALOGUE', () => {
  it('holds every code of SPEC §7 plus EINTERNAL', () => {
    expect([...codes].sort()).toEqual(
      ['EBADREQ', 'EBADNAME', 'ENOSEQ', 'ELIMIT', 'EJUMP', 'EXHAUSTED', 'EUNAVAILABLE', 'ETIMEOUT', 'EAUTH', 'EINTERNAL'].sort(),
    );
  });

  it.each(codes)('gives %s an HTTP error status and a message', (code) => {
    const entry = ERROR_CATALOGUE[code];
    expect(Number.isInteger(entry.status)).toBe(true);
    expect(entry.status).toBeGreaterThanOrEqual(400);
    expect(entry.status).toBeLessThan(600);
    expect(entry.message.trim()).not.toBe('');
  });

  it.each<[ErrorCode, number]>([
    ['EBADREQ', 400],
    ['EBADNAME', 400],
    ['ENOSEQ', 404],
    ['EJUMP', 409],
    ['EUNAVAILABLE', 503],
    ['EXHAUSTED', 503],
  ])('answers %s with the HTTP status SPEC §6.2 names (%i)', (code, status) => {
    expect(ERROR_CATALOGUE[code].status).toBe(status);
    expect(new TicketError(code).status).toBe(status);
  });
});

describe('TicketError', () => {
  it.each(codes)('uses the catalogue message for %s when none is given', (code) => {
    const error = new TicketError(code);
    expect(error.code).toBe(code);
    expect(error.message).toBe(ERROR_CATALOGUE[code].message);
    expect(error).toBeInstanceOf(Error);
  });

  it('keeps a message given by the raiser', () => {
    expect(new TicketError('EBADREQ', 'count must be 1 to 1000').message).toBe('count must be 1 to 1000');
  });
});

describe('isErrorCode', () => {
  it('recognises catalogue codes and nothing else', () => {
    for (const code of codes) expect(isErrorCode(code)).toBe(true);
    for (const other of ['ENOENT', 'ebadreq', '', 'toString', '__proto__', 1, undefined, null]) {
      expect(isErrorCode(other)).toBe(false);
    }
  });
});

describe('toTicketError', () => {
  it('passes a TicketError through unchanged', () => {
    const original = new TicketError('EJUMP', 'too far');
    expect(toTicketError(original)).toBe(original);
  });

  it('wraps a foreign error as EINTERNAL, keeping it as cause', () => {
    const original = new Error('MDB_CORRUPTED at /var/lib/ticket-server/data.mdb');
    const wrapped = toTicketError(original);
    expect(wrapped).toBeInstanceOf(TicketError);
    expect(wrapped.code).toBe('EINTERNAL');
    expect(wrapped.cause).toBe(original);
  });

  it('does not leak the foreign message to clients', () => {
    const wrapped = toTicketError(new Error('password=hunter2 at /var/lib/secret'));
    expect(wrapped.message).toBe(ERROR_CATALOGUE.EINTERNAL.message);
    expect(wrapped.message).not.toContain('hunter2');
    expect(wrapped.status).toBe(500);
  });

  it.each([['a string', 'boom /etc/passwd'], ['undefined', undefined], ['an object with a code', { code: 'EBADREQ', message: 'fake' }]])(
    'wraps %s as EINTERNAL',
    (_label, thrown) => {
      const wrapped = toTicketError(thrown);
      expect(wrapped.code).toBe('EINTERNAL');
      expect(wrapped.cause).toBe(thrown);
      expect(wrapped.message).toBe(ERROR_CATALOGUE.EINTERNAL.message);
    },
  );
});
