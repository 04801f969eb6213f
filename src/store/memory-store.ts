/**
 * `memory:` — a store that lives and dies with the process. For tests and
 * benchmarks only: it is not durable, and the server says so at start.
 */
import type { Numbering } from '../core/numbering.js';
import {
  NumberingMismatchError,
  sameNumbering,
  type Lease,
  type Store,
  type StoreHealth,
  type StoredSequence,
  type StoredSettings,
  type KeptSlots,
  checkSettingsLength,
} from './store.js';
import { keepInBook, reserveFromBook, type SlotRange } from './unissued.js';

/** In-process store; every operation completes on the next microtask. */
export class MemoryStore implements Store {
  readonly kind = 'memory';
  readonly description = 'memory: (not durable)';
  readonly durable = false;
  readonly shared = false;
  private readonly counters = new Map<string, bigint>();
  private readonly settings = new Map<string, string>();
  /** Unissued ranges below the counter, kept for later (see unissued.ts). */
  private readonly kept = new Map<string, readonly SlotRange[]>();
  private numbering: Numbering | undefined;

  async open(): Promise<void> {}

  async fence(numbering: Numbering): Promise<void> {
    if (this.numbering === undefined) this.numbering = numbering;
    else if (!sameNumbering(this.numbering, numbering)) {
      throw new NumberingMismatchError(this.numbering, numbering, 'this memory store');
    }
  }

  async reserve(name: string, count: bigint, atLeast?: bigint): Promise<Lease> {
    const { lease, book } = reserveFromBook(this.counters.get(name), this.kept.get(name) ?? [], count, atLeast);
    this.counters.set(name, book.counter);
    this.setKept(name, book.kept);
    return lease;
  }

  readonly unissued: KeptSlots = {
    keep: async (name, from, end) => {
      const book = keepInBook(this.counters.get(name), this.kept.get(name) ?? [], from, end);
      if (book === undefined) return false;
      this.counters.set(name, book.counter);
      this.setKept(name, book.kept);
      return true;
    },
    drop: async (name) => {
      this.kept.delete(name);
    },
  };

  private setKept(name: string, ranges: readonly SlotRange[]): void {
    if (ranges.length === 0) this.kept.delete(name);
    else this.kept.set(name, ranges);
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
    for (const name of sortByBytes([...this.counters.keys()])) {
      const next = this.counters.get(name);
      if (next !== undefined) yield { name, next };
    }
  }

  async readSettings(name: string): Promise<string | undefined> {
    return this.settings.get(name);
  }

  async writeSettings(name: string, settings: string | undefined): Promise<void> {
    checkSettingsLength(settings);
    if (settings === undefined) this.settings.delete(name);
    else this.settings.set(name, settings);
  }

  async *listSettings(): AsyncIterable<StoredSettings> {
    for (const name of sortByBytes([...this.settings.keys()])) {
      const settings = this.settings.get(name);
      if (settings !== undefined) yield { name, settings };
    }
  }

  async health(): Promise<StoreHealth> {
    return { ok: true, detail: 'in memory, not durable' };
  }

  async close(): Promise<void> {}
}

/** UTF-8 byte order, as LMDB and the SQL stores (C collation) list names. */
function sortByBytes(names: string[]): string[] {
  return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}
