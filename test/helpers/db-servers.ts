/**
 * Throwaway REAL database servers for the store tests: PostgreSQL, MariaDB
 * and etcd (one node or a three-node cluster), each in its own temporary
 * directory, listening on free loopback ports (127.0.0.1 only).
 *
 * This is the file tests (and bench/) import; the machinery is in
 * db/common.ts, with one file per database beside it.
 *
 * Every server is kept in a registry until it is destroyed, so a test file's
 * `afterAll(destroyAllDbServers)` cleans up even after a failed assertion. As
 * a last resort an `exit` hook (and SIGTERM/SIGINT/SIGHUP hooks: vitest ends
 * its fork workers with SIGTERM, which skips `exit` hooks) SIGKILLs every
 * child still running and removes the directories, and every server is
 * spawned through `setpriv --pdeathsig SIGKILL`, so even a SIGKILLed worker
 * leaves no database running (its directories stay in the temp dir then).
 *
 * Each server writes its stdout and stderr (and the output of `initdb` /
 * `mariadb-install-db`) to `server.log` in its temporary directory; a failed
 * start throws an Error that ends with the last 40 lines of that log.
 *
 * Running as root (as the tests do in CI): PostgreSQL refuses to run as root,
 * so `initdb` and `postgres` run as the system user `postgres` through
 * `setpriv` (which execs, so the child we track IS the postmaster); MariaDB
 * runs as root with `--user=root`; etcd does not care.
 */
import { withMysql } from './db/mariadb.js';
import { withPgClient, startPostgres } from './db/postgres.js';
import { startMariadb } from './db/mariadb.js';
import { startEtcd } from './db/etcd.js';
import type { DbKind, DbServer } from './db/common.js';

export {
  type DbKind,
  type DbServer,
  type EtcdCluster,
  missingBinary,
  dbAvailable,
  freePorts,
  destroyAllDbServers,
  dbServerPids,
  killAllDbServersSync,
  dbServerVersion,
} from './db/common.js';
export { startPostgres, startMariadb, startEtcd };

// ---------------------------------------------------------------------------
// What the store tests share
// ---------------------------------------------------------------------------

/** One kind of shared store the tests run against, and how to start it. */
export interface DbBackend {
  /** For test names. */
  readonly label: string;
  readonly kind: DbKind;
  readonly start: () => Promise<DbServer>;
}

export const DB_BACKENDS: readonly DbBackend[] = [
  { label: 'postgres', kind: 'postgres', start: startPostgres },
  { label: 'mysql (MariaDB)', kind: 'mariadb', start: startMariadb },
  { label: 'etcd', kind: 'etcd', start: () => startEtcd() },
];

/** The tables a ticket-server creates in a SQL store (docs/stores.md). */
const STORE_TABLES = 'ticket_server_sequences, ticket_server_meta, ticket_server_settings';
let storePrefixes = 0;

/**
 * A store URI over empty data on a running server: ticket-server's tables
 * dropped (PostgreSQL, MariaDB), or a key prefix nobody used yet (etcd).
 */
export async function emptyStoreUri(server: DbServer): Promise<string> {
  if (server.kind === 'etcd') return `${server.uri}/t${process.pid}x${++storePrefixes}`;
  if (server.kind === 'postgres') {
    await withPgClient({ connectionString: server.uri }, (client) => client.query(`DROP TABLE IF EXISTS ${STORE_TABLES}`));
  } else {
    await withMysql({ uri: server.uri }, (connection) => connection.query(`DROP TABLE IF EXISTS ${STORE_TABLES}`));
  }
  return server.uri;
}
