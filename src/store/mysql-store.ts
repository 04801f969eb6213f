/**
 * `mysql://user:pass@host:port/db` — MySQL or MariaDB, shared by any number of
 * servers (SPEC §5.1), the way Flickr and Tickr used them. A lease is one
 * atomic `INSERT … ON DUPLICATE KEY UPDATE next_slot = LAST_INSERT_ID(expr)`:
 * InnoDB's row lock serialises reservations, and `LAST_INSERT_ID(expr)` hands
 * the new counter back in the same statement's reply (its OK packet), so no
 * second query is needed. Schema: docs/stores.md.
 */
import mysql from 'mysql2/promise';
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

const TWO_TO_64 = 1n << 64n;

const SCHEMA = [
  // VARBINARY: names compare and sort by their bytes, case-sensitively, as in every back end.
  `CREATE TABLE IF NOT EXISTS ${SEQUENCES_TABLE} (
     name VARBINARY(128) NOT NULL PRIMARY KEY,
     next_slot BIGINT UNSIGNED NOT NULL
   ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS ${META_TABLE} (
     name VARCHAR(64) NOT NULL PRIMARY KEY,
     value VARCHAR(1024) NOT NULL
   ) ENGINE=InnoDB`,
];

/** Parameters: name, atLeast, count, atLeast, count (atLeast is 1 when none). */
const RESERVE = `
  INSERT INTO ${SEQUENCES_TABLE} (name, next_slot)
    VALUES (?, LAST_INSERT_ID(GREATEST(CAST(? AS UNSIGNED), 1) + CAST(? AS UNSIGNED)))
  ON DUPLICATE KEY UPDATE next_slot = LAST_INSERT_ID(GREATEST(next_slot, CAST(? AS UNSIGNED)) + CAST(? AS UNSIGNED))`;

/** Lowers the counter only if it still ends where our lease ends (FOUND_ROWS: affectedRows counts matched rows). */
const RELEASE = `UPDATE ${SEQUENCES_TABLE} SET next_slot = CAST(? AS UNSIGNED) WHERE name = ? AND next_slot = CAST(? AS UNSIGNED)`;

interface OkPacket {
  readonly affectedRows: number | string;
  readonly insertId: number | string;
}

export class MysqlStore implements Store {
  readonly kind = 'mysql';
  readonly durable = true;
  readonly shared = true;
  readonly description: string;
  private readonly uri: SqlUri;
  private readonly settings: SharedSettings;
  private pool: mysql.Pool | undefined;

  constructor(uri: SqlUri, options: StoreOptions = {}) {
    this.uri = uri;
    this.description = uri.description;
    this.settings = sharedSettings(options);
  }

  async open(): Promise<void> {
    const pool = mysql.createPool({
      host: this.uri.host,
      port: this.uri.port ?? 3306,
      user: this.uri.user,
      password: this.uri.password,
      database: this.uri.database,
      connectionLimit: this.settings.poolSize,
      maxIdle: this.settings.poolSize,
      connectTimeout: this.settings.poolTimeoutMs,
      waitForConnections: true,
      // Waiting reservations are bounded by the service (one per sequence); this bounds everything else.
      queueLimit: 10_000,
      supportBigNumbers: true,
      bigNumberStrings: true,
      charset: 'utf8mb4',
      enableKeepAlive: true,
    });
    this.pool = pool;
    try {
      if (this.settings.mustExist) {
        const [rows] = await this.query<mysql.RowDataPacket[]>(
          'SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?',
          [SEQUENCES_TABLE],
        );
        if (rows.length === 0) {
          throw new StoreMissingError(`no ticket-server tables in ${this.description} (no ${SEQUENCES_TABLE}); check --store`);
        }
      } else {
        for (const statement of SCHEMA) await this.query(statement);
      }
      await this.checkDurability();
    } catch (error) {
      this.pool = undefined;
      await pool.end().catch(() => undefined);
      throw openFailure(this.description, error);
    }
  }

  private async checkDurability(): Promise<void> {
    const [rows] = await this.query<mysql.RowDataPacket[]>('SELECT @@innodb_flush_log_at_trx_commit AS flush');
    const flush = String((rows[0] as { flush?: string | number } | undefined)?.flush ?? '');
    if (flush !== '1') {
      this.settings.warn(
        `MySQL at ${this.description} runs with innodb_flush_log_at_trx_commit=${flush}: a crash of the database can lose reservations and repeat values; set it to 1`,
      );
    }
  }

  private query<R extends mysql.RowDataPacket[] | mysql.ResultSetHeader>(
    sql: string,
    values: unknown[] = [],
    timeoutMs = this.settings.operationTimeoutMs,
  ): Promise<[R, mysql.FieldPacket[]]> {
    const pool = this.pool;
    if (!pool) return Promise.reject(new Error('mysql store is not open'));
    return withTimeout(pool.query<R>({ sql, timeout: timeoutMs }, values), timeoutMs, 'MySQL');
  }

  async fence(numbering: Numbering): Promise<void> {
    await this.query(`INSERT IGNORE INTO ${META_TABLE} (name, value) VALUES (?, ?)`, [NUMBERING_KEY, encodeNumbering(numbering)]);
    const [rows] = await this.query<mysql.RowDataPacket[]>(`SELECT value FROM ${META_TABLE} WHERE name = ?`, [NUMBERING_KEY]);
    const text = (rows[0] as { value?: string } | undefined)?.value;
    checkNumbering(text, numbering, `MySQL store ${this.description}`);
  }

  async reserve(name: string, count: bigint, atLeast?: bigint): Promise<Lease> {
    const floor = (atLeast ?? 1n).toString();
    const [ok] = await this.query<mysql.ResultSetHeader>(RESERVE, [name, floor, count.toString(), floor, count.toString()]);
    // The OK packet carries LAST_INSERT_ID(expr); mysql2 reads it as signed, so a counter at 2^63 comes back negative.
    let end = BigInt((ok as unknown as OkPacket).insertId);
    if (end < 0n) end += TWO_TO_64;
    return { start: end - count, end };
  }

  async release(name: string, from: bigint, end: bigint): Promise<boolean> {
    if (from > end) return false;
    const [ok] = await this.query<mysql.ResultSetHeader>(RELEASE, [from.toString(), name, end.toString()]);
    return Number((ok as unknown as OkPacket).affectedRows) === 1;
  }

  async has(name: string): Promise<boolean> {
    const [rows] = await this.query<mysql.RowDataPacket[]>(`SELECT 1 FROM ${SEQUENCES_TABLE} WHERE name = ?`, [name]);
    return rows.length === 1;
  }

  async *list(): AsyncIterable<StoredSequence> {
    let after: Buffer | undefined;
    for (;;) {
      const [rows] =
        after === undefined
          ? await this.query<mysql.RowDataPacket[]>(`SELECT name, next_slot FROM ${SEQUENCES_TABLE} ORDER BY name LIMIT ${LIST_PAGE}`)
          : await this.query<mysql.RowDataPacket[]>(
              `SELECT name, next_slot FROM ${SEQUENCES_TABLE} WHERE name > ? ORDER BY name LIMIT ${LIST_PAGE}`,
              [after],
            );
      for (const row of rows as Array<{ name: Buffer; next_slot: string }>) {
        yield { name: row.name.toString('utf8'), next: BigInt(row.next_slot) };
      }
      if (rows.length < LIST_PAGE) return;
      after = (rows[rows.length - 1] as { name: Buffer }).name;
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
