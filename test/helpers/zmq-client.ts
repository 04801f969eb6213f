/**
 * ZeroMQ clients for the integration tests (SPEC §6.1): one-off requests and
 * a pipelining load generator.
 *
 * Every socket has send and receive timeouts and `linger: 0`, so no test can
 * hang on a server that died, and closing never waits for unsent messages.
 */
import { Dealer, Request } from 'zeromq';

/** Default wait for one reply. */
const REQUEST_TIMEOUT_MS = 5_000;

/** Default of `LoadOptions.drainMs`. */
const DRAIN_MS = 300;

/** The empty delimiter frame that separates the envelope from the body (REP envelope). */
const EMPTY = Buffer.alloc(0);

/** True for the error zeromq raises when a send or receive timed out. */
function isTimeout(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'EAGAIN';
}

function parseReply(frame: Buffer | undefined): unknown {
  if (frame === undefined) throw new Error('empty reply');
  return JSON.parse(frame.toString('utf8')) as unknown;
}

/**
 * Sends one request and returns the parsed JSON reply.
 *
 * - `string` or `Buffer`: one body frame over a fresh REQ socket, as every real client sends it.
 * - `Buffer[]`: the frames as they are, after the empty delimiter, over a DEALER
 *   socket (`[empty, ...frames]`), so that malformed multipart requests can be sent.
 *
 * @throws Error when no reply arrives within `timeoutMs` (default 5 s).
 */
export async function request(endpoint: string, body: string | Buffer | Buffer[], timeoutMs = REQUEST_TIMEOUT_MS): Promise<unknown> {
  if (Array.isArray(body)) return requestFrames(endpoint, [EMPTY, ...body], timeoutMs);
  const socket = new Request({ receiveTimeout: timeoutMs, sendTimeout: timeoutMs, linger: 0 });
  try {
    socket.connect(endpoint);
    await socket.send(body);
    const [reply] = await socket.receive();
    return parseReply(reply);
  } catch (error) {
    if (isTimeout(error)) throw new Error(`no reply from ${endpoint} within ${timeoutMs} ms`, { cause: error });
    throw error;
  } finally {
    socket.close();
  }
}

/**
 * Sends raw frames over a fresh DEALER socket and returns the parsed body of
 * the reply (the frame after the echoed envelope's empty delimiter).
 */
export async function requestFrames(endpoint: string, frames: Buffer[], timeoutMs = REQUEST_TIMEOUT_MS): Promise<unknown> {
  const socket = new Dealer({ receiveTimeout: timeoutMs, sendTimeout: timeoutMs, linger: 0 });
  try {
    socket.connect(endpoint);
    await socket.send(frames);
    const reply = await socket.receive();
    const delimiter = reply.findIndex((frame) => frame.length === 0);
    return parseReply(reply[delimiter + 1]);
  } catch (error) {
    if (isTimeout(error)) throw new Error(`no reply from ${endpoint} within ${timeoutMs} ms`, { cause: error });
    throw error;
  } finally {
    socket.close();
  }
}

/** Sends `[name, last]` (or `[name, last, count]`) and returns the parsed reply. */
export async function requestTicket(endpoint: string, name: string, last = '0', count?: number): Promise<unknown> {
  const body = count === undefined ? [name, last] : [name, last, count];
  return request(endpoint, JSON.stringify(body));
}

/**
 * Asks for one value and returns it as a bigint.
 * @throws Error carrying the reply when the server answered with an error.
 */
export async function nextValue(endpoint: string, name: string, last = '0'): Promise<bigint> {
  const reply = await requestTicket(endpoint, name, last);
  if (!Array.isArray(reply) || reply[0] !== null || typeof reply[1] !== 'string') {
    throw new Error(`expected [null, "value"], got ${JSON.stringify(reply)}`);
  }
  return BigInt(reply[1]);
}

/** Asks for `count` values and returns them as bigints. */
export async function nextValues(endpoint: string, name: string, count: number, last = '0'): Promise<bigint[]> {
  const reply = await requestTicket(endpoint, name, last, count);
  if (!Array.isArray(reply) || reply[0] !== null || !Array.isArray(reply[1])) {
    throw new Error(`expected [null, [values]], got ${JSON.stringify(reply)}`);
  }
  return (reply[1] as unknown[]).map((value) => BigInt(value as string));
}

/** Settings of `loadGenerator`. */
export interface LoadOptions {
  /** Sequence name every request asks for. */
  readonly sequence: string;
  /** Requests in flight at once, spread over the sockets. */
  readonly concurrency: number;
  /** Sending stops as soon as this returns true (checked before every request). */
  readonly until: () => boolean;
  /** Hard cap on requests sent, so the generator is bounded even if `until` never turns true. */
  readonly maxRequests: number;
  /**
   * Count of each request, cycled through: `undefined` is the single-value
   * form `[name, "0"]`, a number the count form. Default `[undefined]`.
   */
  readonly counts?: ReadonlyArray<number | undefined>;
  /** DEALER sockets to spread the load over. Default 2. */
  readonly sockets?: number;
  /** The generator gives up after this long without any reply while still sending (a dead server). Default 2 s. */
  readonly idleTimeoutMs?: number;
  /**
   * Once sending has stopped, replies still missing after this long without
   * any reply are given up on. Costs nothing while the server answers (the
   * generator returns as soon as every reply is in). Default 300 ms.
   */
  readonly drainMs?: number;
  /** Called with the values of every successful reply as it arrives. */
  readonly onValues?: (values: readonly string[]) => void;
}

