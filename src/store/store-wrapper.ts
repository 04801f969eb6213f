/**
 * A `Store` that passes every call to another one: the base of stores that
 * add something on top of a real store (the `--workers` lease broker) and of
 * test stores that misbehave on purpose. A subclass overrides only what it
 * changes, so a method added to `Store` is passed through in one place.
 */
import type { Numbering } from '../core/numbering.js';
import type { KeptSlots, Lease, Store, StoreHealth, StoredSequence, StoredSettings } from './store.js';

/** Passes every `Store` call to `inner`; its kind, description, durability, sharing and kept slots are `inner`'s. */
export class StoreWrapper implements Store {
  readonly kind: string;
  readonly description: string;
  readonly durable: boolean;
  readonly shared: boolean;
  readonly unissued: KeptSlots | undefined;

  constructor(readonly inner: Store) {
    this.kind = inner.kind;
    this.description = inner.description;
    this.durable = inner.durable;
    this.shared = inner.shared;
    this.unissued = inner.unissued;
  }

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
