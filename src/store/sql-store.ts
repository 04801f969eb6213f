/**
 * The SQL back ends (`postgres://`, `mysql://`), shared by any number of
 * servers (SPEC §5.1). One `SqlStore` holds what they have in common — the
 * store's shape (open, fence, reserve, release, keyset-paged `list`, health),
 * bounded waits and error wrapping — and a `SqlDialect` holds what differs:
 * the driver and its calls, the statements and schema, and how results read.
 * A lease is one atomic statement in each dialect; the database's row lock
 * serialises concurrent reservations and its commit makes the lease durable
 * before it is used. Schema: docs/stores.md.
 */
import type { Numbering } from '../core/numbering.js';
import {
  StoreMissingError,
  encodeNumbering,
  type Lease,
  type Store,
  type StoreHealth,
  type StoreOptions,
  type StoredSequence,
  type StoredSettings,
  checkSettingsLength,
} from './store.js';
import type { SqlUri } from './store-uri.js';
import {
  HEALTH_TIMEOUT_MS,
  LIST_PAGE,
  NUMBERING_KEY,
  SEQUENCES_TABLE,
  SETTINGS_TABLE,
  checkNumbering,
  openFailure,
  probeHealth,
  sharedSettings,
  type SharedSettings,
} from './shared-store.js';

/** What one statement returned, read the same way whatever the driver. */
export interface SqlResult {
  /** Rows of a query; empty for other statements. */
  readonly rows: readonly Record<string, unknown>[];
  /** Rows a statement changed (matched, for MySQL); 0 for queries. */
  readonly changed: number;
  /** The driver's own reply, for what only one dialect reads (MySQL's LAST_INSERT_ID). */
  readonly raw: unknown;
}

/** One row of `list()`: the name, the key the next page starts after, and the next slot. */
export interface SqlListRow {
  readonly name: string;
  readonly key: unknown;
  readonly next: bigint;
}

/** The statements of one dialect, in its placeholder style. */
export interface SqlStatements {
  /** Parameter: the sequences table's name. Found when `tablesExist` says so. */
  readonly findTables: string;
  /** Parameters: key, encoded numbering. Inserts the record unless there is one. */
  readonly insertNumbering: string;
  /** Parameter: key. Returns `value`. */
  readonly selectNumbering: string;
  /** Parameters from `reserveParameters`: creates the row or moves it, atomically. */
  readonly reserve: string;
  /** Parameters from `releaseParameters`: lowers the counter only if it still ends where the lease ends. */
  readonly release: string;
  /** Parameter: name. One row when the sequence exists. */
  readonly has: string;
  /** First page of `list()` (no parameter), and the pages after a key (parameter: that key). */
  readonly listFirst: string;
  readonly listAfter: string;
  /** Parameter: name. Returns `settings`. */
  readonly readSettings: string;
  /** Parameters: name, settings. Inserts or replaces. */
  readonly writeSettings: string;
  /** Parameter: name. */
  readonly deleteSettings: string;
  /** First page of `listSettings()` (no parameter), and the pages after a key (parameter: that key). */
  readonly listSettingsFirst: string;
  readonly listSettingsAfter: string;
  /** A probe that touches nothing. */
  readonly ping: string;
}

/**
 * What one SQL database does its own way. `Pool` is the driver's connection
 * pool; every driver call goes through the dialect.
 */
export interface SqlDialect<Pool> {
  /** Store kind for logs and status (`postgres`, `mysql`). */
  readonly kind: string;
  /** The product as messages name it (`PostgreSQL`, `MySQL`). */
  readonly product: string;
  readonly statements: SqlStatements;
  /** Creates the driver's pool (connections open on first use). */
  createPool(uri: SqlUri, settings: SharedSettings): Pool;
  /** Runs one statement, bounded by `timeoutMs`. */
  query(pool: Pool, sql: string, values: readonly unknown[], timeoutMs: number): Promise<SqlResult>;
  /** Closes every connection of the pool. */
  endPool(pool: Pool): Promise<void>;
  /** Creates the tables if absent; safe when several servers start at once. */
  createSchema(pool: Pool, settings: SharedSettings): Promise<void>;
  /** Whether `findTables` found the sequences table. */
  tablesExist(result: SqlResult): boolean;
  /** Warns about settings that weaken durability (fsync off, lazy log flush). */
  checkDurability(pool: Pool, description: string, settings: SharedSettings): Promise<void>;
  /** Parameters of `reserve`; `floor` is atLeast, 1 when none. */
  reserveParameters(name: string, count: bigint, floor: bigint): unknown[];
  /** The counter after the reservation (the lease's end), from `reserve`'s result. */
  reservedEnd(result: SqlResult): bigint;
  /** Parameters of `release`. */
  releaseParameters(name: string, from: bigint, end: bigint): unknown[];
  /** One row of a `list` page. */
  listRow(row: Record<string, unknown>): SqlListRow;
  /** One row of a `listSettings` page: the name, its paging key and the settings text. */
  settingsRow(row: Record<string, unknown>): { name: string; key: unknown; settings: string };
}

