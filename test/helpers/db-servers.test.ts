/**
 * Checks the database harness itself: each server starts, the real driver
 * can write and read through the URI, and the data survives stop()/start()
 * (and kill()/start(), i.e. crash recovery). Skipped (with a warning) where a
 * server is not installed; a failure in CI.
 */
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { Etcd3 } from 'etcd3';
import { dbAvailable, destroyAllDbServers, startEtcd, startMariadb, startPostgres, type DbServer } from './db-servers.js';

afterAll(destroyAllDbServers);

async function withPg<T>(server: DbServer, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: server.uri, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function withMysql<T>(server: DbServer, use: (connection: mysql.Connection) => Promise<T>): Promise<T> {
  const connection = await mysql.createConnection({ uri: server.uri, connectTimeout: 5_000 });
  connection.on('error', () => undefined);
  try {
    return await use(connection);
  } finally {
    await connection.end();
  }
}

/** `etcd://h1:p1,h2:p2` → the `hosts` option of etcd3. */
function etcdHosts(uri: string): string[] {
  expect(uri).toMatch(/^etcd:\/\/127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+)*$/);
  return uri
    .slice('etcd://'.length)
    .split(',')
    .map((host) => `http://${host}`);
}

async function withEtcd<T>(hosts: string[], use: (client: Etcd3) => Promise<T>): Promise<T> {
  const client = new Etcd3({ hosts, dialTimeout: 5_000 });
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

/**
 * Waits until every host answers {"health":"true"} (a read through raft, so a
 * live leader is known). A put sent to a follower that still believes in a
 * just-killed leader would otherwise stall for etcd's request timeout (~7 s).
 */
async function waitEtcdHealthy(hosts: readonly string[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (let attempt = 0; attempt < 150 && Date.now() < deadline; attempt++) {
    const healthy = await Promise.all(
      hosts.map(async (host) => {
        try {
          const response = await fetch(`${host}/health`, { signal: AbortSignal.timeout(2_000) });
          return ((await response.json()) as { health?: unknown }).health === 'true';
        } catch {
          return false;
        }
      }),
    );
    if (healthy.every(Boolean)) return;
    await new Promise((resolveSleep) => setTimeout(resolveSleep, 100));
  }
  throw new Error(`etcd hosts ${hosts.join(', ')} did not become healthy`);
}

describe.skipIf(!dbAvailable('postgres'))('postgres harness', () => {
  it('starts on loopback, keeps data across stop/start and kill/start, and is destroyed', async () => {
    const server = await startPostgres();
    try {
      expect(server.kind).toBe('postgres');
      expect(server.uri).toMatch(/^postgres:\/\/ticket:[^@]+@127\.0\.0\.1:\d+\/tickets$/);
      await withPg(server, async (client) => {
        await client.query('CREATE TABLE kv (k text PRIMARY KEY, v text NOT NULL)');
        await client.query("INSERT INTO kv VALUES ('a', 'one')");
      });

      await server.stop();
      await expect(withPg(server, async () => undefined)).rejects.toThrow();
      await server.start();
      const afterStop = await withPg(server, async (client) => {
        await client.query("INSERT INTO kv VALUES ('b', 'two')");
        return (await client.query<{ v: string }>("SELECT v FROM kv WHERE k = 'a'")).rows[0]?.v;
      });
      expect(afterStop).toBe('one');

      await server.kill();
      await server.start();
      const afterKill = await withPg(server, async (client) => (await client.query<{ v: string }>('SELECT v FROM kv ORDER BY k')).rows.map((row) => row.v));
      expect(afterKill).toEqual(['one', 'two']);
    } finally {
      await server.destroy();
    }
    await server.destroy(); // idempotent
  });
});

describe.skipIf(!dbAvailable('mariadb'))('mariadb harness', () => {
  it('starts on loopback, keeps data across stop/start and kill/start, and is destroyed', async () => {
    const server = await startMariadb();
    try {
      expect(server.kind).toBe('mariadb');
      expect(server.uri).toMatch(/^mysql:\/\/ticket:[^@]+@127\.0\.0\.1:\d+\/tickets$/);
      await withMysql(server, async (connection) => {
        await connection.query('CREATE TABLE kv (k VARCHAR(64) PRIMARY KEY, v TEXT NOT NULL) ENGINE=InnoDB');
        await connection.query("INSERT INTO kv VALUES ('a', 'one')");
      });

      await server.stop();
      await expect(withMysql(server, async () => undefined)).rejects.toThrow();
      await server.start();
      const afterStop = await withMysql(server, async (connection) => {
        await connection.query("INSERT INTO kv VALUES ('b', 'two')");
        const [rows] = await connection.query<mysql.RowDataPacket[]>("SELECT v FROM kv WHERE k = 'a'");
        return rows[0]?.v as unknown;
      });
      expect(afterStop).toBe('one');

      await server.kill();
      await server.start();
      const afterKill = await withMysql(server, async (connection) => {
        const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT v FROM kv ORDER BY k');
        return rows.map((row) => row.v as unknown);
      });
      expect(afterKill).toEqual(['one', 'two']);
    } finally {
      await server.destroy();
    }
  });
});

describe.skipIf(!dbAvailable('etcd'))('etcd harness', () => {
  it('single node: keeps data across stop/start', async () => {
    const server = await startEtcd();
    try {
      expect(server.members).toHaveLength(1);
      const hosts = etcdHosts(server.uri);
      expect(hosts).toHaveLength(1);
      await withEtcd(hosts, async (client) => {
        await client.put('harness/a').value('one');
      });
      await server.stop();
      await server.start();
      expect(await withEtcd(hosts, (client) => client.get('harness/a').string())).toBe('one');
    } finally {
      await server.destroy();
    }
  });

  it('three nodes: survives one killed member, which rejoins and catches up', async () => {
    const cluster = await startEtcd({ nodes: 3 });
    try {
      const hosts = etcdHosts(cluster.uri);
      expect(hosts).toHaveLength(3);
      expect(cluster.members.map((member) => member.uri)).toEqual(hosts.map((host) => host.replace('http://', 'etcd://')));
      await withEtcd(hosts, async (client) => {
        await client.put('harness/a').value('one');
      });

      const [down, ...up] = cluster.members;
      if (down === undefined) throw new Error('no members');
      await down.kill();
      const remaining = up.flatMap((member) => etcdHosts(member.uri));
      await waitEtcdHealthy(remaining);
      await withEtcd(remaining, async (client) => {
        await client.put('harness/b').value('two');
        expect(await client.get('harness/a').string()).toBe('one');
      });

      await down.start();
      // a linearizable read on the restarted member alone: it has rejoined and caught up
      expect(await withEtcd(etcdHosts(down.uri), (client) => client.get('harness/b').string())).toBe('two');

      await cluster.stop();
      await cluster.start();
      expect(await withEtcd(hosts, (client) => client.getAll().prefix('harness/').strings())).toEqual({ 'harness/a': 'one', 'harness/b': 'two' });
    } finally {
      await cluster.destroy();
    }
  });
});
