/**
 * Database SOURCEs of `ticket-server takeover` (docs/takeover.md): the ticket
 * tables of Flickr-style servers and Tickr on MySQL/MariaDB, and PostgreSQL
 * sequences or tables. Only reads: each source is one short connection that
 * runs a few SELECTs. Table, column and sequence names are checked against a
 * plain-identifier pattern before they are quoted into SQL, and messages name
 * the source without its password.
 */
import { parseSqlUri, type SqlUri } from '../store/store-uri.js';
import { TakeoverSourceError, tickrFloor, type TickrSettings } from './sources.js';
import { MAX_VALUE } from '../core/numbering.js';

/** How long connecting and each query may take before the source counts as unreachable. */
export const DATABASE_SOURCE_TIMEOUT_MS = 10_000;

/** A plain SQL identifier: letters, digits, `_` and `$`, 1–64 characters (MySQL's limit). */
const IDENTIFIER = /^[A-Za-z0-9_$]{1,64}$/;

/** A database SOURCE, parsed. */
export type DatabaseSource =
  | {
      readonly kind: 'mysql-table';
      readonly uri: SqlUri;
      readonly table: string;
      readonly column: string;
      readonly tickr: TickrSettings | undefined;
      readonly label: string;
    }
  | { readonly kind: 'postgres-table'; readonly uri: SqlUri; readonly table: string; readonly column: string; readonly label: string }
  | { readonly kind: 'postgres-sequence'; readonly uri: SqlUri; readonly sequence: string; readonly label: string };

function checkIdentifier(value: string, parameter: string, label: string, qualified: boolean): string {
  const parts = qualified ? value.split('.') : [value];
  if (parts.length > 2 || !parts.every((part) => IDENTIFIER.test(part))) {
    throw new TakeoverSourceError(
      `${label}: ${parameter} must be a plain identifier (letters, digits, _ and $, at most 64 characters` +
        `${qualified ? '; schema.name allowed' : ''}), got ${JSON.stringify(value.slice(0, 80))}`,
    );
  }
  return value;
}

function parseTickrNumber(text: string | null, parameter: string, label: string, minimum: bigint): bigint | undefined {
  if (text === null) return undefined;
  if (!/^[0-9]{1,19}$/.test(text) || BigInt(text) < minimum || BigInt(text) > MAX_VALUE) {
    throw new TakeoverSourceError(`${label}: ${parameter} must be a decimal integer from ${minimum} to 2^63 - 1, got ${JSON.stringify(text.slice(0, 40))}`);
  }
  return BigInt(text);
}

/**
 * Parses `mysql://user:pass@host:port/DB?table=T[&column=C][&nodes=N&offset=O]`,
 * `postgres://…/DB?sequence=S` or `postgres://…/DB?table=T[&column=C]`.
 * Every other query parameter is refused, so a typo cannot silently change the floor.
 *
 * @throws TakeoverSourceError naming the source (without its password)
 */
export function parseDatabaseSource(source: string): DatabaseSource {
  let uri: SqlUri;
  try {
    uri = parseSqlUri(source);
  } catch (error) {
    throw new TakeoverSourceError(`SOURCE ${source.slice(0, source.indexOf(':'))}://…: ${(error as Error).message}`);
  }
  const params = uri.params;
  const shown = [...params.keys()].filter((key) => ['table', 'column', 'sequence', 'nodes', 'offset'].includes(key));
  const label = `${uri.description}${shown.length > 0 ? `?${shown.map((key) => `${key}=${params.get(key) ?? ''}`).join('&')}` : ''}`.slice(0, 400);
  const allowed = uri.scheme === 'mysql' ? ['table', 'column', 'nodes', 'offset'] : ['table', 'column', 'sequence'];
  for (const key of new Set(params.keys())) {
    if (!allowed.includes(key)) {
      throw new TakeoverSourceError(`${label}: unknown parameter ${JSON.stringify(key.slice(0, 40))}; expected ${allowed.join(', ')}`);
    }
    if (params.getAll(key).length > 1) throw new TakeoverSourceError(`${label}: parameter ${key} given twice`);
  }
  const table = params.get('table');
  const column = params.get('column');
  if (uri.scheme === 'mysql') {
    if (table === null) throw new TakeoverSourceError(`${label}: needs ?table=T (the ticket table)`);
    const nodes = parseTickrNumber(params.get('nodes'), 'nodes', label, 1n);
    const offset = parseTickrNumber(params.get('offset'), 'offset', label, 0n);
    if ((nodes === undefined) !== (offset === undefined)) {
      throw new TakeoverSourceError(`${label}: give both nodes (TICKR_MAX_NODES) and offset (TICKR_STARTING_OFFSET), or neither`);
    }
    return {
      kind: 'mysql-table',
      uri,
      table: checkIdentifier(table, 'table', label, false),
      column: checkIdentifier(column ?? 'id', 'column', label, false),
      tickr: nodes === undefined || offset === undefined ? undefined : { nodes, offset },
      label,
    };
  }
  const sequence = params.get('sequence');
  if ((sequence === null) === (table === null)) {
    throw new TakeoverSourceError(`${label}: needs exactly one of ?sequence=S or ?table=T`);
  }
  if (sequence !== null) {
    if (column !== null) throw new TakeoverSourceError(`${label}: column applies to ?table=T, not to a sequence`);
    return { kind: 'postgres-sequence', uri, sequence: checkIdentifier(sequence, 'sequence', label, true), label };
  }
  return {
    kind: 'postgres-table',
    uri,
    table: checkIdentifier(table as string, 'table', label, true),
    column: checkIdentifier(column ?? 'id', 'column', label, false),
    label,
  };
}

