/**
 * TicketService: sequences in memory, each issuing from leases its store has
 * durably reserved (SPEC §4). This is the one issuing mechanism every
 * protocol reaches through `TicketSource`.
 *
 * Per sequence the service holds a lease book (`lease-book.ts`: the current
 * lease as values, so issuing one is a compare and an add, and a few queued
 * leases as slots). When the current lease is 80 % used, the next one is
 * reserved in the background, so in steady state no request waits on the
 * store. Requests that cannot be answered from held leases wait in a FIFO per
 * sequence; at most one reservation per sequence is in flight.
 *
 * Around it: `admission.ts` decides which names exist (limit, strict mode,
 * and validates names), `store-calls.ts` runs store calls under the store
 * timeout, `hand-back.ts` returns unissued leases on stop or loss of
 * leadership, `service-options.ts` holds the public options and defaults.
 * This file keeps the hot path, waiting, when to reserve, admin operations,
 * graceful stop and leader mode's gate, epoch and `suspend()`. (A little over
 * 400 lines: the hot path, the waiters and reserve-ahead share per-sequence
 * state and read best together.)
 */
import { TicketError } from '../core/errors.js';
import { slotsBeforeRefill } from '../core/lease-policy.js';
import { SlotMap, driftTarget } from '../core/numbering.js';
import type { TicketSource } from '../core/ticket-source.js';
import type { Store } from '../store/store.js';
import { Admission } from './admission.js';
import { releaseLeases, settleWithin, type WithdrawnLeases } from './hand-back.js';
import { accept, available, positionSlot, raiseFloorSlot, skipTo, take, withdraw } from './lease-book.js';
import {
  SequenceState,
  failWaiters,
  sizeNextLease,
  snapshotOf,
  type Shortfall,
  type Waiter,
} from './sequence-state.js';
import { Reservations, callStore } from './store-calls.js';
import {
  SERVICE_DEFAULTS,
  silentLogger,
  type IssuingGate,
  type SequenceSnapshot,
  type ServiceLogger,
  type ServiceObserver,
  type TicketServiceOptions,
} from './service-options.js';

export {
  SERVICE_DEFAULTS,
  type IssuingGate,
  type SequenceSnapshot,
  type ServiceLogger,
  type ServiceObserver,
  type TicketServiceOptions,
} from './service-options.js';

/**
 * Issues tickets from durably reserved leases.
 *
 * Errors (as `TicketError`): EBADNAME, ENOSEQ, ELIMIT, EJUMP, EXHAUSTED, EUNAVAILABLE.
 */
export class TicketService implements TicketSource {
  readonly store: Store;
  readonly map: SlotMap;
  readonly drift: bigint;
  readonly maxJump: bigint;
  readonly maxBlock: number;
  readonly maxSequences: number;
  readonly strictSequences: boolean;
  private readonly storeTimeoutMs: number;
  private readonly now: () => number;
  private readonly logger: ServiceLogger;
  private readonly observer: ServiceObserver | undefined;
  private readonly gate: IssuingGate | undefined;
  /** Bumped by `suspend()`: a reservation started in an earlier epoch is handed back when it lands, never used. */
  private epoch = 0;
  private readonly step: bigint;
  private readonly sequences = new Map<string, SequenceState>();
  private readonly admission: Admission;
  private state: 'new' | 'running' | 'closing' | 'closed' = 'new';
  private readonly reservations: Reservations;
  /** Set once close() has taken the leases out of service; later leases are released, never used. */
  private withdrawn = false;

  constructor(options: TicketServiceOptions) {
    this.store = options.store;
    this.map = new SlotMap(options.numbering);
    this.step = this.map.step;
    this.drift = options.drift ?? 10n * this.step;
    this.maxJump = options.maxJump ?? SERVICE_DEFAULTS.maxJump;
    this.maxBlock = options.maxBlock ?? SERVICE_DEFAULTS.maxBlock;
    this.maxSequences = options.maxSequences ?? SERVICE_DEFAULTS.maxSequences;
    this.strictSequences = options.strictSequences ?? false;
    this.storeTimeoutMs = options.storeTimeoutMs ?? SERVICE_DEFAULTS.storeTimeoutMs;
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    this.observer = options.observer;
    this.gate = options.gate;
    if (!Number.isInteger(this.maxBlock) || this.maxBlock < 1) throw new RangeError('maxBlock must be a positive integer');
    if (this.maxJump < 0n) throw new RangeError('maxJump must not be negative');
    this.reservations = new Reservations(this.store, this.storeTimeoutMs, this.now, this.logger, this.observer);
    this.admission = new Admission({
      store: this.store,
      maxSequences: this.maxSequences,
      strictSequences: this.strictSequences,
      storeTimeoutMs: this.storeTimeoutMs,
      now: this.now,
    });
  }

