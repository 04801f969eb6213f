/**
 * One way to turn many single-value requests into few upstream requests,
 * shared by the client (without prefetch) and proxy mode.
 *
 * A single-value request for a sequence with no upstream request in flight
 * goes out at once. While one is in flight, further single-value requests for
 * that sequence are gathered until the end of the event-loop turn and go out
 * as one counted request (at most 1000 values), handed out in arrival order.
 * Under load this turns many round trips (and, over ZeroMQ, many costly
 * messages) into one; when idle it adds no delay.
 */
import { MAX_COUNT } from '../core/request.js';
import type { Ticket } from '../core/ticket.js';
import { checkValueCount } from './reply.js';

/** A caller waiting for one value. */
export interface Waiter {
  resolve(value: Ticket): void;
  reject(error: unknown): void;
}

/**
 * Sends one upstream request for `batch` (a single-value request when it
 * holds one waiter, else `count` = its length) and resolves with its reply.
 */
export type SendBatch<W extends Waiter> = (name: string, batch: readonly W[]) => Promise<Ticket | Ticket[]>;

/** Gathers single-value requests per sequence (see the file comment). */
export class SingleRequestGatherer<W extends Waiter> {
  /** Requests per sequence waiting for this turn's upstream request. */
  private readonly gathering = new Map<string, W[]>();
  /** Upstream requests in flight per sequence. */
  private readonly inflight = new Map<string, number>();
  private readonly send: SendBatch<W>;

  constructor(send: SendBatch<W>) {
    this.send = send;
  }

  /** Adds one caller; its value (or error) reaches `waiter`. */
  add(name: string, waiter: W): void {
    if (!this.inflight.has(name)) {
      this.forward(name, [waiter]);
      return;
    }
    let waiting = this.gathering.get(name);
    if (waiting === undefined || waiting.length >= MAX_COUNT) {
      waiting = [];
      this.gathering.set(name, waiting);
      const batch = waiting;
      setImmediate(() => this.forward(name, batch));
    }
    waiting.push(waiter);
  }

  /** Sends one upstream request for a gathered batch and hands its values out in order. */
  private forward(name: string, batch: W[]): void {
    if (this.gathering.get(name) === batch) this.gathering.delete(name);
    this.inflight.set(name, (this.inflight.get(name) ?? 0) + 1);
    const done = (): void => {
      const left = (this.inflight.get(name) ?? 1) - 1;
      if (left === 0) this.inflight.delete(name);
      else this.inflight.set(name, left);
    };
    let sent: Promise<Ticket | Ticket[]>;
    try {
      sent = this.send(name, batch);
    } catch (error) {
      sent = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    sent.finally(done).then(
      (result) => {
        try {
          checkValueCount(result, batch.length === 1 ? undefined : batch.length);
        } catch (error) {
          for (const waiter of batch) waiter.reject(error);
          return;
        }
        const values = Array.isArray(result) ? result : [result];
        batch.forEach((waiter, index) => waiter.resolve(values[index] as Ticket));
      },
      (error: unknown) => {
        // Near the end of the number space a counted request can fail where single ones would
        // still be served: ask again one by one, so the values that are left are handed out.
        if (batch.length > 1 && (error as { code?: unknown }).code === 'EXHAUSTED') {
          for (const waiter of batch) this.forward(name, [waiter]);
          return;
        }
        for (const waiter of batch) waiter.reject(error);
      },
    );
  }
}
