/**
 * The one catalogue of wire error codes. Every error that leaves the
 * server carries one of these codes; foreign errors (LMDB, ZeroMQ, drivers) are
 * translated at the boundary and kept as `cause`.
 */

/** Wire error codes (docs/protocols.md), plus `EINTERNAL` for failures that must not leak internals. */
export type ErrorCode =
  | 'EBADREQ'
  | 'EBADNAME'
  | 'ENOSEQ'
  | 'ELIMIT'
  | 'EJUMP'
  | 'EXHAUSTED'
  | 'EUNAVAILABLE'
  | 'ETIMEOUT'
  | 'EAUTH'
  | 'EINTERNAL';

interface CatalogueEntry {
  /** HTTP status used by the HTTP protocols. */
  readonly status: number;
  /** Default message when the raiser gives none. */
  readonly message: string;
}

/** Each code with its HTTP status and default message. */
export const ERROR_CATALOGUE: Readonly<Record<ErrorCode, CatalogueEntry>> = {
  EBADREQ: { status: 400, message: 'malformed request' },
  EBADNAME: { status: 400, message: 'bad sequence name' },
  ENOSEQ: { status: 404, message: 'no such sequence' },
  ELIMIT: { status: 400, message: 'too many sequences' },
  EJUMP: { status: 409, message: 'jump larger than --max-jump refused' },
  EXHAUSTED: { status: 503, message: 'sequence exhausted: next value would pass 2^63 - 1' },
  EUNAVAILABLE: { status: 503, message: 'store unreachable and no lease left' },
  ETIMEOUT: { status: 504, message: 'no server answered in time' },
  EAUTH: { status: 401, message: 'admin request without a valid token' },
  EINTERNAL: { status: 500, message: 'internal error' },
};

const KNOWN_CODES = new Set<string>(Object.keys(ERROR_CATALOGUE));

/** True when `code` is one of the catalogue's codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && KNOWN_CODES.has(code);
}

/**
 * An error with a wire code. `message` is safe to send to clients; the
 * original foreign error, if any, is kept as `cause` for logs only.
 */
export class TicketError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERROR_CATALOGUE[code].message, options);
    this.name = 'TicketError';
    this.code = code;
  }

  /** HTTP status for this error's code. */
  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }
}

/**
 * Turns anything thrown into a `TicketError`. Known ticket errors pass
 * through; anything else becomes `EINTERNAL` with a generic message, so that
 * no stack, path or driver text reaches a client.
 */
export function toTicketError(error: unknown): TicketError {
  if (error instanceof TicketError) return error;
  return new TicketError('EINTERNAL', undefined, { cause: error });
}
