/**
 * The kill -9 torture (`npm run torture`), CI-sized: the same `runTorture` the script runs,
 * with 8 stops (4 of them graceful), two protocols and two sequences on the embedded store.
 * Nothing may repeat, a gap may not exceed 2 × max-block per kill (plus what the kill left
 * unanswered), and a graceful restart must continue at exactly the last value + 1. The same
 * with `--workers 2` (an owner and two worker processes), where only repeats can be checked.
 *
 * The checks themselves are also run on made-up values, so a broken check cannot pass silently.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ValueLog, analyse, killAllTortureChildren, runTorture, type TortureReport, type TortureRun } from '../../scripts/torture-core.mjs';

afterAll(() => {
  killAllTortureChildren();
});

/** The CI size: 8 stops, every other one graceful, 4 callers of up to 10 values each per protocol and sequence. */
const CI_SIZED = { cycles: 8, gracefulEvery: 2, sequences: 2, workers: 4, maxCount: 10, maxBlock: 50, minRunMs: 100, maxRunMs: 400, seconds: 90 };

/** A CI-sized run that made all its stops (half of them graceful), got values and saw none twice. */
function expectCiRunWithoutRepeats(report: TortureReport): void {
  expect(report.failure).toBeUndefined();
  expect(report.cycles).toBe(CI_SIZED.cycles);
  expect(report.gracefulRestarts).toBe(CI_SIZED.cycles / CI_SIZED.gracefulEvery);
  expect(report.values).toBeGreaterThan(0);
  expect(report.repeatSamples).toEqual([]);
  expect(report.repeats).toBe(0);
}

describe('kill -9 torture', () => {
  it('8 cycles on line + HTTP, 2 sequences: no repeat, gaps within the bound, nothing lost on graceful restarts', async () => {
    // Before the fix of the line and HTTP close, this lost the values in flight on most runs (93 and 226 in two tries).
    const report = await runTorture({ ...CI_SIZED, protocols: ['line', 'http'] });
    console.log(
      `torture: ${report.cycles} cycles (${report.kills} kills, ${report.gracefulRestarts} graceful), ${report.values} values, ` +
        `${report.repeats} repeats, largest gap ${report.largestGap} (bound ${report.gapBound}), lost on graceful ${report.gracefulLost}, ` +
        `${report.valuesPerSecond} values/s, ${report.seconds} s, seed ${report.seed}`,
    );
    expectCiRunWithoutRepeats(report);
    expect(report.lossSamples).toEqual([]);
    expect(report.gracefulLost).toBe(0);
    expect(report.gapChecked).toBe(true);
    expect(report.gapViolations).toEqual([]);
    // A kill may also swallow the replies in flight: at most protocols × workers × maxCount values per sequence.
    expect(BigInt(report.largestGap)).toBeLessThanOrEqual(BigInt(report.gapBound) + 2n * 4n * 10n);
    expect(report.ok).toBe(true);
  }, 180_000);
});

describe('kill -9 torture over ZeroMQ', () => {
  it('8 cycles on ZeroMQ, 2 sequences: nothing lost on graceful restarts (the server refuses new requests, then lets peers read)', async () => {
    // Before the stopping server refused new requests and kept its connections a moment for the
    // replies to be read, the client's DEALER (ZMQ_IMMEDIATE) dropped received replies: 60 and 40 lost in two tries.
    const report = await runTorture({ ...CI_SIZED, protocols: ['zmq'] });
    console.log(
      `torture zmq: ${report.cycles} cycles, ${report.values} values, ${report.repeats} repeats, largest gap ${report.largestGap}, ` +
        `lost on graceful ${report.gracefulLost}, seed ${report.seed}`,
    );
    expect(report.failure).toBeUndefined();
    expect(report.cycles).toBe(8);
    expect(report.values).toBeGreaterThan(0);
    expect(report.repeats).toBe(0);
    expect(report.lossSamples).toEqual([]);
    expect(report.gracefulLost).toBe(0);
    expect(report.gapViolations).toEqual([]);
    expect(report.ok).toBe(true);
  }, 180_000);
});

describe('kill -9 torture of --workers 2', () => {
  it('8 cycles on line, HTTP and ZeroMQ with an owner and 2 workers: no repeat, also where a restart hands out the slots other processes left unissued', async () => {
    // A graceful stop keeps the tails below other processes' values (LMDB), and the restarted
    // server issues them first; kills in between lose leases of three processes at once.
    const report = await runTorture({ ...CI_SIZED, protocols: ['line', 'http', 'zmq'], serverWorkers: 2, workers: 2 });
    console.log(
      `torture --workers 2: ${report.cycles} cycles (${report.kills} kills, ${report.gracefulRestarts} graceful), ${report.values} values, ` +
        `${report.repeats} repeats, largest gap ${report.largestGap}, seed ${report.seed}`,
    );
    expect(report.mode).toMatch(/--workers 2/);
    expectCiRunWithoutRepeats(report);
    expect(report.ok).toBe(true);
  }, 180_000);
});

describe('the torture checks, on made-up values', () => {
  /** One sequence, one class, values as given; runs as given. */
  function check(values: bigint[], runs: TortureRun[], maxBlock = 5): ReturnType<typeof analyse> {
    const log = new ValueLog();
    for (const value of values) log.push(value);
    return analyse({ logs: [[log]], sequences: ['s'], runsByServer: [runs], step: 1, maxBlock, runsOrdered: true });
  }
  const run = (end: 'kill' | 'term', min: bigint, max: bigint, unanswered = 0): TortureRun => ({ end, unanswered: [unanswered], min: [min], max: [max] });

  it('counts a value received twice as a repeat', () => {
    const result = check([1n, 2n, 3n, 3n, 4n], [run('term', 1n, 4n)]);
    expect(result.repeats).toBe(1);
  });

  it('allows 2 × max-block (plus unanswered values) after a kill, and no more', () => {
    expect(check([1n, 2n, 13n], [run('kill', 1n, 2n), run('term', 13n, 13n)]).gapViolationCount).toBe(0);
    expect(check([1n, 2n, 14n], [run('kill', 1n, 2n), run('term', 14n, 14n)]).gapViolationCount).toBe(1);
    expect(check([1n, 2n, 16n], [run('kill', 1n, 2n, 3), run('term', 16n, 16n)]).gapViolationCount).toBe(0);
    expect(check([1n, 2n, 16n], [run('kill', 1n, 2n, 3), run('term', 16n, 16n)]).largestGap).toBe('13');
  });

  it('counts every value missing after a graceful stop as lost', () => {
    const result = check([1n, 2n, 4n, 5n], [run('term', 1n, 2n), run('term', 4n, 5n)]);
    expect(result.gracefulLost).toBe(1);
    expect(check([1n, 2n, 3n, 4n], [run('term', 1n, 2n), run('term', 3n, 4n)]).gracefulLost).toBe(0);
  });
});
