/**
 * The client side as a user meets it: the `ticket-server next NAME [--count N]
 * [--server URI]…` command (SPEC §10), and the client library (SPEC §9)
 * failing over between real server processes (SPEC §2.3: clients keep getting
 * tickets while at least one server is up).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/client.js';
import { runCli, startServer, stopAllServers, type ServerProcess } from '../helpers/server-process.js';
import { nextValue } from '../helpers/zmq-client.js';
import { deadPort } from '../helpers/ports.js';

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

describe('ticket-server next', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServer(['--store', 'memory:']);
  });

  afterAll(async () => {
    await stopAllServers();
  });

  it('prints one value and exits 0', async () => {
    const result = await runCli(['next', 'cli-one', '--server', server.endpoint]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('1\n');
  });

  it('prints --count values, one per line, increasing, continuing the sequence', async () => {
    const result = await runCli(['next', 'cli-count', '--count', '3', '--server', server.endpoint]);
    expect(result.code).toBe(0);
    expect(lines(result.stdout)).toEqual(['1', '2', '3']);
    const again = await runCli(['next', 'cli-count', '--server', server.endpoint]);
    expect(lines(again.stdout)).toEqual(['4']);
  });

  it('takes the options before the name as well', async () => {
    const result = await runCli(['next', '--server', server.endpoint, '--count', '2', 'cli-order']);
    expect(result.code).toBe(0);
    expect(lines(result.stdout)).toEqual(['1', '2']);
  });

  it('exits 1 with ETIMEOUT on stderr when no server answers', async () => {
    const port = await deadPort();
    const result = await runCli(['next', 'cli-dead', '--server', `tcp://127.0.0.1:${port}`, '--timeout', '300']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('ETIMEOUT');
    expect(result.stderr).toContain(`no answer from tcp://127.0.0.1:${port} within 300 ms`);
  });

  it('fails over to a live server when the first --server is dead', async () => {
    const port = await deadPort();
    const result = await runCli(['next', 'cli-failover', '--server', `tcp://127.0.0.1:${port}`, '--server', server.endpoint, '--timeout', '300']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(lines(result.stdout)).toEqual(['1']);
  });

  it.each([
    ['--count 0', ['next', 'x', '--count', '0']],
    ['--count 1001', ['next', 'x', '--count', '1001']],
    ['--count abc', ['next', 'x', '--count', 'abc']],
    ['--count 1.5', ['next', 'x', '--count', '1.5']],
    ['--count -1', ['next', 'x', '--count', '-1']],
    ['an empty NAME', ['next', '']],
    ['a NAME of 129 bytes', ['next', 'n'.repeat(129)]],
    ['a missing NAME', ['next']],
    ['two NAMEs', ['next', 'a', 'b']],
    ['an ftp:// --server', ['next', 'x', '--server', 'ftp://127.0.0.1:6412']],
    ['a --server without a port', ['next', 'x', '--server', 'tcp://127.0.0.1']],
    ['--timeout 0', ['next', 'x', '--timeout', '0']],
    ['--timeout abc', ['next', 'x', '--timeout', 'abc']],
    ['an unknown option', ['next', 'x', '--bogus']],
  ])('exits 2 with a message on stderr for %s, sending nothing', async (_label, args) => {
    const result = await runCli([...args, ...(args.includes('--server') ? [] : ['--server', server.endpoint])]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^ticket-server: .+/);
  });

  it('issued nothing for the refused commands above', async () => {
    // 'x' was the name of every refused command that had a valid name.
    expect(await nextValue(server.endpoint, 'x')).toBe(1n);
  });
});

describe('client library failover between server processes', () => {
  afterEach(async () => {
    await stopAllServers();
  });

  it('succeeds on every one of 50 calls with one dead and one live server', async () => {
    const live = await startServer(['--store', 'memory:']);
    const port = await deadPort();
    const client = createClient([`tcp://127.0.0.1:${port}`, live.endpoint], { timeout: 300 });
    try {
      const values: bigint[] = [];
      const errors: unknown[] = [];
      for (let i = 0; i < 50; i++) {
        try {
          values.push(await client.next('dead-and-live'));
        } catch (error) {
          errors.push(error);
        }
      }
      expect(errors).toEqual([]);
      expect(values).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i + 1)));
      expect(client.stats().map((s) => s.up)).toEqual([false, true]);
    } finally {
      await client.close();
    }
  });

  it('keeps succeeding on every call after one of two live servers is SIGKILLed', async () => {
    const [odd, even] = await Promise.all([
      startServer(['--store', 'memory:', '--instances', '2', '--instance', '1']),
      startServer(['--store', 'memory:', '--instances', '2', '--instance', '2']),
    ]);
    const client = createClient([odd.endpoint, even.endpoint], { timeout: 500 });
    try {
      const before: bigint[] = [];
      for (let i = 0; i < 20; i++) before.push(await client.next('kill-one'));
      expect(before.some((v) => v % 2n === 0n) && before.some((v) => v % 2n === 1n)).toBe(true);

      await odd.kill();

      const after: bigint[] = [];
      const errors: unknown[] = [];
      for (let i = 0; i < 50; i++) {
        try {
          after.push(await client.next('kill-one'));
        } catch (error) {
          errors.push(error);
        }
      }
      expect(errors).toEqual([]);
      expect(after).toHaveLength(50);
      expect(after.every((v) => v % 2n === 0n)).toBe(true);
      const all = [...before, ...after];
      expect(new Set(all).size).toBe(all.length);
      expect(client.stats()[0]?.up).toBe(false);
    } finally {
      await client.close();
    }
  });
});
