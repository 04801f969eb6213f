/**
 * The client library: `require('ticket-server')([...servers])`.
 *
 * ```js
 * const ticket = ticketServer(['tcp://10.0.0.11:6410', 'tcp://10.0.0.12:6410']);
 * ticket.next('orders', (err, value) => {});          // callback, value: bigint
 * const value = await ticket.next('orders');          // promise
 * const values = await ticket.next('orders', { count: 50 }); // bigint[]
 * await ticket.close();
 * ```
 *
 * It remembers the highest value received per sequence and sends it as
 * `last`, so servers that fell behind catch up (drift); it times
 * out and fails over between servers (see pool.ts); with `prefetch: N` it
 * fetches N values at a time per sequence and hands them out locally.
 */
import { TicketError } from '../core/errors.js';
import { MAX_COUNT, parseCount } from '../core/request.js';
import { newerTicket, ticketText, type Ticket } from '../core/ticket.js';
import { UpstreamPool, type PoolOptions } from './pool.js';
import { SingleRequestGatherer, type Waiter } from './gathering.js';
import { TicketRun } from './reply.js';
import type { TransportSecurity } from './transport.js';

/**
 * Options of `createClient`. `F`: the names listed in `formatted`. The security fields (`token`, `ca`,
 * `curveServerKey`, `curvePublicKey`, `curveSecretKey`) apply to every server
 * of the list; see `TransportSecurity`.
 */
export interface ClientOptions<F extends string = never> extends TransportSecurity {
  /** Time one server gets per request before the next is tried, in ms. Default 1000. */
  readonly timeout?: number;
  /** Consecutive failures after which a server is skipped until probed. Default 2. */
  readonly downAfter?: number;
  /** How long a down server is skipped before it is probed again, in ms. Default 1000. */
  readonly probeInterval?: number;
  /**
   * Fetch this many values (1–1000) per sequence at once and hand them out
   * locally, keeping two more batches on their way; a caller that ran out of
   * values while batches were on their way gets one more kept ahead each time,
   * up to ten. Default 0 (off). Up to three batches are held (eleven for such a
   * fast caller); values not handed out when the process ends are never issued
   * again: they become gaps.
   */
  readonly prefetch?: number;
  /** Send the last value seen as `last` (drift catch-up). Default true; proxies turn it off. */
  readonly sendLast?: boolean;
  /** Told when a server goes down or comes back. */
  readonly onStateChange?: PoolOptions['onStateChange'];
  /**
   * Sequences with a format, period or check digit (their values are texts such as
   * "INV-2026-000123"). Their values always resolve as strings — also the ones that happen
   * to be all digits, such as a number with a check digit — and TypeScript types them so.
   * A value of another sequence resolves as a bigint when it is all digits, else as its text.
   */
  readonly formatted?: readonly F[];
}

/** What `next(name)` resolves to: `string` for a sequence listed in `formatted`, else `bigint`. */
export type TicketOf<F extends string, N extends string> = N extends F ? string : bigint;

/** Options of one `next` call. */
export interface NextOptions {
  /** Number of values, 1–1000; with it, `next` yields an array. */
  readonly count?: number;
}

/** Node-style callback. */
export type Callback<T> = (error: Error | null, value?: T) => void;

/** A client bound to a set of servers; `F` names the sequences declared `formatted`. */
export interface TicketClient<F extends string = never> {
  /**
   * Next value of `name`: a bigint, or a string for a formatted sequence (see `ClientOptions.formatted`).
   * Without prefetch, calls for one sequence made while a request for it is in flight share the next one
   * (values in call order).
   * Errors are `Error`s with `.code`: EBADNAME, ENOSEQ, ELIMIT, EJUMP, EXHAUSTED, EUNAVAILABLE, ETIMEOUT, …
   */
  next<N extends string>(name: N): Promise<TicketOf<F, N>>;
  next<N extends string>(name: N, callback: Callback<TicketOf<F, N>>): void;
  /** `count` values of `name`, increasing. */
  next<N extends string>(name: N, options: NextOptions & { count: number }): Promise<Array<TicketOf<F, N>>>;
  next<N extends string>(name: N, options: NextOptions & { count: number }, callback: Callback<Array<TicketOf<F, N>>>): void;
  next<N extends string>(name: N, options: NextOptions): Promise<TicketOf<F, N> | Array<TicketOf<F, N>>>;
  /**
   * With `prefetch`: the next value of `name` at once, from the values already
   * fetched, without a promise; undefined when none is at hand (prefetch off,
   * none fetched yet or all handed out, client closed): then ask `next(name)`.
   * Also undefined once per batch (halfway through it) while a refill is on its way, though values
   * are held, until the event loop turns: the `await ticket.next(name)` that
   * follows makes it turn, so replies that arrived are read (and, on line://,
   * requests are written) before the held values run out; a loop of synchronous
   * takes would otherwise read them only once every held value is gone, and then wait.
   * Values come in the same order as from `next`, and taking one keeps the
   * batches flowing as `next` does. For loops that issue millions of values a
   * second: `const value = ticket.tryNext('x') ?? (await ticket.next('x'))`.
   */
  tryNext<N extends string>(name: N): TicketOf<F, N> | undefined;
  /** Closes every connection; pending requests fail with EUNAVAILABLE. */
  close(): Promise<void>;
  /** Per-server counters. */
  stats(): ReturnType<UpstreamPool['stats']>;
}

