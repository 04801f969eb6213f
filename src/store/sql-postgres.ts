/**
 * `postgres://user:pass@host:port/db` — the PostgreSQL dialect of `SqlStore`.
 * A lease is one atomic upsert with `RETURNING`; `synchronous_commit=on` is
 * forced per session, so the commit is on disk before the lease is used.
 */
import pg from 'pg';
import type { StoreOptions } from './store.js';
import type { SqlUri } from './store-uri.js';
import { LIST_PAGE, META_TABLE, SEQUENCES_TABLE, SETTINGS_TABLE, withTimeout, type SharedSettings } from './shared-store.js';
import { SqlStore, type SqlDialect, type SqlResult } from './sql-store.js';

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
  `CREATE TABLE IF NOT EXISTS ${SETTINGS_TABLE} (
     name text COLLATE "C" PRIMARY KEY,
     settings text NOT NULL
   )`,
];

function asResult(result: pg.QueryResult): SqlResult {
  return { rows: result.rows as Record<string, unknown>[], changed: result.rowCount ?? 0, raw: result };
}

/** The PostgreSQL dialect. */
export const POSTGRES_DIALECT: SqlDialect<pg.Pool> = {
  kind: 'postgres',
  product: 'PostgreSQL',
  statements: {
    findTables: 'SELECT to_regclass($1) AS found',
    insertNumbering: `INSERT INTO ${META_TABLE} (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
    selectNumbering: `SELECT value FROM ${META_TABLE} WHERE name = $1`,
    // Create the row or move it, and say where it ended. `$3` is atLeast (1 when none).
    reserve: `
  INSERT INTO ${SEQUENCES_TABLE} AS s (name, next_slot) VALUES ($1, GREATEST($3::numeric, 1) + $2::numeric)
  ON CONFLICT (name) DO UPDATE SET next_slot = GREATEST(s.next_slot, $3::numeric) + $2::numeric
  RETURNING next_slot`,
    release: `UPDATE ${SEQUENCES_TABLE} SET next_slot = $2::numeric WHERE name = $1 AND next_slot = $3::numeric`,
    has: `SELECT 1 FROM ${SEQUENCES_TABLE} WHERE name = $1`,
    listFirst: `SELECT name, next_slot FROM ${SEQUENCES_TABLE} ORDER BY name LIMIT ${LIST_PAGE}`,
    listAfter: `SELECT name, next_slot FROM ${SEQUENCES_TABLE} WHERE name > $1 ORDER BY name LIMIT ${LIST_PAGE}`,
    readSettings: `SELECT settings FROM ${SETTINGS_TABLE} WHERE name = $1`,
    writeSettings: `INSERT INTO ${SETTINGS_TABLE} (name, settings) VALUES ($1, $2)
  ON CONFLICT (name) DO UPDATE SET settings = EXCLUDED.settings`,
    deleteSettings: `DELETE FROM ${SETTINGS_TABLE} WHERE name = $1`,
    listSettingsFirst: `SELECT name, settings FROM ${SETTINGS_TABLE} ORDER BY name LIMIT ${LIST_PAGE}`,
    listSettingsAfter: `SELECT name, settings FROM ${SETTINGS_TABLE} WHERE name > $1 ORDER BY name LIMIT ${LIST_PAGE}`,
    ping: 'SELECT 1',
  },

  createPool(uri: SqlUri, settings: SharedSettings): pg.Pool {
    const pool = new pg.Pool({
      connectionString: uri.connectionString,
      max: settings.poolSize,
      connectionTimeoutMillis: settings.poolTimeoutMs,
      idleTimeoutMillis: 30_000,
      application_name: 'ticket-server',
      // A lease must be on disk before it is used, whatever the server's default.
      options: '-c synchronous_commit=on',
    });
    // An idle connection whose server went away: the pool drops it and opens a new one on the next query.
    pool.on('error', () => undefined);
    return pool;
  },

  async query(pool: pg.Pool, sql: string, values: readonly unknown[], timeoutMs: number): Promise<SqlResult> {
    return asResult(await withTimeout(pool.query(sql, values as unknown[]), timeoutMs, 'PostgreSQL'));
  },

  endPool(pool: pg.Pool): Promise<void> {
    return pool.end();
  },

  /** Servers starting together take turns through an advisory lock (concurrent CREATE TABLE IF NOT EXISTS can fail). */
  async createSchema(pool: pg.Pool, settings: SharedSettings): Promise<void> {
    const client = await withTimeout(pool.connect(), settings.poolTimeoutMs, 'PostgreSQL connect');
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
  },

  tablesExist(result: SqlResult): boolean {
    return result.rows[0]?.found != null;
  },

  async checkDurability(pool: pg.Pool, description: string, settings: SharedSettings): Promise<void> {
    const result = await this.query(pool, `SELECT current_setting('fsync') AS fsync`, [], settings.operationTimeoutMs);
    if (result.rows[0]?.fsync !== 'on') {
      settings.warn(`PostgreSQL at ${description} runs with fsync=off: a power loss can lose reservations and repeat values`);
    }
  },

  reserveParameters(name: string, count: bigint, floor: bigint): unknown[] {
    return [name, count.toString(), floor.toString()];
  },

  reservedEnd(result: SqlResult): bigint {
    return BigInt((result.rows[0]?.next_slot as string | undefined) ?? Number.NaN);
  },

  releaseParameters(name: string, from: bigint, end: bigint): unknown[] {
    return [name, from.toString(), end.toString()];
  },

  listRow(row: Record<string, unknown>) {
    const name = row.name as string;
    return { name, key: name, next: BigInt(row.next_slot as string) };
  },

  settingsRow(row: Record<string, unknown>) {
    const name = row.name as string;
    return { name, key: name, settings: row.settings as string };
  },
};

/** A PostgreSQL store: `SqlStore` over the PostgreSQL dialect. */
export function createPostgresStore(uri: SqlUri, options: StoreOptions = {}): SqlStore<pg.Pool> {
  return new SqlStore(POSTGRES_DIALECT, uri, options);
}
