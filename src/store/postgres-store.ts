/**
 * `postgres://user:pass@host:port/db` — PostgreSQL, shared by any number of
 * servers (SPEC §5.1). A lease is one atomic upsert with `RETURNING`; the
 * row lock serialises concurrent reservations, and the commit (with
 * `synchronous_commit=on`, forced per session) makes it durable before the
 * lease is used. Schema: docs/stores.md.
 */
import pg from 'pg';
import type { Numbering } from '../core/numbering.js';
import {
  StoreMissingError,
  encodeNumbering,
  type Lease,
  type Store,
  type StoreHealth,
  type StoredSequence,
} from './store.js';
import type { StoreOptions } from './store.js';
import type { SqlUri } from './store-uri.js';
import {
  HEALTH_TIMEOUT_MS,
  checkNumbering,
  LIST_PAGE,
  META_TABLE,
  NUMBERING_KEY,
  SEQUENCES_TABLE,
  openFailure,
  probeHealth,
  sharedSettings,
  withTimeout,
  type SharedSettings,
} from './shared-store.js';

/** Any number the schema creation lock is known by; the same in every server. */
const SCHEMA_LOCK_KEY = 7_146_273_001;

const SCHEMA = [
  // `COLLATE "C"`: names compare and sort by their bytes, case-sensitively, as in every back end.
  `CREATE TABLE IF NOT EXISTS ${SEQUENCES_TABLE} (
     name text COLLATE "C" PRIMARY KEY,
     next_slot numeric(20, 0) NOT NULL CHECK (next_slot >= 1)
   )`,
  `CREATE TABLE IF NOT EXISTS ${META_TABLE} (
     name text PRIMARY KEY,
     value text NOT NULL
   )`,
];

/** One statement: create the row or move it, and say where it ended. `$3` is atLeast (1 when none). */
const RESERVE = `
  INSERT INTO ${SEQUENCES_TABLE} AS s (name, next_slot) VALUES ($1, GREATEST($3::numeric, 1) + $2::numeric)
  ON CONFLICT (name) DO UPDATE SET next_slot = GREATEST(s.next_slot, $3::numeric) + $2::numeric
  RETURNING next_slot`;

/** Lowers the counter only if it still ends where our lease ends: nobody reserved after it. */
const RELEASE = `UPDATE ${SEQUENCES_TABLE} SET next_slot = $2::numeric WHERE name = $1 AND next_slot = $3::numeric`;

export class PostgresStore implements Store {
  readonly kind = 'postgres';
  readonly durable = true;
  readonly shared = true;
  readonly description: string;
  private readonly uri: SqlUri;
  private readonly settings: SharedSettings;
  private pool: pg.Pool | undefined;

  constructor(uri: SqlUri, options: StoreOptions = {}) {
    this.uri = uri;
    this.description = uri.description;
    this.settings = sharedSettings(options);
  }

  async open(): Promise<void> {
    const pool = new pg.Pool({
      connectionString: this.uri.connectionString,
      max: this.settings.poolSize,
      connectionTimeoutMillis: this.settings.poolTimeoutMs,
      idleTimeoutMillis: 30_000,
      application_name: 'ticket-server',
      // A lease must be on disk before it is used, whatever the server's default.
      options: '-c synchronous_commit=on',
    });
    // An idle connection whose server went away: the pool drops it and opens a new one on the next query.
    pool.on('error', () => undefined);
    this.pool = pool;
    try {
      if (this.settings.mustExist) {
        const found = await this.query<{ found: string | null }>(`SELECT to_regclass($1) AS found`, [SEQUENCES_TABLE]);
        if (found.rows[0]?.found == null) {
          throw new StoreMissingError(`no ticket-server tables in ${this.description} (no ${SEQUENCES_TABLE}); check --store`);
        }
      } else {
        await this.createSchema(pool);
      }
      await this.checkDurability();
    } catch (error) {
      this.pool = undefined;
      await pool.end().catch(() => undefined);
      throw openFailure(this.description, error);
    }
  }

  /** Idempotent; servers starting together take turns through an advisory lock (concurrent CREATE TABLE IF NOT EXISTS can fail). */
  private async createSchema(pool: pg.Pool): Promise<void> {
    const client = await withTimeout(pool.connect(), this.settings.poolTimeoutMs, 'PostgreSQL connect');
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
      for (const statement of SCHEMA) await client.query(statement);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async checkDurability(): Promise<void> {
    const result = await this.query<{ fsync: string }>(`SELECT current_setting('fsync') AS fsync`);
    if (result.rows[0]?.fsync !== 'on') {
      this.settings.warn(`PostgreSQL at ${this.description} runs with fsync=off: a power loss can lose reservations and repeat values`);
    }
  }

  private query<R extends pg.QueryResultRow>(text: string, values: unknown[] = [], timeoutMs = this.settings.operationTimeoutMs): Promise<pg.QueryResult<R>> {
    const pool = this.pool;
    if (!pool) return Promise.reject(new Error('postgres store is not open'));
    return withTimeout(pool.query<R>(text, values), timeoutMs, 'PostgreSQL');
  }

  async fence(numbering: Numbering): Promise<void> {
    await this.query(`INSERT INTO ${META_TABLE} (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, [
      NUMBERING_KEY,
      encodeNumbering(numbering),
    ]);
    const result = await this.query<{ value: string }>(`SELECT value FROM ${META_TABLE} WHERE name = $1`, [NUMBERING_KEY]);
    const text = result.rows[0]?.value;
    checkNumbering(text, numbering, `PostgreSQL store ${this.description}`);
  }

  async reserve(name: string, count: bigint, atLeast?: bigint): Promise<Lease> {
    const result = await this.query<{ next_slot: string }>(RESERVE, [name, count.toString(), (atLeast ?? 1n).toString()]);
    const end = BigInt(result.rows[0]?.next_slot ?? Number.NaN);
    return { start: end - count, end };
  }

  async release(name: string, from: bigint, end: bigint): Promise<boolean> {
    if (from > end) return false;
    const result = await this.query(RELEASE, [name, from.toString(), end.toString()]);
    return result.rowCount === 1;
  }

  async has(name: string): Promise<boolean> {
    const result = await this.query(`SELECT 1 FROM ${SEQUENCES_TABLE} WHERE name = $1`, [name]);
    return result.rows.length === 1;
  }

  async *list(): AsyncIterable<StoredSequence> {
    let after: string | undefined;
    for (;;) {
      const result =
        after === undefined
          ? await this.query<{ name: string; next_slot: string }>(
              `SELECT name, next_slot FROM ${SEQUENCES_TABLE} ORDER BY name LIMIT ${LIST_PAGE}`,
            )
          : await this.query<{ name: string; next_slot: string }>(
              `SELECT name, next_slot FROM ${SEQUENCES_TABLE} WHERE name > $1 ORDER BY name LIMIT ${LIST_PAGE}`,
              [after],
            );
      for (const row of result.rows) yield { name: row.name, next: BigInt(row.next_slot) };
      if (result.rows.length < LIST_PAGE) return;
      after = result.rows[result.rows.length - 1]?.name;
    }
  }

  health(): Promise<StoreHealth> {
    return probeHealth(this.description, () => this.query('SELECT 1', [], HEALTH_TIMEOUT_MS));
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await pool.end();
  }
}
