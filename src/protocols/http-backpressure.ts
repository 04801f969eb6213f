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
import type { FastifyInstance, FastifyReply } from 'fastify';

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
 * The per-request guard of one HTTP listener, as one pair of hooks (each hook
 * costs every request): the one-at-a-time turn per connection described
 * above, and the graceful stop — once `stop()` is called new requests answer
 * 503 `EUNAVAILABLE`, and `idle()` resolves when no request is being answered
 * (their values were issued: their replies must still go out).
 */
export class HttpRequestGuard {
  private readonly turns = new WeakMap<Socket, Turn>();
  /** Requests let through and not yet answered, over every connection. */
  private answering = 0;
  private stopping = false;
  private drained: (() => void) | undefined;

  /**
   * @param maxReplyBytes unsent reply bytes of a connection above which its next request waits
   * @param refuse answers a request that arrives while stopping (503 in the listener's error shape)
   */
  constructor(
    private readonly maxReplyBytes: number,
    private readonly refuse: (reply: FastifyReply) => void,
    private readonly maxWaiting = MAX_WAITING_REQUESTS,
  ) {}

  install(app: FastifyInstance): void {
    app.addHook('onRequest', (request, reply, done) => {
      if (this.stopping) {
        this.refuse(reply);
        return;
      }
      const socket = request.raw.socket;
      let turn = this.turns.get(socket);
      if (turn === undefined) {
        const created: Turn = { busy: false, waiting: [], paused: false };
        turn = created;
        this.turns.set(socket, turn);
        socket.on('drain', () => this.next(socket, created));
      }
      if (!turn.busy && turn.waiting.length === 0 && socket.writableLength < this.maxReplyBytes) {
        turn.busy = true;
        this.answering++;
        done();
        return;
      }
      turn.waiting.push(done);
      this.next(socket, turn);
    });
    app.addHook('onResponse', (request, _reply, done) => {
      const socket = request.raw.socket;
      const turn = this.turns.get(socket);
      if (turn !== undefined && turn.busy) {
        turn.busy = false;
        if (--this.answering === 0) this.drained?.();
        this.next(socket, turn);
      }
      done();
    });
  }

  /** From now on new requests answer 503. */
  stop(): void {
    this.stopping = true;
  }

  /** Resolves once no request is being answered, or after `graceMs`. */
  async idle(graceMs: number): Promise<void> {
    if (this.answering === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
      this.drained = resolve;
    });
    clearTimeout(timer);
  }

  private next(socket: Socket, turn: Turn): void {
    while (!turn.busy && turn.waiting.length > 0 && socket.writableLength < this.maxReplyBytes && !socket.destroyed) {
      turn.busy = true;
      this.answering++;
      (turn.waiting.shift() as () => void)();
    }
    if (turn.waiting.length >= this.maxWaiting) {
      // Node resumes a socket on 'drain' by itself: pause again (this listener runs after Node's).
      if (!socket.isPaused()) socket.pause();
      turn.paused = true;
    } else if (turn.paused && turn.waiting.length < this.maxWaiting / 2) {
      turn.paused = false;
      socket.resume();
    }
  }
}
