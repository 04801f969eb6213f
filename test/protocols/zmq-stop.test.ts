/**
 * A graceful stop of the ZeroMQ listener: requests that arrive once it is
 * stopping get EUNAVAILABLE (no value is spent on a reply the closing
 * connection could lose), the replies owed before are delivered, and the
 * connection stays open a moment after them so the peer can read them.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Dealer } from 'zeromq';
import { ZmqServer } from '../../src/protocols/zmq.js';
import { TicketService } from '../../src/service/ticket-service.js';
import { MemoryStore } from '../../src/store/memory-store.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('ZeroMQ graceful stop', () => {
  it('refuses requests that arrive while stopping with EUNAVAILABLE and spends no value on them', async () => {
    const service = new TicketService({ store: new MemoryStore(), numbering: { instance: 1, instances: 1, offset: 1n } });
    await service.start();
    cleanups.push(() => service.close());
    const server = new ZmqServer(service, pino({ level: 'silent' }));
    const endpoint = await server.listen('tcp://127.0.0.1:0');
    const dealer = new Dealer({ receiveTimeout: 5_000, linger: 0 });
    cleanups.push(() => dealer.close());
    dealer.connect(endpoint);
    await dealer.send(JSON.stringify(['stop', '0']));
    expect(String((await dealer.receive()).at(-1))).toBe('[null,"1"]');

    const closing = server.close();
    await dealer.send(JSON.stringify(['stop', '0']));
    const refused = JSON.parse(String((await dealer.receive()).at(-1))) as unknown[];
    expect(refused[0]).toBe('EUNAVAILABLE');
    await closing;
    // The refused request took nothing: the sequence's next value is still 2.
    expect(service.nextValue('stop', undefined)).toBe(2n);
  }, 15_000);
});