/** What a load run observed. */
export interface LoadResult {
  /** Every value received, as decimal strings, in arrival order per socket. */
  readonly values: string[];
  /** Error codes received (`["ECODE", "message"]` replies). */
  readonly errors: string[];
  readonly sent: number;
  readonly answered: number;
  /**
   * Values asked for by requests that never got a reply (single form counts 1).
   * When the server was killed, the server may have issued up to this many
   * values the client never saw.
   */
  readonly unansweredValues: number;
}

interface SocketTally {
  values: string[];
  errors: string[];
  sent: number;
  answered: number;
  unansweredValues: number;
}

function requestIdFrame(id: number): Buffer {
  const frame = Buffer.alloc(4);
  frame.writeUInt32BE(id);
  return frame;
}

/**
 * Drives one DEALER socket: keeps up to `window` requests in flight. Each
 * request carries its own id as an extra envelope frame (`[id, empty, body]`);
 * a REP-style server echoes the envelope, so every reply is matched to its
 * request even when replies come back out of order.
 */
async function driveSocket(endpoint: string, options: LoadOptions, window: number, budget: { left: number }): Promise<SocketTally> {
  const counts = options.counts ?? [undefined];
  const idleTimeoutMs = options.idleTimeoutMs ?? 2_000;
  const drainMs = options.drainMs ?? DRAIN_MS;
  const tally: SocketTally = { values: [], errors: [], sent: 0, answered: 0, unansweredValues: 0 };
  // Short timeouts: each wait is re-checked against `until` and the idle limit.
  const socket = new Dealer({ receiveTimeout: 100, sendTimeout: 100, linger: 0 });
  socket.connect(endpoint);
  const pending = new Map<number, number>();
  let nextId = 0;
  let finished = false;
  let senderDone = false;
  let wake: (() => void) | undefined;

  const waitForRoom = (): Promise<void> =>
    new Promise((resolveRoom) => {
      const timer = setTimeout(() => {
        wake = undefined;
        resolveRoom();
      }, 50);
      wake = () => {
        clearTimeout(timer);
        wake = undefined;
        resolveRoom();
      };
    });

  const sender = (async () => {
    try {
      while (!finished && !options.until() && budget.left > 0) {
        if (pending.size >= window) {
          await waitForRoom();
          continue;
        }
        const id = nextId++;
        const count = counts[id % counts.length];
        const body = JSON.stringify(count === undefined ? [options.sequence, '0'] : [options.sequence, '0', count]);
        pending.set(id, count ?? 1);
        budget.left--;
        try {
          await socket.send([requestIdFrame(id), EMPTY, Buffer.from(body)]);
          tally.sent++;
        } catch (error) {
          pending.delete(id);
          budget.left++;
          if (!isTimeout(error)) break;
        }
      }
    } finally {
      senderDone = true;
    }
  })();

  let lastReplyAt = Date.now();
  try {
    while (!(senderDone && pending.size === 0)) {
      let frames: Buffer[];
      try {
        frames = await socket.receive();
      } catch (error) {
        if (!isTimeout(error)) break;
        // Once sending has stopped, replies still missing after a short quiet spell are not coming.
        const quietMs = Date.now() - lastReplyAt;
        if (quietMs > (senderDone || options.until() ? drainMs : idleTimeoutMs)) break;
        continue;
      }
      lastReplyAt = Date.now();
      const [idFrame, , body] = frames;
      if (idFrame?.length !== 4 || body === undefined) continue;
      const id = idFrame.readUInt32BE(0);
      if (!pending.delete(id)) continue;
      tally.answered++;
      wake?.();
      const reply = parseReply(body) as [unknown, unknown];
      if (reply[0] === null) {
        const values = Array.isArray(reply[1]) ? reply[1].map(String) : [String(reply[1])];
        tally.values.push(...values);
        options.onValues?.(values);
      } else {
        tally.errors.push(typeof reply[0] === 'string' ? reply[0] : JSON.stringify(reply[0]));
      }
    }
  } finally {
    finished = true;
    wake?.();
    await sender;
    socket.close();
  }
  for (const count of pending.values()) tally.unansweredValues += count;
  return tally;
}

/**
 * Pipelines requests for one sequence over DEALER sockets until `until()`
 * returns true or `maxRequests` were sent, then collects the replies still
 * coming. Survives the server dying: it stops quietly once no reply has come
 * for a receive timeout after sending stopped (or for `idleTimeoutMs` while
 * sending), and returns what it received.
 */
export async function loadGenerator(endpoint: string, options: LoadOptions): Promise<LoadResult> {
  const sockets = Math.max(1, Math.min(options.sockets ?? 2, options.concurrency));
  const budget = { left: options.maxRequests };
  const windows = Array.from({ length: sockets }, (_, index) =>
    Math.floor(options.concurrency / sockets) + (index < options.concurrency % sockets ? 1 : 0),
  );
  const tallies = await Promise.all(windows.map((window) => driveSocket(endpoint, options, window, budget)));
  return {
    values: tallies.flatMap((tally) => tally.values),
    errors: tallies.flatMap((tally) => tally.errors),
    sent: tallies.reduce((sum, tally) => sum + tally.sent, 0),
    answered: tallies.reduce((sum, tally) => sum + tally.answered, 0),
    unansweredValues: tallies.reduce((sum, tally) => sum + tally.unansweredValues, 0),
  };
}
