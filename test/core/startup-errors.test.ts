import { describe, expect, it } from 'vitest';
import {
  STARTUP_ERROR_CATALOGUE,
  StartupError,
  exitStatusOf,
  isStartupErrorCode,
  type StartupErrorCode,
} from '../../src/core/startup-errors.js';
import { ConfigError } from '../../src/config/options.js';
import { TicketError } from '../../src/core/errors.js';
import { NumberingMismatchError, StoreLockedError, StoreMissingError } from '../../src/store/store.js';
import { StoreOpenError } from '../../src/store/shared-store.js';
import { TakeoverSourceError } from '../../src/takeover/sources.js';

const codes = Object.keys(STARTUP_ERROR_CATALOGUE) as StartupErrorCode[];
const numbering = { instance: 1, instances: 2, offset: 1n };

describe('STARTUP_ERROR_CATALOGUE', () => {
  it.each(codes)('gives %s exit status 1 or 2 and a message shape', (code) => {
    expect([1, 2]).toContain(STARTUP_ERROR_CATALOGUE[code].exitStatus);
    expect(STARTUP_ERROR_CATALOGUE[code].shape.trim()).not.toBe('');
    expect(isStartupErrorCode(code)).toBe(true);
  });

  it('shares no code with the wire catalogue, so a wire error is never taken for a start-up one', () => {
    for (const wire of ['EBADREQ', 'EUNAVAILABLE', 'EINTERNAL', 'ENOENT', 'toString', 'constructor']) {
      expect(isStartupErrorCode(wire)).toBe(false);
    }
  });
});

describe('the error classes and their exit status', () => {
  it.each<[string, Error, StartupErrorCode, number]>([
    ['ConfigError', new ConfigError('instances', 'invalid --instances'), 'CONFIG_INVALID', 2],
    ['NumberingMismatchError', new NumberingMismatchError(numbering, { ...numbering, instance: 2 }, 'data directory x'), 'NUMBERING_MISMATCH', 2],
    ['TakeoverSourceError', new TakeoverSourceError('cannot read seqgen:x'), 'TAKEOVER_SOURCE_INVALID', 2],
    ['StartupError(INPUT_INVALID)', new StartupError('INPUT_INVALID', 'invalid restore FILE x'), 'INPUT_INVALID', 2],
    ['StoreLockedError', new StoreLockedError('held by pid 1'), 'STORE_LOCKED', 1],
    ['StoreMissingError', new StoreMissingError('no data.mdb'), 'STORE_MISSING', 1],
    ['StoreOpenError', new StoreOpenError('postgres://u@h/db', new Error('ECONNREFUSED')), 'STORE_OPEN_FAILED', 1],
  ])('%s carries its code and exits with its status', (_name, error, code, status) => {
    expect((error as { code?: unknown }).code).toBe(code);
    expect(STARTUP_ERROR_CATALOGUE[code].exitStatus).toBe(status);
    expect(exitStatusOf(error)).toBe(status);
  });

  it('keeps the foreign error as cause', () => {
    const driver = new Error('ECONNREFUSED');
    expect(new StoreOpenError('mysql://u@h/db', driver).cause).toBe(driver);
    const locked = new StoreLockedError('held');
    expect(new StartupError('STORE_LOCKED', 'held; takeover changed nothing', { cause: locked }).cause).toBe(locked);
  });

  it.each<[string, unknown]>([
    ['a wire error', new TicketError('EUNAVAILABLE')],
    ['a driver error with a code of its own', Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })],
    ['a plain Error', new Error('boom')],
    ['a thrown string', 'boom'],
    ['undefined', undefined],
    ['null', null],
  ])('treats %s as a runtime failure (exit 1)', (_name, error) => {
    expect(exitStatusOf(error)).toBe(1);
  });
});
