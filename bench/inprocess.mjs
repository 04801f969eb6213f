// In-process benchmark: single-value issuing rate of TicketService with a warm
// lease, next to a bare bigint counter, on the memory store and on LMDB.
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { slotsBeforeRefill } from '../dist/core/lease-policy.js';
import { TicketService } from '../dist/server-entry.js';
import { LmdbStore } from '../dist/store/lmdb-store.js';
import { MemoryStore } from '../dist/store/memory-store.js';
import { best, median, percentileSorted, round } from './stats.mjs';

const SEQUENCE = 'x';
const NUMBERING = { instance: 1, instances: 1, offset: 1n };

/** Written by every loop so the optimiser cannot drop the work; read at the end. */
let sink = 0n;

/** Baseline: increment a bigint counter and store it, `count` times. @returns elapsed ms */
function bareCounter(count) {
  let counter = 0n;
  const start = performance.now();
  for (let index = 0; index < count; index++) {
    counter += 1n;
    sink = counter;
  }
  return performance.now() - start;
}

/**
 * Tight loop over `service.nextValue`; awaits only when a result is a Promise
 * (the current lease ran out before the next one arrived).
 * @returns elapsed ms and the number of awaited results
 */
async function tightLoop(service, count) {
  let waits = 0;
  const start = performance.now();
  for (let index = 0; index < count; index++) {
    let result = service.nextValue(SEQUENCE);
    if (typeof result !== 'bigint') {
      waits++;
      result = await result;
    }
    sink = result;
  }
  return { ms: performance.now() - start, waits };
}

/**
 * Like `tightLoop`, but gives the event loop a turn (setImmediate) every
 * `every` values, as a server does between requests: a reservation made ahead
 * can then complete while values are still being issued.
 */
async function yieldingLoop(service, count, every) {
  let waits = 0;
  const start = performance.now();
  for (let index = 0; index < count; ) {
    const end = Math.min(count, index + every);
    for (; index < end; index++) {
      let result = service.nextValue(SEQUENCE);
      if (typeof result !== 'bigint') {
        waits++;
        result = await result;
      }
      sink = result;
    }
    await nextMacrotask();
  }
  return { ms: performance.now() - start, waits };
}

function sequenceState(service) {
  return service.snapshot().find((entry) => entry.name === SEQUENCE);
}

/**
 * Issues values until the lease policy has grown the lease to `maxBlock`, then
 * two more full blocks so the current lease is a full one. Bounded.
 * @returns values issued, lease size reached
 */
async function warmLease(service, maxBlock) {
  const limit = 100 * maxBlock + 1_000_000;
  let issued = 0;
  let extra = -1;
  while (issued < limit) {
    let result = service.nextValue(SEQUENCE);
    if (typeof result !== 'bigint') result = await result;
    sink = result;
    issued++;
    if (extra < 0 && issued % 256 === 0 && sequenceState(service)?.leaseSize === maxBlock) extra = 2 * maxBlock;
    if (extra >= 0 && extra-- === 0) break;
  }
  return { issued, leaseSize: sequenceState(service)?.leaseSize ?? 0 };
}

async function openService(kind, directory, maxBlock) {
  const store = kind === 'memory' ? new MemoryStore() : new LmdbStore(directory);
  const service = new TicketService({ store, numbering: NUMBERING, maxBlock });
  await store.open();
  try {
    await service.start();
  } catch (error) {
    await store.close();
    throw error;
  }
  return { kind, store, service };
}

async function closeService(entry) {
  try {
    await entry.service.close();
  } finally {
    await entry.store.close();
  }
}

/** Latency of a bare `store.reserve` of one full block (one LMDB write transaction + fsync). */
async function probeReserve(store, maxBlock, times) {
  const samples = new Float64Array(times);
  for (let index = 0; index < times; index++) {
    const start = performance.now();
    await store.reserve('bench-probe', BigInt(maxBlock));
    samples[index] = performance.now() - start;
  }
  samples.sort();
  return {
    reservations: times,
    p50Ms: round(percentileSorted(samples, times, 0.5)),
    p99Ms: round(percentileSorted(samples, times, 0.99)),
    maxMs: round(samples[times - 1]),
  };
}

function summarise(label, count, measurements) {
  const rates = measurements.map((entry) => (count / entry.ms) * 1000);
  return {
    label,
    valuesPerRound: count,
    rounds: measurements.length,
    bestPerSecond: round(best(rates)),
    medianPerSecond: round(median(rates)),
    roundsPerSecond: rates.map((rate) => round(rate)),
    waitsPerRound: measurements.map((entry) => entry.waits ?? 0),
    contiguous: measurements.every((entry) => entry.contiguous !== false),
  };
}

/**
 * Runs the in-process part. Options: `values` per round, `rounds` of the tight
 * loop, `yieldRounds` of the yielding variant, `yieldEvery` values between
 * event-loop turns, `maxBlock`, `tmpRoot` (parent of the LMDB temp dir), `log`.
 */
