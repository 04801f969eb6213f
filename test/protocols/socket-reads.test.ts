/**
 * The line protocol's `push` shortcut relies on how Node's net.Socket hands
 * reads to its readable side. These tests fail if that changes: every chunk
 * must still arrive exactly once and in order, and on this Node the shortcut
 * must actually be taken (otherwise the line protocol silently loses the
 * speed it was built for, and the shortcut is dead code to remove or redo).
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { receiveReads, type ReadDelivery } from '../../src/protocols/socket-reads.js';

const WAIT_MS = 5_000;
const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A server whose connections deliver reads through `receiveReads`; resolves once `expectedBytes` arrived. */
async function receiveAll(send: (socket: Socket) => void, expectedBytes: number, pauseFirst = false): Promise<{ text: string; delivery: ReadDelivery }> {
  let resolveDone!: (value: { text: string; delivery: ReadDelivery }) => void;
  const done = new Promise<{ text: string; delivery: ReadDelivery }>((resolve) => (resolveDone = resolve));
  const server = createServer((socket) => {
    sockets.push(socket);
    const chunks: Buffer[] = [];
    let received = 0;
    const delivery = receiveReads(socket, (chunk) => {
      chunks.push(Buffer.from(chunk));
      received += chunk.length;
      if (received >= expectedBytes) resolveDone({ text: Buffer.concat(chunks).toString('latin1'), delivery });
    });
    if (pauseFirst) {
      // Reads that arrive while paused are buffered by the stream and must come out through 'data', in order.
      socket.pause();
      setTimeout(() => socket.resume(), 100);
    }
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  sockets.push(client);
  await new Promise<void>((resolve) => client.once('connect', resolve));
  send(client);
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('reads did not all arrive')), WAIT_MS).unref());
  return Promise.race([done, timeout]);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('receiveReads', () => {
  it('on this Node, reads of a flowing socket are handled through the push shortcut', async () => {
    const { text, delivery } = await receiveAll((client) => client.write('NEXT a\n'), 7);
    expect(text).toBe('NEXT a\n');
    // Fails if Node stops delivering reads through socket.push: the shortcut would then never run.
    expect(delivery.shortcutReads).toBeGreaterThanOrEqual(1);
  });

  it('delivers every chunk once and in order, whether through the shortcut or through data events', async () => {
    const parts = Array.from({ length: 40 }, (_, index) => `part-${index};`);
    const total = parts.join('');
    const { text } = await receiveAll(
      (client) => {
        void (async () => {
          for (const part of parts) {
            client.write(part);
            await sleep(2);
          }
        })();
      },
      total.length,
    );
    expect(text).toBe(total);
  });

  it('a paused socket buffers its reads and hands them over in order on resume', async () => {
    const total = 'x'.repeat(10_000) + 'end';
    const { text } = await receiveAll((client) => client.write(total), total.length, true);
    expect(text).toBe(total);
  });
});
