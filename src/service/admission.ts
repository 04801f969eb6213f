/**
 * Admission: which sequence names exist, and whether a name may start being
 * used — `--max-sequences` (ELIMIT), strict mode (ENOSEQ) and, in strict mode
 * on a shared store, looking a name up in the store (another server's admin
 * API may have created it).
 *
 * Who validates sequence names: admission does, once per name and process —
 * when a name is first used (`admit`), created (`create`) or given a floor
 * (`require`). `TicketSource` is a public interface that embedders call
 * directly, so the service cannot rely on a protocol having checked the name;
 * a name that passed admission is kept in the service's map of sequences, so
 * the hot path looks it up there and never checks it again. Protocols and the
 * admin API may validate earlier to answer in their own wire format; that is
 * theirs to keep and costs nothing here.
 */
import { TicketError } from '../core/errors.js';
import { validateSequenceName } from '../core/names.js';
import type { Store } from '../store/store.js';
import { callStore } from './store-calls.js';

/** Strict mode on a shared store: how long a name found absent is answered ENOSEQ without asking the store again. */
const ABSENT_CACHE_MS = 1_000;
/** Most negative answers remembered; past it all are forgotten at once, so the cache stays bounded. */
const ABSENT_CACHE_LIMIT = 10_000;
/** Strict mode on a shared store: most names looked up in the store at once. */
const MAX_LOOKUPS = 64;

/** Settings of an `Admission`. */
export interface AdmissionOptions {
  readonly store: Store;
  /** Most sequences that may exist. */
  readonly maxSequences: number;
  /** Only sequences already in the store exist. */
  readonly strictSequences: boolean;
  /** Bound of every store call made here, in ms. */
  readonly storeTimeoutMs: number;
  /** Clock in milliseconds. */
  readonly now: () => number;
}

/** The set of existing sequence names and the rules for adding to it. */
export class Admission {
  private readonly store: Store;
  private readonly maxSequences: number;
  private readonly strictSequences: boolean;
  private readonly storeTimeoutMs: number;
  private readonly now: () => number;
  /** Names that exist in the store or were admitted since start; counts toward `maxSequences`. */
  private readonly existing = new Set<string>();
  /**
   * Strict mode on a shared store: one lookup per name at a time; names found
   * absent are not looked up again for a while, so unknown names cannot flood the store.
   */
  private readonly lookups = new Map<string, Promise<void>>();
  private readonly absentUntil = new Map<string, number>();

  constructor(options: AdmissionOptions) {
    this.store = options.store;
    this.maxSequences = options.maxSequences;
    this.strictSequences = options.strictSequences;
    this.storeTimeoutMs = options.storeTimeoutMs;
    this.now = options.now;
  }

  /**
   * Loads the names of the sequences in the store, except those `skip` says are
   * not sequences (period counters) or no longer are (deleted). The store must be open.
   */
  async load(skip: (name: string) => boolean = () => false): Promise<void> {
    for await (const { name } of this.store.list()) if (!skip(name)) this.existing.add(name);
  }

  /** A deleted sequence no longer exists nor counts toward the limit. */
  forget(name: string): void {
    this.existing.delete(name);
  }

  /** Number of sequences that exist (in the store or admitted since start). */
  get count(): number {
    return this.existing.size;
  }

  /** Whether a sequence exists (in the store or admitted since start). Does not validate. */
  has(name: string): boolean {
    return this.existing.has(name);
  }

  /**
   * Lets a name be used for issuing. Outside strict mode a new name is added
   * (counted toward the limit). In strict mode on a shared store a name not
   * known here is looked up in the store first: the returned promise settles
   * when it is known, and the caller asks again.
   * @returns undefined when the name may be used now
   * @throws TicketError EBADNAME, ENOSEQ (strict mode), ELIMIT,
   *   EUNAVAILABLE (more than 64 lookups at once; the promise rejects with it on a store failure)
   */
  admit(name: string): Promise<void> | undefined {
    validateSequenceName(name);
    if (this.existing.has(name)) return undefined;
    if (this.strictSequences) {
      if (!this.store.shared || (this.absentUntil.get(name) ?? 0) > this.now()) throw noSequence(name);
      return this.lookUp(name);
    }
    this.claim(name);
    return undefined;
  }

  /**
   * Creates a sequence durably (the way to create one in strict mode).
   * @returns true when it did not exist before
   * @throws TicketError EBADNAME, ELIMIT, EUNAVAILABLE (store failure)
   */
  async create(name: string): Promise<boolean> {
    validateSequenceName(name);
    return this.createChecked(name);
  }

  /**
   * Makes sure a sequence exists before an admin change: creates it outside
   * strict mode; in strict mode looks it up in a shared store.
   * @throws TicketError EBADNAME, ENOSEQ (strict mode), ELIMIT, EUNAVAILABLE
   */
  async require(name: string): Promise<void> {
    validateSequenceName(name);
    if (this.existing.has(name)) return;
    if (!this.strictSequences) await this.createChecked(name);
    else if (this.store.shared && (await callStore(() => this.store.has(name), this.storeTimeoutMs))) this.existing.add(name);
    else throw noSequence(name);
  }

  /** `create` for a name already validated. */
  private async createChecked(name: string): Promise<boolean> {
    if (this.existing.has(name)) return false;
    // Counted before the store answers, so concurrent creations cannot pass the limit together.
    this.claim(name);
    try {
      await callStore(() => this.store.reserve(name, 0n), this.storeTimeoutMs);
    } catch (error) {
      this.existing.delete(name);
      throw error;
    }
    return true;
  }

  /** Adds a new name within `maxSequences`. @throws TicketError ELIMIT */
  private claim(name: string): void {
    if (this.existing.size >= this.maxSequences) {
      throw new TicketError('ELIMIT', `at most ${this.maxSequences} sequences may exist`);
    }
    this.existing.add(name);
  }

  private lookUp(name: string): Promise<void> {
    const pending = this.lookups.get(name);
    if (pending) return pending;
    if (this.lookups.size >= MAX_LOOKUPS) {
      // A flood of unknown names must not become a flood of queries; a real name is asked again later.
      throw new TicketError('EUNAVAILABLE', 'too many unknown sequence names are being looked up; retry');
    }
    const lookup = callStore(() => this.store.has(name), this.storeTimeoutMs).then(
      (found) => {
        this.lookups.delete(name);
        if (found) {
          this.absentUntil.delete(name);
          this.existing.add(name);
          return;
        }
        // Bounded: forget every negative answer rather than grow without limit.
        if (this.absentUntil.size >= ABSENT_CACHE_LIMIT) this.absentUntil.clear();
        this.absentUntil.set(name, this.now() + ABSENT_CACHE_MS);
      },
      (error: unknown) => {
        this.lookups.delete(name);
        throw error;
      },
    );
    this.lookups.set(name, lookup);
    return lookup;
  }
}

function noSequence(name: string): TicketError {
  return new TicketError('ENOSEQ', `no sequence "${name}" (strict mode)`);
}
