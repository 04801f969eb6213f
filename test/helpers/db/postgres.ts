/** A throwaway PostgreSQL server for the tests (see common.ts for the shared machinery). */
import { chmod, chown, copyFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type DbServer, DB_USER, DB_PASSWORD, DB_NAME, INIT_TIMEOUT_MS, POSTGRES_READY_TIMEOUT_MS, PROBE_TIMEOUT_MS, isRoot, findPostgres, postgresRunAs, requireAvailable, makeServerDir, removeServerDir, noop, wrap, runLogged, ManagedProcess, registerProcessServer, startOnFreePorts } from './common.js';

// ---------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------

export async function withPgClient<T>(config: pg.ClientConfig, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...config, ssl: false, connectionTimeoutMillis: PROBE_TIMEOUT_MS, query_timeout: 10_000 });
  client.on('error', noop);
  try {
    await client.connect();
    return await use(client);
  } finally {
    await client.end().catch(noop);
  }
}

/**
 * Starts a PostgreSQL server: `initdb` (superuser `postgres`, password auth
 * over TCP), `postgres -h 127.0.0.1 -p PORT`, then a login role `ticket`
 * owning the database `tickets`. With `tls` (PEM certificate and key files)
 * it also serves TLS (`ssl=on`); plain connections stay allowed.
 */
export async function startPostgres(options: { tls?: { readonly cert: string; readonly key: string } } = {}): Promise<DbServer> {
  requireAvailable('postgres');
  const binaries = findPostgres();
  if (binaries === undefined) throw new Error('postgres binaries disappeared');
  const runAs = isRoot ? postgresRunAs : undefined;
  const dir = await makeServerDir('postgres');
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const adminPassword = randomBytes(12).toString('hex');
  let port = 0;

  const proc = new ManagedProcess({
    get name() {
      return `postgres on 127.0.0.1:${port}`;
    },
    logFile,
    cwd: dir,
    command: () =>
      wrap(
        {
          file: binaries.postgres,
          args: [
            '-D', dataDir,
            '-k', dir,
            '-h', '127.0.0.1',
            '-p', String(port),
            '-c', 'fsync=on',
            '-c', 'synchronous_commit=on',
            '-c', 'max_connections=200',
            '-c', 'shared_buffers=32MB',
            '-c', 'max_wal_size=256MB',
            ...(options.tls ? ['-c', 'ssl=on', '-c', `ssl_cert_file=${join(dir, 'server.crt')}`, '-c', `ssl_key_file=${join(dir, 'server.key')}`] : []),
          ],
        },
        runAs,
      ),
    // SIGTERM is a "smart" shutdown that waits for every client to disconnect; SIGINT ("fast") ends the sessions and checkpoints.
    stopSignal: 'SIGINT',
    killChildren: true,
    readyTimeoutMs: POSTGRES_READY_TIMEOUT_MS,
    probe: () =>
      withPgClient({ host: '127.0.0.1', port, user: 'postgres', password: adminPassword, database: 'postgres' }, async (client) => {
        await client.query('SELECT 1');
      }),
  });

  try {
    if (runAs !== undefined) await chown(dir, runAs.ids.uid, runAs.ids.gid);
    if (options.tls) {
      // postgres refuses a key file others can read, or one it does not own.
      for (const [from, to] of [[options.tls.cert, 'server.crt'], [options.tls.key, 'server.key']] as const) {
        await copyFile(from, join(dir, to));
        await chmod(join(dir, to), 0o600);
        if (runAs !== undefined) await chown(join(dir, to), runAs.ids.uid, runAs.ids.gid);
      }
    }
    const pwFile = join(dir, 'pwfile');
    await writeFile(pwFile, `${adminPassword}\n`, { mode: 0o600 });
    if (runAs !== undefined) await chown(pwFile, runAs.ids.uid, runAs.ids.gid);
    await runLogged(
      wrap(
        {
          file: binaries.initdb,
          args: [
            '-D', dataDir,
            '-U', 'postgres',
            `--pwfile=${pwFile}`,
            '--auth-local=trust',
            '--auth-host=scram-sha-256',
            '--encoding=UTF8',
            '--locale=C',
            // a throwaway cluster: skip initdb's own fsyncs (the server itself runs with fsync=on)
            '--no-sync',
          ],
        },
        runAs,
      ),
      logFile,
      dir,
      INIT_TIMEOUT_MS,
    );
    await rm(pwFile, { force: true });

    await startOnFreePorts(proc, logFile, 1, ([p]) => {
      port = p ?? 0;
    });
    await withPgClient({ host: '127.0.0.1', port, user: 'postgres', password: adminPassword, database: 'postgres' }, async (client) => {
      await client.query(`CREATE ROLE ${DB_USER} LOGIN PASSWORD '${DB_PASSWORD}'`);
      await client.query(`CREATE DATABASE ${DB_NAME} OWNER ${DB_USER}`);
    });
    await withPgClient({ host: '127.0.0.1', port, user: DB_USER, password: DB_PASSWORD, database: DB_NAME }, async (client) => {
      await client.query('SELECT 1');
    });
  } catch (error) {
    await proc.kill().catch(noop);
    await removeServerDir(dir);
    throw error;
  }

  return registerProcessServer('postgres', `postgres://${DB_USER}:${DB_PASSWORD}@127.0.0.1:${port}/${DB_NAME}`, dir, proc);
}
