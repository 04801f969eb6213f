/**
 * The Sampler behind /status, the dashboard and the per-sequence metrics:
 * issuing rate as a moving average, runway = slots left in held leases ÷ rate,
 * the busiest-first ordering, and `refresh` sampling only when the last
 * sample is old enough. A real TicketService over a MemoryStore; the
 * sampler's clock is injected.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Sampler, type SequenceSample } from '../../src/admin/sampler.js';
import { TicketService } from '../../src/service/ticket-service.js';
import { MemoryStore } from '../../src/store/memory-store.js';

class Clock {
  time = 1_000_000;
  readonly now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

const services: TicketService[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const service of services.splice(0)) await service.close();
});

async function startService(): Promise<TicketService> {
  const service = new TicketService({ store: new MemoryStore(), numbering: { instance: 1, instances: 1, offset: 1n } });
  services.push(service);
  await service.start();
  return service;
}

async function issue(service: TicketService, name: string, count: number): Promise<void> {
  // In chunks of at most 1000 (the request limit).
  for (let left = count; left > 0; left -= 1000) await service.next(name, Math.min(left, 1000));
}

function sampleOf(sampler: Sampler, name: string): SequenceSample {
  const found = [...sampler.all()].find((sample) => sample.name === name);
  if (!found) throw new Error(`no sample of ${name}`);
  return found;
}

function leaseRemainingOf(service: TicketService, name: string): bigint {
  return service.snapshot().find((snapshot) => snapshot.name === name)?.leaseRemaining ?? 0n;
}

describe('Sampler', () => {
  it('knows nothing before the first sample, and an idle new sequence has rate 0 and no runway', async () => {
    const service = await startService();
    const clock = new Clock();
    const sampler = new Sampler(service, clock.now);
    expect([...sampler.all()]).toEqual([]);
    expect(sampler.runway()).toBeUndefined();
    expect(sampler.busiest(10)).toEqual([]);

    await issue(service, 'a', 10);
    clock.advance(1000);
    sampler.sample();
    const first = sampleOf(sampler, 'a');
    // The first sample only records where the sequence stands.
    expect(first.issued).toBe(10);
    expect(first.rate).toBe(0);
    expect(first.runway).toBeUndefined();
    expect(first.leaseRemaining).toBe(leaseRemainingOf(service, 'a'));
  });

  it('measures the rate per second and smooths it (moving average, weight 0.5)', async () => {
    const service = await startService();
    const clock = new Clock();
    const sampler = new Sampler(service, clock.now);
    await issue(service, 'a', 1);
    sampler.sample();

    await issue(service, 'a', 20);
    clock.advance(1000);
    sampler.sample();
    expect(sampleOf(sampler, 'a').rate).toBeCloseTo(20, 6);
    expect(sampleOf(sampler, 'a').issued).toBe(21);

    await issue(service, 'a', 20);
    clock.advance(2000); // 10 per second now
    sampler.sample();
    expect(sampleOf(sampler, 'a').rate).toBeCloseTo(15, 6);

    await issue(service, 'a', 50);
    clock.advance(500); // 100 per second now
    sampler.sample();
    expect(sampleOf(sampler, 'a').rate).toBeCloseTo(57.5, 6);
  });

  it('computes runway as slots left in held leases divided by the rate; the shortest busy one is the total', async () => {
    const service = await startService();
    const clock = new Clock();
    const sampler = new Sampler(service, clock.now);
    await issue(service, 'fast', 1);
    await issue(service, 'slow', 1);
    await issue(service, 'idle', 1);
    sampler.sample();

    await issue(service, 'fast', 400);
    await issue(service, 'slow', 4);
    clock.advance(1000);
    sampler.sample();
    for (const name of ['fast', 'slow']) {
      const sample = sampleOf(sampler, name);
      expect(sample.leaseRemaining).toBe(leaseRemainingOf(service, name));
      expect(sample.rate).toBeGreaterThan(0);
      expect(sample.runway).toBeCloseTo(Number(sample.leaseRemaining) / sample.rate, 9);
    }
    expect(sampleOf(sampler, 'idle').rate).toBe(0);
    expect(sampleOf(sampler, 'idle').runway).toBeUndefined();
    const runways = ['fast', 'slow'].map((name) => sampleOf(sampler, name).runway as number);
    expect(sampler.runway()).toBe(Math.min(...runways));
  });

  it('decays an idle sequence to rate 0 and drops its runway', async () => {
    const service = await startService();
    const clock = new Clock();
    const sampler = new Sampler(service, clock.now);
    await issue(service, 'burst', 1);
    sampler.sample();
    await issue(service, 'burst', 100);
    clock.advance(1000);
    sampler.sample();
    expect(sampleOf(sampler, 'burst').rate).toBeCloseTo(100, 6);
    let steps = 0;
    while (sampleOf(sampler, 'burst').rate > 0 && steps < 50) {
      clock.advance(1000);
      sampler.sample();
      steps++;
    }
    expect(sampleOf(sampler, 'burst').rate).toBe(0);
    // Halving from 100 to below 0.01 takes about 14 samples.
    expect(steps).toBeGreaterThan(10);
    expect(steps).toBeLessThan(20);
    expect(sampleOf(sampler, 'burst').runway).toBeUndefined();
    expect(sampler.runway()).toBeUndefined();
  });

  it('orders busiest first, ties by name, and honours the limit', async () => {
    const service = await startService();
    const clock = new Clock();
    const sampler = new Sampler(service, clock.now);
    for (const name of ['d', 'c', 'b', 'a', 'e']) await issue(service, name, 1);
    sampler.sample();
    await issue(service, 'c', 50);
    await issue(service, 'e', 30);
    await issue(service, 'a', 10);
    clock.advance(1000);
    sampler.sample();
    expect(sampler.busiest(10).map((sample) => sample.name)).toEqual(['c', 'e', 'a', 'b', 'd']);
    expect(sampler.busiest(2).map((sample) => sample.name)).toEqual(['c', 'e']);
    expect(sampler.busiest(0)).toEqual([]);
  });

  it('refresh samples only when the last sample is at least maxAge old', async () => {
    const service = await startService();
    const clock = new Clock();
    const sampler = new Sampler(service, clock.now);
    await issue(service, 'new', 1);
    clock.advance(100);
    sampler.refresh();
    expect([...sampler.all()]).toEqual([]);
    clock.advance(150); // 250 ms since construction
    sampler.refresh();
    expect([...sampler.all()].map((sample) => sample.name)).toEqual(['new']);

    await issue(service, 'newer', 1);
    clock.advance(500);
    sampler.refresh(1000);
    expect([...sampler.all()].map((sample) => sample.name)).toEqual(['new']);
    sampler.refresh(500);
    expect([...sampler.all()].map((sample) => sample.name).sort()).toEqual(['new', 'newer']);
  });

  it('never divides by zero when two samples share a timestamp', async () => {
    const service = await startService();
    const clock = new Clock();
    const sampler = new Sampler(service, clock.now);
    await issue(service, 'same', 1);
    sampler.sample();
    await issue(service, 'same', 5);
    sampler.sample();
    const sample = sampleOf(sampler, 'same');
    expect(Number.isFinite(sample.rate)).toBe(true);
    expect(sample.rate).toBeGreaterThan(0);
    expect(Number.isFinite(sample.runway as number)).toBe(true);
  });

  it('samples on its own timer once started, and stops', async () => {
    vi.useFakeTimers();
    const service = await startService();
    const clock = new Clock();
    const sampler = new Sampler(service, clock.now);
    await issue(service, 'timed', 1);
    const spy = vi.spyOn(sampler, 'sample');
    sampler.start(1000);
    vi.advanceTimersByTime(3000);
    expect(spy).toHaveBeenCalledTimes(3);
    expect([...sampler.all()].map((sample) => sample.name)).toEqual(['timed']);
    sampler.stop();
    vi.advanceTimersByTime(3000);
    expect(spy).toHaveBeenCalledTimes(3);
  });
});