  /** Checks the store's numbering and loads the names of existing sequences. The store must be open. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('TicketService.start called twice');
    await this.store.fence(this.map.numbering);
    await this.admission.load();
    this.state = 'running';
  }

  /** Number of sequences that exist (in the store or admitted since start). */
  get sequenceCount(): number {
    return this.admission.count;
  }

  nextValue(name: string, last?: bigint): bigint | Promise<bigint> {
    const seq = this.sequences.get(name) ?? this.admit(name);
    if (seq instanceof Promise) return seq.then(() => this.nextValue(name, last));
    // Hot path: no waiters ahead, no jump, room in the current lease. It issues from the lease book's
    // fields directly (the one place outside lease-book.ts that does) so that issuing stays a compare and an add.
    if (
      seq.waiters.length === 0 &&
      (last === undefined || this.drift <= 0n || last - seq.nextValue <= this.drift)
    ) {
      const value = seq.nextValue;
      if (value < seq.endValue && (this.gate === undefined || this.gate.mayIssue())) {
        seq.nextValue = value + this.step;
        seq.issued++;
        seq.issuedSinceReserve++;
        seq.lastIssued = value;
        if (seq.nextValue >= seq.refillValue && seq.reserving === undefined && seq.queued.length === 0) {
          this.reserveAhead(seq);
        }
        return value;
      }
    }
    return this.serveSlowly(seq, 1, last, true) as bigint | Promise<bigint>;
  }

  next(name: string, count: number, last?: bigint): bigint[] | Promise<bigint[]> {
    if (!Number.isInteger(count) || count < 1 || count > 1000) {
      throw new TicketError('EBADREQ', 'count must be an integer from 1 to 1000');
    }
    const seq = this.sequences.get(name) ?? this.admit(name);
    if (seq instanceof Promise) return seq.then(() => this.next(name, count, last));
    return this.serveSlowly(seq, count, last, false) as bigint[] | Promise<bigint[]>;
  }

  /** Snapshot of every sequence used since start, in name order. */
  snapshot(): SequenceSnapshot[] {
    const result = [...this.sequences.values()].map((seq) => snapshotOf(seq, this.map));
    return result.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** One sequence's live state, if it was used since start. */
  describe(name: string): SequenceSnapshot | undefined {
    const seq = this.sequences.get(name);
    return seq ? snapshotOf(seq, this.map) : undefined;
  }

  /** Last value issued of `name` since start, if any. */
  lastValue(name: string): bigint | undefined {
    return this.sequences.get(name)?.lastIssued;
  }

  /** Visits every sequence used since start, unsorted (cheap; for samplers). */
  forEachSequence(visit: (name: string, issued: number, leaseRemaining: bigint) => void): void {
    for (const seq of this.sequences.values()) visit(seq.name, seq.issued, available(seq, this.map));
  }

  /** Whether a sequence exists (in the store or admitted since start). */
  hasSequence(name: string): boolean {
    return this.admission.has(name);
  }

  /**
   * Creates a sequence (the way to create one in strict mode), durably.
   * @returns true when it did not exist before
   * @throws TicketError EBADNAME, ELIMIT, EUNAVAILABLE (store failure)
   */
  async createSequence(name: string): Promise<boolean> {
    this.checkRunning();
    return this.admission.create(name);
  }

  /**
   * Makes every value issued from now on greater than `floor`, durably; never
   * lowers anything. Creates the sequence when missing (not in strict mode).
   * @returns true when the sequence moved
   * @throws TicketError EBADNAME, ENOSEQ (strict mode), ELIMIT, EUNAVAILABLE
   */
  async raiseFloor(name: string, floor: bigint): Promise<boolean> {
    this.checkRunning();
    await this.admission.require(name);
    const slot = this.map.slotAbove(floor);
    // The stored position before: a counter already exactly at `slot` also answers `start === slot`, but did not move.
    const before = await callStore(() => this.store.reserve(name, 0n), this.storeTimeoutMs);
    const lease = await callStore(() => this.store.reserve(name, 0n, slot), this.storeTimeoutMs);
    const seq = this.sequences.get(name);
    // Whatever the store answered, the book learns the floor (leases it receives later are trimmed to it).
    const movedHere = seq !== undefined && raiseFloorSlot(seq, this.map, slot);
    return (before.start < slot && lease.start === slot) || movedHere;
  }

  /** Store health, for readiness probes. Never throws. */
  async storeHealth(): Promise<{ ok: boolean; detail?: string }> {
    return this.store.health();
  }

  /** True while the service answers requests. */
  get running(): boolean {
    return this.state === 'running';
  }

  private checkRunning(): void {
    if (this.state !== 'running') throw new TicketError('EUNAVAILABLE', 'server is not running');
  }

  /**
   * Graceful stop: waits for reservations in flight (bounded by the store
   * timeout), fails requests still waiting with EUNAVAILABLE, and hands the
   * unissued rest of every lease back to the store so a clean restart loses
   * no number. Does not close the store.
   */
  async close(): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'closing';
    const inflight = [...this.sequences.values()].flatMap((seq) => (seq.reserving ? [seq.reserving] : []));
    if (inflight.length > 0) await settleWithin(inflight, this.storeTimeoutMs);
    // Take every lease out of service synchronously first, so that nothing can
    // be issued from a lease while it is being handed back.
    this.withdrawn = true;
    const handBack = this.withdrawAll(new TicketError('EUNAVAILABLE', 'server is shutting down'));
    const released = await releaseLeases(this.store, this.logger, handBack);
    this.state = 'closed';
    this.logger.info({ releasedSlots: released.toString() }, 'leases handed back');
  }

