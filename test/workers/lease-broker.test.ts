/**
 * The owner's lease broker (`--workers`): several services whose leases
 * interleave hand them back in any order, and the store continues right after
 * the highest value any of them issued, with every unissued slot below it kept
 * for the next reservations (embedded stores; a gap on shared ones); a floor written by the owner is told
 * to the workers, a worker's own floor write is not told again; worker calls
 * with bad arguments never reach the store.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TicketService } from '../../src/service/ticket-service.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { LeaseBroker } from '../../src/workers/lease-broker.js';
import type { StoreCall } from '../../src/workers/messages.js';

const NUMBERING = { instance: 1, instances: 1, offset: 1n };
const quiet = { info() {}, warn() {}, error() {} };

function brokerOver(store: MemoryStore, floors: Array<[string, bigint]> = []): LeaseBroker {
  return new LeaseBroker(store, {
    numbering: NUMBERING,
    broadcastFloor: async (name, slot) => {
      floors.push([name, slot]);
    },
    admit: async () => undefined,
    logger: quiet,
  });
}

describe('hand-back across processes', () => {
  it('leaves the store right after the highest value issued, whatever the interleaving and stop order, and keeps every unissued slot below it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 4 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.record({ who: fc.nat(3), name: fc.constantFrom('a', 'b'), count: fc.integer({ min: 1, max: 30 }) }), { maxLength: 40 }),
        fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
        async (processes, maxBlock, requests, stopOrderSeeds) => {
          const store = new MemoryStore();
          const broker = brokerOver(store);
          await broker.open();
          const services = Array.from({ length: processes }, () => new TicketService({ store: broker, numbering: NUMBERING, maxBlock }));
          for (const service of services) await service.start();
          const seen = new Set<string>();
          const highest = new Map<string, bigint>();
          for (const { who, name, count } of requests) {
            const values = (await (services[who % processes] as TicketService).next(name, count)) as bigint[];
            for (const value of values) {
              expect(seen.has(`${name} ${value}`)).toBe(false);
              seen.add(`${name} ${value}`);
              if (value > (highest.get(name) ?? 0n)) highest.set(name, value);
            }
          }
          // Stop in an arbitrary order: the broker must not depend on which process hands back first.
          const order = services.map((service, index) => ({ service, key: stopOrderSeeds[index] ?? 0 })).sort((x, y) => x.key - y.key);
          for (const { service } of order) await service.close();
          for (const name of ['a', 'b']) {
            const next = await store.reserve(name, 0n);
            expect(next.start).toBe((highest.get(name) ?? 0n) + 1n);
          }
          // The owner closes the broker last: every unissued tail below the highest value is kept in
          // the store, so the slots handed out next fill exactly what was not issued, then continue.
          await broker.close();
          for (const name of ['a', 'b']) {
            const top = highest.get(name) ?? 0n;
            let next = 0n;
            for (let guard = 0; guard < 10_000 && next <= top; guard++) {
              const lease = await store.reserve(name, 1n);
              next = lease.start;
              if (next <= top) {
                expect(seen.has(`${name} ${next}`)).toBe(false);
                seen.add(`${name} ${next}`);
              }
            }
            expect(next).toBe(top + 1n);
            for (let slot = 1n; slot <= top; slot++) expect(seen.has(`${name} ${slot}`)).toBe(true);
          }
          expect(broker.handBackTotals().gaps).toBe(0n);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps a tail below another process\'s issued values in an embedded store when it closes', async () => {
    const store = new MemoryStore();
    const broker = brokerOver(store);
    const a = await store.reserve('s', 10n); // [1, 11): issued 1..3
    const b = await store.reserve('s', 10n); // [11, 21): issued 11
    expect(await broker.release('s', 4n, a.end)).toBe(true);
    expect(await broker.release('s', 12n, b.end)).toBe(true);
    // While the server runs the tail is the broker's (granting it would take a process's values backwards).
    expect(broker.handBackTotals()).toEqual({ released: 9n, kept: 0n, gaps: 7n });
    expect((await store.reserve('s', 0n)).start).toBe(12n);
    await broker.close();
    expect(broker.handBackTotals()).toEqual({ released: 9n, kept: 7n, gaps: 0n });
    expect(await store.reserve('s', 10n)).toEqual({ start: 4n, end: 11n });
    expect(await store.reserve('s', 1n)).toEqual({ start: 12n, end: 13n });
  });

  it('counts the tail as a gap on a store that keeps nothing (a shared store)', async () => {
    const store = new MemoryStore();
    // A shared store: no kept slots, a tail below the counter cannot come back.
    Object.defineProperty(store, 'unissued', { value: undefined });
    const broker = brokerOver(store);
    const a = await store.reserve('s', 10n);
    const b = await store.reserve('s', 10n);
    expect(await broker.release('s', 4n, a.end)).toBe(true);
    expect(await broker.release('s', 12n, b.end)).toBe(true);
    await broker.close();
    expect(broker.handBackTotals()).toEqual({ released: 9n, kept: 0n, gaps: 7n });
    expect(await store.reserve('s', 1n)).toEqual({ start: 12n, end: 13n });
  });
});

describe('floors', () => {
  it('tells the workers about a floor the owner writes, and not about a worker\'s own floor write', async () => {
    const floors: Array<[string, bigint]> = [];
    const broker = brokerOver(new MemoryStore(), floors);
    await broker.reserve('s', 0n, 500n);
    await broker.reserve('s', 5n);
    const call: StoreCall = { type: 'call', id: 1, op: 'reserve', args: ['s', 0n, 600n] };
    await broker.handle(call);
    expect(floors).toEqual([['s', 500n]]);
  });
});

describe('worker calls', () => {
  it('refuses malformed arguments before the store sees them', async () => {
    const store = new MemoryStore();
    const broker = brokerOver(store);
    const bad: StoreCall[] = [
      { type: 'call', id: 1, op: 'reserve', args: ['s', -1n] },
      { type: 'call', id: 2, op: 'reserve', args: ['s', 5] },
      { type: 'call', id: 3, op: 'release', args: ['s', 1n] },
      { type: 'call', id: 4, op: 'admit', args: [7] },
      { type: 'call', id: 5, op: 'fence', args: [{ instance: 2, instances: 2, offset: 1n }] },
    ];
    for (const call of bad) await expect(broker.handle(call)).rejects.toMatchObject({ name: 'TicketError' });
    expect(await store.has('s')).toBe(false);
  });
});
