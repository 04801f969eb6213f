/**
 * `etcd://host:port[,host:port…][/prefix]` — an etcd cluster (Raft), shared by
 * any number of servers (SPEC §5.1). A lease is one transaction that compares
 * the counter's value with the one last seen and, if unchanged, writes the new
 * one; when another server moved it first, the same transaction's `else` branch
 * reads the current value back, so a retry needs no extra round trip. etcd
 * answers a write only after a majority of the cluster has it on disk.
 * Keys: docs/stores.md.
 */
import { Etcd3, type Namespace } from 'etcd3';
import type { Numbering } from '../core/numbering.js';
import type { LeaderElection, LeaderElectionOptions } from '../leader/election.js';
import { EtcdElection, etcdElectionCalls } from '../leader/etcd-election.js';
import {
  StoreMissingError,
  encodeNumbering,
  planReservation,
  type Lease,
  type Store,
  type StoreHealth,
  type StoredSequence,
  type StoredSettings,
  checkSettingsLength,
} from './store.js';
import type { StoreOptions } from './store.js';
import { readFileSync } from 'node:fs';
import type { EtcdTlsSettings, EtcdUri } from './store-uri.js';
import { HEALTH_TIMEOUT_MS, LIST_PAGE, checkNumbering, NUMBERING_KEY, openFailure, probeHealth, sharedSettings, withTimeout, type SharedSettings } from './shared-store.js';

const SEQUENCE_PREFIX = 'sequences/';
const META_PREFIX = 'meta/';
const SETTINGS_PREFIX = 'settings/';
/** A reservation that loses this many compare-and-swap races in a row gives up (the caller retries with backoff). */
const MAX_ATTEMPTS = 64;
/** Deadline of one call to one member; see `open`. */
const ATTEMPT_DEADLINE_MS = 2_000;

interface TxnReply {
  readonly succeeded: boolean;
  readonly responses: ReadonlyArray<{ response_range?: { kvs?: ReadonlyArray<{ value: Buffer }> } }>;
}

/** The value a failed compare's `else: get` read back; undefined when the key does not exist. */
function currentValue(reply: TxnReply): string | undefined {
  return reply.responses[0]?.response_range?.kvs?.[0]?.value.toString('utf8');
}

/**
 * etcd3's `credentials` from the URI's TLS files.
 * @throws Error naming the parameter and file that cannot be read
 */