  /**
   * Leader mode, leadership lost: takes every lease out of service at once
   * (nothing more is issued from them), fails waiting requests with
   * EUNAVAILABLE, forgets the sequences' positions, and hands the leases back
   * where the store still allows it (only when nobody reserved after them, so
   * a new leader's values stay above everything issued here). A reservation
   * still in flight is handed back when it lands.
   */
  async suspend(): Promise<void> {
    this.epoch++;
    const handBack = this.withdrawAll(new TicketError('EUNAVAILABLE', 'this server no longer leads; retry'));
    this.sequences.clear();
    const released = await releaseLeases(this.store, this.logger, handBack);
    this.logger.info({ releasedSlots: released.toString() }, 'leases dropped: not the leader');
  }

  /** Fails every waiting request with `error` and takes every held lease out of service, synchronously. */
  private withdrawAll(error: TicketError): WithdrawnLeases[] {
    const handBack: WithdrawnLeases[] = [];
    for (const seq of this.sequences.values()) {
      failWaiters(seq, error);
      const leases = withdraw(seq, this.map);
      // A reservation still in flight sits above these leases, so the store would refuse them back:
      // they are lost, as in a crash (the late lease itself is handed back when it lands).
      if (seq.reserving === undefined && leases.length > 0) handBack.push({ name: seq.name, leases });
    }
    return handBack;
  }

  /**
   * Creates the in-memory state of a sequence that passes admission; in strict
   * mode on a shared store the returned promise settles once the store said
   * whether the name exists (the caller then asks again).
   */
  private admit(name: string): SequenceState | Promise<void> {
    if (this.state !== 'running') {
      throw new TicketError('EUNAVAILABLE', this.state === 'new' ? 'server is starting' : 'server is shutting down');
    }
    const pending = this.admission.admit(name);
    if (pending !== undefined) return pending;
    const seq = new SequenceState(name, this.now(), (state, size) => this.refillSlots(state, size));
    this.sequences.set(name, seq);
    return seq;
  }

  /** Everything that is not the single-value hot path: counts, jumps, empty leases, waiting. */
  private serveSlowly(
    seq: SequenceState,
    count: number,
    last: bigint | undefined,
    single: boolean,
  ): bigint | bigint[] | Promise<bigint | bigint[]> {
    if (this.state !== 'running') throw new TicketError('EUNAVAILABLE', 'server is shutting down');
    let floor: bigint | undefined;
    if (seq.waiters.length === 0) {
      const result = this.tryServe(seq, count, last, undefined);
      if (Array.isArray(result)) {
        if (seq.nextValue >= seq.refillValue && seq.reserving === undefined && seq.queued.length === 0) {
          this.reserveAhead(seq);
        }
        return single ? (result[0] as bigint) : result;
      }
      if (seq.stalled) throw new TicketError('EUNAVAILABLE', 'store is not answering and no lease is left');
      if (seq.reserving === undefined && this.now() < seq.retryAt) {
        throw new TicketError('EUNAVAILABLE', 'store unreachable and no lease left');
      }
      floor = result.atLeast;
    } else if (seq.stalled) {
      throw new TicketError('EUNAVAILABLE', 'store is not answering and no lease is left');
    }
    return new Promise((resolve, reject) => {
      seq.waiters.push({ count, last, floor, single, resolve, reject });
      if (seq.waiters.length === 1) this.pump(seq);
    });
  }

