/**
 * Numbering and drift (SPEC §3) through real server processes: the value
 * class of each instance, the offset, jumps on a client's `last`, the
 * `--max-jump` bound and `--drift 0`/`-1`.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempDir, removeTempDirs, startServer, stopAllServers, type ServerProcess } from '../helpers/server-process.js';
import { loadGenerator, nextValue, nextValues, requestTicket } from '../helpers/zmq-client.js';

afterAll(async () => {
  await stopAllServers();
  await removeTempDirs();
});

async function startOnFreshDirectory(args: string[]): Promise<ServerProcess> {
  return startServer(args, { dataDir: await createTempDir() });
}

let nameCounter = 0;
function freshName(label: string): string {
  nameCounter++;
  return `${label}-${nameCounter}`;
}

/** Asks `requests` times (alternating single and count-of-3 requests) and returns every value in order. */
async function collect(endpoint: string, name: string, requests: number): Promise<bigint[]> {
  const values: bigint[] = [];
  for (let index = 0; index < requests; index++) {
    if (index % 2 === 0) values.push(await nextValue(endpoint, name));
    else values.push(...(await nextValues(endpoint, name, 3)));
  }
  return values;
}

function expectStrictlyIncreasing(values: readonly bigint[]): void {
  for (let index = 1; index < values.length; index++) {
    expect(values[index], `value ${index} after ${values[index - 1]}`).toBeGreaterThan(values[index - 1] as bigint);
  }
}

describe('two instances sharing the number space', () => {
  let first: ServerProcess;
  let second: ServerProcess;

  beforeAll(async () => {
    [first, second] = await Promise.all([
      startOnFreshDirectory(['--instances', '2', '--instance', '1']),
      startOnFreshDirectory(['--instances', '2', '--instance', '2']),
    ]);
  });

  it('has instance 1 issue only odd values, starting at 1 and stepping by 2', async () => {
    const values = await collect(first.endpoint, 'orders', 20);
    expect(values.slice(0, 4)).toEqual([1n, 3n, 5n, 7n]);
    for (const value of values) expect(value % 2n).toBe(1n);
    expectStrictlyIncreasing(values);
  });

  it('has instance 2 issue only even values, starting at 2 and stepping by 2', async () => {
    const values = await collect(second.endpoint, 'orders', 20);
    expect(values.slice(0, 4)).toEqual([2n, 4n, 6n, 8n]);
    for (const value of values) expect(value % 2n).toBe(0n);
    expectStrictlyIncreasing(values);
  });

  it('never has both instances issue the same value, even under concurrent load on one name', async () => {
    const name = freshName('shared');
    const deadline = Date.now() + 300;
    const load = (endpoint: string): ReturnType<typeof loadGenerator> =>
      loadGenerator(endpoint, {
        sequence: name,
        concurrency: 8,
        counts: [undefined, 4],
        until: () => Date.now() > deadline,
        maxRequests: 5_000,
      });
    const [odd, even] = await Promise.all([load(first.endpoint), load(second.endpoint)]);
    expect(odd.errors).toEqual([]);
    expect(even.errors).toEqual([]);
    expect(odd.values.length).toBeGreaterThan(0);
    expect(even.values.length).toBeGreaterThan(0);
    for (const value of odd.values) expect(BigInt(value) % 2n).toBe(1n);
    for (const value of even.values) expect(BigInt(value) % 2n).toBe(0n);
    const all = [...odd.values, ...even.values];
    expect(new Set(all).size).toBe(all.length);
  });

  it('jumps instance 1 to 501 when a client reports last 500, far beyond the default drift of 20', async () => {
    const name = freshName('jump-odd');
    expect(await nextValues(first.endpoint, name, 3)).toEqual([1n, 3n, 5n]);
    expect(await nextValue(first.endpoint, name, '500')).toBe(501n);
    expect(await nextValue(first.endpoint, name)).toBe(503n);
  });

  it('jumps instance 2 to the smallest even value above last', async () => {
    const name = freshName('jump-even');
    expect(await nextValue(second.endpoint, name)).toBe(2n);
    expect(await nextValue(second.endpoint, name, '501')).toBe(502n);
    expect(await nextValue(second.endpoint, name, '900')).toBe(902n);
  });

  it('does not jump while last is at most the drift (20) above the next value', async () => {
    const name = freshName('within-drift');
    expect(await nextValues(first.endpoint, name, 3)).toEqual([1n, 3n, 5n]);
    // Next would be 7: 27 − 7 = 20 is within the drift.
    expect(await nextValue(first.endpoint, name, '27')).toBe(7n);
    expect(await nextValue(first.endpoint, name, '28')).toBe(9n);
  });

  it('jumps a count request as a whole, every value above last', async () => {
    const name = freshName('jump-count');
    expect(await nextValue(first.endpoint, name)).toBe(1n);
    expect(await nextValues(first.endpoint, name, 3, '500')).toEqual([501n, 503n, 505n]);
  });
});

