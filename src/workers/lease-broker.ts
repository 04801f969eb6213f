/**
 * The owner process's side of `--workers`: the one place that talks to the
 * real store. The owner's own TicketService (ZeroMQ, admin) uses the broker as
 * its `Store`; each worker's calls arrive over IPC (`handle`). Three things are
 * added on top of the store:
 *
 * - **Hand-back across processes.** A store lowers its counter only when a
 *   released lease ends exactly where the counter is. Leases of several
 *   processes interleave (worker A holds [1,100), B [100,200)), so released
 *   tails are collected per sequence and returned highest first: a tail that
 *   cannot be returned yet (someone holds slots above it) is kept and tried
 *   again whenever a higher one comes back. What is still kept when the broker
 *   closes lies below a value some process issued: an embedded store keeps it
 *   for its next reservations (`unissued.keep`), so a clean restart loses no
 *   number; on a shared store it is a gap, never a repeat.
 * - **Floors reach every lease book.** A floor written through the broker
 *   (`reserve(name, 0, slot)` by the owner's admin API) is told to every worker
 *   before the call returns, so no worker issues below it from a lease it holds.
 * - **One authority for names.** A worker asks `admit` for every name it has not
 *   seen; the owner's own service answers by its admission (ELIMIT, strict mode).
 */
import { TicketError } from '../core/errors.js';
import type { Numbering } from '../core/numbering.js';
import { sameNumbering, type KeptSlots, type Lease, type Store, type StoredSettings } from '../store/store.js';
import { StoreWrapper } from '../store/store-wrapper.js';
import type { ServiceLogger } from '../service/service-options.js';
import type { StoreCall } from './messages.js';

/** Most tails kept per sequence; past it the lowest are forgotten (they could only ever become gaps). */
const MAX_KEPT_TAILS = 1_000;

/** Highest tail first: the store's counter can only take back the tail that ends where it stands. */
function byEndDescending(a: Lease, b: Lease): number {
  return a.end < b.end ? 1 : a.end > b.end ? -1 : 0;
}

/** What the broker needs from the owner. */
export interface LeaseBrokerOptions {
  /** The numbering the owner fenced the store with; a worker asking for another is refused. */
  readonly numbering: Numbering;
  /** Tells every worker about a floor and resolves once each has applied it. */
  readonly broadcastFloor: (name: string, slot: bigint) => Promise<void>;
  /** The owner's admission: resolves when `name` may be used, rejects with ENOSEQ or ELIMIT. */
  readonly admit: (name: string) => Promise<void>;
  readonly logger: ServiceLogger;
}

/** The owner's store: the real store plus cross-process hand-back, floor broadcast and admission. */
export class LeaseBroker extends StoreWrapper {
  /** Handed-back tails per sequence that the store could not take back yet, in no order. */
  private readonly kept = new Map<string, Lease[]>();
  /** One hand-back pass per sequence at a time: each pass reads and changes `kept`. */
  private readonly passes = new Map<string, Promise<void>>();
  private releasedSlots = 0n;
  /** Slots the store kept for later at close (below a value issued), and slots it could not take (gaps). */
  private keptSlots = 0n;
  private lostSlots = 0n;

  /**
   * The owner's hand-backs come here like the workers' (kept, returned highest
   * first, the rest persisted at close); `drop` (a deleted sequence) goes to the
   * store. Undefined when the store keeps nothing.
   */
  override readonly unissued: KeptSlots | undefined;

  constructor(inner: Store, private readonly options: LeaseBrokerOptions) {
    super(inner);
    const kept = inner.unissued;
    this.unissued = kept && {
      keep: (name, from, end) => this.release(name, from, end),
      drop: (name) => kept.drop(name),
    };
  }

  /** The owner's reservations; a floor write (count 0 with `atLeast`) is broadcast to every worker first. */
  override async reserve(name: string, count: bigint, atLeast?: bigint): Promise<Lease> {
    const lease = await this.inner.reserve(name, count, atLeast);
    if (count === 0n && atLeast !== undefined) await this.options.broadcastFloor(name, atLeast);
    return lease;
  }

  /**
   * Takes a withdrawn lease back. Always true: the broker owns it from now on
   * and returns it to the store as soon as (and if ever) the store allows.
   */
  override async release(name: string, from: bigint, end: bigint): Promise<boolean> {
    if (from >= end) return true;
    let tails = this.kept.get(name);
    if (!tails) this.kept.set(name, (tails = []));
    tails.push({ start: from, end });
    if (tails.length > MAX_KEPT_TAILS) {
      tails.sort(byEndDescending);
      tails.length = MAX_KEPT_TAILS;
    }
    const previous = this.passes.get(name) ?? Promise.resolve();
    const pass = previous.then(() => this.returnTails(name));
    this.passes.set(name, pass);
    await pass;
    if (this.passes.get(name) === pass) this.passes.delete(name);
    return true;
  }