export async function runInProcess(options) {
  const { values, rounds, yieldRounds, yieldEvery, maxBlock, tmpRoot, log } = options;
  const directory = await mkdtemp(join(tmpRoot, 'ticket-bench-inproc-'));
  const opened = [];
  try {
    opened.push(await openService('memory', undefined, maxBlock));
    opened.push(await openService('lmdb', directory, maxBlock));
    const [memory, lmdb] = opened;

    const warm = {};
    for (const entry of opened) warm[entry.kind] = await warmLease(entry.service, maxBlock);
    log(`warm-up: lease size memory ${warm.memory.leaseSize}, lmdb ${warm.lmdb.leaseSize} (max-block ${maxBlock})`);

    // JIT warm-up of every loop (not recorded).
    bareCounter(Math.min(values, 2_000_000));
    for (const entry of opened) await tightLoop(entry.service, Math.min(values, 2_000_000));

    const measured = { bare: [], memory: [], lmdb: [], memoryYield: [], lmdbYield: [] };
    const timed = async (entry, loop) => {
      await warmLease(entry.service, maxBlock); // back to a full lease after the other runs
      const before = sequenceState(entry.service)?.lastIssued ?? 0n;
      const result = await loop();
      const after = sequenceState(entry.service)?.lastIssued ?? 0n;
      return { ...result, contiguous: after - before === BigInt(values) };
    };
    const tasks = [
      ['bare', async () => ({ ms: bareCounter(values), contiguous: sink === BigInt(values) })],
      ['memory', () => timed(memory, () => tightLoop(memory.service, values))],
      ['lmdb', () => timed(lmdb, () => tightLoop(lmdb.service, values))],
    ];
    for (let index = 0; index < rounds; index++) {
      // Rotate the order each round so that drift (GC, CPU frequency, neighbours) spreads evenly.
      for (let step = 0; step < tasks.length; step++) {
        const [key, task] = tasks[(index + step) % tasks.length];
        measured[key].push(await task());
      }
      log(`in-process round ${index + 1}/${rounds} done`);
    }
    for (let index = 0; index < yieldRounds; index++) {
      const pair = index % 2 === 0 ? [memory, lmdb] : [lmdb, memory];
      for (const entry of pair) {
        const result = await timed(entry, () => yieldingLoop(entry.service, values, yieldEvery));
        measured[entry.kind === 'memory' ? 'memoryYield' : 'lmdbYield'].push(result);
      }
    }

    const probe = await probeReserve(lmdb.store, maxBlock, 100);
    const finalLease = { memory: sequenceState(memory.service)?.leaseSize, lmdb: sequenceState(lmdb.service)?.leaseSize };

    const rows = {
      bare: summarise('bare bigint counter', values, measured.bare),
      memory: summarise('TicketService memory: (tight loop)', values, measured.memory),
      lmdb: summarise('TicketService lmdb (tight loop)', values, measured.lmdb),
      memoryYield: summarise(`TicketService memory: (yield every ${yieldEvery})`, values, measured.memoryYield),
      lmdbYield: summarise(`TicketService lmdb (yield every ${yieldEvery})`, values, measured.lmdbYield),
    };
    const ratio = (a, b) => round(a / b);
    const ratios = {
      memoryOverBare: { best: ratio(rows.memory.bestPerSecond, rows.bare.bestPerSecond), median: ratio(rows.memory.medianPerSecond, rows.bare.medianPerSecond) },
      lmdbOverBare: { best: ratio(rows.lmdb.bestPerSecond, rows.bare.bestPerSecond), median: ratio(rows.lmdb.medianPerSecond, rows.bare.medianPerSecond) },
      lmdbOverMemory: { best: ratio(rows.lmdb.bestPerSecond, rows.memory.bestPerSecond), median: ratio(rows.lmdb.medianPerSecond, rows.memory.medianPerSecond) },
      lmdbOverMemoryYield: {
        best: ratio(rows.lmdbYield.bestPerSecond, rows.memoryYield.bestPerSecond),
        median: ratio(rows.lmdbYield.medianPerSecond, rows.memoryYield.medianPerSecond),
      },
    };
    return {
      settings: { values, rounds, yieldRounds, yieldEvery, maxBlock, sequence: SEQUENCE, numbering: { instance: 1, instances: 1, offset: '1' } },
      warmUp: { memory: warm.memory, lmdb: warm.lmdb },
      finalLeaseSize: finalLease,
      rows,
      ratios,
      lmdbReserveLatency: {
        ...probe,
        // With one reservation in flight, a sequence cannot issue faster than one lease per store round trip.
        ceilingPerSecond: round((maxBlock / probe.p50Ms) * 1000),
        // The next lease is requested when this many values of a full lease are left ...
        refillAheadValues: maxBlock - slotsBeforeRefill(maxBlock),
        // ... which lasts this long at the memory tight-loop rate: the time a reservation has to complete unseen.
        refillHeadStartUs: round(((maxBlock - slotsBeforeRefill(maxBlock)) / rows.memory.medianPerSecond) * 1e6),
      },
      sinkCheck: sink > 0n,
    };
  } finally {
    for (const entry of opened.reverse()) await closeService(entry).catch(() => undefined);
    await rm(directory, { recursive: true, force: true });
  }
}
