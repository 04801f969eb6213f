/**
 * `ticket-server status`: a running server's /status, summarised or as JSON,
 * and exit 1 naming the URL when the server is not ready or not there.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCli, startServer, stopAllServers, urlOf } from '../helpers/server-process.js';
import { nextValues } from '../helpers/zmq-client.js';
import { deadPort } from '../helpers/ports.js';

afterEach(async () => {
  await stopAllServers();
});

afterAll(async () => {
  await stopAllServers();
});

describe('ticket-server status', () => {
  it('summarises a ready server: ready, mode, store and its busiest sequence, exit 0', async () => {
    const server = await startServer(['--store', 'memory:']);
    await nextValues(server.endpoint, 'status-orders', 3);
    const admin = urlOf(server, 'admin');
    const result = await runCli(['status', '--admin', admin]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(admin);
    expect(result.stdout).toMatch(/ready +yes/);
    expect(result.stdout).toMatch(/mode +server/);
    expect(result.stdout).toMatch(/store +memory:/);
    expect(result.stdout).toMatch(/status-orders: last 3/);
  });

  it('prints the /status document with --json', async () => {
    const server = await startServer(['--store', 'memory:']);
    const result = await runCli(['status', '--admin', urlOf(server, 'admin'), '--json']);
    expect(result.code).toBe(0);
    const document = JSON.parse(result.stdout) as { ready: boolean; mode: string; endpoints: Record<string, string> };
    expect(document.ready).toBe(true);
    expect(document.mode).toBe('server');
    expect(document.endpoints.zmq).toBe(server.endpoint);
  });

  it('exits 1 when the server is up but not ready (a proxy whose only upstream is down)', async () => {
    const proxy = await startServer(['--host', `tcp://127.0.0.1:${await deadPort()}`, '--timeout', '200']);
    const admin = urlOf(proxy, 'admin');
    // A proxy counts an upstream up until requests to it fail: make a few fail (bounded).
    let result = await runCli(['status', '--admin', admin]);
    for (let attempt = 0; attempt < 5 && result.code === 0; attempt++) {
      await runCli(['next', 'status-proxied', '--server', proxy.endpoint, '--timeout', '1000']);
      result = await runCli(['status', '--admin', admin]);
    }
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/ready +NO/);
    expect(result.stderr).toContain(`ticket-server: ${admin} is not ready`);
  });

  it('exits 1 naming the URL when nothing answers there', async () => {
    const url = `http://127.0.0.1:${await deadPort()}`;
    const result = await runCli(['status', '--admin', url]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`cannot get the status from ${url} (ECONNREFUSED)`);
  });

  it.each([
    ['an ftp:// --admin', ['--admin', 'ftp://127.0.0.1:6411']],
    ['--timeout 0', ['--timeout', '0']],
    ['an unknown option', ['--bogus']],
    ['an argument', ['extra']],
  ])('exits 2 for %s', async (_label, args) => {
    const result = await runCli(['status', ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^ticket-server: invalid /);
  });
});
