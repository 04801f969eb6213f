/** `--workers`: its values and the options it cannot be combined with. */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { resolveConfig, type RawOptions } from '../../src/config/options.js';
import { configError } from '../helpers/config-errors.js';

function flags(entries: Record<string, string | boolean>): RawOptions {
  return new Map(Object.entries(entries).map(([name, value]) => [name, { value, source: `--${name}` }]));
}

describe('--workers', () => {
  it('is 1 by default (one process), takes a count, and auto is one per core', () => {
    expect(resolveConfig([]).workers).toBe(1);
    expect(resolveConfig([flags({ workers: '3' })]).workers).toBe(3);
    expect(resolveConfig([flags({ workers: 'auto' })]).workers).toBe(Math.min(availableParallelism(), 256));
    expect(resolveConfig([flags({ workers: 'AUTO' })]).workers).toBe(Math.min(availableParallelism(), 256));
  });

  it.each(['0', '257', '-1', '2.5', 'two', ''])('refuses %j', (value) => {
    expect(configError(() => resolveConfig([flags({ workers: value })])).message).toMatch(
      /^invalid --workers: expected auto or an integer from 1 to 256/,
    );
  });

  it('refuses proxy mode, leader mode, and workers with nothing to serve', () => {
    expect(configError(() => resolveConfig([flags({ workers: '2', host: 'tcp://127.0.0.1:6410' })])).message).toMatch(/proxy \(--host\) runs in one process/);
    expect(configError(() => resolveConfig([flags({ workers: '2', leader: true, store: 'etcd://127.0.0.1:2379' })])).message).toMatch(
      /leader mode runs in one process/,
    );
    expect(configError(() => resolveConfig([flags({ workers: '2', http: 'off' })])).message).toMatch(/and both are off/);
    // One-shot TCP alone gives the workers nothing: the owner serves it.
    expect(configError(() => resolveConfig([flags({ workers: '2', http: 'off', tcp: '127.0.0.1:0' })])).message).toMatch(
      /workers serve --http and --line \(one-shot --tcp is served by the owner process\)/,
    );
    expect(resolveConfig([flags({ workers: '2', http: 'off', line: '127.0.0.1:0' })]).workers).toBe(2);
  });
});
