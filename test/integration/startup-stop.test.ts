/**
 * Start-up against the built CLI: a stop while the server's modules are
 * still loading ends the process cleanly (exit 0, nothing left behind, the
 * data directory's lock free), and a data directory that cannot be made
 * (`--data /proc/x`) fails at once with a clear message instead of hanging.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI_PATH, PROJECT_ROOT, cleanEnvironment, createTempDir, removeTempDirs, runCli, startServer, stopAllServers } from '../helpers/server-process.js';

const HOOKS = join(PROJECT_ROOT, 'test', 'helpers', 'slow-load', 'register.mjs');

afterEach(async () => {
  await stopAllServers();
  await removeTempDirs();
});

/** Waits (bounded) until `test()` holds. */
async function until(what: string, test: () => boolean, limitMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!test()) {
    if (Date.now() - started > limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a stop during start-up', () => {
  it('ends the process with status 0 while the server modules load, and leaves the data directory free', async () => {
    const dataDir = await createTempDir();
    const marker = join(await createTempDir(), 'loading');
    const child = spawn(process.execPath, ['--import', HOOKS, CLI_PATH, '--data', dataDir, '--bind', 'off', '--http', '127.0.0.1:0', '--admin', 'off'], {
      env: cleanEnvironment({ SLOW_LOAD_MARKER: marker, SLOW_LOAD_MS: '3000' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('close', (code, signal) => resolve({ code, signal })),
    );
    try {
      await until('the server modules start loading', () => existsSync(marker));
      expect(readFileSync(marker, 'utf8')).toBe('loading\n');
      child.kill('SIGTERM');
      const status = await Promise.race([exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 20_000))]);
      expect(status).toEqual({ code: 0, signal: null });
      expect(output).not.toContain('ready');
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    // Nothing half-open: the next server takes the same data directory at once.
    const next = await startServer(['--bind', 'off', '--http', '127.0.0.1:0', '--admin', 'off'], { dataDir });
    expect((await next.stop()).code).toBe(0);
  }, 60_000);
});

describe('a data directory that cannot be made', () => {
  it('--data /proc/x fails at once with exit status 1 and says why', async () => {
    const result = await runCli(['--data', '/proc/x', '--bind', 'off', '--http', '127.0.0.1:0', '--admin', 'off'], { timeoutMs: 20_000 });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot create the data directory');
    expect(result.stderr).toContain('/proc/x');
  }, 30_000);
});
