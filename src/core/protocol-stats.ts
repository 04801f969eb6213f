/**
 * Plain counters the protocols bump on every request. Metrics read them at
 * scrape time, so the hot path pays an integer add, never a label lookup.
 */
import type { ErrorCode } from './errors.js';

/** Protocols that count tickets. */
export type ProtocolName = 'zmq' | 'http' | 'tcp' | 'line';

/** Request counters per protocol and error code. */
export class ProtocolStats {
  readonly issued: Record<ProtocolName, number> = { zmq: 0, http: 0, tcp: 0, line: 0 };
  readonly errors = new Map<string, number>();

  countIssued(protocol: ProtocolName, values: number): void {
    this.issued[protocol] += values;
  }

  countError(protocol: ProtocolName, code: ErrorCode): void {
    const key = `${protocol} ${code}`;
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }
}
