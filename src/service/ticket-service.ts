/**
 * TicketService: sequences in memory, each issuing from leases its store has
 * durably reserved (SPEC §4). This is the one issuing mechanism every
 * protocol reaches through `TicketSource`.
 *
 * Per sequence the service holds a current lease (kept as values, so issuing
 * one is a compare and an add) and at most a few queued leases (kept as
 * slots). When the current lease is 80 % used, the next one is reserved in the
 * background, so in steady state no request waits on the store. Requests that
 * cannot be answered from held leases wait in a FIFO per sequence; at most one
 * reservation per sequence is in flight.
 */
import { TicketError } from '../core/errors.js';
import { nextLeaseSize, slotsBeforeRefill } from '../core/lease-policy.js';
import { SlotMap, driftTarget, type Numbering } from '../core/numbering.js';
import type { TicketSource } from '../core/ticket-source.js';
import type { Lease, Store } from '../store/store.js';
import { Admission, callStore } from './admission.js';
import { LeaseBook, accept, available, positionSlot, raiseFloorSlot, skipTo, take, withdraw, type RefillPlan } from './lease-book.js';

/** Minimal logger the service writes to (pino's methods fit). */
export interface ServiceLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

const silentLogger: ServiceLogger = { info() {}, warn() {}, error() {} };

/** Told about store work, for metrics. Called off the hot path only. */
export interface ServiceObserver {
  /** A reservation succeeded: `slots` reserved in `seconds`. */
  reserved(slots: bigint, seconds: number): void;
  /** A reservation failed. */
  reserveFailed(): void;
  /** A drift jump was applied. */
  jumped(): void;
}

/**
 * Leader mode: asked at the moment of issuing whether this server may still
 * issue (it leads and its leadership cannot have expired). Must be cheap.
 */
export interface IssuingGate {
  mayIssue(): boolean;
}

/** Settings of a TicketService; every field but `store` and `numbering` has a default. */
export interface TicketServiceOptions {
  readonly store: Store;
  readonly numbering: Numbering;
  /** Jump when the next value is more than this below `last`; ≤ 0 disables. Default 10 × instances. */
  readonly drift?: bigint;
  /** Largest move one request may cause, in values. Default 1,000,000,000. */
  readonly maxJump?: bigint;
  /** Largest lease in slots. Default 10,000. */
  readonly maxBlock?: number;
  /** Most sequences that may exist. Default 100,000. */
  readonly maxSequences?: number;
  /** Only sequences already in the store exist; others answer ENOSEQ. Default false. */
  readonly strictSequences?: boolean;
  /** A reservation slower than this fails waiting requests with EUNAVAILABLE. Default 5,000 ms. */
  readonly storeTimeoutMs?: number;
  /** Clock in milliseconds, injectable for tests. Default `Date.now`. */
  readonly now?: () => number;
  readonly logger?: ServiceLogger;
  readonly observer?: ServiceObserver;
  /** Leader mode: nothing is issued while the gate is closed (EUNAVAILABLE). Default: always open. */
  readonly gate?: IssuingGate;
}

/** Defaults of SPEC §3–§4. */
export const SERVICE_DEFAULTS = {
  maxJump: 1_000_000_000n,
  maxBlock: 10_000,
  maxSequences: 100_000,
  storeTimeoutMs: 5_000,
} as const;

/** Backoff after a failed reservation: 100 ms doubling up to 5 s. */
const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 5_000;

interface Waiter {
  readonly count: number;
  readonly last: bigint | undefined;
  /** Slot a drift jump decided on before this request had to wait; kept so the jump is not lost. */
  floor: bigint | undefined;
  readonly single: boolean;
  resolve(value: bigint | bigint[]): void;
  reject(error: unknown): void;
}

/** What `tryServe` needs before it can answer: more slots, maybe from `atLeast` on. */
interface Shortfall {
  readonly slots: number;
  readonly atLeast: bigint | undefined;
}

