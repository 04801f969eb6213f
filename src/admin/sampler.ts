/**
 * Samples every sequence once a second: issuing rate (moving average) and
 * runway — how long held leases last at that rate if the store went away now.
 * Feeds /status, the dashboard and /metrics without touching the hot path.
 */
import type { TicketService } from '../service/ticket-service.js';

/** What the sampler knows of one sequence. */
export interface SequenceSample {
  readonly name: string;
  issued: number;
  /** Values per second, moving average. */
  rate: number;
  leaseRemaining: bigint;
  /** Seconds the held leases last at `rate`; undefined when idle. */
  runway: number | undefined;
}

/** Weight of the newest sample in the moving average. */
const SMOOTHING = 0.5;

/** Samples a TicketService on a timer (unref'd, so it never keeps a process alive). */
export class Sampler {
  private readonly service: TicketService;
  private readonly samples = new Map<string, SequenceSample>();
  private lastAt: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(service: TicketService, private readonly now: () => number = Date.now) {
    this.service = service;
    this.lastAt = this.now();
  }

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Samples now unless the last sample is younger than `maxAgeMs` (so /status never misses a new sequence for long). */
  refresh(maxAgeMs = 250): void {
    if (this.now() - this.lastAt >= maxAgeMs) this.sample();
  }

  /** Takes one sample now. */
  sample(): void {
    const now = this.now();
    const seconds = Math.max((now - this.lastAt) / 1000, 0.001);
    this.lastAt = now;
    this.service.forEachSequence((name, issued, leaseRemaining) => {
      let sample = this.samples.get(name);
      if (!sample) {
        sample = { name, issued, rate: 0, leaseRemaining, runway: undefined };
        this.samples.set(name, sample);
      }
      const instant = (issued - sample.issued) / seconds;
      sample.rate = sample.rate === 0 ? instant : sample.rate + SMOOTHING * (instant - sample.rate);
      if (sample.rate < 0.01) sample.rate = 0;
      sample.issued = issued;
      sample.leaseRemaining = leaseRemaining;
      sample.runway = sample.rate > 0 ? Number(leaseRemaining) / sample.rate : undefined;
    });
  }

  /** Every sampled sequence. */
  all(): Iterable<SequenceSample> {
    return this.samples.values();
  }

  /** The shortest runway of any busy sequence, in seconds; undefined when none is busy. */
  runway(): number | undefined {
    let shortest: number | undefined;
    for (const sample of this.samples.values()) {
      if (sample.runway !== undefined && (shortest === undefined || sample.runway < shortest)) shortest = sample.runway;
    }
    return shortest;
  }

  /** The `limit` busiest sequences, busiest first. */
  busiest(limit: number): SequenceSample[] {
    return [...this.samples.values()].sort((a, b) => b.rate - a.rate || (a.name < b.name ? -1 : 1)).slice(0, limit);
  }
}
