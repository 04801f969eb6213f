/**
 * A `memory:` store behind a wrapper that service tests subclass to delay,
 * hold or fail reservations (stores that misbehave on purpose). Everything a
 * subclass does not override goes straight to the inner MemoryStore.
 */
import { MemoryStore } from '../../src/store/memory-store.js';
import { StoreWrapper } from '../../src/store/store-wrapper.js';

export class DelegatingStore extends StoreWrapper {
  override readonly kind: string = 'delegating';
  override readonly description: string = 'memory store behind a test wrapper';
  /** Tests turn this on to play a store several servers share. */
  override shared = false;
  /** How often `has` was asked. */
  hasCalls = 0;

  constructor() {
    super(new MemoryStore());
  }

  override has(name: string): Promise<boolean> {
    this.hasCalls++;
    return super.has(name);
  }
}
