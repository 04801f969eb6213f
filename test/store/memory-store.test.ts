import { describe, it, expect } from 'vitest';
import { MemoryStore } from '../../src/store/memory-store.js';
import { runStoreContract } from '../store-contract.js';

runStoreContract('memory', {
  keepsSlots: true,
  create: async () => {
    const store = new MemoryStore();
    await store.open();
    return { store, cleanup: () => store.close() };
  },
});

describe('MemoryStore', () => {
  it('says it is not durable', () => {
    const store = new MemoryStore();
    expect(store.durable).toBe(false);
    expect(store.description).toContain('not durable');
  });
});