/**
 * Per-sequence state: its lease book (extended, so the hot path reads the
 * book's fields directly) plus waiters, reservation and demand. Fields are
 * public to the service only.
 */
class SequenceState extends LeaseBook {
  readonly name: string;
  readonly waiters: Waiter[] = [];
  reserving: Promise<void> | undefined;
  /** The in-flight reservation outlived the store timeout. */
  stalled = false;
  leaseSize = 1;
  issuedSinceReserve = 0;
  lastReserveAt: number;
  retryAt = 0;
  failures = 0;
  issued = 0;
  lastIssued: bigint | undefined;
  /** Reserve-ahead point of a lease this sequence makes current; follows its own demand. */
  readonly planRefill: RefillPlan;

  constructor(name: string, now: number, planRefill: (seq: SequenceState, size: number) => number) {
    super();
    this.name = name;
    this.lastReserveAt = now;
    this.planRefill = (size) => planRefill(this, size);
  }
}

/** A read-only view of one sequence, for status pages and tests. */
export interface SequenceSnapshot {
  readonly name: string;
  readonly lastIssued: bigint | undefined;
  readonly issued: number;
  /** Slots left in held leases. */
  readonly leaseRemaining: bigint;
  readonly leaseSize: number;
}

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
  /** Moving average of how long a reservation takes, in ms. */
  private reserveLatencyMs = 1;
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
    const result: SequenceSnapshot[] = [];
    for (const seq of this.sequences.values()) {
      result.push({
        name: seq.name,
        lastIssued: seq.lastIssued,
        issued: seq.issued,
        leaseRemaining: available(seq, this.map),
        leaseSize: seq.leaseSize,
      });
    }
    return result.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** One sequence's live state, if it was used since start. */
  describe(name: string): SequenceSnapshot | undefined {
    const seq = this.sequences.get(name);
    if (!seq) return undefined;
    return { name, lastIssued: seq.lastIssued, issued: seq.issued, leaseRemaining: available(seq, this.map), leaseSize: seq.leaseSize };
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
    const lease = await callStore(() => this.store.reserve(name, 0n, slot), this.storeTimeoutMs);
    const seq = this.sequences.get(name);
    // Evaluated in this order on purpose: the book must learn the floor even when the store already moved.
    const movedHere = seq !== undefined && raiseFloorSlot(seq, this.map, slot);
    return lease.start === slot || movedHere;
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
    if (inflight.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(inflight),
        new Promise((resolve) => {
          timer = setTimeout(resolve, this.storeTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    const shuttingDown = new TicketError('EUNAVAILABLE', 'server is shutting down');
    // Take every lease out of service synchronously first, so that nothing can
    // be issued from a lease while it is being handed back.
    this.withdrawn = true;
    const handBack: Array<{ name: string; leases: Lease[] }> = [];
    for (const seq of this.sequences.values()) {
      this.failWaiters(seq, shuttingDown);
      const leases = withdraw(seq, this.map);
      // A reservation still in flight sits above these leases; its lease is lost, as in a crash.
      if (seq.reserving === undefined && leases.length > 0) handBack.push({ name: seq.name, leases });
    }
    let released = 0n;
    for (const { name, leases } of handBack) released += await this.releaseLeases(name, leases);
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
    const lost = new TicketError('EUNAVAILABLE', 'this server no longer leads; retry');
    const handBack: Array<{ name: string; leases: Lease[] }> = [];
    for (const seq of this.sequences.values()) {
      this.failWaiters(seq, lost);
      const leases = withdraw(seq, this.map);
      if (seq.reserving === undefined && leases.length > 0) handBack.push({ name: seq.name, leases });
    }
    this.sequences.clear();
    let released = 0n;
    for (const { name, leases } of handBack) released += await this.releaseLeases(name, leases);
    this.logger.info({ releasedSlots: released.toString() }, 'leases dropped: not the leader');
  }

  /** Releases leases newest first, stopping at the first the store refuses. */
  private async releaseLeases(name: string, leases: Lease[]): Promise<bigint> {
    let released = 0n;
    // Newest first: the store's counter sits at the end of the newest lease.
    for (let index = leases.length - 1; index >= 0; index--) {
      const lease = leases[index] as Lease;
      try {
        if (!(await this.store.release(name, lease.start, lease.end))) break;
        released += lease.end - lease.start;
      } catch (error) {
        this.logger.warn({ err: error, sequence: name }, 'could not hand a lease back');
        break;
      }
    }
    return released;
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
    return slotsBeforeRefill(size, ratePerMs * this.reserveLatencyMs * 2);
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
      if (held >= BigInt(count)) return this.take(seq, count);
      if (seq.limitReached) throw new TicketError('EXHAUSTED');
      return { slots: count - Number(held), atLeast: undefined };
    }
    return { slots: count, atLeast };
  }

  /** Issues `count` values and counts them; the caller checked they are available. */
  private take(seq: SequenceState, count: number): bigint[] {
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
    const now = this.now();
    const size = nextLeaseSize(seq.leaseSize, seq.issuedSinceReserve, now - seq.lastReserveAt, this.maxBlock);
    seq.leaseSize = size;
    seq.issuedSinceReserve = 0;
    seq.lastReserveAt = now;
    let count = BigInt(Math.min(Math.max(size, slots), this.maxBlock));
    // Never reserve far past the last usable slot.
    const from = atLeast !== undefined && atLeast > seq.highestSlot ? atLeast : seq.highestSlot;
    const room = this.map.maxSlot + 1n - (from > 1n ? from : 1n);
    if (room < count) count = room > 1n ? room : 1n;

    const timer = setTimeout(() => {
      if (!seq.reserving) return;
      seq.stalled = true;
      this.logger.warn({ sequence: seq.name, timeoutMs: this.storeTimeoutMs }, 'store reservation is slow');
      this.failWaiters(seq, new TicketError('EUNAVAILABLE', 'store is not answering and no lease is left'));
    }, this.storeTimeoutMs);
    timer.unref();

    const startedAt = performance.now();
    const epoch = this.epoch;
    seq.reserving = this.store.reserve(seq.name, count, atLeast).then(
      (lease) => {
        clearTimeout(timer);
        // Moving average of the store's answer time, for the reserve-ahead point.
        const elapsedMs = performance.now() - startedAt;
        this.reserveLatencyMs += (elapsedMs - this.reserveLatencyMs) / 8;
        this.observer?.reserved(lease.end - lease.start, elapsedMs / 1000);
        seq.reserving = undefined;
        seq.stalled = false;
        seq.failures = 0;
        seq.retryAt = 0;
        if (this.withdrawn || epoch !== this.epoch) {
          // Leases were already handed back: this late one goes back too, and nothing is issued from it.
          void this.releaseLeases(seq.name, [lease]);
          return;
        }
        accept(seq, this.map, lease, seq.planRefill);
        if (this.state === 'running' || seq.waiters.length > 0) this.pump(seq);
      },
      (error: unknown) => {
        clearTimeout(timer);
        seq.reserving = undefined;
        seq.stalled = false;
        seq.failures++;
        seq.retryAt = this.now() + Math.min(RETRY_BASE_MS * 2 ** (seq.failures - 1), RETRY_MAX_MS);
        this.observer?.reserveFailed();
        this.logger.error({ err: error, sequence: seq.name, failures: seq.failures }, 'store reservation failed');
        this.failWaiters(seq, new TicketError('EUNAVAILABLE', 'store unreachable and no lease left', { cause: error }));
      },
    );
  }

  private failWaiters(seq: SequenceState, error: TicketError): void {
    const waiters = seq.waiters.splice(0);
    for (const waiter of waiters) waiter.reject(error);
  }
}
