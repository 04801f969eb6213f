/**
 * `ticket_store_up` and `ticket_build_info` (watchStoreAndBuild), the gauges
 * the store alert and the dashboard read: the store's health probe at scrape
 * time as 1/0, bounded so a hung store reads as down instead of hanging the
 * scrape; build info labelled with the package and Node.js versions.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { watchStoreAndBuild } from '../../src/admin/metrics.js';
import type { StoreHealth } from '../../src/store/store.js';
import { DelegatingStore } from '../helpers/delegating-store.js';

/** A store whose health probe answers what the test says (or never answers). */
class ProbedStore extends DelegatingStore {
  answer: () => Promise<StoreHealth> = () => Promise.resolve({ ok: true });
  override health(): Promise<StoreHealth> {
    return this.answer();
  }
}

const valueOf = (text: string, series: string): string | undefined =>
  new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1];

describe('watchStoreAndBuild', () => {
  it('reports the store as 1 while its probe answers ok, 0 when it says not ok or throws', async () => {
    const registry = new Registry();
    const store = new ProbedStore();
    watchStoreAndBuild(registry, { version: '9.8.7', store });
    expect(valueOf(await registry.metrics(), 'ticket_store_up')).toBe('1');
    store.answer = () => Promise.resolve({ ok: false, detail: 'connection refused' });
    expect(valueOf(await registry.metrics(), 'ticket_store_up')).toBe('0');
    store.answer = () => Promise.reject(new Error('boom'));
    expect(valueOf(await registry.metrics(), 'ticket_store_up')).toBe('0');
    store.answer = () => Promise.resolve({ ok: true });
    expect(valueOf(await registry.metrics(), 'ticket_store_up')).toBe('1');
  });

  it('reports a probe that never answers as 0 once the bound has passed', async () => {
    const registry = new Registry();
    const store = new ProbedStore();
    store.answer = () => new Promise<StoreHealth>(() => undefined);
    watchStoreAndBuild(registry, { version: '1.0.0', store, probeTimeoutMs: 50 });
    const started = performance.now();
    const text = await registry.metrics();
    console.log(`scrape with a hung store took ${Math.round(performance.now() - started)} ms (bound 50 ms)`);
    expect(valueOf(text, 'ticket_store_up')).toBe('0');
  });

  it('labels build info with the version and Node.js, and has no store gauge without a store (proxy mode)', async () => {
    const registry = new Registry();
    watchStoreAndBuild(registry, { version: '1.2.3', store: undefined });
    const text = await registry.metrics();
    expect(valueOf(text, `ticket_build_info{version="1.2.3",node="${process.version}"}`)).toBe('1');
    expect(text).not.toContain('ticket_store_up');
  });

  it('may be called again on the same registry', async () => {
    const registry = new Registry();
    const store = new ProbedStore();
    watchStoreAndBuild(registry, { version: '1.2.3', store });
    watchStoreAndBuild(registry, { version: '1.2.3', store });
    const text = await registry.metrics();
    expect(text.match(/^# TYPE ticket_store_up gauge$/gm)).toHaveLength(1);
    expect(text.match(/^ticket_build_info\{/gm)).toHaveLength(1);
  });
});
