/**
 * The `push` shortcut of the line protocol, in one place.
 *
 * A socket hands every chunk it reads to `push`; the readable-stream plumbing
 * between there and 'data' (buffer bookkeeping and a process.nextTick per read)
 * was a sixth of the server's CPU under pipelined load. While the socket flows
 * and has nothing buffered, the chunk is answered right in `push`, as the
 * 'data' listener would answer it next. Everything else — end of stream, a
 * paused socket, data already buffered — takes the ordinary path, in order.
 *
 * `push` is not a documented hook: should a Node version deliver reads some
 * other way, the 'data' listener still gets them (correct, only slower), and
 * `test/protocols/socket-reads.test.ts` fails so that the change is noticed.
 */
import type { Socket } from 'node:net';

/** How a socket's reads reached the handler; only read by tests and diagnostics. */
export interface ReadDelivery {
  /** Reads answered from `push`, without the stream's plumbing. */
  readonly shortcutReads: number;
}

/**
 * Hands every chunk `socket` reads to `receive`, once, in order: through the
 * `push` shortcut when the socket flows with nothing buffered, through 'data'
 * otherwise. Call once per socket, before it is read.
 * @returns counters telling how reads were delivered.
 */
export function receiveReads(socket: Socket, receive: (chunk: Buffer) => void): ReadDelivery {
  const delivery = { shortcutReads: 0 };
  socket.on('data', receive);
  const push = socket.push.bind(socket);
  socket.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk instanceof Buffer && chunk.length > 0 && socket.readableLength === 0 && !socket.isPaused()) {
      delivery.shortcutReads++;
      receive(chunk);
      return true;
    }
    return push(chunk, encoding);
  };
  return delivery;
}
