/**
 * A `memory:` store behind a wrapper that service tests subclass to delay,
 * hold or fail reservations (stores that misbehave on purpose). Everything a
 * subclass does not override goes straight to the inner MemoryStore.
 */
import type { Numbering } from '../../src/core/numbering.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { Lease, Store, StoreHealth, StoredSequence, StoredSettings } from '../../src/store/store.js';

export class DelegatingStore implements Store {
  readonly kind: string = 'delegating';
  readonly description: string = 'memory store behind a test wrapper';
  readonly durable = false;
  /** Tests turn this on to play a store several servers share. */
  shared = false;
  readonly inner = new MemoryStore();
  /** How often `has` was asked. */
  hasCalls = 0;

  open(): Promise<void> {
    return this.inner.open();
  }

  fence(numbering: Numbering): Promise<void> {
    return this.inner.fence(numbering);
  }

  reserve(name: string, count: bigint, atLeast?: bigint): Promise<Lease> {
    return this.inner.reserve(name, count, atLeast);
  }

  release(name: string, from: bigint, end: bigint): Promise<boolean> {
    return this.inner.release(name, from, end);
  }

  has(name: string): Promise<boolean> {
    this.hasCalls++;
    return this.inner.has(name);
  }

  list(): AsyncIterable<StoredSequence> {
    return this.inner.list();
  }

  readSettings(name: string): Promise<string | undefined> {
    return this.inner.readSettings(name);
  }

  writeSettings(name: string, settings: string | undefined): Promise<void> {
    return this.inner.writeSettings(name, settings);
  }

  listSettings(): AsyncIterable<StoredSettings> {
    return this.inner.listSettings();
  }

  health(): Promise<StoreHealth> {
    return this.inner.health();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