describe('an offset with three instances', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    // --max-block 50 bounds what the server holds (≤ 2 leases of 50 slots = 300 values), see the drift property.
    server = await startOnFreshDirectory(['--offset', '1000', '--instances', '3', '--instance', '2', '--max-block', '50']);
  });

  it('issues 1001, 1004, 1007, … for instance 2 of 3 with offset 1000', async () => {
    const name = freshName('offset');
    expect(await nextValue(server.endpoint, name)).toBe(1001n);
    expect(await nextValues(server.endpoint, name, 4)).toEqual([1004n, 1007n, 1010n, 1013n]);
  });

  it('follows the drift rule of SPEC §3 for any series of last values', async () => {
    const first = 1001n;
    const step = 3n;
    const drift = 30n; // default: 10 × instances
    // Distances of last above the next value: within the drift (no jump), or beyond everything the
    // server can hold plus the drift (a jump past its leases). Jumps that land just past the held
    // leases are left to the known-bug test below, which they would hit.
    const delta = fc.oneof(fc.integer({ min: -100, max: 30 }), fc.integer({ min: 400, max: 5_000 }));
    await fc.assert(
      fc.asyncProperty(fc.array(delta, { minLength: 1, maxLength: 8 }), async (deltas) => {
        const name = freshName('drift-model');
        let next = first;
        for (const delta of deltas) {
          // last relative to the value the server would issue next; 0 and below mean "unknown".
          const last = next + BigInt(delta) > 0n ? next + BigInt(delta) : 0n;
          if (last !== 0n && last - next > drift) {
            next = last < first ? first : first + ((last - first) / step + 1n) * step;
          }
          expect(await nextValue(server.endpoint, name, last.toString())).toBe(next);
          next += step;
        }
      }),
      { numRuns: 25 },
    );
  });
});

describe('the --max-jump bound', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startOnFreshDirectory(['--instances', '2', '--instance', '1', '--max-jump', '100']);
  });

  it('answers EJUMP for a jump larger than --max-jump and leaves the next value unchanged', async () => {
    const name = freshName('too-far');
    expect(await nextValue(server.endpoint, name)).toBe(1n);
    const reply = await requestTicket(server.endpoint, name, '1000');
    expect(reply).toEqual(['EJUMP', expect.any(String)]);
    expect(await nextValue(server.endpoint, name)).toBe(3n);
  });

  it('answers EJUMP for a count request too and issues none of its values', async () => {
    const name = freshName('too-far-count');
    expect(await nextValue(server.endpoint, name)).toBe(1n);
    expect(await requestTicket(server.endpoint, name, '100000', 5)).toEqual(['EJUMP', expect.any(String)]);
    expect(await nextValues(server.endpoint, name, 2)).toEqual([3n, 5n]);
  });

  it('still jumps when the jump is within --max-jump', async () => {
    const name = freshName('near-enough');
    expect(await nextValue(server.endpoint, name)).toBe(1n);
    // From 3 to 91 is a move of 88 values.
    expect(await nextValue(server.endpoint, name, '90')).toBe(91n);
  });
});