export function etcdCredentials(tls: EtcdTlsSettings): { rootCertificate: Buffer; privateKey?: Buffer; certChain?: Buffer } {
  const read = (parameter: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`cannot read ${parameter} "${path.slice(0, 300)}" of the etcd store URI (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
    }
  };
  return {
    rootCertificate: read('cacert', tls.caFile),
    ...(tls.certFile === undefined || tls.keyFile === undefined ? {} : { certChain: read('cert', tls.certFile), privateKey: read('key', tls.keyFile) }),
  };
}

export class EtcdStore implements Store {
  readonly kind = 'etcd';
  readonly durable = true;
  readonly shared = true;
  readonly description: string;
  private readonly uri: EtcdUri;
  private readonly settings: SharedSettings;
  private client: Etcd3 | undefined;
  private keys: Namespace | undefined;
  /** Last value seen per sequence (undefined: absent), so most reservations are one round trip. */
  private readonly seen = new Map<string, string | undefined>();
  /**
   * Operations on one name from this process run one after another, so they do
   * not race each other's compare-and-swap; only other servers can.
   */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(uri: EtcdUri, options: StoreOptions = {}) {
    this.uri = uri;
    this.description = uri.description;
    this.settings = sharedSettings(options);
  }

  async open(): Promise<void> {
    const timeoutMs = this.settings.operationTimeoutMs;
    const client = new Etcd3({
      hosts: [...this.uri.hosts],
      dialTimeout: this.settings.poolTimeoutMs,
      ...(this.uri.user !== undefined ? { auth: { username: this.uri.user, password: this.uri.password ?? '' } } : {}),
      ...(this.uri.tls === undefined ? {} : { credentials: etcdCredentials(this.uri.tls) }),
      // Every unary call attempt has a short deadline: a write stuck behind a leader that just died
      // fails over to another member (etcd3 retries deadline errors on the next host, three times)
      // instead of waiting out etcd's own request timeout. A healthy commit takes milliseconds.
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + Math.min(ATTEMPT_DEADLINE_MS, timeoutMs) }),
    });
    this.client = client;
    this.keys = client.namespace(this.uri.prefix);
    try {
      const numbering = await this.call(this.keys.get(`${META_PREFIX}${NUMBERING_KEY}`).string());
      if (this.settings.mustExist && numbering === null) {
        throw new StoreMissingError(`no ticket-server keys under ${this.uri.prefix} in ${this.description}; check --store`);
      }
    } catch (error) {
      this.client = this.keys = undefined;
      client.close();
      throw openFailure(this.description, error);
    }
  }

  private namespace(): Namespace {
    if (!this.keys) throw new Error('etcd store is not open');
    return this.keys;
  }

  private call<T>(promise: Promise<T>, timeoutMs = this.settings.operationTimeoutMs): Promise<T> {
    return withTimeout(promise, timeoutMs, 'etcd');
  }

  async fence(numbering: Numbering): Promise<void> {
    const keys = this.namespace();
    const key = `${META_PREFIX}${NUMBERING_KEY}`;
    const reply = (await this.call(
      keys.if(key, 'Create', '==', 0).then(keys.put(key).value(encodeNumbering(numbering))).else(keys.get(key)).commit(),
    )) as TxnReply;
    if (reply.succeeded) return;
    const text = currentValue(reply);
    checkNumbering(text, numbering, `etcd store ${this.description}`);
  }

  /**
   * Swaps the counter from `expected` (undefined: absent) to `next` in one
   * transaction. @returns whether it swapped, and the value found otherwise.
   */
  private async swap(name: string, expected: string | undefined, next: string): Promise<{ swapped: boolean; found: string | undefined }> {
    const keys = this.namespace();
    const key = `${SEQUENCE_PREFIX}${name}`;
    const compare = expected === undefined ? keys.if(key, 'Create', '==', 0) : keys.if(key, 'Value', '==', expected);
    const reply = (await this.call(compare.then(keys.put(key).value(next)).else(keys.get(key)).commit())) as TxnReply;
    if (reply.succeeded) {
      this.seen.set(name, next);
      return { swapped: true, found: next };
    }
    const found = currentValue(reply);
    this.seen.set(name, found);
    return { swapped: false, found };
  }

  private serialised<T>(name: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(name) ?? Promise.resolve();
    const result = previous.then(operation, operation);
    const tail = result.catch(() => undefined);
    this.queues.set(name, tail);
    void tail.then(() => {
      if (this.queues.get(name) === tail) this.queues.delete(name);
    });
    return result;
  }

  reserve(name: string, count: bigint, atLeast?: bigint): Promise<Lease> {
    return this.serialised(name, () => this.reserveNow(name, count, atLeast));
  }

  private async reserveNow(name: string, count: bigint, atLeast?: bigint): Promise<Lease> {
    let expected = this.seen.get(name);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const lease = planReservation(expected === undefined ? undefined : BigInt(expected), count, atLeast);
      // Even when nothing moves (count 0), the swap proves the value seen is current.
      const result = await this.swap(name, expected, lease.end.toString());
      if (result.swapped) return lease;
      expected = result.found;
    }
    throw new Error(`etcd reservation of "${name}" lost ${MAX_ATTEMPTS} races in a row; will retry`);
  }

  async release(name: string, from: bigint, end: bigint): Promise<boolean> {
    if (from > end) return false;
    return this.serialised(name, async () => (await this.swap(name, end.toString(), from.toString())).swapped);
  }

  async has(name: string): Promise<boolean> {
    const value = await this.call(this.namespace().get(`${SEQUENCE_PREFIX}${name}`).string());
    return value !== null;
  }

  async *list(): AsyncIterable<StoredSequence> {
    for await (const kv of this.range(SEQUENCE_PREFIX)) yield { name: kv.name, next: BigInt(kv.value) };
  }

  async readSettings(name: string): Promise<string | undefined> {
    return (await this.call(this.namespace().get(`${SETTINGS_PREFIX}${name}`).string())) ?? undefined;
  }

  async writeSettings(name: string, settings: string | undefined): Promise<void> {
    checkSettingsLength(settings);
    const key = `${SETTINGS_PREFIX}${name}`;
    if (settings === undefined) await this.call(this.namespace().delete().key(key).exec());
    else await this.call(this.namespace().put(key).value(settings).exec());
  }

  async *listSettings(): AsyncIterable<StoredSettings> {
    for await (const kv of this.range(SETTINGS_PREFIX)) yield { name: kv.name, settings: kv.value };
  }

  /** Every key under `prefix` (a folder such as `sequences/`), in byte order, a page at a time. */
  private async *range(prefix: string): AsyncIterable<{ name: string; value: string }> {
    const keys = this.namespace();
    // Keys sort by their bytes; `sequences0` is the first key after every `sequences/…`.
    const end = `${prefix.slice(0, -1)}0`;
    let start = Buffer.from(prefix);
    // The namespace hands keys back without its own prefix.
    const prefixLength = prefix.length;
    for (;;) {
      const page = await this.call(keys.getAll().inRange({ start, end }).limit(LIST_PAGE).exec());
      for (const kv of page.kvs) {
        yield { name: kv.key.subarray(prefixLength).toString('utf8'), value: kv.value.toString('utf8') };
      }
      const last = page.kvs[page.kvs.length - 1];
      if (!page.more || last === undefined) return;
      // The first key after the last one read: the same bytes with a zero byte appended.
      start = Buffer.concat([last.key, Buffer.from([0])]);
    }
  }

  health(): Promise<StoreHealth> {
    return probeHealth(this.description, () => this.call(this.namespace().get(`${META_PREFIX}${NUMBERING_KEY}`).string(), HEALTH_TIMEOUT_MS));
  }

  /** Leader mode on this store's client: the leader key is `<prefix>leader` (docs/stores.md). */
  createElection(options: LeaderElectionOptions): LeaderElection {
    return new EtcdElection(etcdElectionCalls(this.namespace()), options);
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = this.keys = undefined;
    client?.close();
  }
}
