/**
 * The one catalogue of start-up error codes: the failures that end a command
 * before (or instead of) serving, beside the wire catalogue of `errors.ts`.
 * Each code says what the message looks like and which exit status the CLI
 * returns, so the status is decided in one place (`exitStatusOf`) rather than
 * by a chain of `instanceof` tests. Errors that carry a code keep the foreign
 * error they translate as `cause`.
 */

/** Exit status of a command that failed on its input: an option, a command line, an input file. */
export const EXIT_INVALID_INPUT = 2;
/** Exit status of a command that failed at run time: a store locked, missing or failing. */
export const EXIT_RUNTIME_FAILURE = 1;

interface StartupCatalogueEntry {
  /** Exit status of the command that failed with this code. */
  readonly exitStatus: typeof EXIT_INVALID_INPUT | typeof EXIT_RUNTIME_FAILURE;
  /** What the message says (its shape; the raiser writes the message itself). */
  readonly shape: string;
}

/** Each start-up code with its exit status and message shape. */
export const STARTUP_ERROR_CATALOGUE = {
  CONFIG_INVALID: {
    exitStatus: EXIT_INVALID_INPUT,
    shape: 'invalid --OPTION (or VARIABLE (--OPTION), or "key" in FILE (--OPTION)): why, got "VALUE"; ' +
      'also an unknown option, command or argument, and a command line with nothing to serve',
  },
  INPUT_INVALID: {
    exitStatus: EXIT_INVALID_INPUT,
    shape: 'invalid restore FILE PATH: why; or a command that cannot run on the given store (takeover on memory:)',
  },
  TAKEOVER_SOURCE_INVALID: {
    exitStatus: EXIT_INVALID_INPUT,
    shape: 'a takeover SOURCE that cannot be read or understood, named without its password',
  },
  NUMBERING_MISMATCH: {
    exitStatus: EXIT_INVALID_INPUT,
    shape: 'STORE was used with --instance I --instances N --offset O, but this start asks for …; how to renumber safely',
  },
  STORE_LOCKED: {
    exitStatus: EXIT_RUNTIME_FAILURE,
    shape: 'the embedded store is held by another process (names the directory and, when known, the holder)',
  },
  STORE_MISSING: {
    exitStatus: EXIT_RUNTIME_FAILURE,
    shape: 'a command that only reads (dump) found no store where it was pointed',
  },
  LISTEN_FAILED: {
    exitStatus: EXIT_RUNTIME_FAILURE,
    shape: 'cannot listen on ADDRESS for --OPTION (reason: address already in use, permission denied, …)',
  },
  STORE_OPEN_FAILED: {
    exitStatus: EXIT_RUNTIME_FAILURE,
    shape: 'cannot open the store DESCRIPTION (no password): the driver\'s reason',
  },
} as const satisfies Record<string, StartupCatalogueEntry>;

/** A start-up error code. */
export type StartupErrorCode = keyof typeof STARTUP_ERROR_CATALOGUE;

/** True when `code` is one of the start-up catalogue's codes. */
export function isStartupErrorCode(code: unknown): code is StartupErrorCode {
  return typeof code === 'string' && Object.hasOwn(STARTUP_ERROR_CATALOGUE, code);
}

/**
 * A start-up failure without a more specific class: a bad input file, or a
 * command that cannot run as asked. The CLI prints the message and exits with
 * the code's status.
 */
export class StartupError extends Error {
  readonly code: StartupErrorCode;

  constructor(code: StartupErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartupError';
    this.code = code;
  }
}

/**
 * Exit status for anything a command threw: the catalogue's status for an
 * error carrying one of its codes, else 1 (a runtime failure: a driver, the
 * network, a wire error).
 */
export function exitStatusOf(error: unknown): number {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return isStartupErrorCode(code) ? STARTUP_ERROR_CATALOGUE[code].exitStatus : EXIT_RUNTIME_FAILURE;
}