/** Parses what a database returned as an integer: NULL (an empty table) is 0, negatives count as 0. */
function integerResult(text: unknown, label: string, what: string): bigint {
  if (text === null || text === undefined) return 0n;
  if (typeof text !== 'string' && typeof text !== 'number' && typeof text !== 'bigint') {
    throw new TakeoverSourceError(`${label}: ${what} is not an integer`);
  }
  const value = String(text);
  if (!/^-?[0-9]{1,40}$/.test(value)) throw new TakeoverSourceError(`${label}: ${what} is not an integer (${value.slice(0, 40)})`);
  const parsed = BigInt(value);
  if (parsed > MAX_VALUE) throw new TakeoverSourceError(`${label}: ${what} ${parsed} is above 2^63 - 1`);
  return parsed < 0n ? 0n : parsed;
}

function failure(label: string, error: unknown): TakeoverSourceError {
  if (error instanceof TakeoverSourceError) return error;
  const code = (error as { code?: unknown }).code;
  // Driver messages name hosts and objects but never the password given in the URI.
  const message = (error as Error).message || String(error);
  return new TakeoverSourceError(`${label}: cannot read: ${message}${typeof code === 'string' && !message.includes(code) ? ` (${code})` : ''}`);
}

/**
 * Reads the floor of a MySQL/MariaDB ticket table: the larger of MAX(column)
 * and the next AUTO_INCREMENT − 1, through Tickr's arithmetic when
 * `nodes`/`offset` are given.
 */
