/**
 * TLS to the stores, against real database servers started with TLS and a
 * certificate made in the test:
 *
 * - etcd serving its clients over TLS with authentication on: a server with
 *   `etcd://USER:PASS@…?cacert=FILE` gets values; without TLS, without the
 *   credentials or with a wrong password it cannot open the store;
 * - PostgreSQL with `ssl=on`: `sslmode=verify-full&sslrootcert=FILE` reach
 *   the driver (values issued), and `sslmode=verify-full` without the CA
 *   fails (the certificate really is checked);
 * - a MariaDB user that must connect over TLS (`REQUIRE SSL`) reaches the
 *   store with the `ssl-*` parameters of the mysql:// URI, and fails without
 *   them or without trusting the certificate.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCertificate } from '../helpers/certificates.js';
import { createTempDir, removeTempDirs, runCli, startServer, stopAllServers } from '../helpers/server-process.js';
import { dbAvailable, destroyAllDbServers, freePorts, startMariadb, startPostgres, type DbServer } from '../helpers/db-servers.js';
import { TLS_DB_USER } from '../helpers/db/mariadb.js';
import { nextValue } from '../helpers/zmq-client.js';

let dir: string;

/** A self-signed certificate for 127.0.0.1 (see `selfSignedCertificate`). */
function selfSigned(name: string): { cert: string; key: string } {
  return selfSignedCertificate(dir, name, 'rsa');
}

beforeAll(async () => {
  dir = await createTempDir();
});

afterAll(async () => {
  await stopAllServers();
  await destroyAllDbServers();
  await removeTempDirs();
});

describe.skipIf(!dbAvailable('etcd'))('etcd over TLS with authentication', () => {
  const USER = 'ticket';
  const PASSWORD = 'etcd-secret-pw';
  let etcd: ChildProcess | undefined;
  let tls: { cert: string; key: string };
  let port: number;
  const quiet = ['--bind', 'tcp://127.0.0.1:0', '--http', 'off', '--admin', 'off', '--pool-timeout', '2000'];

  beforeAll(async () => {
    tls = selfSigned('etcd');
    const [clientPort, peerPort] = await freePorts(2);
    port = clientPort as number;
    const client = `https://127.0.0.1:${port}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    etcd = spawn('etcd', [
      '--name', 'tls', '--data-dir', join(dir, 'etcd-data'),
      '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `tls=${peer}`,
      '--cert-file', tls.cert, '--key-file', tls.key,
    ], { stdio: 'ignore' });
    // Wait (bounded) until it answers over TLS, then turn authentication on with a user for the server.
    const admin = new Etcd3({ hosts: [client], credentials: { rootCertificate: await readFile(tls.cert) } });
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          await admin.get('probe').string();
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
      await admin.role('root').create().catch(() => undefined); // exists already in some versions
      await admin.user('root').create('root-secret-pw');
      await admin.user('root').addRole('root');
      await admin.user(USER).create(PASSWORD);
      await admin.user(USER).addRole('root');
      await admin.auth.authEnable();
    } finally {
      admin.close();
    }
  }, 60_000);

  afterAll(() => {
    etcd?.kill('SIGKILL');
  });

  it('a server with the credentials and cacert gets values', async () => {
    const uri = `etcd://${USER}:${PASSWORD}@127.0.0.1:${port}?cacert=${encodeURIComponent(tls.cert)}`;
    const server = await startServer(['--store', uri, '--http', 'off', '--admin', 'off']);
    expect(await nextValue(server.endpoint, 'etcd-tls')).toBeGreaterThan(0n);
    await server.stop();
  });

  it('fails to open without TLS, without credentials, or with a wrong password', async () => {
    const cases = [
      `etcd://${USER}:${PASSWORD}@127.0.0.1:${port}`,
      `etcd://127.0.0.1:${port}?cacert=${encodeURIComponent(tls.cert)}`,
      `etcd://${USER}:wrong-password@127.0.0.1:${port}?cacert=${encodeURIComponent(tls.cert)}`,
    ];
    for (const uri of cases) {
      const result = await runCli(['--store', uri, ...quiet], { timeoutMs: 30_000 });
      expect(result.code, `${uri}\n${result.stderr}`).toBe(1);
    }
  });

  it('refuses TLS parameters it cannot use before starting (exit 2)', async () => {
    for (const query of ['cert=a', 'cacert=a&cert=b', 'sslmode=require']) {
      const result = await runCli(['--store', `etcd://127.0.0.1:${port}?${query}`, '--bind', 'off', '--http', '127.0.0.1:0', '--admin', 'off']);
      expect(result.code, query).toBe(2);
    }
  });
});

describe.skipIf(!dbAvailable('postgres'))('PostgreSQL over TLS', () => {
  let db: DbServer;
  let tls: { cert: string; key: string };

  beforeAll(async () => {
    tls = selfSigned('postgres');
    db = await startPostgres({ tls });
  }, 120_000);

  it('sslmode=verify-full with sslrootcert gets values', async () => {
    const server = await startServer(['--store', `${db.uri}?sslmode=verify-full&sslrootcert=${encodeURIComponent(tls.cert)}`, '--http', 'off', '--admin', 'off']);
    expect(await nextValue(server.endpoint, 'pg-tls')).toBeGreaterThan(0n);
    await server.stop();
  });

  it('sslmode=verify-full without the CA fails to open the store', async () => {
    const result = await runCli(['--store', `${db.uri}?sslmode=verify-full`, '--bind', 'tcp://127.0.0.1:0', '--http', 'off', '--admin', 'off', '--pool-timeout', '2000'], { timeoutMs: 30_000 });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot open the store/i);
  });
});

describe.skipIf(!dbAvailable('mariadb'))('MariaDB over TLS', () => {
  let db: DbServer;
  let tls: { cert: string; key: string };
  /** The TLS-only user's URI without parameters. */
  let base: string;

  beforeAll(async () => {
    tls = selfSigned('mariadb');
    db = await startMariadb({ tls });
    base = db.uri.replace(/^mysql:\/\/[^:]+:/, `mysql://${TLS_DB_USER}:`);
  }, 120_000);

  it('a TLS-only user gets values with ssl-ca', async () => {
    const uri = `${base}?ssl-ca=${encodeURIComponent(tls.cert)}`;
    const server = await startServer(['--store', uri, '--http', 'off', '--admin', 'off']);
    expect(await nextValue(server.endpoint, 'tls')).toBeGreaterThan(0n);
    await server.stop();
  });

  it('ssl=true with ssl-reject-unauthorized=false also connects (no certificate check)', async () => {
    const server = await startServer(['--store', `${base}?ssl=true&ssl-reject-unauthorized=false`, '--http', 'off', '--admin', 'off']);
    expect(await nextValue(server.endpoint, 'tls')).toBeGreaterThan(0n);
    await server.stop();
  });

  it('fails to open without TLS, or when the certificate is not trusted', async () => {
    const quiet = ['--bind', 'tcp://127.0.0.1:0', '--http', 'off', '--admin', 'off'];
    const plain = await runCli(['--store', base, ...quiet], { timeoutMs: 30_000 });
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/cannot open the store/i);
    const untrusted = await runCli(['--store', `${base}?ssl=true`, ...quiet], { timeoutMs: 30_000 });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/cannot open the store/i);
  });

  it('refuses unusable ssl parameters before starting (exit 2)', async () => {
    const result = await runCli(['--store', `${base}?ssl=maybe`, '--bind', 'off', '--http', '127.0.0.1:0', '--admin', 'off']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ssl');
  });
});
