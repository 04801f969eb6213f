/**
 * One behaviour suite for every client transport (`zmq`, `http`, `line`), run
 * against one real in-process server (`createServer`, `memory:` store, every
 * listener on port 0) and one silent TCP listener that accepts and never
 * answers. Each transport gives how to make it for a URI; its own test file
 * keeps only what differs (wire details, fake servers, failover).
 */
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Transport } from '../src/client/transport.js';
import { loadConfig } from '../src/config/options.js';
import { TicketError } from '../src/core/errors.js';
import { createServer, type TicketServer } from '../src/server.js';

/** How the suite makes one transport. */
export interface TransportDriver {
  /** The URI of the real server's listener for this transport, from its bound `endpoints`. */
  uriOf(endpoints: Readonly<Record<string, string>>): string;
  /** The URI of a listener on `host:port` in this transport's scheme. */
  uriAt(hostPort: string): string;
  create(uri: string): Transport;
}

/** Rejection of `promise` as a TicketError (fails the test if it resolves or rejects otherwise). */
async function failure(promise: Promise<unknown>): Promise<TicketError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TicketError);
    return error as TicketError;
  }
  throw new Error('expected the request to fail');
}

/** Runs the suite for one transport. */
export function runTransportContract(label: string, driver: TransportDriver): void {
  describe(`transport contract: ${label}`, () => {
    let server: TicketServer;
    let silent: Server;
    const silentSockets = new Set<Socket>();
    let silentAddress = '';
    const transports: Transport[] = [];
    const open = (uri: string): Transport => {
      const transport = driver.create(uri);
      transports.push(transport);
      return transport;
    };
    const served = (): Transport => open(driver.uriOf(server.endpoints));

    beforeAll(async () => {
      const option = (value: string) => ({ value, source: 'transport contract' });
      const config = loadConfig(
        new Map([
          ['store', option('memory:')],
          ['bind', option('tcp://127.0.0.1:0')],
          ['http', option('127.0.0.1:0')],
          ['line', option('127.0.0.1:0')],
          ['admin', option('off')],
          ['max-jump', option('1000')],
        ]),
        {},
      );
      server = await createServer(config, { logger: pino({ level: 'silent' }) });
      await server.start();
      silent = createTcpServer((socket) => {
        silentSockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => silentSockets.delete(socket));
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      silentAddress = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
    });

    afterEach(() => {
      for (const transport of transports.splice(0)) transport.close();
    });

    afterAll(async () => {
      await server?.close();
      for (const socket of silentSockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });

    it('a single-value request resolves with one bigint', async () => {
      const value = await served().request({ name: 'contract', count: undefined, last: undefined }, 5_000);
      expect(typeof value).toBe('bigint');
      expect(value as bigint).toBeGreaterThan(0n);
    });

    it('a counted request resolves with that many increasing values', async () => {
      const transport = served();
      const first = (await transport.request({ name: 'contract', count: undefined, last: undefined }, 5_000)) as bigint;
      const values = await transport.request({ name: 'contract', count: 5, last: undefined }, 5_000);
      expect(Array.isArray(values)).toBe(true);
      const list = values as bigint[];
      expect(list).toHaveLength(5);
      expect(list[0] as bigint).toBeGreaterThan(first);
      for (let index = 1; index < list.length; index++) expect(list[index] as bigint).toBeGreaterThan(list[index - 1] as bigint);
    });

    it('`last` is sent: a client ahead of the server makes it jump past its value', async () => {
      const transport = served();
      const current = (await transport.request({ name: 'contract-last', count: undefined, last: undefined }, 5_000)) as bigint;
      const ahead = current + 500n;
      const value = (await transport.request({ name: 'contract-last', count: undefined, last: ahead }, 5_000)) as bigint;
      expect(value).toBeGreaterThan(ahead);
    });

    it("the server's error codes come back as the error's code (EJUMP past --max-jump)", async () => {
      const transport = served();
      const current = (await transport.request({ name: 'contract-jump', count: undefined, last: undefined }, 5_000)) as bigint;
      const error = await failure(transport.request({ name: 'contract-jump', count: undefined, last: current + 1_000_000n }, 5_000));
      expect(error.code).toBe('EJUMP');
    });

    it('a server that never answers fails the request with ETIMEOUT', async () => {
      const error = await failure(open(driver.uriAt(silentAddress)).request({ name: 'contract', count: undefined, last: undefined }, 300));
      expect(error.code).toBe('ETIMEOUT');
    });

    it('close() fails pending requests at once (EUNAVAILABLE), long before their timeout', async () => {
      const transport = open(driver.uriAt(silentAddress));
      const pending = failure(transport.request({ name: 'contract', count: undefined, last: undefined }, 30_000));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const started = Date.now();
      transport.close();
      const error = await pending;
      expect(error.code).toBe('EUNAVAILABLE');
      // Generous: only "did not wait for the 30 s timeout".
      expect(Date.now() - started).toBeLessThan(10_000);
    });
  });
}