async function readMysqlTable(source: Extract<DatabaseSource, { kind: 'mysql-table' }>): Promise<bigint> {
  const { default: mysql } = await import('mysql2/promise');
  const connection = await mysql.createConnection({
    host: source.uri.host,
    port: source.uri.port ?? 3306,
    user: source.uri.user,
    password: source.uri.password,
    database: source.uri.database,
    connectTimeout: DATABASE_SOURCE_TIMEOUT_MS,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  try {
    const query = async (sql: string, values: unknown[] = []): Promise<Array<Record<string, unknown>>> => {
      const [rows] = await connection.query({ sql, values, timeout: DATABASE_SOURCE_TIMEOUT_MS });
      return rows as Array<Record<string, unknown>>;
    };
    // MySQL 8 caches table statistics (AUTO_INCREMENT among them) for a day by default; MariaDB has no such
    // variable and answers SHOW TABLE STATUS from the engine directly.
    try {
      await query('SET SESSION information_schema_stats_expiry = 0');
    } catch (error) {
      if ((error as { errno?: unknown }).errno !== 1193) throw error;
    }
    // WHERE, not LIKE: `_` in a table name is a LIKE wildcard.
    const status = await query('SHOW TABLE STATUS WHERE Name = ?', [source.table]);
    if (status.length === 0) throw new TakeoverSourceError(`${source.label}: table ${source.table} does not exist in ${source.uri.database}`);
    const autoIncrement = integerResult(status[0]?.Auto_increment, source.label, 'AUTO_INCREMENT');
    let maximum: bigint;
    try {
      const rows = await query(`SELECT CAST(MAX(\`${source.column}\`) AS CHAR) AS maximum FROM \`${source.table}\``);
      maximum = integerResult(rows[0]?.maximum, source.label, `MAX(${source.column})`);
    } catch (error) {
      if ((error as { errno?: unknown }).errno === 1054) {
        throw new TakeoverSourceError(`${source.label}: table ${source.table} has no column ${source.column}`);
      }
      throw error;
    }
    const lastId = autoIncrement - 1n > maximum ? autoIncrement - 1n : maximum;
    const floor = source.tickr === undefined ? lastId : tickrFloor(lastId, source.tickr);
    if (floor > MAX_VALUE) throw new TakeoverSourceError(`${source.label}: floor ${floor} is above 2^63 - 1`);
    return floor;
  } finally {
    await connection.end().catch(() => connection.destroy());
  }
}

/** Reads a PostgreSQL sequence's position or a table's MAX(column). */
async function readPostgres(source: Extract<DatabaseSource, { kind: 'postgres-table' | 'postgres-sequence' }>): Promise<bigint> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({
    host: source.uri.host,
    ...(source.uri.port === undefined ? {} : { port: source.uri.port }),
    user: source.uri.user,
    password: source.uri.password,
    database: source.uri.database,
    connectionTimeoutMillis: DATABASE_SOURCE_TIMEOUT_MS,
    query_timeout: DATABASE_SOURCE_TIMEOUT_MS,
    statement_timeout: DATABASE_SOURCE_TIMEOUT_MS,
    application_name: 'ticket-server takeover',
  });
  // A connection dropped between queries emits 'error'; the pending query rejects on its own.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const wanted = source.kind === 'postgres-sequence' ? source.sequence : source.table;
    // The name as written (case-sensitive, as tools that quote their names create them), else as PostgreSQL
    // resolves an unquoted name (search_path, upper case folded). Parts are plain identifiers, so quoting is safe.
    const exact = wanted
      .split('.')
      .map((part) => `"${part}"`)
      .join('.');
    // format('%s', regclass) hands back a correctly quoted, qualified-if-needed name to put into SQL.
    const found = await client.query<{ oid: string; name: string; kind: string }>(
      `SELECT c.oid::int8 AS oid, format('%s', c.oid::regclass) AS name, c.relkind::text AS kind
         FROM pg_class c WHERE c.oid = COALESCE(to_regclass($1), to_regclass($2))`,
      [exact, wanted],
    );
    const relation = found.rows[0];
    if (source.kind === 'postgres-sequence') {
      if (relation?.kind !== 'S') {
        throw new TakeoverSourceError(`${source.label}: ${relation === undefined ? 'no' : 'not a'} sequence ${source.sequence} in ${source.uri.database}`);
      }
      const step = await client.query<{ increment: string }>('SELECT seqincrement::text AS increment FROM pg_sequence WHERE seqrelid = $1::oid', [relation.oid]);
      if (BigInt(step.rows[0]?.increment ?? '1') < 0n) {
        throw new TakeoverSourceError(`${source.label}: sequence ${source.sequence} counts down; takeover needs an increasing sequence`);
      }
      const rows = await client.query<{ last_value: string; is_called: boolean }>(
        `SELECT last_value::text AS last_value, is_called FROM ${relation.name}`,
      );
      const row = rows.rows[0];
      const last = integerResult(row?.last_value, source.label, 'last_value');
      // Not yet called (fresh, or setval(…, false)): nextval() will return last_value itself.
      return row?.is_called === true ? last : last > 0n ? last - 1n : 0n;
    }
    if (relation === undefined || !['r', 'p', 'v', 'm', 'f'].includes(relation.kind ?? '')) {
      throw new TakeoverSourceError(`${source.label}: no table ${source.table} in ${source.uri.database}`);
    }
    // Like the table: the column as written, else folded to lower case as an unquoted name would be.
    const column = await client.query<{ name: string }>(
      `SELECT quote_ident(attname) AS name FROM pg_attribute
        WHERE attrelid = $1::oid AND attname IN ($2::text, lower($2::text)) AND attnum > 0 AND NOT attisdropped
        ORDER BY attname = $2::text DESC LIMIT 1`,
      [relation.oid, source.column],
    );
    const quotedColumn = column.rows[0]?.name;
    if (quotedColumn === undefined) throw new TakeoverSourceError(`${source.label}: table ${source.table} has no column ${source.column}`);
    const rows = await client.query<{ maximum: string | null }>(`SELECT MAX(${quotedColumn})::text AS maximum FROM ${relation.name}`);
    return integerResult(rows.rows[0]?.maximum, source.label, `MAX(${source.column})`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Reads a database SOURCE's floor.
 * @throws TakeoverSourceError naming the source when it cannot be reached or read
 */
export async function readDatabaseSource(source: DatabaseSource): Promise<bigint> {
  try {
    return source.kind === 'mysql-table' ? await readMysqlTable(source) : await readPostgres(source);
  } catch (error) {
    throw failure(source.label, error);
  }
}