/** Most sequences whose last value the client remembers; the oldest is forgotten first. */
const MAX_REMEMBERED = 100_000;

/** Batches a prefetching client keeps on their way beyond the one it hands out, at first. */
const BATCHES_AHEAD = 2;
/**
 * Most batches kept on their way per sequence: a consumer that had to wait for
 * a batch already asked for gets one more ahead each time, up to this. It
 * bounds the values held (and lost as gaps when the process ends) to
 * (1 + 10) × prefetch per sequence. Deeper means fewer system calls per value:
 * refills go out in steps of half of it (five requests in one write), and on a
 * machine where a system call that wakes another process costs tens of µs
 * that is most of a fast caller's CPU (depth 6 → 10: 15 % less per value).
 */
export const MAX_BATCHES_AHEAD = 10;

/** A fetched batch: its values, or a run of consecutive numbers made one by one as they are handed out. */
type Batch = Ticket[] | TicketRun;

function batchSize(batch: Batch): number {
  return Array.isArray(batch) ? batch.length : batch.count;
}

/**
 * Values fetched ahead for one sequence: the batch being handed out and up to two more.
 * The current batch is either `current[index…]` or, for a run, `runNext` and
 * the `runLeft` values after it (then `current` is empty).
 */
class Prefetched {
  current: Ticket[] = [];
  index = 0;
  /** Exact as a Number: runs hold values of up to 15 digits; `BigInt(number)` is cheaper than a bigint `+ 1n`. */
  runNext = 0;
  runLeft = 0;
  readonly ahead: Batch[] = [];
  aheadValues = 0;
  inflight = 0;
  /** The latest refill, for callers that must wait for values. */
  arrival: Promise<void> | undefined;
  /** Batches kept on their way: `BATCHES_AHEAD`, one more each time a caller outran them (to `MAX_BATCHES_AHEAD`). */
  depth = BATCHES_AHEAD;
  /** Values of the current batch to hand out before it is half done. */
  untilHalfway = 0;
  /** The current batch was just half handed out. */
  halfway = false;
  /**
   * Set when a batch is half handed out while a refill is on its way: the
   * next `next()` lets the event loop turn once, and `tryNext` leaves the
   * value to it. Cleared by that turn, or by the next turn of the event loop.
   */
  yieldDue = false;

  get remaining(): number {
    return this.runLeft + this.current.length - this.index + this.aheadValues;
  }

  /** Takes the next value; the caller checked `remaining > 0`. */
  take(): Ticket {
    if (this.batchDone) this.start(this.ahead.shift() as Batch);
    if (--this.untilHalfway === 0) this.halfway = true;
    if (this.runLeft > 0) {
      this.runLeft--;
      return BigInt(this.runNext++);
    }
    return this.current[this.index++] as Ticket;
  }

  /** Whether the current batch is used up (the next take starts another). */
  get batchDone(): boolean {
    return this.runLeft === 0 && this.index === this.current.length;
  }

  /** Makes `batch` the one handed out; it was ahead (or nothing was). */
  private start(batch: Batch): void {
    if (Array.isArray(batch)) {
      this.current = batch;
      this.runLeft = 0;
    } else {
      this.current = [];
      this.runNext = Number(batch.first);
      this.runLeft = batch.count;
    }
    this.index = 0;
    this.aheadValues -= batchSize(batch);
    this.untilHalfway = Math.max(1, batchSize(batch) >> 1);
  }

  /** Adds a fetched batch. */
  add(batch: Batch): void {
    this.ahead.push(batch);
    this.aheadValues += batchSize(batch);
    if (this.batchDone && this.ahead.length === 1) this.start(this.ahead.shift() as Batch);
  }
}

