/**
 * The shared back ends against real servers the harness starts in temp dirs:
 * the common store contract, then what only shared stores promise (several
 * servers on one store, outages, credentials kept out of sight).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createStore } from '../../src/store/open-store.js';
import { NumberingMismatchError, StoreMissingError, type Lease, type Store } from '../../src/store/store.js';
import { runStoreContract } from '../store-contract.js';
import { DB_BACKENDS, dbAvailable, destroyAllDbServers, emptyStoreUri, type DbServer } from '../helpers/db-servers.js';

afterAll(async () => {
  await destroyAllDbServers();
});

for (const backend of DB_BACKENDS) {
  describe.skipIf(!dbAvailable(backend.kind))(`${backend.label} store`, () => {
    let server: DbServer;
    const opened: Store[] = [];

    async function open(uri: string, options: Parameters<typeof createStore>[1] = {}): Promise<Store> {
      const store = await createStore(uri, { operationTimeoutMs: 3_000, poolTimeoutMs: 2_000, ...options });
      opened.push(store);
      await store.open();
      return store;
    }

    async function closeAll(): Promise<void> {
      for (const store of opened.splice(0)) await store.close().catch(() => undefined);
    }

    beforeAll(async () => {
      server = await backend.start();
    }, 120_000);

    afterAll(async () => {
      await closeAll();
      await server?.destroy();
    });

    runStoreContract(backend.label, {
      keepsSlots: false,
      create: async () => {
        const uri = await emptyStoreUri(server);
        const store = await open(uri);
        return { store, reopen: () => open(uri), cleanup: closeAll };
      },
    });

    describe('shared by several servers', () => {
      it('gives four stores on one database disjoint leases under concurrent reservations', async () => {
        const uri = await emptyStoreUri(server);
        const stores = await Promise.all([0, 1, 2, 3].map(() => open(uri, { poolSize: 2 })));
        const leases = await Promise.all(
          Array.from({ length: 120 }, (_, index) => (stores[index % 4] as Store).reserve('shared', BigInt((index % 5) + 1))),
        );
        const sorted = [...leases].sort((a, b) => (a.start < b.start ? -1 : 1));
        let expected = 1n;
        for (const lease of sorted) {
          expect(lease.start).toBe(expected);
          expected = lease.end;
        }
        expect(expected).toBe(1n + leases.reduce((sum, lease) => sum + (lease.end - lease.start), 0n));
        await closeAll();
      });

      it('refuses a release after another server reserved, and allows it once that server released', async () => {
        const uri = await emptyStoreUri(server);
        const [a, b] = await Promise.all([open(uri), open(uri)]);
        const first = await (a).reserve('tail', 10n);
        const second = await (b).reserve('tail', 10n);
        expect(second.start).toBe(first.end);
        expect(await (a).release('tail', 5n, first.end)).toBe(false);
        expect(await (b).release('tail', second.start, second.end)).toBe(true);
        expect(await (a).release('tail', 5n, first.end)).toBe(true);
        expect(await (b).reserve('tail', 1n)).toEqual({ start: 5n, end: 6n });
        await closeAll();
      });

      it('fences a second server that starts with another numbering', async () => {
        const uri = await emptyStoreUri(server);
        const a = await open(uri);
        await a.fence({ instance: 1, instances: 1, offset: 1n });
        const b = await open(uri);
        await expect(b.fence({ instance: 1, instances: 2, offset: 1n })).rejects.toBeInstanceOf(NumberingMismatchError);
        await expect(b.fence({ instance: 1, instances: 1, offset: 1n })).resolves.toBeUndefined();
        await closeAll();
      });

      it('lists more sequences than one page holds, each once, in byte order', async () => {
        const uri = await emptyStoreUri(server);
        const store = await open(uri, { poolSize: 8 });
        const names = Array.from({ length: 2_345 }, (_, index) => `s${String(index).padStart(5, '0')}`);
        for (let from = 0; from < names.length; from += 200) {
          await Promise.all(names.slice(from, from + 200).map((name) => store.reserve(name, 2n)));
        }
        const listed: string[] = [];
        for await (const sequence of store.list()) {
          expect(sequence.next).toBe(3n);
          listed.push(sequence.name);
        }
        expect(listed).toEqual(names);
        await closeAll();
      }, 60_000);

      it('refuses to open an empty store for a read-only command', async () => {
        const uri = await emptyStoreUri(server);
        await expect(open(uri, { mustExist: true })).rejects.toBeInstanceOf(StoreMissingError);
        await closeAll();
      });
    });

    describe('outage', () => {
      it('fails reservations and health while the server is down, and works again after it restarts, continuing the counter', async () => {
        const uri = await emptyStoreUri(server);
        const store = await open(uri);
        const before = await store.reserve('outage', 7n);
        await server.stop();
        try {
          await expect(store.reserve('outage', 1n)).rejects.toBeInstanceOf(Error);
          const health = await store.health();
          expect(health.ok).toBe(false);
          expect(health.detail).toBeTruthy();
        } finally {
          await server.start();
        }
        // Pools reconnect on their own; the first attempts may still meet dead connections.
        let lease: Lease | undefined;
        for (let attempt = 0; attempt < 20 && lease === undefined; attempt++) {
          lease = await store.reserve('outage', 1n).catch(async () => {
            await new Promise((resolve) => setTimeout(resolve, 250));
            return undefined;
          });
        }
        expect(lease?.start).toBeGreaterThanOrEqual(before.end);
        expect((await store.health()).ok).toBe(true);
        await closeAll();
      }, 90_000);
    });

    describe('credentials', () => {
      it('keeps the password out of the description and of health details', async () => {
        const uri = await emptyStoreUri(server);
        const withPassword = uri.includes('@') ? uri : uri.replace('etcd://', 'etcd://someone:s3cret-pw@');
        const store = await createStore(withPassword);
        opened.push(store);
        expect(store.description).not.toContain('s3cret');
        const password = /:\/\/[^:]*:([^@]*)@/.exec(withPassword)?.[1];
        if (password) expect(store.description).not.toContain(password);
        await closeAll();
      });
    });
  });
}
