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
 * and validates names), `sequence-settings.ts` holds every sequence's
 * settings and the define/describe/delete operations, `store-calls.ts` runs
 * store calls under the store timeout, `hand-back.ts` returns unissued leases
 * on stop or loss of leadership, `service-options.ts` holds the public options
 * and defaults. This file keeps the hot path, formatted and periodic
 * sequences (the period's counter, rendering), waiting, when to reserve,
 * floors and the check of a ticket, graceful stop and leader mode's gate,
 * epoch and `suspend()`. (About 700 lines: all of it reads and changes the
 * per-sequence states of one map, which stays private to this class; the
 * settings book reaches them only through the few host methods it names.
 * Splitting the floor and check operations out is the next step if it grows.)
 */
import { TicketError } from '../core/errors.js';
import { slotsBeforeRefill } from '../core/lease-policy.js';
import { MAX_VALUE, SlotMap, driftTarget } from '../core/numbering.js';
import type { Ticket } from '../core/ticket.js';
import { validateSequenceName } from '../core/names.js';
import type { PeriodInstant } from '../core/periods.js';
import type { TicketCheck, TicketSource } from '../core/ticket-source.js';
import { FIRST_SLOT, type Store } from '../store/store.js';
import { Admission } from './admission.js';
import { releaseLeases, settleWithin, type WithdrawnLeases } from './hand-back.js';
import { NO_LIMIT, accept, available, lastSlot, limitTo, positionSlot, raiseFloorSlot, skipTo, take, withdraw } from './lease-book.js';
import { SequenceDefinition, isPeriodCounter, periodCounterName } from '../core/sequence-definitions.js';
import { SequenceSettingsBook } from './sequence-settings.js';
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
 * The tickets of values a formatted sequence's counter issued, rendered in the
 * period instant they were asked in; counts them on the sequence itself.
 */
function renderTickets(
  front: SequenceState,
  counter: SequenceState,
  definition: SequenceDefinition,
  instant: PeriodInstant,
  result: bigint | bigint[],
): string | string[] {
  if (!Array.isArray(result)) {
    const ticket = definition.format.render(result, instant);
    front.lastTicket = ticket;
    if (counter !== front) front.issued++;
    return ticket;
  }
  const tickets = new Array<string>(result.length);
  for (let index = 0; index < result.length; index++) tickets[index] = definition.format.render(result[index] as bigint, instant);
  front.lastTicket = tickets[tickets.length - 1];
  if (counter !== front) front.issued += tickets.length;
  return tickets;
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
  /** Last slot of a sequence without a `max` of its own: the numbering's, or 2^53 − 1's with --js-safe. */
  private readonly defaultMaxSlot: bigint;
  private readonly admission: Admission;
  private state: 'new' | 'running' | 'closing' | 'closed' = 'new';
  private readonly reservations: Reservations;
  /** Every sequence's settings (from the store) and the admin operations on them. */
  readonly settings: SequenceSettingsBook;
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
    const maxValue = options.maxValue ?? MAX_VALUE;
    this.defaultMaxSlot = maxValue < MAX_VALUE && maxValue >= this.map.first ? (maxValue - this.map.first) / this.step + 1n : NO_LIMIT;
    this.settings = new SequenceSettingsBook(this, {
      store: this.store,
      map: this.map,
      maxValue,
      storeTimeoutMs: this.storeTimeoutMs,
      refreshMs: options.settingsRefreshMs ?? 2_000,
      logger: this.logger,
    });
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
    await this.settings.load();
    // Period counters are not sequences of their own, and deleted sequences count no more.
    await this.admission.load((name) => isPeriodCounter(name) || this.settings.isDeleted(name));
    this.state = 'running';
    this.settings.startRefresh();
  }

  /** Number of sequences that exist (in the store or admitted since start). */
  get sequenceCount(): number {
    return this.admission.count;
  }

  nextValue(name: string, last?: Ticket): Ticket | Promise<Ticket> {
    const seq = this.sequences.get(name) ?? this.admit(name);
    if (seq instanceof Promise) return seq.then(() => this.nextValue(name, last));
    // Hot path: a plain sequence, no waiters ahead, no jump, room in the current lease. It issues from the lease
    // book's fields directly (the one place outside lease-book.ts that does) so that issuing stays a compare and an add.
    if (
      seq.definition === undefined &&
      seq.waiters.length === 0 &&
      (last === undefined || (typeof last === 'bigint' && (this.drift <= 0n || last - seq.nextValue <= this.drift)))
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
    return this.serve(seq, 1, last, true) as Ticket | Promise<Ticket>;
  }

  next(name: string, count: number, last?: Ticket): Ticket[] | Promise<Ticket[]> {
    if (!Number.isInteger(count) || count < 1 || count > 1000) {
      throw new TicketError('EBADREQ', 'count must be an integer from 1 to 1000');
    }
    const seq = this.sequences.get(name) ?? this.admit(name);
    if (seq instanceof Promise) return seq.then(() => this.next(name, count, last));
    return this.serve(seq, count, last, false) as Ticket[] | Promise<Ticket[]>;
  }

  /** Snapshot of every sequence used since start, in name order. */
  snapshot(): SequenceSnapshot[] {
    const result: SequenceSnapshot[] = [];
    for (const seq of this.sequences.values()) if (!isPeriodCounter(seq.name)) result.push(snapshotOf(seq, this.map));
    return result.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** One sequence's live state, if it was used since start. */
  describe(name: string): SequenceSnapshot | undefined {
    const seq = isPeriodCounter(name) ? undefined : this.sequences.get(name);
    return seq ? snapshotOf(seq, this.map) : undefined;
  }

  /** Last value issued of `name` since start, if any (the ticket text of a formatted sequence). */
  lastValue(name: string): Ticket | undefined {
    const seq = this.sequences.get(name);
    return seq?.definition !== undefined ? seq.lastTicket : seq?.lastIssued;
  }

  /** Visits every sequence used since start, unsorted (cheap; for samplers). */
  forEachSequence(visit: (name: string, issued: number, leaseRemaining: bigint) => void): void {
    for (const seq of this.sequences.values()) {
      if (!isPeriodCounter(seq.name)) visit(seq.name, seq.issued, available(seq.counter ?? seq, this.map));
    }
  }

  /** Whether a sequence exists (in the store or admitted since start). */
  hasSequence(name: string): boolean {
    return this.admission.has(name);
  }

  /**
   * Admission alone, as if a request for `name` had arrived here: validates the
   * name, and counts it toward `--max-sequences` (or, in strict mode, checks it
   * exists). Used by `--workers`: the owner process answers for every worker.
   * @throws TicketError EBADNAME, ENOSEQ (strict mode), ELIMIT, EUNAVAILABLE
   */
  async admitName(name: string): Promise<void> {
    this.checkRunning();
    // At most two rounds: a strict-mode lookup in a shared store settles, then the answer is known.
    for (let round = 0; round < 2; round++) {
      const pending = this.admission.admit(name);
      if (pending === undefined) return;
      await pending;
    }
    if (!this.admission.has(name)) throw new TicketError('ENOSEQ', `no sequence "${name}" (strict mode)`);
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
   * A sequence with a period gets the floor in the period of this moment.
   * A floor more than --max-jump above the current position needs `force`
   * (one mistyped digit must not use up a sequence).
   * @returns true when the next value moved (false when it was already above the floor)
   * @throws TicketError EBADNAME, ENOSEQ (strict mode), ELIMIT, EJUMP (too far, without force), EUNAVAILABLE
   */
  async raiseFloor(name: string, floor: bigint, force = false): Promise<boolean> {
    this.checkRunning();
    // A floor refused as too far must not create the sequence it names (strict mode never creates here).
    if (!force && !this.strictSequences && !this.admission.has(name)) {
      await this.checkFloorJump(name, floor, this.settings.definitionOf(name));
    }
    await this.admission.require(name);
    const definition = this.settings.definitionOf(name);
    const counterName = definition?.periodic === true ? periodCounterName(name, definition.instantAt(this.now()).key) : name;
    const slot = this.map.slotAbove(floor);
    // The counter as it stands (a reservation of nothing moves nothing), to know whether the floor moves it.
    const before = (await callStore(() => this.store.reserve(counterName, 0n), this.storeTimeoutMs)).start;
    const seq = this.sequences.get(counterName);
    const position = seq !== undefined && seq.known ? positionSlot(seq, this.map) : before;
    if (!force) this.refuseFloorJump(floor, slot, position);
    if (slot > before) await callStore(() => this.store.reserve(counterName, 0n, slot), this.storeTimeoutMs);
    // Whatever the store answered, the book learns the floor (leases it receives later are trimmed to it).
    const movedHere = seq !== undefined && raiseFloorSlot(seq, this.map, slot);
    return slot > before || movedHere;
  }

  /**
   * Refuses a floor more than --max-jump above the position of `name` under
   * `definition` (the period counter of this moment for a periodic one),
   * creating nothing: `PUT /admin/sequences/{name}` checks its floor with it
   * before it creates the sequence or stores its settings, and `raiseFloor`
   * before it creates a missing one, so a refused floor changes nothing. A counter the store does not have yet is at its first slot.
   * @throws TicketError EJUMP (too far), EUNAVAILABLE (store)
   */
  async checkFloorJump(name: string, floor: bigint, definition: SequenceDefinition | undefined): Promise<void> {
    this.checkRunning();
    const counterName = definition?.periodic === true ? periodCounterName(name, definition.instantAt(this.now()).key) : name;
    const seq = this.sequences.get(counterName);
    let position: bigint;
    if (seq !== undefined && seq.known) position = positionSlot(seq, this.map);
    else if (await callStore(() => this.store.has(counterName), this.storeTimeoutMs)) {
      // An existing counter: a reservation of nothing reads it without moving it.
      position = (await callStore(() => this.store.reserve(counterName, 0n), this.storeTimeoutMs)).start;
    } else position = FIRST_SLOT;
    this.refuseFloorJump(floor, this.map.slotAbove(floor), position);
  }

  /** @throws TicketError EJUMP when moving from slot `position` to `slot` jumps more than --max-jump */
  private refuseFloorJump(floor: bigint, slot: bigint, position: bigint): void {
    if (slot <= position) return;
    const jump = this.map.valueOf(slot) - this.map.valueOf(position);
    if (jump > this.maxJump) {
      throw new TicketError(
        'EJUMP',
        `floor ${floor} would move the sequence by ${jump}, more than --max-jump ${this.maxJump}; send "force": true to move it anyway`,
      );
    }
  }

  /**
   * Whether `text` is a well-formed number of sequence `name`: its form (format, period), its
   * check digit and its range (1 to the sequence's max). It does not say whether it was issued.
   * @throws TicketError EBADNAME, ENOSEQ (no such sequence), EUNAVAILABLE (store; unusable settings)
   */
  async checkTicket(name: string, text: string): Promise<TicketCheck> {
    validateSequenceName(name);
    if (this.settings.isDeleted(name)) throw new TicketError('ENOSEQ', `no sequence "${name}"`);
    if (!this.admission.has(name)) {
      const found = this.store.shared && (await callStore(() => this.store.has(name), this.storeTimeoutMs));
      if (!found) throw new TicketError('ENOSEQ', `no sequence "${name}"`);
    }
    const known = this.settings.knows(name);
    if (known !== true) await known;
    const definition = this.settings.definitionOf(name);
    const invalid: TicketCheck = { valid: false, value: null, period: null };
    const ownLast = definition?.maxSlot ?? this.defaultMaxSlot;
    const maxValue = this.map.valueOf(ownLast < this.map.maxSlot ? ownLast : this.map.maxSlot);
    if (definition === undefined || !definition.formatted) {
      if (!/^[1-9][0-9]{0,18}$/.test(text)) return invalid;
      const value = BigInt(text);
      return value <= maxValue ? { valid: true, value: text, period: null } : invalid;
    }
    const parsed = definition.format.parse(text);
    if (parsed === undefined || parsed.value > maxValue) return invalid;
    const period = definition.periodic ? (definition.format.periodKeyOf(parsed) ?? null) : null;
    return { valid: parsed.checkOk, value: parsed.value.toString(), period };
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
    this.settings.stop();
    const inflight = [...this.sequences.values()].flatMap((seq) => (seq.reserving ? [seq.reserving] : []));
    if (inflight.length > 0) await settleWithin(inflight, this.storeTimeoutMs);
    // Take every lease out of service synchronously first, so that nothing can
    // be issued from a lease while it is being handed back.
    this.withdrawn = true;
    const handBack = this.withdrawAll(new TicketError('EUNAVAILABLE', 'server is shutting down'));
    const released = await this.handBackLeases(handBack);
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
    const released = await this.handBackLeases(handBack);
    this.logger.info({ releasedSlots: released.toString() }, 'leases dropped: not the leader');
  }

  /**
   * Hands withdrawn leases back. An embedded store may keep a lease below its
   * counter for later (`unissued`) — except in leader mode, where every value
   * must stay above every value issued before, so only the counter takes them.
   */
  private handBackLeases(withdrawn: WithdrawnLeases[]): Promise<bigint> {
    return releaseLeases(this.store, this.logger, withdrawn, this.gate === undefined);
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
    if (this.strictSequences && this.settings.isDeleted(name)) throw new TicketError('ENOSEQ', `no sequence "${name}" (deleted)`);
    const pending = this.admission.admit(name);
    if (pending !== undefined) return pending;
    // A shared store: another server may have defined this sequence since the last refresh; its
    // first value must already look as defined.
    const known = this.settings.knows(name);
    if (known !== true) return known.then(() => undefined);
    this.settings.revive(name);
    const seq = this.newState(name);
    this.sequences.set(name, seq);
    this.applyDefinition(seq, this.settings.definitionOf(name));
    return seq;
  }

  private newState(name: string): SequenceState {
    const seq = new SequenceState(name, this.now(), (state, size) => this.refillSlots(state, size));
    seq.maxSlot = this.defaultMaxSlot;
    return seq;
  }

  /**
   * Gives a live sequence its (new) definition: its limit, and whether its
   * values are formatted. A sequence that starts counting per period hands its
   * own leases back (its period counters issue from now on).
   * For `SequenceSettingsBook`; the definition has passed its checks.
   */
  applyDefinition(seq: SequenceState, definition: SequenceDefinition | undefined): void {
    const maxSlot = definition?.maxSlot ?? this.defaultMaxSlot;
    for (const state of seq.counter !== undefined ? [seq, seq.counter] : [seq]) limitTo(state, this.map, maxSlot);
    const formatted = definition !== undefined && definition.formatted ? definition : undefined;
    if (formatted?.periodic === true && seq.counter === undefined && seq.waiters.length === 0 && seq.reserving === undefined) {
      const leases = withdraw(seq, this.map);
      if (leases.length > 0) void this.handBackLeases([{ name: seq.name, leases }]);
    }
    if (formatted?.periodic !== true && seq.counter !== undefined) {
      this.retire(seq.counter);
      seq.counter = seq.periodKey = undefined;
    }
    seq.definition = formatted;
  }

  /** The live state of a sequence, if it was used since start. For `SequenceSettingsBook`. */
  liveState(name: string): SequenceState | undefined {
    return this.sequences.get(name);
  }

  /**
   * Hands the unissued leases of one sequence (and its period counter) back,
   * so the store's counter shows what was issued. Waiting requests keep
   * waiting (their reservation is in flight). For `SequenceSettingsBook`.
   */
  async handBack(name: string): Promise<void> {
    const seq = this.sequences.get(name);
    if (seq === undefined) return;
    for (const state of seq.counter !== undefined ? [seq, seq.counter] : [seq]) {
      if (state.reserving !== undefined || state.waiters.length > 0) continue;
      const leases = withdraw(state, this.map);
      const held = leases.reduce((sum, lease) => sum + (lease.end - lease.start), 0n);
      const released = await this.handBackLeases([{ name: state.name, leases }]);
      if (released === held && state.reserving === undefined) {
        // All of it is back in the store: the position is the store's again, learnt from the next lease.
        state.known = false;
        state.highestSlot = 0n;
        state.limitReached = false;
      }
    }
  }

  /** Forgets a deleted sequence: fails its waiters, hands its leases back. For `SequenceSettingsBook`. */
  async forget(name: string): Promise<void> {
    this.admission.forget(name);
    const seq = this.sequences.get(name);
    if (seq === undefined) return;
    const handBack: WithdrawnLeases[] = [];
    for (const state of seq.counter !== undefined ? [seq, seq.counter] : [seq]) {
      failWaiters(state, new TicketError('ENOSEQ', `sequence "${name}" was deleted`));
      this.sequences.delete(state.name);
      const leases = withdraw(state, this.map);
      if (state.reserving === undefined && leases.length > 0) handBack.push({ name: state.name, leases });
    }
    await this.handBackLeases(handBack);
  }

  /** Everything that is not the single-value hot path: formatted sequences, counts, jumps, empty leases, waiting. */
  private serve(seq: SequenceState, count: number, last: Ticket | undefined, single: boolean): Ticket | Ticket[] | Promise<Ticket | Ticket[]> {
    if (seq.definition !== undefined) return this.serveDefined(seq, seq.definition, count, last, single);
    if (typeof last === 'string') {
      throw new TicketError('EBADREQ', 'last must be a base-10 integer string from 0 to 2^63 - 1 (this sequence has no format)');
    }
    return this.serveSlowly(seq, count, last, single);
  }

  /**
   * A sequence with a format or period: picks the counter of the period of
   * this moment (a new period starts its own counter, so leases of the old one
   * are never used for it), reads `last` in that period, issues from the
   * counter as for any sequence, and renders the values as tickets.
   */
  private serveDefined(
    front: SequenceState,
    definition: SequenceDefinition,
    count: number,
    last: Ticket | undefined,
    single: boolean,
  ): Ticket | Ticket[] | Promise<Ticket | Ticket[]> {
    if (this.state !== 'running') throw new TicketError('EUNAVAILABLE', 'server is shutting down');
    const instant = definition.instantAt(this.now());
    const counter = definition.periodic ? this.periodCounter(front, instant.key) : front;
    const lastValue = last === undefined ? undefined : definition.readLast(last, instant.key);
    const result = this.serveSlowly(counter, count, lastValue, single);
    if (result instanceof Promise) return result.then((values) => renderTickets(front, counter, definition, instant, values));
    return renderTickets(front, counter, definition, instant, result);
  }

  /**
   * The counter of a periodic sequence for period `key`, created on first use.
   * The previous period's counter hands its unissued leases back once idle.
   */
  private periodCounter(front: SequenceState, key: string): SequenceState {
    if (front.periodKey === key && front.counter !== undefined) return front.counter;
    const storeName = periodCounterName(front.name, key);
    let counter = this.sequences.get(storeName);
    if (counter === undefined) {
      counter = this.newState(storeName);
      counter.maxSlot = front.maxSlot;
      this.sequences.set(storeName, counter);
    }
    const previous = front.counter;
    front.counter = counter;
    front.periodKey = key;
    if (previous !== undefined && previous !== counter) this.retire(previous);
    return counter;
  }

  /** Drops a state nobody issues from any more, handing its leases back when nothing waits on it. */
  private retire(seq: SequenceState): void {
    if (seq.waiters.length > 0 || seq.reserving !== undefined) return;
    this.sequences.delete(seq.name);
    const leases = withdraw(seq, this.map);
    if (leases.length > 0) void this.handBackLeases([{ name: seq.name, leases }]);
  }

  /** Counts, jumps, empty leases and waiting, for one counter (a plain sequence or a period's). */
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
        if (jump <= lastSlot(seq, this.map)) this.observer?.jumped();
      }
    }
    let atLeast: bigint | undefined;
    if (target !== undefined) {
      if (target > lastSlot(seq, this.map)) throw new TicketError('EXHAUSTED', 'no value of this sequence is above last');
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
        void this.handBackLeases([{ name: seq.name, leases: [lease] }]);
        return;
      }
      accept(seq, this.map, lease, seq.planRefill);
      if (this.state === 'running' || seq.waiters.length > 0) this.pump(seq);
    });
  }
}
