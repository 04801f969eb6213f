/**
 * `memory:` — a store that lives and dies with the process. For tests and
 * benchmarks only: it is not durable, and the server says so at start.
 */
import type { Numbering } from '../core/numbering.js';
import {
  NumberingMismatchError,
  planReservation,
  sameNumbering,
  type Lease,
  type Store,
  type StoreHealth,
  type StoredSequence,
} from './store.js';

/** In-process store; every operation completes on the next microtask. */
export class MemoryStore implements Store {
  readonly kind = 'memory';
  readonly description = 'memory: (not durable)';
  readonly durable = false;
  readonly shared = false;
  private readonly counters = new Map<string, bigint>();
  private numbering: Numbering | undefined;

  async open(): Promise<void> {}

  async fence(numbering: Numbering): Promise<void> {
    if (this.numbering === undefined) this.numbering = numbering;
    else if (!sameNumbering(this.numbering, numbering)) {
      throw new NumberingMismatchError(this.numbering, numbering, 'this memory store');
    }
  }

  async reserve(name: string, count: bigint, atLeast?: bigint): Promise<Lease> {
    const lease = planReservation(this.counters.get(name), count, atLeast);
    this.counters.set(name, lease.end);
    return lease;
  }

  async release(name: string, from: bigint, end: bigint): Promise<boolean> {
    if (this.counters.get(name) !== end || from > end) return false;
    this.counters.set(name, from);
    return true;
  }

  async has(name: string): Promise<boolean> {
    return this.counters.has(name);
  }

  async *list(): AsyncIterable<StoredSequence> {
    // UTF-8 byte order, as LMDB and the SQL stores (C collation) list names.
    const names = [...this.counters.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const name of names) {
      const next = this.counters.get(name);
      if (next !== undefined) yield { name, next };
    }
  }

  async health(): Promise<StoreHealth> {
    return { ok: true, detail: 'in memory, not durable' };
  }

  async close(): Promise<void> {}
}
