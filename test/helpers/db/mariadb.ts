/** A throwaway MariaDB server for the tests (see common.ts for the shared machinery). */
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { type DbServer, DB_USER, DB_PASSWORD, DB_NAME, INIT_TIMEOUT_MS, MARIADB_READY_TIMEOUT_MS, PROBE_TIMEOUT_MS, isRoot, findMariadb, requireAvailable, makeServerDir, removeServerDir, noop, wrap, runLogged, ManagedProcess, registerProcessServer, startOnFreePorts } from './common.js';

// ---------------------------------------------------------------------------
// MariaDB
// ---------------------------------------------------------------------------

export async function withMysql<T>(options: mysql.ConnectionOptions, use: (connection: mysql.Connection) => Promise<T>): Promise<T> {
  const connection = await mysql.createConnection({ ...options, connectTimeout: PROBE_TIMEOUT_MS });
  connection.on('error', noop);
  try {
    return await use(connection);
  } finally {
    await connection.end().catch(noop);
  }
}

/** Options of `startMariadb`. */
export interface MariadbOptions {
  /**
   * Serve TLS with this PEM certificate and key, and add a user `ticket_tls`
   * (same password as `ticket`) that must connect over TLS (`REQUIRE SSL`).
   */
  readonly tls?: { readonly cert: string; readonly key: string };
}

/** The user of a TLS MariaDB that may only connect over TLS. */
export const TLS_DB_USER = 'ticket_tls';

/**
 * Starts a MariaDB server: `mariadb-install-db` (root without password on
 * the socket), `mariadbd` on 127.0.0.1:PORT, then a database `tickets` and a
 * user `ticket` (at `%` and `127.0.0.1`) with all privileges on it.
 */
export async function startMariadb(options: MariadbOptions = {}): Promise<DbServer> {
  requireAvailable('mariadb');
  const binaries = findMariadb();
  if (binaries === undefined) throw new Error('mariadb binaries disappeared');
  const dir = await makeServerDir('mariadb');
  const dataDir = join(dir, 'data');
  const socket = join(dir, 'sock');
  const logFile = join(dir, 'server.log');
  const userArgs = isRoot ? ['--user=root'] : [];
  // Given to install-db too, which passes them to its bootstrap mariadbd.
  const commonArgs = [
    '--skip-log-bin',
    '--innodb-buffer-pool-size=64M',
    '--innodb-log-file-size=16M',
    '--character-set-server=utf8mb4',
  ];
  let port = 0;

  const proc = new ManagedProcess({
    get name() {
      return `mariadbd on 127.0.0.1:${port}`;
    },
    logFile,
    cwd: dir,
    command: () =>
      wrap({
        file: binaries.server,
        args: [
          '--no-defaults',
          `--datadir=${dataDir}`,
          `--socket=${socket}`,
          `--port=${port}`,
          '--bind-address=127.0.0.1',
          '--skip-name-resolve',
          `--pid-file=${join(dir, 'mariadbd.pid')}`,
          `--tmpdir=${dir}`,
          ...userArgs,
          ...commonArgs,
          '--max-connections=300',
          ...(options.tls ? [`--ssl-cert=${options.tls.cert}`, `--ssl-key=${options.tls.key}`] : []),
        ],
      }),
    stopSignal: 'SIGTERM',
    killChildren: false,
    readyTimeoutMs: MARIADB_READY_TIMEOUT_MS,
    probe: () =>
      withMysql({ socketPath: socket, user: 'root' }, async (connection) => {
        await connection.query('SELECT 1');
      }),
  });

  try {
    await runLogged(
      wrap({
        file: binaries.installDb,
        args: [
          '--no-defaults',
          `--datadir=${dataDir}`,
          '--auth-root-authentication-method=normal',
          '--skip-test-db',
          '--skip-name-resolve',
          // Its own temp dir, as the server's: the bootstrap's temporary tables in the shared /tmp were
          // once deleted under it in CI ("Error on delete of '/tmp/#sql-temptable-…'", install aborted).
          `--tmpdir=${dir}`,
          ...userArgs,
          ...commonArgs,
        ],
      }),
      logFile,
      dir,
      INIT_TIMEOUT_MS,
    );
    await startOnFreePorts(proc, logFile, 1, ([p]) => {
      port = p ?? 0;
    });
    await withMysql({ socketPath: socket, user: 'root' }, async (connection) => {
      await connection.query(`CREATE DATABASE IF NOT EXISTS ${DB_NAME}`);
      for (const host of ['%', '127.0.0.1']) {
        await connection.query(`CREATE USER IF NOT EXISTS '${DB_USER}'@'${host}' IDENTIFIED BY '${DB_PASSWORD}'`);
        await connection.query(`GRANT ALL PRIVILEGES ON ${DB_NAME}.* TO '${DB_USER}'@'${host}'`);
        if (options.tls) {
          await connection.query(`CREATE USER IF NOT EXISTS '${TLS_DB_USER}'@'${host}' IDENTIFIED BY '${DB_PASSWORD}' REQUIRE SSL`);
          await connection.query(`GRANT ALL PRIVILEGES ON ${DB_NAME}.* TO '${TLS_DB_USER}'@'${host}'`);
        }
      }
    });
    await withMysql({ host: '127.0.0.1', port, user: DB_USER, password: DB_PASSWORD, database: DB_NAME }, async (connection) => {
      await connection.query('SELECT 1');
    });
  } catch (error) {
    await proc.kill().catch(noop);
    await removeServerDir(dir);
    throw error;
  }

  return registerProcessServer('mariadb', `mysql://${DB_USER}:${DB_PASSWORD}@127.0.0.1:${port}/${DB_NAME}`, dir, proc);
}
