/**
 * Leader mode inside the service: nothing is issued while the issuing gate is
 * closed (not even from a lease with room), a follower reserves nothing, and
 * `suspend()` (leadership lost) takes every lease out of service, fails the
 * waiting requests and hands back what the store allows — so a new leader on
 * the same store continues strictly above everything issued before.
 */
import { describe, expect, it } from 'vitest';
import { TicketService } from '../../src/service/ticket-service.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { Lease } from '../../src/store/store.js';
import { DelegatingStore } from '../helpers/delegating-store.js';
import { expectCode } from '../helpers/ticket-errors.js';

const numbering = { instance: 1, instances: 1, offset: 1n };

/** A store whose reservations wait until released by the test. */
class HeldStore extends DelegatingStore {
  reserveCalls = 0;
  hold = false;
  private readonly held: Array<() => void> = [];

  override async reserve(name: string, count: bigint, atLeast?: bigint): Promise<Lease> {
    this.reserveCalls++;
    if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
    return this.inner.reserve(name, count, atLeast);
  }

  release_held(): void {
    this.hold = false;
    for (const resolve of this.held.splice(0)) resolve();
  }

  get waiting(): number {
    return this.held.length;
  }
}

async function started(store: MemoryStore | DelegatingStore, gate: { open: boolean }): Promise<TicketService> {
  await store.open();
  const service = new TicketService({ store, numbering, gate: { mayIssue: () => gate.open }, maxBlock: 100 });
  await service.start();
  return service;
}

async function flush(): Promise<void> {
  for (let index = 0; index < 10; index++) await new Promise((resolve) => setImmediate(resolve));
}

describe('the issuing gate (leader mode)', () => {
  it('answers EUNAVAILABLE and reserves nothing while the gate is closed', async () => {
    const store = new HeldStore();
    const service = await started(store, { open: false });
    await expectCode(() => service.nextValue('orders'), 'EUNAVAILABLE');
    await expectCode(() => service.next('orders', 5), 'EUNAVAILABLE');
    expect(store.reserveCalls).toBe(0);
  });

  it('stops issuing at once when the gate closes, even with room in the lease', async () => {
    const gate = { open: true };
    const service = await started(new MemoryStore(), gate);
    for (let index = 0; index < 20; index++) await service.nextValue('orders');
    expect(service.describe('orders')?.leaseRemaining).toBeGreaterThan(0n);
    gate.open = false;
    await expectCode(() => service.nextValue('orders'), 'EUNAVAILABLE');
    await expectCode(() => service.next('orders', 2), 'EUNAVAILABLE');
    gate.open = true;
    expect(await service.nextValue('orders')).toBe(21n);
  });

  it('suspend hands back unissued leases, so the next leader continues right above the last value issued', async () => {
    const store = new MemoryStore();
    const gateA = { open: true };
    const a = await started(store, gateA);
    const issued: bigint[] = [];
    for (let index = 0; index < 30; index++) issued.push((await a.nextValue('orders')) as bigint);
    await flush();
    gateA.open = false;
    await a.suspend();
    expect(a.describe('orders')).toBeUndefined();

    // B leads on the same store.
    const b = new TicketService({ store, numbering, gate: { mayIssue: () => true } });
    await b.start();
    const next = await b.nextValue('orders');
    expect(next).toBe(31n);
  });

  it('suspend fails waiting requests, and a reservation that lands later is handed back, never used', async () => {
    const store = new HeldStore();
    const gate = { open: true };
    const a = await started(store, gate);
    store.hold = true;
    const waiting = a.nextValue('orders');
    await flush();
    expect(store.waiting).toBe(1);
    gate.open = false;
    const suspended = a.suspend();
    await expectCode(() => waiting, 'EUNAVAILABLE');
    await suspended;
    store.release_held();
    await flush();
    // The late lease went back to the store: nothing of it was issued, and nothing was lost.
    const b = new TicketService({ store, numbering, gate: { mayIssue: () => true } });
    await b.start();
    expect(await b.nextValue('orders')).toBe(1n);
  });

  it('a leader that regains leadership continues above what another leader issued meanwhile', async () => {
    const store = new MemoryStore();
    const gateA = { open: true };
    const a = await started(store, gateA);
    const values: bigint[] = [];
    for (let index = 0; index < 10; index++) values.push((await a.nextValue('orders')) as bigint);
    gateA.open = false;
    // Leadership lost without a hand-back reaching the store (partitioned): A keeps its leases in memory until suspend runs.
    const b = new TicketService({ store, numbering, gate: { mayIssue: () => true } });
    await b.start();
    for (let index = 0; index < 10; index++) values.push((await b.nextValue('orders')) as bigint);
    await b.close();
    await a.suspend();
    gateA.open = true;
    for (let index = 0; index < 10; index++) values.push((await a.nextValue('orders')) as bigint);
    for (let index = 1; index < values.length; index++) expect(values[index]).toBeGreaterThan(values[index - 1] as bigint);
  });
});
