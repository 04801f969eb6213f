/**
 * Durability (SPEC §2.1, §4, §5): kill -9 under load never repeats a value
 * and loses at most 2 × max-block slots per sequence; SIGTERM and SIGINT hand
 * unissued leases back so a restart loses nothing; one process per data
 * directory; a data directory refuses another numbering.
 *
 * All servers run on the embedded LMDB store in temporary directories.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createTempDir, removeTempDirs, runCli, startServer, stopAllServers } from '../helpers/server-process.js';
import { loadGenerator, nextValue, nextValues, type LoadResult } from '../helpers/zmq-client.js';
import { delay } from '../helpers/wait.js';

afterEach(async () => {
  await stopAllServers();
});

afterAll(async () => {
  await removeTempDirs();
});

/** A promise with its resolve function, for waiting on a condition reached in a callback. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolveSignal!: () => void;
  const promise = new Promise<void>((resolvePromise) => {
    resolveSignal = resolvePromise;
  });
  return { promise, resolve: resolveSignal };
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function maxOf(values: Iterable<bigint>): bigint {
  let max = 0n;
  for (const value of values) if (value > max) max = value;
  return max;
}

describe('kill -9 under load', () => {
  const SEQUENCES = ['alpha', 'beta'] as const;
  type Sequence = (typeof SEQUENCES)[number];
  const SMALL_BLOCK = 50;
  const DEFAULT_BLOCK = 10_000;
  /** Cycles with --max-block 50 (lease turnover every few ms), and where the default block is used instead. */
  const CYCLES = 22;
  const DEFAULT_BLOCK_CYCLES = new Set([11]);
  /** Values each sequence must have received before the kill, so every cycle really is mid-load. */
  const MIN_VALUES_PER_SEQUENCE = 40;

  interface CycleRecord {
    readonly cycle: number;
    readonly sequence: Sequence;
    readonly maxBlockBefore: number;
    readonly highestBefore: bigint;
    readonly firstAfter: bigint;
    /** Values asked for by requests left unanswered by the previous run's kill. */
    readonly unansweredBefore: number;
  }

  it('never repeats a value, restarts above every value seen, and loses at most 2 × max-block per crash', async () => {
    const dataDir = await createTempDir();
    const seen: Record<Sequence, Set<string>> = { alpha: new Set(), beta: new Set() };
    const duplicates: string[] = [];
    const errors: string[] = [];
    const highest: Record<Sequence, bigint> = { alpha: 0n, beta: 0n };
    const unanswered: Record<Sequence, number> = { alpha: 0, beta: 0 };
    const records: CycleRecord[] = [];
    let previousMaxBlock = SMALL_BLOCK;
    let received = 0;

    const record = (sequence: Sequence, values: Iterable<string>): void => {
      for (const value of values) {
        if (seen[sequence].has(value)) duplicates.push(`${sequence}:${value}`);
        seen[sequence].add(value);
        const big = BigInt(value);
        if (big > highest[sequence]) highest[sequence] = big;
      }
    };

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const maxBlock = DEFAULT_BLOCK_CYCLES.has(cycle) ? DEFAULT_BLOCK : SMALL_BLOCK;
      const server = await startServer(['--max-block', String(maxBlock)], { dataDir });

      // The first value of each sequence after the restart, asked alone so that it is known exactly.
      for (const sequence of SEQUENCES) {
        const first = await nextValue(server.endpoint, sequence);
        if (cycle > 0) {
          records.push({
            cycle,
            sequence,
            maxBlockBefore: previousMaxBlock,
            highestBefore: highest[sequence],
            firstAfter: first,
            unansweredBefore: unanswered[sequence],
          });
        }
        record(sequence, [first.toString()]);
      }

      // 16 requests in flight: per sequence one generator of single requests and one of count
      // requests, each over two DEALER sockets.
      let stopped = false;
      const perSequence: Record<Sequence, number> = { alpha: 0, beta: 0 };
      const enough = signal();
      const loads: Array<Promise<[Sequence, LoadResult]>> = [];
      for (const sequence of SEQUENCES) {
        for (const counts of [[undefined], [2, 5, 1, 3]]) {
          const load = loadGenerator(server.endpoint, {
            sequence,
            counts,
            concurrency: 4,
            sockets: 2,
            until: () => stopped,
            maxRequests: 50_000,
            onValues: (values) => {
              perSequence[sequence] += values.length;
              if (SEQUENCES.every((name) => perSequence[name] >= MIN_VALUES_PER_SEQUENCE)) enough.resolve();
            },
          });
          loads.push(load.then((result) => [sequence, result]));
        }
      }

      // Kill after 150–290 ms of load (varied per cycle), once both sequences have received values.
      await Promise.all([delay(150 + ((cycle * 47) % 150)), withTimeout(enough.promise, 15_000, 'load on both sequences')]);
      const exit = await server.kill();
      expect(exit.signal).toBe('SIGKILL');
      stopped = true;

      unanswered.alpha = 0;
      unanswered.beta = 0;
      for (const [sequence, result] of await Promise.all(loads)) {
        record(sequence, result.values);
        received += result.values.length;
        errors.push(...result.errors);
        unanswered[sequence] += result.unansweredValues;
      }
      previousMaxBlock = maxBlock;
    }

    expect(duplicates).toEqual([]);
    expect(errors).toEqual([]);
    expect(received).toBeGreaterThan(CYCLES * SEQUENCES.length * MIN_VALUES_PER_SEQUENCE);
    expect(records).toHaveLength((CYCLES - 1) * SEQUENCES.length);
    for (const entry of records) {
      const where = `cycle ${entry.cycle}, ${entry.sequence}`;
      expect(entry.firstAfter, where).toBeGreaterThan(entry.highestBefore);
      // Slots between the highest value seen and the first after the restart (one instance: one
      // value per slot). They are either the unissued rest of the leases (≤ 2 × max-block, SPEC §4)
      // or values issued for requests whose replies the kill swallowed.
      const gap = Number(entry.firstAfter - entry.highestBefore - 1n);
      expect(gap, where).toBeLessThanOrEqual(2 * entry.maxBlockBefore + entry.unansweredBefore);
    }
  }, 150_000);
});

