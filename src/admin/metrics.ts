/**
 * Prometheus metrics (SPEC §6.3) with prom-client, on a registry of their own.
 *
 * Counters that move on every request are read from plain counters at scrape
 * time (`collect`), so issuing pays no label lookups. Per-sequence series are
 * capped to the busiest `sequenceLabels` sequences, so a million sequences
 * cannot blow up the scrape.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServiceObserver } from '../service/ticket-service.js';
import type { UpstreamStats } from '../client/pool.js';
import type { Sampler } from './sampler.js';
import type { ProtocolStats } from '../core/protocol-stats.js';
import type { LeaderElection } from '../leader/election.js';
import type { Store } from '../store/store.js';

/** Most sequences that get their own series. */
export const SEQUENCE_LABEL_CAP = 20;

/**
 * Longest a scrape waits for the store's health probe before reporting it down.
 * Well under Prometheus's default 10 s scrape timeout, so a hung store gives
 * `ticket_store_up 0` rather than a failed scrape (which would look like the
 * server itself being down).
 */
export const STORE_PROBE_TIMEOUT_MS = 2_500;

/** Sources the metrics read. */
export interface MetricsSources {
  readonly stats: ProtocolStats;
  readonly upstreams?: (() => UpstreamStats[]) | undefined;
}

/** The registry and the observer the service reports to. */
export interface Metrics {
  readonly registry: Registry;
  readonly observer: ServiceObserver;
  /** Adds the per-sequence gauges (runway, rates, count) once the service and its sampler exist. */
  watchSequences(sampler: Sampler, sequenceCount: () => number): void;
  /** Leader mode: `ticket_leader` (1 while this server leads and may issue) and `ticket_leader_known`. */
  watchLeader(election: () => LeaderElection | undefined): void;
}

