/**
 * One process per data directory. LMDB itself lets many processes share an
 * environment, but two ticket-servers on one directory would both believe
 * they own every lease — so the embedded store takes this lock first.
 *
 * On Linux the lock is a listening socket in the abstract namespace, named
 * after the directory's device and inode: the kernel frees it the moment the
 * holder dies (even by SIGKILL), so there is no stale lock to clean up and no
 * race between two starting processes. Elsewhere a pid file created with
 * O_EXCL stands in, taken over only when its process is gone.
 */
import { createServer, type Server } from 'node:net';
import { open, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreLockedError } from './store.js';

/** Name of the informational pid file inside the data directory. */
export const PID_FILE = 'ticket-server.pid';

/** A held lock; `release` is idempotent. */
export interface DirectoryLock {
  release(): Promise<void>;
}

async function holderPid(dir: string): Promise<string> {
  try {
    const text = (await readFile(join(dir, PID_FILE), 'utf8')).trim();
    return /^\d{1,10}$/.test(text) ? ` (pid ${text})` : '';
  } catch {
    return '';
  }
}

function lockedMessage(dir: string, pid: string): string {
  return (
    `data directory ${dir} is in use by another ticket-server process${pid}. ` +
    'Only one process may use an embedded (lmdb:) store: stop the other process, or give this one its own --data directory.'
  );
}

function listenAbstract(name: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen({ path: name, exclusive: true }, () => {
      server.off('error', reject);
      server.unref();
      resolve(server);
    });
  });
}

async function lockWithAbstractSocket(dir: string): Promise<DirectoryLock> {
  const info = await stat(dir, { bigint: true });
  const name = `\0ticket-server-lock/${info.dev}/${info.ino}`;
  let server: Server;
  try {
    server = await listenAbstract(name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new StoreLockedError(lockedMessage(dir, await holderPid(dir)));
    }
    throw error;
  }
  await writeFile(join(dir, PID_FILE), `${process.pid}\n`);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await rm(join(dir, PID_FILE), { force: true });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function lockWithPidFile(dir: string): Promise<DirectoryLock> {
  const path = join(dir, PID_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.sync();
      await handle.close();
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          await rm(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(pid) && pid !== process.pid && processAlive(pid)) {
        throw new StoreLockedError(lockedMessage(dir, ` (pid ${pid})`));
      }
      await rm(path, { force: true }); // stale: its process is gone
    }
  }
  throw new StoreLockedError(lockedMessage(dir, ''));
}

/**
 * Takes the directory's lock.
 * @throws StoreLockedError when another live process holds it.
 */
export async function lockDirectory(directory: string): Promise<DirectoryLock> {
  const dir = await realpath(directory);
  return process.platform === 'linux' ? lockWithAbstractSocket(dir) : lockWithPidFile(dir);
}
