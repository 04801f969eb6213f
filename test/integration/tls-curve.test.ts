/**
 * Transport security of real server processes, with certificates and keys
 * made in the test:
 *
 * - HTTPS (`--tls-cert`/`--tls-key`) on the public API and the admin port:
 *   the client, `next` and `status` with `--ca`; a client that does not trust
 *   the certificate gets nothing; `--tls-ca` asks for client certificates;
 *   unreadable or mismatched files stop the start with exit 2;
 * - CurveZMQ (`--curve-secret-key`, `--curve-allow`): a client with the
 *   server key and an allowed key pair gets values; one without Curve, with a
 *   key pair not allowed, or with the wrong server key gets nothing, and the
 *   server keeps serving; proxy mode through Curve with `--curve-server-key`.
 */
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { curveKeyPair } from 'zeromq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCertificate } from '../helpers/certificates.js';
import { createClient } from '../../src/client/client.js';
import { createTempDir, removeTempDirs, runCli, startServer, stopAllServers, urlOf, type ServerProcess } from '../helpers/server-process.js';

const WAIT_MS = 5_000;
/** How long a client that cannot connect is given before it counts as refused. */
const REFUSED_MS = 1_500;

let dir: string;

/** A self-signed certificate for 127.0.0.1 (see `selfSignedCertificate`). */
function selfSigned(name: string): { cert: string; key: string } {
  return selfSignedCertificate(dir, name);
}

beforeAll(async () => {
  dir = await createTempDir();
});

afterAll(async () => {
  await stopAllServers();
  await removeTempDirs();
});

