/**
 * `releaseLeases`: many sequences go back at once, each newest lease first; the
 * total counts every slot handed back, and the store continues exactly where
 * each sequence's issued values ended.
 */
import { describe, expect, it } from 'vitest';
import { releaseLeases, type WithdrawnLeases } from '../../src/service/hand-back.js';
import { MemoryStore } from '../../src/store/memory-store.js';

const quiet = { info() {}, warn() {}, error() {} };

describe('releaseLeases', () => {
  it('hands back 300 sequences at once, counts every slot, and leaves each counter right after its issued values', async () => {
    const store = new MemoryStore();
    const withdrawn: WithdrawnLeases[] = [];
    for (let index = 0; index < 300; index++) {
      const name = `s${index}`;
      const current = await store.reserve(name, 10n); // [1, 11): 1..3 issued
      const next = await store.reserve(name, 20n); // [11, 31): untouched
      withdrawn.push({ name, leases: [{ start: 4n, end: current.end }, next] });
    }
    for (const mayKeep of [true, false]) {
      const copy = new MemoryStore();
      for (const { name } of withdrawn) await copy.reserve(name, 30n);
      expect(await releaseLeases(mayKeep ? store : copy, quiet, withdrawn, mayKeep)).toBe(300n * 27n);
    }
    for (const { name } of withdrawn) expect((await store.reserve(name, 0n)).start).toBe(4n);
  });

  it('stops at the first lease the store refuses, and counts only what it took', async () => {
    const store = new MemoryStore();
    const older = await store.reserve('s', 10n);
    await store.reserve('s', 10n); // someone else's lease above: the older tail cannot go back
    expect(await releaseLeases(store, quiet, [{ name: 's', leases: [{ start: 5n, end: older.end }] }], false)).toBe(0n);
    expect(await releaseLeases(store, quiet, [], false)).toBe(0n);
  });
});
