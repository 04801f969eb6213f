/**
 * Turns a `--store` URI (SPEC §5) into a Store. Back ends load lazily, so a
 * server on the embedded store never loads a database driver it does not use.
 */
import type { Store, StoreOptions } from './store.js';
import { MAX_STORE_URI_LENGTH, StoreUriError, parseEtcdUri, parseSqlUri } from './store-uri.js';

export { StoreUriError } from './store-uri.js';
export type { StoreOptions } from './store.js';

const SHARED_SCHEMES = ['postgres:', 'postgresql:', 'mysql:', 'etcd:'];

/**
 * Checks a store URI without opening anything.
 * @throws StoreUriError for an unknown scheme, an empty lmdb directory, or a malformed shared-store URI
 */
export function validateStoreUri(uri: string): void {
  if (uri.length > MAX_STORE_URI_LENGTH) throw new StoreUriError(`store URI is longer than ${MAX_STORE_URI_LENGTH} characters`);
  const scheme = uri.slice(0, uri.indexOf(':') + 1);
  switch (scheme) {
    case 'memory:':
      if (uri !== 'memory:') throw new StoreUriError('memory: takes no path');
      return;
    case 'lmdb:':
      if (uri.length === 'lmdb:'.length) throw new StoreUriError('lmdb: needs a directory, as in lmdb:./data');
      return;
    case 'postgres:':
    case 'postgresql:':
    case 'mysql:':
      parseSqlUri(uri);
      return;
    case 'etcd:':
      parseEtcdUri(uri);
      return;
    default:
      throw new StoreUriError(
        `unknown store "${(uri.split(':')[0] ?? '').slice(0, 40)}"; expected lmdb:DIR, postgres://…, mysql://…, etcd://… or memory:`,
      );
  }
}

/** True for stores that several servers may share (SPEC §5.1). */
export function isSharedStoreUri(uri: string): boolean {
  return SHARED_SCHEMES.some((scheme) => uri.startsWith(scheme));
}

/**
 * Creates (but does not open) the store a URI names.
 * @throws StoreUriError
 */
export async function createStore(uri: string, options: StoreOptions = {}): Promise<Store> {
  validateStoreUri(uri);
  if (uri === 'memory:') {
    const { MemoryStore } = await import('./memory-store.js');
    return new MemoryStore();
  }
  if (uri.startsWith('postgres:') || uri.startsWith('postgresql:')) {
    const { createPostgresStore } = await import('./sql-postgres.js');
    return createPostgresStore(parseSqlUri(uri), options);
  }
  if (uri.startsWith('mysql:')) {
    const { createMysqlStore } = await import('./sql-mysql.js');
    return createMysqlStore(parseSqlUri(uri), options);
  }
  if (uri.startsWith('etcd:')) {
    const { EtcdStore } = await import('./etcd-store.js');
    return new EtcdStore(parseEtcdUri(uri), options);
  }
  const { LmdbStore } = await import('./lmdb-store.js');
  return new LmdbStore(uri.slice('lmdb:'.length), options);
}