describe('HTTPS', () => {
  let server: ServerProcess;
  let tls: { cert: string; key: string };

  beforeAll(async () => {
    tls = selfSigned('server');
    server = await startServer(['--store', 'memory:', '--tls-cert', tls.cert, '--tls-key', tls.key]);
  });

  it('serves the public API and the admin port over https only', async () => {
    expect(urlOf(server, 'http')).toMatch(/^https:\/\/127\.0\.0\.1:[0-9]+$/);
    expect(urlOf(server, 'admin')).toMatch(/^https:\/\/127\.0\.0\.1:[0-9]+$/);
    const plain = urlOf(server, 'http').replace('https:', 'http:');
    await expect(fetch(`${plain}/v1/sequences/a/next`, { method: 'POST', signal: AbortSignal.timeout(WAIT_MS) })).rejects.toThrow();
  });

  it('the client gets values with the CA, nothing without it', async () => {
    const ca = await readFile(tls.cert, 'utf8');
    const trusting = createClient(urlOf(server, 'http'), { ca, timeout: WAIT_MS });
    const untrusting = createClient(urlOf(server, 'http'), { timeout: REFUSED_MS });
    try {
      expect(await trusting.next('tls', { count: 2 })).toHaveLength(2);
      await expect(untrusting.next('tls')).rejects.toMatchObject({ code: 'ETIMEOUT' });
    } finally {
      await trusting.close();
      await untrusting.close();
    }
  });

  it('next and status take https URLs with --ca', async () => {
    const next = await runCli(['next', 'tls', '--server', urlOf(server, 'http'), '--ca', tls.cert]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toMatch(/^[1-9][0-9]*\n$/);
    const status = await runCli(['status', '--admin', urlOf(server, 'admin'), '--ca', tls.cert, '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ ready: true });
    const untrusted = await runCli(['status', '--admin', urlOf(server, 'admin')]);
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/SELF_SIGNED|self-signed|certificate/i);
  });

  it('--tls-ca: only clients presenting a certificate it signed are answered', async () => {
    const client = selfSigned('client');
    const mutual = await startServer(['--store', 'memory:', '--tls-cert', tls.cert, '--tls-key', tls.key, '--tls-ca', client.cert]);
    const ca = await readFile(tls.cert);
    const ask = (withCertificate: boolean): Promise<number> =>
      new Promise((resolve, reject) => {
        const request = httpsRequest(`${urlOf(mutual, 'http')}/v1/sequences/m/next`, {
          method: 'POST',
          ca,
          timeout: WAIT_MS,
          ...(withCertificate ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
        }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.on('error', reject);
        request.end();
      });
    expect(await ask(true)).toBe(200);
    await expect(ask(false)).rejects.toThrow();
    await mutual.stop();
  });

  it('stops the start with exit 2 for a missing file or a key that is not the certificate\'s', async () => {
    const other = selfSigned('other');
    const quiet = ['--store', 'memory:', '--bind', 'off', '--http', '127.0.0.1:0', '--admin', 'off'];
    const mismatched = await runCli([...quiet, '--tls-cert', tls.cert, '--tls-key', other.key]);
    expect(mismatched.code).toBe(2);
    expect(mismatched.stderr).toContain('--tls-cert/--tls-key');
    const missing = await runCli([...quiet, '--tls-cert', join(dir, 'absent.crt'), '--tls-key', tls.key]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--tls-cert.*ENOENT/);
    const alone = await runCli([...quiet, '--tls-cert', tls.cert]);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain('--tls-key');
  });
});

describe('CurveZMQ', () => {
  const serverKeys = curveKeyPair();
  const allowedKeys = curveKeyPair();
  const otherKeys = curveKeyPair();
  let server: ServerProcess;
  let allowedKeyFile: string;

  beforeAll(async () => {
    const secretFile = join(dir, 'server.key');
    await writeFile(secretFile, `${serverKeys.secretKey}\n${serverKeys.publicKey}\n`);
    const allowFile = join(dir, 'allowed');
    await writeFile(allowFile, `# clients\n${allowedKeys.publicKey}\n`);
    allowedKeyFile = join(dir, 'client.key');
    await writeFile(allowedKeyFile, `${allowedKeys.secretKey}\n`);
    server = await startServer(['--store', 'memory:', '--curve-secret-key', secretFile, '--curve-allow', allowFile]);
    expect(server.logLines().some((line) => line.curvePublicKey === serverKeys.publicKey)).toBe(true);
  });

  const allowedClient = (timeout = WAIT_MS): ReturnType<typeof createClient> =>
    createClient(server.endpoint, {
      timeout,
      curveServerKey: serverKeys.publicKey,
      curvePublicKey: allowedKeys.publicKey,
      curveSecretKey: allowedKeys.secretKey,
    });

  it('an allowed client gets values', async () => {
    const client = allowedClient();
    try {
      expect(typeof (await client.next('curve'))).toBe('bigint');
      expect(await client.next('curve', { count: 3 })).toHaveLength(3);
    } finally {
      await client.close();
    }
  });

  it('a client without Curve, with a key not allowed, or with the wrong server key gets nothing; the server keeps serving', async () => {
    const refused = [
      createClient(server.endpoint, { timeout: REFUSED_MS }),
      createClient(server.endpoint, {
        timeout: REFUSED_MS,
        curveServerKey: serverKeys.publicKey,
        curvePublicKey: otherKeys.publicKey,
        curveSecretKey: otherKeys.secretKey,
      }),
      createClient(server.endpoint, { timeout: REFUSED_MS, curveServerKey: serverKeys.publicKey }), // a fresh pair
      createClient(server.endpoint, {
        timeout: REFUSED_MS,
        curveServerKey: otherKeys.publicKey,
        curvePublicKey: allowedKeys.publicKey,
        curveSecretKey: allowedKeys.secretKey,
      }),
    ];
    try {
      for (const [index, client] of refused.entries()) {
        await expect(client.next('curve'), `client ${index}`).rejects.toMatchObject({ code: 'ETIMEOUT' });
      }
    } finally {
      await Promise.all(refused.map((client) => client.close()));
    }
    const client = allowedClient();
    try {
      expect(typeof (await client.next('curve'))).toBe('bigint');
    } finally {
      await client.close();
    }
  });

  it('ticket-server next --curve-server-key --curve-client-key', async () => {
    const ok = await runCli(['next', 'curve', '--server', server.endpoint, '--curve-server-key', serverKeys.publicKey, '--curve-client-key', allowedKeyFile]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^[1-9][0-9]*\n$/);
  });

  it('a proxy reaches a Curve upstream with --curve-server-key and --curve-client-key', async () => {
    const proxy = await startServer(['--host', server.endpoint, '--curve-server-key', serverKeys.publicKey, '--curve-client-key', allowedKeyFile]);
    const response = await fetch(`${urlOf(proxy, 'http')}/v1/sequences/via-proxy/next`, { method: 'POST', signal: AbortSignal.timeout(WAIT_MS) });
    expect(response.status, await response.clone().text()).toBe(200);
    await proxy.stop();
  });

  it('without --curve-allow any client that knows the server key gets values; plain clients do not', async () => {
    const secretFile = join(dir, 'open.key');
    const keys = curveKeyPair();
    await writeFile(secretFile, `${keys.secretKey}\n`);
    const open = await startServer(['--store', 'memory:', '--curve-secret-key', secretFile]);
    const anyKey = createClient(open.endpoint, { timeout: WAIT_MS, curveServerKey: keys.publicKey });
    const plain = createClient(open.endpoint, { timeout: REFUSED_MS });
    try {
      expect(typeof (await anyKey.next('open'))).toBe('bigint');
      await expect(plain.next('open')).rejects.toMatchObject({ code: 'ETIMEOUT' });
    } finally {
      await anyKey.close();
      await plain.close();
      await open.stop();
    }
  });

  it('refuses a malformed key file or allow-list with exit 2', async () => {
    const bad = join(dir, 'bad.key');
    await writeFile(bad, 'not a key\n');
    const quiet = ['--store', 'memory:', '--bind', 'tcp://127.0.0.1:0', '--http', 'off', '--admin', 'off'];
    const badKey = await runCli([...quiet, '--curve-secret-key', bad]);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toContain('--curve-secret-key');
    const goodKey = join(dir, 'good.key');
    await writeFile(goodKey, `${curveKeyPair().secretKey}\n`);
    const badAllow = await runCli([...quiet, '--curve-secret-key', goodKey, '--curve-allow', bad]);
    expect(badAllow.code).toBe(2);
    expect(badAllow.stderr).toContain('--curve-allow');
  });
});