describe('a jump that lands just past the leases the server holds', () => {
  // KNOWN BUG (reported; remove `.fails` once fixed). With leases of one slot, instance 1 of 2 holds
  // 3 (current) and 5 (queued) after issuing 1. A request with last 24 must jump (24 − 3 = 21 > 20)
  // to 25. TicketService.tryServe skips the held leases (skipTo), finds the target beyond them and
  // queues the request; pump() then re-applies the drift rule from the *new* position (7), where
  // 24 − 7 = 17 is within the drift, so the jump is forgotten and 7 is issued instead of 25.
  it('still lands on the smallest own-class value above last', async () => {
    const server = await startOnFreshDirectory(['--instances', '2', '--instance', '1', '--max-block', '1']);
    expect(await nextValue(server.endpoint, 'near-jump')).toBe(1n);
    // A reservation for another name commits after the reserve-ahead of 'near-jump' (LMDB commits
    // in order), so once it is answered the server surely holds its next leases.
    expect(await nextValue(server.endpoint, 'other')).toBe(1n);
    expect(await nextValue(server.endpoint, 'near-jump', '24')).toBe(25n);
  });
});

describe('disabled drift', () => {
  // `--drift=-1`, not `--drift -1`: see the CLI test about negative flag values.
  it.each([['0'], ['-1']])('never jumps with --drift %s', async (drift) => {
    const server = await startOnFreshDirectory(['--instances', '2', '--instance', '1', `--drift=${drift}`]);
    const name = freshName('no-drift');
    expect(await nextValue(server.endpoint, name)).toBe(1n);
    expect(await nextValue(server.endpoint, name, '500')).toBe(3n);
    expect(await nextValues(server.endpoint, name, 2, '1000000')).toEqual([5n, 7n]);
    await server.stop();
  });
});

describe('a jump across a crash', () => {
  it('is durable: after kill -9 the restarted server continues above the jump', async () => {
    const dataDir = await createTempDir();
    const args = ['--instances', '2', '--instance', '1'];
    const before = await startServer(args, { dataDir });
    expect(await nextValue(before.endpoint, 'durable-jump')).toBe(1n);
    expect(await nextValue(before.endpoint, 'durable-jump', '5000')).toBe(5001n);
    await before.kill();

    const after = await startServer(args, { dataDir });
    const next = await nextValue(after.endpoint, 'durable-jump');
    expect(next).toBeGreaterThan(5001n);
    expect(next % 2n).toBe(1n);
    await after.stop();
  });
});

describe('the end of the 64-bit range', () => {
  const MAX = (1n << 63n) - 1n;

  it('issues up to 2^63 − 1, then answers EXHAUSTED instead of wrapping, also after a restart', async () => {
    const dataDir = await createTempDir();
    const args = ['--offset', (MAX - 2n).toString()];
    const server = await startServer(args, { dataDir });
    expect(await nextValue(server.endpoint, 'last-values')).toBe(MAX - 2n);
    // Three more would pass the maximum: refused whole, nothing issued.
    expect(await requestTicket(server.endpoint, 'last-values', '0', 3)).toEqual(['EXHAUSTED', expect.any(String)]);
    expect(await nextValues(server.endpoint, 'last-values', 2)).toEqual([MAX - 1n, MAX]);
    expect(await requestTicket(server.endpoint, 'last-values')).toEqual(['EXHAUSTED', expect.any(String)]);
    expect((await server.stop()).code).toBe(0);

    const restarted = await startServer(args, { dataDir });
    expect(await requestTicket(restarted.endpoint, 'last-values')).toEqual(['EXHAUSTED', expect.any(String)]);
    expect(await nextValue(restarted.endpoint, 'fresh')).toBe(MAX - 2n);
  });

  it('answers EXHAUSTED for a jump above the last value of the class', async () => {
    const server = await startOnFreshDirectory(['--instances', '2', '--instance', '1', '--offset', (MAX - 41n).toString()]);
    // Instance 1 owns MAX − 41, MAX − 39, …, MAX − 1: nothing of its class is above MAX − 1.
    expect(await nextValue(server.endpoint, 'top')).toBe(MAX - 41n);
    expect(await requestTicket(server.endpoint, 'top', (MAX - 1n).toString())).toEqual(['EXHAUSTED', expect.any(String)]);
    expect(await nextValue(server.endpoint, 'top')).toBe(MAX - 39n);
  });
});
