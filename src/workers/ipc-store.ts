/**
 * The store a worker's TicketService runs over: every operation is a request
 * to the owner process, which calls the real store (through its lease broker).
 * So every lease a worker issues from was durably reserved by the owner before
 * the worker received it, and the store and its lock stay in one process.
 */
import { TicketError } from '../core/errors.js';
import type { Numbering } from '../core/numbering.js';
import type { Lease, Store, StoreHealth, StoredSequence, StoredSettings } from '../store/store.js';
import { fromWire, type StoreCall, type StoreOperation, type StoreReply } from './messages.js';

/** Most calls a worker has outstanding at once; past it calls fail at once (EUNAVAILABLE) instead of queueing without bound. */
const MAX_PENDING_CALLS = 100_000;

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

/**
 * `Store` over the IPC channel to the owner.
 *
 * Differences from a real store, each on purpose:
 * - `shared` is true and `has(name)` is the owner's admission ("may this name
 *   be used?"): the owner is the one authority for `--max-sequences` and strict
 *   mode, so a worker runs its service in strict mode and asks the owner about
 *   every name it has not seen. `has` never answers false: it resolves true or
 *   rejects with the owner's ENOSEQ or ELIMIT.
 * - `list()` yields nothing: a worker learns names as they are used.
 * - `release` answers true once the owner took the lease back: the owner hands
 *   back what the store allows, in the right order across every worker.
 */
export class IpcStore implements Store {
  readonly kind = 'ipc';
  readonly description: string;
  readonly durable = true;
  readonly shared = true;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedReason: string | undefined;

  /**
   * @param send sends one call to the owner (`process.send`)
   * @param description the owner's store description, for logs
   */
  constructor(private readonly send: (call: StoreCall) => void, description: string) {
    this.description = `${description} (through the owner process)`;
  }

  /** Feeds a reply from the owner. Unknown ids (a call already failed) are ignored. */
  receive(reply: StoreReply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(fromWire(reply.error));
  }

  /** The channel is gone: fails every outstanding and later call. */
  disconnect(reason: string): void {
    this.closedReason = reason;
    for (const pending of this.pending.values()) pending.reject(new TicketError('EUNAVAILABLE', reason));
    this.pending.clear();
  }

  private call<T>(op: StoreOperation, ...args: unknown[]): Promise<T> {
    if (this.closedReason !== undefined) return Promise.reject(new TicketError('EUNAVAILABLE', this.closedReason));
    if (this.pending.size >= MAX_PENDING_CALLS) {
      return Promise.reject(new TicketError('EUNAVAILABLE', 'too many calls to the owner process in flight'));
    }
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      try {
        this.send({ type: 'call', id, op, args });
      } catch (error) {
        this.pending.delete(id);
        reject(new TicketError('EUNAVAILABLE', 'owner process unreachable', { cause: error }));
      }
    });
  }

  async open(): Promise<void> {}

  async fence(numbering: Numbering): Promise<void> {
    await this.call('fence', numbering);
  }

  reserve(name: string, count: bigint, atLeast?: bigint): Promise<Lease> {
    return this.call('reserve', name, count, atLeast);
  }

  release(name: string, from: bigint, end: bigint): Promise<boolean> {
    return this.call('release', name, from, end);
  }

  async has(name: string): Promise<boolean> {
    await this.call('admit', name);
    return true;
  }

  async *list(): AsyncIterable<StoredSequence> {
    // A worker learns names as they are used (`has`); the owner holds the full list.
  }

  readSettings(name: string): Promise<string | undefined> {
    return this.call('readSettings', name);
  }

  async writeSettings(name: string, settings: string | undefined): Promise<void> {
    await this.call('writeSettings', name, settings);
  }

  /** The owner's settings of every sequence; `shared` makes the worker's service read them again every few seconds. */
  async *listSettings(): AsyncIterable<StoredSettings> {
    yield* await this.call<StoredSettings[]>('listSettings');
  }

  async health(): Promise<StoreHealth> {
    try {
      return await this.call<StoreHealth>('health');
    } catch (error) {
      return { ok: false, detail: (error as Error).message };
    }
  }

  async close(): Promise<void> {}
}
