import { describe, it, expect, afterEach } from 'vitest';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LmdbStore } from '../../src/store/lmdb-store.js';
import { StoreLockedError, type Store } from '../../src/store/store.js';
import { runStoreContract } from '../store-contract.js';

async function makeDirectory(): Promise<string> {
  // realpath: the lock names the resolved directory, and os.tmpdir() may be a symlink.
  return realpath(await mkdtemp(join(tmpdir(), 'ticket-lmdb-')));
}

runStoreContract('lmdb', {
  keepsSlots: true,
  create: async () => {
    const directory = await makeDirectory();
    const opened: Store[] = [];
    const openStore = async (): Promise<Store> => {
      const store = new LmdbStore(directory);
      opened.push(store);
      await store.open();
      return store;
    };
    const store = await openStore();
    return {
      store,
      reopen: openStore,
      cleanup: async () => {
        for (const each of opened) await each.close();
        await rm(directory, { recursive: true, force: true });
      },
    };
  },
});

describe('LmdbStore', () => {
  const stores: LmdbStore[] = [];
  const directories: string[] = [];

  async function newStore(directory: string): Promise<LmdbStore> {
    const store = new LmdbStore(directory);
    stores.push(store);
    return store;
  }

  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
  });

  it('says it is durable and names its directory', async () => {
    const directory = await makeDirectory();
    directories.push(directory);
    const store = await newStore(directory);
    expect(store.durable).toBe(true);
    expect(store.description).toBe(`lmdb:${directory}`);
  });

  it('creates a missing data directory on open', async () => {
    const parent = await makeDirectory();
    directories.push(parent);
    const store = await newStore(join(parent, 'nested', 'data'));
    await store.open();
    expect(await store.reserve('a', 1n)).toEqual({ start: 1n, end: 2n });
  });

  it('refuses a second store on a directory that is open, naming the directory', async () => {
    const directory = await makeDirectory();
    directories.push(directory);
    const first = await newStore(directory);
    await first.open();
    const second = await newStore(directory);
    const error: unknown = await second.open().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(StoreLockedError);
    expect((error as Error).message).toContain(directory);
  });

  it('leaves the first store working after refusing a second', async () => {
    const directory = await makeDirectory();
    directories.push(directory);
    const first = await newStore(directory);
    await first.open();
    await first.reserve('a', 5n);
    await expect((await newStore(directory)).open()).rejects.toBeInstanceOf(StoreLockedError);
    expect(await first.reserve('a', 1n)).toEqual({ start: 6n, end: 7n });
  });

  it('lets a second store open once the first has closed', async () => {
    const directory = await makeDirectory();
    directories.push(directory);
    const first = await newStore(directory);
    await first.open();
    await first.reserve('a', 5n);
    await first.close();
    const second = await newStore(directory);
    await second.open();
    expect(await second.reserve('a', 1n)).toEqual({ start: 6n, end: 7n });
  });

  it('reports unhealthy after close instead of throwing', async () => {
    const directory = await makeDirectory();
    directories.push(directory);
    const store = await newStore(directory);
    await store.open();
    await store.close();
    expect((await store.health()).ok).toBe(false);
  });
});
