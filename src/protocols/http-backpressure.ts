/**
 * Backpressure for pipelined HTTP/1.1: a client that sends requests and never
 * reads the replies must not make the server work out, and buffer, a reply
 * for every request it sent.
 *
 * Node's HTTP server parses every request of a read at once and hands each to
 * fastify at once; the replies of pipelined requests wait, in memory, behind
 * the first one (Node stops reading the socket only after the read). So the
 * requests of one connection are let through one at a time: the next only once
 * the previous reply was handed to the socket and the socket holds less than
 * `maxReplyBytes` unsent; meanwhile they wait without a reply worked out. Past
 * `maxWaiting` waiting requests the socket is paused (not read), and read
 * again once they are fewer. Requests of different connections never wait for
 * each other.
 */
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** Requests of one connection that may wait for their turn before the connection is read no further. */
export const MAX_WAITING_REQUESTS = 64;

/** One connection's turn: whether a request of it is being answered, and the requests waiting. */
interface Turn {
  busy: boolean;
  readonly waiting: Array<() => void>;
  /** The socket was paused here (so it is resumed here). */
  paused: boolean;
}

/**
 * Installs the one-at-a-time turn on `app`'s requests.
 * @param maxReplyBytes unsent reply bytes of a connection above which its next request waits
 */
export function boundPipelinedReplies(app: FastifyInstance, maxReplyBytes: number, maxWaiting = MAX_WAITING_REQUESTS): void {
  const turns = new WeakMap<Socket, Turn>();

  const next = (socket: Socket, turn: Turn): void => {
    while (!turn.busy && turn.waiting.length > 0 && socket.writableLength < maxReplyBytes && !socket.destroyed) {
      turn.busy = true;
      (turn.waiting.shift() as () => void)();
    }
    if (turn.waiting.length >= maxWaiting) {
      // Node resumes a socket on 'drain' by itself: pause again (this listener runs after Node's).
      if (!socket.isPaused()) socket.pause();
      turn.paused = true;
    } else if (turn.paused && turn.waiting.length < maxWaiting / 2) {
      turn.paused = false;
      socket.resume();
    }
  };

  app.addHook('onRequest', (request, _reply, done) => {
    const socket = request.raw.socket;
    let turn = turns.get(socket);
    if (turn === undefined) {
      const created: Turn = { busy: false, waiting: [], paused: false };
      turn = created;
      turns.set(socket, turn);
      socket.on('drain', () => next(socket, created));
    }
    if (!turn.busy && turn.waiting.length === 0 && socket.writableLength < maxReplyBytes) {
      turn.busy = true;
      done();
      return;
    }
    turn.waiting.push(done);
    next(socket, turn);
  });

  app.addHook('onResponse', (request, _reply, done) => {
    const socket = request.raw.socket;
    const turn = turns.get(socket);
    if (turn !== undefined) {
      turn.busy = false;
      next(socket, turn);
    }
    done();
  });
}