  /** Returns kept tails of `name` highest first until the store refuses one. Never throws. */
  private async returnTails(name: string): Promise<void> {
    const tails = this.kept.get(name);
    if (!tails) return;
    tails.sort(byEndDescending);
    while (tails.length > 0) {
      const top = tails[0] as Lease;
      let returned: boolean;
      try {
        returned = await this.inner.release(name, top.start, top.end);
      } catch (error) {
        this.options.logger.warn({ err: error, sequence: name }, 'could not hand a lease back');
        return;
      }
      // Refused: slots above it are held (or were issued); lower tails cannot be returned either.
      if (!returned) return;
      tails.shift();
      this.releasedSlots += top.end - top.start;
    }
    this.kept.delete(name);
  }

  /**
   * Slots handed back to the store's counter, slots the store kept below it for
   * later (at close, embedded stores), and slots it could not take (gaps: on a
   * shared store, or still held by the broker before close).
   */
  handBackTotals(): { released: bigint; kept: bigint; gaps: bigint } {
    let gaps = this.lostSlots;
    for (const tails of this.kept.values()) for (const tail of tails) gaps += tail.end - tail.start;
    return { released: this.releasedSlots, kept: this.keptSlots, gaps };
  }

  /**
   * Every process has stopped: the tails the counter could not take back go to
   * the store's kept slots (embedded stores), then the store closes.
   */
  override async close(): Promise<void> {
    await Promise.allSettled(this.passes.values());
    const keep = this.inner.unissued;
    if (keep !== undefined) {
      // All at once: the tails are disjoint and the store takes them in any order, and LMDB commits
      // the calls of one turn in one transaction (one fsync, not one per tail: 2,000 tails 16–39 ms
      // instead of ~1.4 s).
      const keepOne = async (name: string, tail: Lease): Promise<void> => {
        const size = tail.end - tail.start;
        try {
          if (await keep.keep(name, tail.start, tail.end)) this.keptSlots += size;
          else this.lostSlots += size;
        } catch (error) {
          this.options.logger.warn({ err: error, sequence: name }, 'could not keep a lease for later');
          this.lostSlots += size;
        }
      };
      await Promise.all([...this.kept].flatMap(([name, tails]) => tails.map((tail) => keepOne(name, tail))));
      this.kept.clear();
    }
    await this.inner.close();
  }

  /**
   * Carries out one worker's call. Arguments are checked (they come from our
   * own code, but a bad one must never reach the store).
   * @throws TicketError EBADREQ on malformed arguments; whatever the store or admission throws
   */
  async handle(call: StoreCall): Promise<unknown> {
    const [first, second, third] = call.args;
    switch (call.op) {
      case 'reserve':
        if (typeof first !== 'string' || typeof second !== 'bigint' || second < 0n || (third !== undefined && typeof third !== 'bigint')) break;
        // A worker's own floor write answers a broadcast: it is not broadcast again.
        return this.inner.reserve(first, second, third);
      case 'release':
        if (typeof first !== 'string' || typeof second !== 'bigint' || typeof third !== 'bigint') break;
        return this.release(first, second, third);
      case 'admit':
        if (typeof first !== 'string') break;
        await this.options.admit(first);
        return true;
      case 'health':
        return this.inner.health();
      case 'readSettings':
        if (typeof first !== 'string') break;
        return this.inner.readSettings(first);
      case 'writeSettings':
        if (typeof first !== 'string' || (second !== undefined && typeof second !== 'string')) break;
        return this.inner.writeSettings(first, second);
      case 'listSettings': {
        // Settings are few (sequences with a definition, and tombstones): one array crosses the channel.
        const all: StoredSettings[] = [];
        for await (const entry of this.inner.listSettings()) all.push(entry);
        return all;
      }
      case 'fence': {
        const numbering = first as Numbering | undefined;
        if (numbering === undefined || !sameNumbering(numbering, this.options.numbering)) {
          throw new TicketError('EINTERNAL', 'worker numbering differs from the owner process');
        }
        return undefined;
      }
    }
    throw new TicketError('EBADREQ', `malformed ${call.op} call from a worker`);
  }
}
