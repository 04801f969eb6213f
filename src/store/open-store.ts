/**
 * Turns a `--store` URI (SPEC §5) into a Store. Back ends load lazily, so a
 * server on the embedded store never loads a database driver it does not use.
 */
import type { Store } from './store.js';

/** A store URI that cannot be used, with a message naming what is wrong. */
export class StoreUriError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreUriError';
  }
}

/**
 * Checks a store URI without opening anything.
 * @throws StoreUriError for an unknown scheme, an empty lmdb directory, or a
 *   shared store this version does not ship yet.
 */
export function validateStoreUri(uri: string): void {
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
    case 'etcd:':
      throw new StoreUriError(
        `${scheme} stores are not available in this version yet; use lmdb:DIR (the default) or memory:`,
      );
    default:
      throw new StoreUriError(`unknown store "${uri.split(':')[0] ?? ''}"; expected lmdb:DIR or memory:`);
  }
}

/**
 * Creates (but does not open) the store a URI names.
 * @param options `mustExist`: the store must already hold data (read-only commands such as `dump`)
 * @throws StoreUriError
 */
export async function createStore(uri: string, options: { mustExist?: boolean } = {}): Promise<Store> {
  validateStoreUri(uri);
  if (uri === 'memory:') {
    const { MemoryStore } = await import('./memory-store.js');
    return new MemoryStore();
  }
  const { LmdbStore } = await import('./lmdb-store.js');
  return new LmdbStore(uri.slice('lmdb:'.length), options);
}