describe('graceful stop', () => {
  const startArgs = ['--instances', '1'];

  it.each([['SIGTERM'], ['SIGINT']] as const)('continues with exactly the next value after %s, for single and count requests', async (stopSignal) => {
    const dataDir = await createTempDir();
    const first = await startServer(startArgs, { dataDir });
    const singles: bigint[] = [];
    for (let index = 0; index < 5; index++) singles.push(await nextValue(first.endpoint, 'single'));
    const counted: bigint[] = [];
    for (let index = 0; index < 3; index++) counted.push(...(await nextValues(first.endpoint, 'counted', 7)));
    expect(singles).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(counted).toHaveLength(21);

    const exit = await first.stop(stopSignal);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(first.logLines().some((line) => line.msg === 'leases handed back')).toBe(true);

    const second = await startServer(startArgs, { dataDir });
    expect(await nextValue(second.endpoint, 'single')).toBe(6n);
    expect(await nextValues(second.endpoint, 'counted', 3)).toEqual([22n, 23n, 24n]);
  });

  it('continues with exactly the next value after SIGTERM that follows a burst of pipelined load', async () => {
    const dataDir = await createTempDir();
    const first = await startServer(['--max-block', '500'], { dataDir });
    const results = await Promise.all(
      (['single', 'counted'] as const).map((sequence) =>
        loadGenerator(first.endpoint, {
          sequence,
          counts: sequence === 'single' ? [undefined] : [3, 10, 1],
          concurrency: 8,
          until: () => false,
          maxRequests: 400,
          drainMs: 5_000,
        }),
      ),
    );
    const [single, counted] = results as [LoadResult, LoadResult];
    for (const result of results) {
      expect(result.errors).toEqual([]);
      expect(result.unansweredValues).toBe(0);
      expect(new Set(result.values).size).toBe(result.values.length);
    }
    const lastSingle = maxOf(single.values.map(BigInt));
    const lastCounted = maxOf(counted.values.map(BigInt));
    // Nothing was lost while running: the values are exactly 1..n.
    expect(lastSingle).toBe(BigInt(single.values.length));
    expect(lastCounted).toBe(BigInt(counted.values.length));

    expect(await first.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const second = await startServer(['--max-block', '500'], { dataDir });
    expect(await nextValue(second.endpoint, 'single')).toBe(lastSingle + 1n);
    expect(await nextValues(second.endpoint, 'counted', 2)).toEqual([lastCounted + 1n, lastCounted + 2n]);
  });

  it('loses no more than the replies it could not deliver when SIGTERM arrives in the middle of load', async () => {
    const dataDir = await createTempDir();
    const first = await startServer([], { dataDir });
    let stopped = false;
    const enough = signal();
    let received = 0;
    const load = loadGenerator(first.endpoint, {
      sequence: 'busy',
      counts: [undefined, 4],
      concurrency: 16,
      sockets: 4,
      until: () => stopped,
      maxRequests: 50_000,
      onValues: (values) => {
        received += values.length;
        if (received >= 100) enough.resolve();
      },
    });
    await withTimeout(enough.promise, 15_000, '100 values under load');
    const exit = await first.stop('SIGTERM');
    stopped = true;
    const result = await load;
    expect(exit).toEqual({ code: 0, signal: null });

    // Requests arriving during the stop may be refused (EUNAVAILABLE) but never answered wrongly.
    expect(result.errors.every((code) => code === 'EUNAVAILABLE')).toBe(true);
    const values = result.values.map(BigInt);
    expect(new Set(result.values).size).toBe(values.length);
    const highest = maxOf(values);

    const second = await startServer([], { dataDir });
    const next = await nextValue(second.endpoint, 'busy');
    expect(next).toBeGreaterThan(highest);
    // The leases were handed back: only values issued for replies that never arrived can be missing.
    expect(Number(next - highest - 1n)).toBeLessThanOrEqual(result.unansweredValues);
  });
});

describe('one process per data directory', () => {
  it('refuses a second server on the same data directory with exit code 1 while the first keeps serving', async () => {
    const dataDir = await createTempDir();
    const first = await startServer([], { dataDir });
    expect(await nextValue(first.endpoint, 'locked')).toBe(1n);

    const second = await runCli(['--bind', 'tcp://127.0.0.1:0', '--data', dataDir]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('in use by another ticket-server process');
    expect(second.stderr).toContain(String(first.child.pid));

    expect(await nextValue(first.endpoint, 'locked')).toBe(2n);
  });

  it('refuses dump and restore on a data directory a server is using', async () => {
    const dataDir = await createTempDir();
    const first = await startServer([], { dataDir });
    expect(await nextValue(first.endpoint, 'locked')).toBe(1n);

    const dump = await runCli(['dump', '--data', dataDir]);
    expect(dump.code).toBe(1);
    expect(dump.stderr).toContain('in use by another ticket-server process');

    const dumpFile = join(await createTempDir(), 'dump.json');
    await writeFile(dumpFile, JSON.stringify({ format: 'ticket-server-dump', version: 1, sequences: [{ name: 'locked', next_slot: '1000', floor: '999' }] }));
    const restore = await runCli(['restore', dumpFile, '--data', dataDir]);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toContain('in use by another ticket-server process');

    expect(await nextValue(first.endpoint, 'locked')).toBe(2n);
  });

  it('lets a new server use the directory as soon as the holder was killed', async () => {
    const dataDir = await createTempDir();
    const first = await startServer([], { dataDir });
    const before = await nextValue(first.endpoint, 'handover');
    await first.kill();
    const second = await startServer([], { dataDir });
    expect(await nextValue(second.endpoint, 'handover')).toBeGreaterThan(before);
  });
});

describe('a data directory used with another numbering', () => {
  it('refuses to start with exit code 2, naming the recorded numbering and the dump/restore way out', async () => {
    const dataDir = await createTempDir();
    const original = ['--instances', '2', '--instance', '1'];
    const first = await startServer(original, { dataDir });
    expect(await nextValues(first.endpoint, 'renumbered', 3)).toEqual([1n, 3n, 5n]);
    expect((await first.stop()).code).toBe(0);

    const refused = await runCli(['--instances', '3', '--instance', '1', '--bind', 'tcp://127.0.0.1:0', '--data', dataDir]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--instance 1 --instances 2 --offset 1');
    expect(refused.stderr).toContain('dump');
    expect(refused.stderr).toContain('restore');

    // The refusal changed nothing: the original numbering continues where it stopped.
    const again = await startServer(original, { dataDir });
    expect(await nextValue(again.endpoint, 'renumbered')).toBe(7n);
  });

  it.each([
    ['another instance number', ['--instances', '2', '--instance', '2']],
    ['another offset', ['--instances', '2', '--instance', '1', '--offset', '100']],
  ])('refuses %s as well', async (_label, changed) => {
    const dataDir = await createTempDir();
    const first = await startServer(['--instances', '2', '--instance', '1'], { dataDir });
    await nextValue(first.endpoint, 'renumbered');
    await first.stop();

    const refused = await runCli([...changed, '--bind', 'tcp://127.0.0.1:0', '--data', dataDir]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--instance 1 --instances 2 --offset 1');
  });
});
