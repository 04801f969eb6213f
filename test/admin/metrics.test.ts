/**
 * createMetrics (SPEC §6.3 /metrics): every metric on its own registry,
 * protocol counters read from ProtocolStats at scrape time, the service
 * observer's lease, failure and jump counters and latency histogram, the
 * per-sequence gauges capped at SEQUENCE_LABEL_CAP busiest sequences, and the
 * proxy's upstream gauges.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SEQUENCE_LABEL_CAP, createMetrics } from '../../src/admin/metrics.js';
import { Sampler } from '../../src/admin/sampler.js';
import { ProtocolStats } from '../../src/core/protocol-stats.js';
import { TicketService } from '../../src/service/ticket-service.js';
import { MemoryStore } from '../../src/store/memory-store.js';

const services: TicketService[] = [];

afterEach(async () => {
  for (const service of services.splice(0)) await service.close();
});

/** Prometheus text → `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const result = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const raw = match[2] as string;
    result.set(match[1] as string, raw === '+Inf' ? Infinity : Number(raw));
  }
  return result;
}

const seriesOf = (scraped: Map<string, number>, name: string): string[] =>
  [...scraped.keys()].filter((key) => key.startsWith(`${name}{`));

const COUNTERS = [
  'ticket_issued_total',
  'ticket_errors_total',
  'ticket_leases_reserved_total',
  'ticket_lease_slots_reserved_total',
  'ticket_lease_failures_total',
  'ticket_jumps_total',
];
const SEQUENCE_METRICS = ['ticket_runway_seconds', 'ticket_sequence_rate', 'ticket_sequence_runway_seconds', 'ticket_sequences'];

describe('createMetrics', () => {
  it('registers the ticket metrics (and process defaults) on a registry of its own', async () => {
    const metrics = createMetrics({ stats: new ProtocolStats() });
    const text = await metrics.registry.metrics();
    for (const name of COUNTERS) expect(text).toMatch(new RegExp(`^# TYPE ${name} counter$`, 'm'));
    expect(text).toMatch(/^# TYPE ticket_lease_reservation_seconds histogram$/m);
    expect(text).toContain('process_cpu_user_seconds_total');
    // Per-sequence gauges come with watchSequences only.
    for (const name of SEQUENCE_METRICS) expect(text).not.toContain(`# TYPE ${name} `);
    expect(metrics.registry.contentType.startsWith('text/plain')).toBe(true);
    // A second set in the same process does not clash.
    const other = createMetrics({ stats: new ProtocolStats() });
    expect(other.registry).not.toBe(metrics.registry);
    expect(await other.registry.metrics()).toContain('ticket_issued_total');
  });

  it('reads ProtocolStats at scrape time', async () => {
    const stats = new ProtocolStats();
    const metrics = createMetrics({ stats });
    let scraped = samples(await metrics.registry.metrics());
    for (const protocol of ['zmq', 'http', 'tcp', 'line']) expect(scraped.get(`ticket_issued_total{protocol="${protocol}"}`)).toBe(0);
    expect(seriesOf(scraped, 'ticket_errors_total')).toEqual([]);

    stats.countIssued('http', 5);
    stats.countIssued('http', 1);
    stats.countIssued('zmq', 3);
    stats.countError('http', 'EBADNAME');
    stats.countError('http', 'EBADNAME');
    stats.countError('zmq', 'EJUMP');
    scraped = samples(await metrics.registry.metrics());
    expect(scraped.get('ticket_issued_total{protocol="http"}')).toBe(6);
    expect(scraped.get('ticket_issued_total{protocol="zmq"}')).toBe(3);
    expect(scraped.get('ticket_issued_total{protocol="tcp"}')).toBe(0);
    expect(scraped.get('ticket_errors_total{protocol="http",code="EBADNAME"}')).toBe(2);
    expect(scraped.get('ticket_errors_total{protocol="zmq",code="EJUMP"}')).toBe(1);

    // Scraping twice does not double anything.
    stats.countIssued('http', 4);
    scraped = samples(await metrics.registry.metrics());
    expect(scraped.get('ticket_issued_total{protocol="http"}')).toBe(10);
    expect(scraped.get('ticket_errors_total{protocol="http",code="EBADNAME"}')).toBe(2);
  });

  it('counts what the observer is told: reservations, slots, latency, failures, jumps', async () => {
    const metrics = createMetrics({ stats: new ProtocolStats() });
    metrics.observer.reserved(10n, 0.002);
    metrics.observer.reserved(5n, 0.2);
    metrics.observer.reserveFailed();
    metrics.observer.jumped();
    metrics.observer.jumped();
    const scraped = samples(await metrics.registry.metrics());
    expect(scraped.get('ticket_leases_reserved_total')).toBe(2);
    expect(scraped.get('ticket_lease_slots_reserved_total')).toBe(15);
    expect(scraped.get('ticket_lease_failures_total')).toBe(1);
    expect(scraped.get('ticket_jumps_total')).toBe(2);
    expect(scraped.get('ticket_lease_reservation_seconds_count')).toBe(2);
    expect(scraped.get('ticket_lease_reservation_seconds_sum')).toBeCloseTo(0.202, 9);
    expect(scraped.get('ticket_lease_reservation_seconds_bucket{le="0.001"}')).toBe(0);
    expect(scraped.get('ticket_lease_reservation_seconds_bucket{le="0.0025"}')).toBe(1);
    expect(scraped.get('ticket_lease_reservation_seconds_bucket{le="0.25"}')).toBe(2);
    expect(scraped.get('ticket_lease_reservation_seconds_bucket{le="+Inf"}')).toBe(2);
  });

  it('is told by a real TicketService about its reservations and jumps', async () => {
    const metrics = createMetrics({ stats: new ProtocolStats() });
    const service = new TicketService({
      store: new MemoryStore(),
      numbering: { instance: 1, instances: 1, offset: 1n },
      observer: metrics.observer,
    });
    services.push(service);
    await service.start();
    await service.next('observed', 10);
    expect(await service.nextValue('observed', 500n)).toBe(501n);
    const scraped = samples(await metrics.registry.metrics());
    expect(scraped.get('ticket_leases_reserved_total')).toBeGreaterThanOrEqual(1);
    expect(scraped.get('ticket_lease_slots_reserved_total')).toBeGreaterThanOrEqual(11);
    expect(scraped.get('ticket_jumps_total')).toBeGreaterThanOrEqual(1);
    expect(scraped.get('ticket_lease_reservation_seconds_count')).toBe(scraped.get('ticket_leases_reserved_total'));
  });

  it('counts one drift jump once in ticket_jumps_total', async () => {
    const metrics = createMetrics({ stats: new ProtocolStats() });
    const service = new TicketService({
      store: new MemoryStore(),
      numbering: { instance: 1, instances: 1, offset: 1n },
      observer: metrics.observer,
    });
    services.push(service);
    await service.start();
    await service.next('observed', 10);
    // One request, one jump: 11 → 501.
    expect(await service.nextValue('observed', 500n)).toBe(501n);
    expect(samples(await metrics.registry.metrics()).get('ticket_jumps_total')).toBe(1);
  });

  describe('watchSequences', () => {
    async function watched(names: number): Promise<{ text: string; scraped: Map<string, number>; sampler: Sampler }> {
      const metrics = createMetrics({ stats: new ProtocolStats() });
      const service = new TicketService({ store: new MemoryStore(), numbering: { instance: 1, instances: 1, offset: 1n } });
      services.push(service);
      await service.start();
      let time = 0;
      const sampler = new Sampler(service, () => time);
      metrics.watchSequences(sampler, () => service.sequenceCount);
      for (let index = 0; index < names; index++) await service.nextValue(`seq-${index}`);
      sampler.sample();
      // seq-i issues i more values: seq-(names-1) is the busiest.
      for (let index = 1; index < names; index++) await service.next(`seq-${index}`, index);
      time += 1000;
      sampler.sample();
      const text = await metrics.registry.metrics();
      return { text, scraped: samples(text), sampler };
    }

    it('adds the runway, rate, per-sequence runway and count gauges', async () => {
      const { text, scraped } = await watched(3);
      for (const name of SEQUENCE_METRICS) expect(text).toMatch(new RegExp(`^# TYPE ${name} gauge$`, 'm'));
      expect(scraped.get('ticket_sequences')).toBe(3);
      expect(scraped.get('ticket_sequence_rate{sequence="seq-2"}')).toBeCloseTo(2, 6);
      expect(scraped.get('ticket_sequence_rate{sequence="seq-0"}')).toBe(0);
      expect(scraped.get('ticket_sequence_runway_seconds{sequence="seq-0"}')).toBe(Infinity);
      expect(Number.isFinite(scraped.get('ticket_runway_seconds'))).toBe(true);
    });

    it(`caps per-sequence series at SEQUENCE_LABEL_CAP (${SEQUENCE_LABEL_CAP}), keeping the busiest`, async () => {
      expect(SEQUENCE_LABEL_CAP).toBe(20);
      const { scraped, sampler } = await watched(50);
      const rate = seriesOf(scraped, 'ticket_sequence_rate');
      const runway = seriesOf(scraped, 'ticket_sequence_runway_seconds');
      expect(rate).toHaveLength(SEQUENCE_LABEL_CAP);
      expect(runway).toHaveLength(SEQUENCE_LABEL_CAP);
      const busiest = sampler.busiest(SEQUENCE_LABEL_CAP).map((sample) => `ticket_sequence_rate{sequence="${sample.name}"}`);
      expect(rate.sort()).toEqual(busiest.sort());
      expect(rate).toContain('ticket_sequence_rate{sequence="seq-49"}');
      expect(rate).not.toContain('ticket_sequence_rate{sequence="seq-0"}');
      expect(scraped.get('ticket_sequences')).toBe(50);
    });

    it('drops series of sequences that fall out of the busiest', async () => {
      const metrics = createMetrics({ stats: new ProtocolStats() });
      const service = new TicketService({ store: new MemoryStore(), numbering: { instance: 1, instances: 1, offset: 1n } });
      services.push(service);
      await service.start();
      let time = 0;
      const sampler = new Sampler(service, () => time);
      metrics.watchSequences(sampler, () => service.sequenceCount);
      for (let index = 0; index < 25; index++) await service.nextValue(`old-${index}`);
      sampler.sample();
      for (let index = 0; index < 25; index++) await service.next(`old-${index}`, 5);
      time += 1000;
      sampler.sample();
      for (let index = 0; index < 25; index++) await service.nextValue(`hot-${index}`);
      time += 1000;
      sampler.sample();
      for (let index = 0; index < 25; index++) await service.next(`hot-${index}`, 100);
      time += 1000;
      sampler.sample();
      const rate = seriesOf(samples(await metrics.registry.metrics()), 'ticket_sequence_rate');
      expect(rate).toHaveLength(SEQUENCE_LABEL_CAP);
      expect(rate.every((key) => key.includes('"hot-'))).toBe(true);
    });

    it('escapes sequence names in labels so the text stays parseable', async () => {
      const metrics = createMetrics({ stats: new ProtocolStats() });
      const service = new TicketService({ store: new MemoryStore(), numbering: { instance: 1, instances: 1, offset: 1n } });
      services.push(service);
      await service.start();
      const sampler = new Sampler(service, () => 0);
      metrics.watchSequences(sampler, () => service.sequenceCount);
      const name = 'quote" back\\slash } {x="y"} é';
      await service.nextValue(name);
      sampler.sample();
      const text = await metrics.registry.metrics();
      expect(text).toContain('ticket_sequence_rate{sequence="quote\\" back\\\\slash } {x=\\"y\\"} é"} 0');
      expect(() => samples(text)).not.toThrow();
    });
  });

  it('reports upstream gauges in proxy mode', async () => {
    let up = true;
    const metrics = createMetrics({
      stats: new ProtocolStats(),
      upstreams: () => [
        { uri: 'tcp://10.0.0.1:6410', up, requests: 10, failures: 2 },
        { uri: 'tcp://10.0.0.2:6410', up: true, requests: 5, failures: 0 },
      ],
    });
    let scraped = samples(await metrics.registry.metrics());
    expect(scraped.get('ticket_upstream_up{upstream="tcp://10.0.0.1:6410"}')).toBe(1);
    expect(scraped.get('ticket_upstream_failures{upstream="tcp://10.0.0.1:6410"}')).toBe(2);
    expect(scraped.get('ticket_upstream_up{upstream="tcp://10.0.0.2:6410"}')).toBe(1);
    up = false;
    scraped = samples(await metrics.registry.metrics());
    expect(scraped.get('ticket_upstream_up{upstream="tcp://10.0.0.1:6410"}')).toBe(0);
    // Without upstreams there are no upstream series.
    const server = createMetrics({ stats: new ProtocolStats() });
    expect(await server.registry.metrics()).not.toContain('ticket_upstream_up');
  });
});