/** A SQL database as a store: the shared logic over one dialect. */
export class SqlStore<Pool> implements Store {
  readonly kind: string;
  readonly durable = true;
  readonly shared = true;
  readonly description: string;
  private readonly dialect: SqlDialect<Pool>;
  private readonly uri: SqlUri;
  private readonly settings: SharedSettings;
  private pool: Pool | undefined;
  /** A read-only open of a database written before settings existed: there are none to read. */
  private noSettingsTable = false;

  /** Defaults of `options`: see `StoreOptions`. */
  constructor(dialect: SqlDialect<Pool>, uri: SqlUri, options: StoreOptions = {}) {
    this.dialect = dialect;
    this.kind = dialect.kind;
    this.uri = uri;
    this.description = uri.description;
    this.settings = sharedSettings(options);
  }

  /**
   * Creates the pool and the schema (or, with `mustExist`, checks it is there) and warns about weak durability.
   * @throws StoreMissingError with `mustExist` and no tables; StoreOpenError for any driver failure
   */
  async open(): Promise<void> {
    const pool = this.dialect.createPool(this.uri, this.settings);
    this.pool = pool;
    try {
      if (this.settings.mustExist) {
        const found = await this.query(this.dialect.statements.findTables, [SEQUENCES_TABLE]);
        if (!this.dialect.tablesExist(found)) {
          throw new StoreMissingError(`no ticket-server tables in ${this.description} (no ${SEQUENCES_TABLE}); check --store`);
        }
        const settings = await this.query(this.dialect.statements.findTables, [SETTINGS_TABLE]);
        this.noSettingsTable = !this.dialect.tablesExist(settings);
      } else {
        await this.dialect.createSchema(pool, this.settings);
      }
      await this.dialect.checkDurability(pool, this.description, this.settings);
    } catch (error) {
      this.pool = undefined;
      await this.dialect.endPool(pool).catch(() => undefined);
      throw openFailure(this.description, error);
    }
  }

  private query(sql: string, values: readonly unknown[] = [], timeoutMs = this.settings.operationTimeoutMs): Promise<SqlResult> {
    const pool = this.pool;
    if (pool === undefined) return Promise.reject(new Error(`${this.kind} store is not open`));
    return this.dialect.query(pool, sql, values, timeoutMs);
  }

  async fence(numbering: Numbering): Promise<void> {
    await this.query(this.dialect.statements.insertNumbering, [NUMBERING_KEY, encodeNumbering(numbering)]);
    const result = await this.query(this.dialect.statements.selectNumbering, [NUMBERING_KEY]);
    const value = result.rows[0]?.value;
    checkNumbering(typeof value === 'string' ? value : undefined, numbering, `${this.dialect.product} store ${this.description}`);
  }

  async reserve(name: string, count: bigint, atLeast?: bigint): Promise<Lease> {
    const result = await this.query(this.dialect.statements.reserve, this.dialect.reserveParameters(name, count, atLeast ?? 1n));
    const end = this.dialect.reservedEnd(result);
    return { start: end - count, end };
  }

  async release(name: string, from: bigint, end: bigint): Promise<boolean> {
    if (from > end) return false;
    const result = await this.query(this.dialect.statements.release, this.dialect.releaseParameters(name, from, end));
    return result.changed === 1;
  }

  async has(name: string): Promise<boolean> {
    const result = await this.query(this.dialect.statements.has, [name]);
    return result.rows.length === 1;
  }

  /** Keyset paging: each page starts after the last key of the one before, so a page costs one index range read. */
  async *list(): AsyncIterable<StoredSequence> {
    let after: unknown;
    for (let first = true; ; first = false) {
      const result = first
        ? await this.query(this.dialect.statements.listFirst)
        : await this.query(this.dialect.statements.listAfter, [after]);
      let last: SqlListRow | undefined;
      for (const row of result.rows) {
        last = this.dialect.listRow(row);
        yield { name: last.name, next: last.next };
      }
      if (result.rows.length < LIST_PAGE || last === undefined) return;
      after = last.key;
    }
  }

  async readSettings(name: string): Promise<string | undefined> {
    if (this.noSettingsTable) return undefined;
    const result = await this.query(this.dialect.statements.readSettings, [name]);
    const settings = result.rows[0]?.settings;
    return typeof settings === 'string' ? settings : undefined;
  }

  async writeSettings(name: string, settings: string | undefined): Promise<void> {
    checkSettingsLength(settings);
    if (settings === undefined) await this.query(this.dialect.statements.deleteSettings, [name]);
    else await this.query(this.dialect.statements.writeSettings, [name, settings]);
  }

  async *listSettings(): AsyncIterable<StoredSettings> {
    if (this.noSettingsTable) return;
    let after: unknown;
    for (let first = true; ; first = false) {
      const result = first
        ? await this.query(this.dialect.statements.listSettingsFirst)
        : await this.query(this.dialect.statements.listSettingsAfter, [after]);
      let key: unknown;
      for (const row of result.rows) {
        const read = this.dialect.settingsRow(row);
        key = read.key;
        yield { name: read.name, settings: read.settings };
      }
      if (result.rows.length < LIST_PAGE || key === undefined) return;
      after = key;
    }
  }

  health(): Promise<StoreHealth> {
    return probeHealth(this.description, () => this.query(this.dialect.statements.ping, [], HEALTH_TIMEOUT_MS));
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (pool !== undefined) await this.dialect.endPool(pool);
  }
}
