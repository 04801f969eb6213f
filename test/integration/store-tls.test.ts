/**
 * TLS to the stores, against real database servers started with TLS and a
 * certificate made in the test: a MariaDB user that must connect over TLS
 * (`REQUIRE SSL`) reaches the store with the `ssl-*` parameters of the
 * mysql:// URI, and fails without them or without trusting the certificate.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempDir, removeTempDirs, runCli, startServer, stopAllServers } from '../helpers/server-process.js';
import { dbAvailable, destroyAllDbServers, startMariadb, type DbServer } from '../helpers/db-servers.js';
import { TLS_DB_USER } from '../helpers/db/mariadb.js';
import { nextValue } from '../helpers/zmq-client.js';

let dir: string;

/** A self-signed RSA certificate for 127.0.0.1 and its key (PEM files), made by the openssl CLI. */
function selfSigned(name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
    '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return { cert, key };
}

beforeAll(async () => {
  dir = await createTempDir();
});

afterAll(async () => {
  await stopAllServers();
  await destroyAllDbServers();
  await removeTempDirs();
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
