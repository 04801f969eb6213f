/**
 * SIGTERM and SIGINT from the first moment the process runs. Node's default
 * for them kills the process at once; loading the server's modules takes a
 * few hundred milliseconds, and a stop sent then must still end the process
 * cleanly. This module imports nothing, so the bin installs it before the
 * rest is even loaded.
 *
 * Until `serve` takes the signals over, a stop exits with status 0 (nothing
 * is open yet); a one-shot command gives them back to Node's default.
 */

/** What `serve` does on a stop; it is told which signal. */
export type StopHandler = (signal: NodeJS.Signals) => void;

const SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];
let handler: StopHandler | undefined;
let installed = false;

const onSignal = (signal: NodeJS.Signals): void => {
  if (handler) handler(signal);
  else process.exit(0);
};

/** Handles SIGTERM and SIGINT from now on (idempotent). */
export function installStopSignals(): void {
  if (installed) return;
  installed = true;
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

/** `serve`: every later stop goes to `next` (installs the handlers if the bin did not). */
export function handleStopSignals(next: StopHandler): void {
  installStopSignals();
  handler = next;
}

/** A one-shot command: SIGTERM and SIGINT end it as Node does by default (killed by the signal). */
export function releaseStopSignals(): void {
  if (!installed) return;
  installed = false;
  handler = undefined;
  for (const signal of SIGNALS) process.off(signal, onSignal);
}