/** The one implementation; `createClient` types it per the `formatted` names (values are Tickets at run time). */
class Client {
  private readonly pool: UpstreamPool;
  private readonly sendLast: boolean;
  private readonly prefetch: number;
  private readonly lastSeen = new Map<string, Ticket>();
  /** Sequences declared `formatted`: their values are handed out as text. */
  private readonly formatted: ReadonlySet<string> | undefined;
  private readonly buffers = new Map<string, Prefetched>();
  /** Without prefetch: single-value callers of a sequence share requests while one is in flight. */
  private readonly singles = new SingleRequestGatherer<Waiter>((name, batch) => this.fetch(name, batch.length === 1 ? undefined : batch.length));
  private closed = false;

  constructor(pool: UpstreamPool, options: ClientOptions<string>) {
    this.pool = pool;
    this.sendLast = options.sendLast ?? true;
    this.prefetch = options.prefetch ?? 0;
    this.formatted = options.formatted !== undefined && options.formatted.length > 0 ? new Set(options.formatted) : undefined;
  }

  next(name: string): Promise<Ticket>;
  next(name: string, callback: Callback<Ticket>): void;
  next(name: string, options: NextOptions & { count: number }): Promise<Ticket[]>;
  next(name: string, options: NextOptions & { count: number }, callback: Callback<Ticket[]>): void;
  next(name: string, options: NextOptions): Promise<Ticket | Ticket[]>;
  next(
    name: string,
    optionsOrCallback?: NextOptions | Callback<Ticket>,
    maybeCallback?: Callback<Ticket[]>,
  ): Promise<Ticket | Ticket[]> | void {
    if (optionsOrCallback === undefined && this.prefetch > 0 && !this.closed) {
      // Hot path of prefetching callers: one settled promise per value, nothing else.
      const buffer = this.buffers.get(name);
      if (buffer !== undefined && buffer.remaining > 0) {
        if (!buffer.yieldDue) return Promise.resolve(this.takePrefetched(name, buffer));
        buffer.yieldDue = false;
        return this.nextAfterTurn(name);
      }
    }
    const options = typeof optionsOrCallback === 'object' && optionsOrCallback !== null ? optionsOrCallback : undefined;
    const callback = (typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback) as
      | Callback<Ticket | Ticket[]>
      | undefined;
    let result: Promise<Ticket | Ticket[]>;
    try {
      if (this.closed) throw new TicketError('EUNAVAILABLE', 'client is closed');
      if (typeof name !== 'string') throw new TicketError('EBADNAME', 'sequence name must be a string');
      result = options?.count === undefined ? this.nextValue(name) : this.nextValues(name, parseCount(options.count));
    } catch (error) {
      result = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    if (!callback) return result;
    result.then(
      (value) => callback(null, value),
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
    );
  }

  tryNext(name: string): Ticket | undefined {
    if (this.closed) return undefined;
    const buffer = this.buffers.get(name);
    return buffer !== undefined && buffer.remaining > 0 && !buffer.yieldDue ? this.takePrefetched(name, buffer) : undefined;
  }

  /**
   * `next(name)` after one turn of the event loop (its I/O included), so the
   * replies of refills that arrived meanwhile are read before the held values
   * run out. A closed client fails as any call after `close()`.
   */
  private async nextAfterTurn(name: string): Promise<Ticket> {
    await new Promise((resolve) => setImmediate(resolve));
    if (this.closed) throw new TicketError('EUNAVAILABLE', 'client is closed');
    return this.nextValue(name);
  }

  private remember(name: string, value: Ticket): void {
    const known = this.lastSeen.get(name);
    if (known !== undefined && newerTicket(known, value) === known) return;
    if (known === undefined && this.lastSeen.size >= MAX_REMEMBERED) {
      const oldest = this.lastSeen.keys().next().value;
      if (oldest !== undefined) this.lastSeen.delete(oldest);
    }
    this.lastSeen.set(name, value);
  }

  private async fetch(name: string, count: number | undefined): Promise<Ticket | Ticket[]> {
    const last = this.sendLast ? this.lastSeen.get(name) : undefined;
    let result = await this.pool.request({ name, count, last });
    if (this.formatted?.has(name) === true) result = Array.isArray(result) ? result.map(ticketText) : ticketText(result);
    if (!Array.isArray(result)) this.remember(name, result);
    else if (result.length > 0) this.remember(name, result[result.length - 1] as Ticket);
    return result;
  }

  /**
   * One batch of `prefetch` values for the buffer: a `TicketRun` when the
   * values are consecutive plain numbers (no bigint per value until handed
   * out), else the values; remembered as `fetch` does.
   */
  private async fetchBatch(name: string): Promise<Batch> {
    if (this.formatted?.has(name) === true) {
      const result = await this.fetch(name, this.prefetch);
      return Array.isArray(result) ? result : [result];
    }
    const last = this.sendLast ? this.lastSeen.get(name) : undefined;
    const result = await this.pool.request({ name, count: this.prefetch, last, run: true });
    if (result instanceof TicketRun) {
      this.remember(name, result.last);
      return result;
    }
    const values = Array.isArray(result) ? result : [result];
    if (values.length > 0) this.remember(name, values[values.length - 1] as Ticket);
    return values;
  }

  private async nextValue(name: string): Promise<Ticket> {
    if (this.prefetch === 0) return this.gathered(name);
    const buffer = this.buffer(name);
    // Values ran out while batches were on their way: the consumer is faster than a round trip
    // covers, so keep one more batch ahead from now on.
    if (buffer.remaining === 0 && buffer.inflight > 0 && buffer.depth < MAX_BATCHES_AHEAD) buffer.depth++;
    while (buffer.remaining === 0) {
      if (buffer.inflight === 0) this.refill(name, buffer);
      await buffer.arrival;
      // close() may come between the batch's arrival and this turn: its values are gaps now.
      if (this.closed) throw new TicketError('EUNAVAILABLE', 'client is closed');
    }
    return this.takePrefetched(name, buffer);
  }

  /** One value without prefetch, through the gatherer: callers of one sequence share requests under load. */
  private gathered(name: string): Promise<Ticket> {
    return new Promise<Ticket>((resolve, reject) => this.singles.add(name, { resolve, reject }));
  }

  /** Hands out the next prefetched value; the caller checked one is there. */
  private takePrefetched(name: string, buffer: Prefetched): Ticket {
    const value = buffer.take();
    // Keep two batches (or more, see `depth`) on their way while one is handed out:
    // a round trip then has two batches of time to come back before a caller would wait.
    // Deeper than two, refill in steps of half the depth: the batches asked for at once leave in
    // one write (line://) and reach the server in one read, instead of one system call each.
    const missing = buffer.depth - (buffer.ahead.length + buffer.inflight);
    if (missing > 0 && missing >= buffer.depth >> 1) for (let index = 0; index < missing; index++) this.refill(name, buffer);
    // Once per batch, halfway: a caller taking values without a real await never
    // lets the event loop read the replies already here (nor, on line://, write
    // the refill requests); have it turn once.
    if (buffer.halfway) {
      buffer.halfway = false;
      if (buffer.inflight > 0) {
        buffer.yieldDue = true;
        // Once the event loop has turned anyway (a caller that takes a value now and then, or
        // only with tryNext), no turn is owed: tryNext must not stay undefined while values are held.
        setImmediate(() => {
          buffer.yieldDue = false;
        });
      }
    }
    return value;
  }

  private async nextValues(name: string, count: number): Promise<Ticket[]> {
    if (this.prefetch > 0) {
      const buffer = this.buffers.get(name);
      if (buffer && buffer.remaining >= count) {
        const values = new Array<Ticket>(count);
        for (let index = 0; index < count; index++) values[index] = buffer.take();
        return values;
      }
    }
    const result = await this.fetch(name, count);
    return Array.isArray(result) ? result : [result];
  }

  private buffer(name: string): Prefetched {
    let buffer = this.buffers.get(name);
    if (!buffer) {
      if (this.buffers.size >= MAX_REMEMBERED) {
        const oldest = this.buffers.keys().next().value;
        if (oldest !== undefined) this.buffers.delete(oldest);
      }
      buffer = new Prefetched();
      this.buffers.set(name, buffer);
    }
    return buffer;
  }

  /** Fetches one batch of `prefetch` values into the buffer; failures reach only waiting callers. */
  private refill(name: string, buffer: Prefetched): void {
    buffer.inflight++;
    const arrival = this.fetchBatch(name)
      .then((batch) => buffer.add(batch))
      .finally(() => {
        buffer.inflight--;
      });
    arrival.catch(() => undefined); // a failed background refill is retried on demand
    buffer.arrival = arrival;
  }

  stats(): ReturnType<UpstreamPool['stats']> {
    return this.pool.stats();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.buffers.clear(); // prefetched values not handed out become gaps, never late answers
    this.pool.close();
  }
}

/**
 * Creates a client for one or more servers (`tcp://host:port` ZeroMQ, `http://host:port[/base]` HTTP API).
 * @throws TypeError for no servers, an unsupported URI or invalid options
 */
export function createClient<const F extends string = never>(
  servers: string | readonly string[],
  options: ClientOptions<F> = {},
): TicketClient<F> {
  const list = typeof servers === 'string' ? [servers] : servers;
  const prefetch = options.prefetch ?? 0;
  if (!Number.isInteger(prefetch) || prefetch < 0 || prefetch > MAX_COUNT) {
    throw new TypeError(`prefetch must be an integer from 0 to ${MAX_COUNT}`);
  }
  const pool = new UpstreamPool(list, options);
  return new Client(pool, options) as unknown as TicketClient<F>;
}
