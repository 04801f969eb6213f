/** Assertions on SPEC §7 errors, shared by the tests that check error codes. */
import { expect } from 'vitest';
import { TicketError, type ErrorCode } from '../../src/core/errors.js';

/**
 * The TicketError a request fails with (thrown at once or rejected later);
 * fails the test when the request succeeds or fails with anything else.
 */
export async function failure(request: () => unknown): Promise<TicketError> {
  try {
    await request();
  } catch (error) {
    expect(error).toBeInstanceOf(TicketError);
    return error as TicketError;
  }
  throw new Error('expected the request to fail, but it succeeded');
}

/** Expects `request` to fail with `code`. */
export async function expectCode(request: () => unknown, code: ErrorCode): Promise<void> {
  expect((await failure(request)).code).toBe(code);
}