/** Creates every metric on a fresh registry. */
export function createMetrics(sources: MetricsSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const { stats } = sources;

  new Counter({
    name: 'ticket_issued_total',
    help: 'Tickets issued, by protocol.',
    labelNames: ['protocol'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [protocol, count] of Object.entries(stats.issued)) this.labels(protocol).inc(count);
    },
  });
  new Counter({
    name: 'ticket_errors_total',
    help: 'Requests answered with an error, by protocol and error code.',
    labelNames: ['protocol', 'code'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, count] of stats.errors) {
        const [protocol = '', code = ''] = key.split(' ');
        this.labels(protocol, code).inc(count);
      }
    },
  });
  const leases = new Counter({ name: 'ticket_leases_reserved_total', help: 'Leases reserved from the store.', registers: [registry] });
  const slots = new Counter({ name: 'ticket_lease_slots_reserved_total', help: 'Slots reserved from the store.', registers: [registry] });
  const failures = new Counter({ name: 'ticket_lease_failures_total', help: 'Reservations the store failed.', registers: [registry] });
  const latency = new Histogram({
    name: 'ticket_lease_reservation_seconds',
    help: 'Time the store took to reserve a lease.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const jumps = new Counter({ name: 'ticket_jumps_total', help: 'Drift jumps applied: this server jumped ahead to a value a client had seen.', registers: [registry] });

  const watchSequences = (sampler: Sampler, sequenceCount: () => number): void => {
    new Gauge({
      name: 'ticket_runway_seconds',
      help: 'How long the busiest-draining sequence can keep issuing from held leases if the store went away now (+Inf when idle).',
      registers: [registry],
      collect() {
        this.set(sampler.runway() ?? Number.POSITIVE_INFINITY);
      },
    });
    new Gauge({
      name: 'ticket_sequence_rate',
      help: `Values per second of the ${SEQUENCE_LABEL_CAP} busiest sequences.`,
      labelNames: ['sequence'],
      registers: [registry],
      collect() {
        this.reset();
        for (const sample of sampler.busiest(SEQUENCE_LABEL_CAP)) this.labels(sample.name).set(sample.rate);
      },
    });
    new Gauge({
      name: 'ticket_sequence_runway_seconds',
      help: `Runway of the ${SEQUENCE_LABEL_CAP} busiest sequences.`,
      labelNames: ['sequence'],
      registers: [registry],
      collect() {
        this.reset();
        for (const sample of sampler.busiest(SEQUENCE_LABEL_CAP)) {
          this.labels(sample.name).set(sample.runway ?? Number.POSITIVE_INFINITY);
        }
      },
    });
    new Gauge({
      name: 'ticket_sequences',
      help: 'Sequences that exist.',
      registers: [registry],
      collect() {
        this.set(sequenceCount());
      },
    });
  };
  const watchLeader = (election: () => LeaderElection | undefined): void => {
    new Gauge({
      name: 'ticket_leader',
      help: 'Leader mode: 1 while this server leads and may issue, else 0.',
      registers: [registry],
      collect() {
        this.set(election()?.mayIssue() === true ? 1 : 0);
      },
    });
    new Gauge({
      name: 'ticket_leader_known',
      help: 'Leader mode: 1 while this server knows a leader (itself or another), else 0.',
      registers: [registry],
      collect() {
        this.set(election()?.leader === undefined ? 0 : 1);
      },
    });
  };
  if (sources.upstreams) {
    const upstreams = sources.upstreams;
    new Gauge({
      name: 'ticket_upstream_up',
      help: 'Proxy mode: 1 while an upstream is healthy.',
      labelNames: ['upstream'],
      registers: [registry],
      collect() {
        for (const upstream of upstreams()) this.labels(upstream.uri).set(upstream.up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'ticket_upstream_failures',
      help: 'Proxy mode: failed requests per upstream since start.',
      labelNames: ['upstream'],
      registers: [registry],
      collect() {
        for (const upstream of upstreams()) this.labels(upstream.uri).set(upstream.failures);
      },
    });
  }

  return {
    registry,
    watchSequences,
    watchLeader,
    observer: {
      reserved(count, seconds) {
        leases.inc();
        slots.inc(Number(count));
        latency.observe(seconds);
      },
      reserveFailed() {
        failures.inc();
      },
      jumped() {
        jumps.inc();
      },
    },
  };
}

/** What `watchStoreAndBuild` reports on. */
export interface StoreAndBuildSources {
  /** The package version, the `version` label of `ticket_build_info`. */
  readonly version: string;
  /** The store to probe; undefined in proxy mode (then no `ticket_store_up`). */
  readonly store: Store | undefined;
  /** Bound of one probe; default `STORE_PROBE_TIMEOUT_MS`. */
  readonly probeTimeoutMs?: number;
}

/** The store's health probe as 1 (answers) or 0 (fails, throws or takes longer than `timeoutMs`). */
async function probeStoreUp(store: Store, timeoutMs: number): Promise<0 | 1> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<0>((resolveTimeout) => {
    timer = setTimeout(() => resolveTimeout(0), timeoutMs);
  });
  try {
    return await Promise.race([store.health().then((health) => (health.ok ? 1 : 0), () => 0 as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Adds `ticket_build_info{version,node}` (always 1) and, with a store,
 * `ticket_store_up` (1 while the store's health probe answers, probed at
 * scrape time within `probeTimeoutMs`) to `registry`. Alerts need both: the
 * store gauge to page on an outage before the leases run out, the build info
 * to tell which version is running where. Calling it again on the same
 * registry changes nothing.
 */
export function watchStoreAndBuild(registry: Registry, sources: StoreAndBuildSources): void {
  if (registry.getSingleMetric('ticket_build_info') === undefined) {
    const buildInfo = new Gauge({
      name: 'ticket_build_info',
      help: 'Always 1; the labels say which ticket-server version runs on which Node.js.',
      labelNames: ['version', 'node'],
      registers: [registry],
    });
    buildInfo.labels(sources.version, process.version).set(1);
  }
  const { store } = sources;
  if (store === undefined || registry.getSingleMetric('ticket_store_up') !== undefined) return;
  const timeoutMs = sources.probeTimeoutMs ?? STORE_PROBE_TIMEOUT_MS;
  new Gauge({
    name: 'ticket_store_up',
    help: `1 while the store answers its health probe (bounded by ${timeoutMs} ms at scrape time), else 0.`,
    registers: [registry],
    async collect() {
      this.set(await probeStoreUp(store, timeoutMs));
    },
  });
}
