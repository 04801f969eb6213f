/**
 * `mysql://user:pass@host:port/db` — the MySQL/MariaDB dialect of `SqlStore`,
 * the way Flickr and Tickr used them. A lease is one atomic
 * `INSERT … ON DUPLICATE KEY UPDATE next_slot = LAST_INSERT_ID(expr)`:
 * InnoDB's row lock serialises reservations, and `LAST_INSERT_ID(expr)` hands
 * the new counter back in the same statement's reply (its OK packet), so no
 * second query is needed.
 */
import mysql from 'mysql2/promise';
import type { StoreOptions } from './store.js';
import { readFileSync } from 'node:fs';
import type { MysqlTlsSettings, SqlUri } from './store-uri.js';
import { LIST_PAGE, META_TABLE, SEQUENCES_TABLE, SETTINGS_TABLE, withTimeout, type SharedSettings } from './shared-store.js';
import { SqlStore, type SqlDialect, type SqlResult } from './sql-store.js';

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
  `CREATE TABLE IF NOT EXISTS ${SETTINGS_TABLE} (
     name VARBINARY(128) NOT NULL PRIMARY KEY,
     settings TEXT NOT NULL
   ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
];

/** The part of mysql2's OK packet the store reads. */
interface OkPacket {
  readonly affectedRows: number | string;
  readonly insertId: number | string;
}

/** The MySQL/MariaDB dialect. */
export const MYSQL_DIALECT: SqlDialect<mysql.Pool> = {
  kind: 'mysql',
  product: 'MySQL',
  statements: {
    findTables: 'SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?',
    insertNumbering: `INSERT IGNORE INTO ${META_TABLE} (name, value) VALUES (?, ?)`,
    selectNumbering: `SELECT value FROM ${META_TABLE} WHERE name = ?`,
    // Parameters: name, atLeast, count, atLeast, count (atLeast is 1 when none).
    reserve: `
  INSERT INTO ${SEQUENCES_TABLE} (name, next_slot)
    VALUES (?, LAST_INSERT_ID(GREATEST(CAST(? AS UNSIGNED), 1) + CAST(? AS UNSIGNED)))
  ON DUPLICATE KEY UPDATE next_slot = LAST_INSERT_ID(GREATEST(next_slot, CAST(? AS UNSIGNED)) + CAST(? AS UNSIGNED))`,
    // affectedRows counts matched rows (the driver sets FOUND_ROWS).
    release: `UPDATE ${SEQUENCES_TABLE} SET next_slot = CAST(? AS UNSIGNED) WHERE name = ? AND next_slot = CAST(? AS UNSIGNED)`,
    has: `SELECT 1 FROM ${SEQUENCES_TABLE} WHERE name = ?`,
    listFirst: `SELECT name, next_slot FROM ${SEQUENCES_TABLE} ORDER BY name LIMIT ${LIST_PAGE}`,
    listAfter: `SELECT name, next_slot FROM ${SEQUENCES_TABLE} WHERE name > ? ORDER BY name LIMIT ${LIST_PAGE}`,
    readSettings: `SELECT settings FROM ${SETTINGS_TABLE} WHERE name = ?`,
    writeSettings: `INSERT INTO ${SETTINGS_TABLE} (name, settings) VALUES (?, ?)
  ON DUPLICATE KEY UPDATE settings = VALUES(settings)`,
    deleteSettings: `DELETE FROM ${SETTINGS_TABLE} WHERE name = ?`,
    listSettingsFirst: `SELECT name, settings FROM ${SETTINGS_TABLE} ORDER BY name LIMIT ${LIST_PAGE}`,
    listSettingsAfter: `SELECT name, settings FROM ${SETTINGS_TABLE} WHERE name > ? ORDER BY name LIMIT ${LIST_PAGE}`,
    ping: 'SELECT 1',
  },

  createPool(uri: SqlUri, settings: SharedSettings): mysql.Pool {
    return mysql.createPool({
      host: uri.host,
      port: uri.port ?? 3306,
      user: uri.user,
      password: uri.password,
      database: uri.database,
      connectionLimit: settings.poolSize,
      maxIdle: settings.poolSize,
      connectTimeout: settings.poolTimeoutMs,
      waitForConnections: true,
      // Waiting reservations are bounded by the service (one per sequence); this bounds everything else.
      queueLimit: 10_000,
      supportBigNumbers: true,
      bigNumberStrings: true,
      charset: 'utf8mb4',
      enableKeepAlive: true,
      ...(uri.mysqlTls === undefined ? {} : { ssl: mysqlSslOptions(uri.mysqlTls) }),
    });
  },

  async query(pool: mysql.Pool, sql: string, values: readonly unknown[], timeoutMs: number): Promise<SqlResult> {
    const [reply] = await withTimeout(pool.query({ sql, timeout: timeoutMs }, values as Array<string | Buffer | null>), timeoutMs, 'MySQL');
    if (Array.isArray(reply)) return { rows: reply as Record<string, unknown>[], changed: 0, raw: reply };
    return { rows: [], changed: Number((reply as unknown as OkPacket).affectedRows), raw: reply };
  },

  endPool(pool: mysql.Pool): Promise<void> {
    return pool.end();
  },

  async createSchema(pool: mysql.Pool, settings: SharedSettings): Promise<void> {
    for (const statement of SCHEMA) await this.query(pool, statement, [], settings.operationTimeoutMs);
  },

  tablesExist(result: SqlResult): boolean {
    return result.rows.length > 0;
  },

  async checkDurability(pool: mysql.Pool, description: string, settings: SharedSettings): Promise<void> {
    const result = await this.query(pool, 'SELECT @@innodb_flush_log_at_trx_commit AS flush', [], settings.operationTimeoutMs);
    const flush = String((result.rows[0]?.flush as string | number | undefined) ?? '');
    if (flush !== '1') {
      settings.warn(
        `MySQL at ${description} runs with innodb_flush_log_at_trx_commit=${flush}: a crash of the database can lose reservations and repeat values; set it to 1`,
      );
    }
  },

  reserveParameters(name: string, count: bigint, floor: bigint): unknown[] {
    return [name, floor.toString(), count.toString(), floor.toString(), count.toString()];
  },

  reservedEnd(result: SqlResult): bigint {
    // The OK packet carries LAST_INSERT_ID(expr); mysql2 reads it as signed, so a counter at 2^63 comes back negative.
    const end = BigInt((result.raw as OkPacket).insertId);
    return end < 0n ? end + TWO_TO_64 : end;
  },

  releaseParameters(name: string, from: bigint, end: bigint): unknown[] {
    return [from.toString(), name, end.toString()];
  },

  listRow(row: Record<string, unknown>) {
    // VARBINARY comes back as bytes; the next page starts after those bytes, not after their decoding.
    const key = row.name as Buffer;
    return { name: key.toString('utf8'), key, next: BigInt(row.next_slot as string) };
  },

  settingsRow(row: Record<string, unknown>) {
    const key = row.name as Buffer;
    return { name: key.toString('utf8'), key, settings: String(row.settings) };
  },
};

/** A MySQL/MariaDB store: `SqlStore` over the MySQL dialect. */
/**
 * mysql2's `ssl` option from the URI's TLS settings, reading the PEM files.
 * @throws Error naming the parameter and file that cannot be read
 */
export function mysqlSslOptions(tls: MysqlTlsSettings): mysql.SslOptions {
  const read = (parameter: string, path: string | undefined): string | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      throw new Error(`cannot read ${parameter} "${path.slice(0, 300)}" of the mysql store URI (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
    }
  };
  const ca = read('ssl-ca', tls.caFile);
  const cert = read('ssl-cert', tls.certFile);
  const key = read('ssl-key', tls.keyFile);
  return {
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
  };
}

export function createMysqlStore(uri: SqlUri, options: StoreOptions = {}): SqlStore<mysql.Pool> {
  return new SqlStore(MYSQL_DIALECT, uri, options);
}