  /** Reserve-ahead point of a lease of `size` slots just made current: how many slots to issue first. */
  private refillSlots(seq: SequenceState, size: number): number {
    // Values likely asked for while the next reservation is on its way, with a margin of 2.
    const ratePerMs = seq.issuedSinceReserve / Math.max(this.now() - seq.lastReserveAt, 1);
    return slotsBeforeRefill(size, ratePerMs * this.reservations.latencyMs * 2);
  }

  /**
   * Answers from held leases, or says what is missing. Applies drift first
   * (and `floor`, a jump decided earlier for a waiting request). Issues
   * nothing unless all `count` values are available.
   */
  private tryServe(
    seq: SequenceState,
    count: number,
    last: bigint | undefined,
    floor: bigint | undefined,
  ): bigint[] | Shortfall {
    if (this.gate !== undefined && !this.gate.mayIssue()) {
      throw new TicketError('EUNAVAILABLE', 'this server does not lead (or cannot renew its leadership); retry');
    }
    if (!seq.known) return { slots: count, atLeast: undefined };
    let target = floor;
    if (last !== undefined) {
      const jump = driftTarget(this.map, positionSlot(seq, this.map), last, this.drift, this.maxJump);
      if (jump !== undefined && (target === undefined || jump > target)) {
        target = jump;
        // Counted once: a waiting request re-evaluated later carries this target as its floor.
        if (jump <= this.map.maxSlot) this.observer?.jumped();
      }
    }
    let atLeast: bigint | undefined;
    if (target !== undefined) {
      if (target > this.map.maxSlot) throw new TicketError('EXHAUSTED', 'no value of this sequence is above last');
      if (!skipTo(seq, this.map, target)) atLeast = target;
    }
    if (atLeast === undefined) {
      const held = available(seq, this.map);
      if (held >= BigInt(count)) return this.issue(seq, count);
      if (seq.limitReached) throw new TicketError('EXHAUSTED');
      return { slots: count - Number(held), atLeast: undefined };
    }
    return { slots: count, atLeast };
  }

  /** Issues `count` values and counts them; the caller checked they are available. */
  private issue(seq: SequenceState, count: number): bigint[] {
    const values = take(seq, this.map, count, seq.planRefill);
    seq.issued += count;
    seq.issuedSinceReserve += count;
    seq.lastIssued = values[count - 1];
    return values;
  }

  /** Answers waiting requests in order until one needs a lease that is not there yet. */
  private pump(seq: SequenceState): void {
    while (seq.waiters.length > 0) {
      const waiter = seq.waiters[0] as Waiter;
      let result: bigint[] | Shortfall;
      try {
        result = this.tryServe(seq, waiter.count, waiter.last, waiter.floor);
      } catch (error) {
        seq.waiters.shift();
        waiter.reject(error);
        continue;
      }
      if (Array.isArray(result)) {
        seq.waiters.shift();
        waiter.resolve(waiter.single ? (result[0] as bigint) : result);
        continue;
      }
      if (result.atLeast !== undefined) waiter.floor = result.atLeast;
      if (seq.reserving === undefined) this.reserve(seq, result.slots, result.atLeast);
      return;
    }
    if (seq.nextValue >= seq.refillValue && seq.reserving === undefined && seq.queued.length === 0) {
      this.reserveAhead(seq);
    }
  }

  private reserveAhead(seq: SequenceState): void {
    if (this.state !== 'running' || seq.limitReached || this.now() < seq.retryAt) return;
    this.reserve(seq, 1, undefined);
  }

  /** Starts the one reservation of this sequence; its size follows demand (lease policy). */
  private reserve(seq: SequenceState, slots: number, atLeast: bigint | undefined): void {
    const count = sizeNextLease(seq, this.map, slots, atLeast, this.maxBlock, this.now());
    const epoch = this.epoch;
    this.reservations.start(seq, count, atLeast, (lease) => {
      if (this.withdrawn || epoch !== this.epoch) {
        // Leases were already handed back: this late one goes back too, and nothing is issued from it.
        void releaseLeases(this.store, this.logger, [{ name: seq.name, leases: [lease] }]);
        return;
      }
      accept(seq, this.map, lease, seq.planRefill);
      if (this.state === 'running' || seq.waiters.length > 0) this.pump(seq);
    });
  }
}
