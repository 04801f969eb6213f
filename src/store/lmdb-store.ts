/**
 * `lmdb:DIR` — the embedded store. One LMDB environment per data directory,
 * held by one process (see directory-lock.ts).
 *
 * Durability: `overlappingSync` is turned off so that a transaction's promise
 * resolves only after LMDB's commit has fsynced; a lease is handed out only
 * then. Concurrent reservations made in one event turn are grouped by lmdb-js
 * into a single transaction, so one fsync pays for all of them.
 */
import { access, mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { Numbering } from '../core/numbering.js';
import { lockDirectory, type DirectoryLock } from './directory-lock.js';
import {
  NumberingMismatchError,
  StoreMissingError,
  decodeNumbering,
  encodeNumbering,
  sameNumbering,
  type Lease,
  type Store,
  type StoreHealth,
  type StoredSequence,
  type StoredSettings,
  type KeptSlots,
  checkSettingsLength,
} from './store.js';
import { StoreOpenError } from './shared-store.js';
import { formatKeptRanges, keepInBook, parseKeptRanges, reserveFromBook } from './unissued.js';

const NUMBERING_KEY = 'numbering';

/**
 * The embedded LMDB store. Layout: sub-databases `sequences` (name → next slot, decimal text),
 * `kept` (name → unissued ranges below it, `start-end,…`; see unissued.ts), `settings`
 * (name → settings JSON) and `meta`.
 */
export class LmdbStore implements Store {
  readonly kind = 'lmdb';
  readonly durable = true;
  readonly shared = false;
  readonly description: string;
  private readonly directory: string;
  private root: RootDatabase | undefined;
  private sequences: Database<string, string> | undefined;
  private meta: Database<string, string> | undefined;
  private settings: Database<string, string> | undefined;
  private kept: Database<string, string> | undefined;
  private lock: DirectoryLock | undefined;

  private readonly mustExist: boolean;

  /**
   * @param directory data directory (created on open unless `mustExist`)
   * @param options `mustExist`: refuse to open a directory that holds no store
   *   (for commands that only read, such as `dump`), instead of creating one
   */
  constructor(directory: string, options: { mustExist?: boolean } = {}) {
    this.directory = resolve(directory);
    this.description = `lmdb:${this.directory}`;
    this.mustExist = options.mustExist ?? false;
  }

  async open(): Promise<void> {
    if (this.mustExist) {
      try {
        await access(join(this.directory, 'data.mdb'));
      } catch {
        throw new StoreMissingError(`no ticket-server data in ${this.directory} (no data.mdb); check --data or --store`);
      }
    }
    try {
      await makeDirectory(this.directory);
    } catch (error) {
      throw new StoreOpenError(this.description, new Error(`cannot create the data directory: ${(error as Error).message}`));
    }
    this.lock = await lockDirectory(this.directory);
    try {
      this.root = open({
        path: this.directory,
        // The path is always a directory, even when its name has a dot (lmdb-js guesses otherwise).
        noSubdir: false,
        maxDbs: 8,
        overlappingSync: false,
        noSync: false,
        compression: false,
      });
      this.sequences = this.root.openDB<string, string>({ name: 'sequences', encoding: 'string' });
      this.meta = this.root.openDB<string, string>({ name: 'meta', encoding: 'string' });
      this.settings = this.root.openDB<string, string>({ name: 'settings', encoding: 'string' });
      this.kept = this.root.openDB<string, string>({ name: 'kept', encoding: 'string' });
    } catch (error) {
      await this.lock.release();
      this.lock = undefined;
      throw error;
    }
  }

  private databases(): { root: RootDatabase; sequences: Database<string, string>; meta: Database<string, string>; kept: Database<string, string> } {
    if (!this.root || !this.sequences || !this.meta || !this.kept) throw new Error('lmdb store is not open');
    return { root: this.root, sequences: this.sequences, meta: this.meta, kept: this.kept };
  }

  async fence(numbering: Numbering): Promise<void> {
    const { root, meta } = this.databases();
    const recorded = await root.transaction(() => {
      const text = meta.get(NUMBERING_KEY);
      if (text !== undefined) return decodeNumbering(text);
      void meta.put(NUMBERING_KEY, encodeNumbering(numbering));
      return undefined;
    });
    if (recorded && !sameNumbering(recorded, numbering)) {
      throw new NumberingMismatchError(recorded, numbering, `data directory ${this.directory}`);
    }
  }

  async reserve(name: string, count: bigint, atLeast?: bigint): Promise<Lease> {
    const { root, sequences, kept } = this.databases();
    return root.transaction(() => {
      const text = sequences.get(name);
      const keptText = kept.get(name);
      const { lease, book } = reserveFromBook(text === undefined ? undefined : BigInt(text), parseKeptRanges(keptText), count, atLeast);
      const next = book.counter.toString();
      if (next !== text) void sequences.put(name, next);
      writeKept(kept, name, keptText, formatKeptRanges(book.kept));
      return lease;
    });
  }

  async release(name: string, from: bigint, end: bigint): Promise<boolean> {
    const { root, sequences } = this.databases();
    if (from > end) return false;
    return root.transaction(() => {
      if (sequences.get(name) !== end.toString()) return false;
      void sequences.put(name, from.toString());
      return true;
    });
  }

  /** Kept slots (`--workers` at a graceful stop); see unissued.ts. */
  readonly unissued: KeptSlots = {
    keep: async (name, from, end) => {
      const { root, sequences, kept } = this.databases();
      return root.transaction(() => {
        const text = sequences.get(name);
        const keptText = kept.get(name);
        const book = keepInBook(text === undefined ? undefined : BigInt(text), parseKeptRanges(keptText), from, end);
        if (book === undefined) return false;
        void sequences.put(name, book.counter.toString());
        writeKept(kept, name, keptText, formatKeptRanges(book.kept));
        return true;
      });
    },
    drop: async (name) => {
      const { root, kept } = this.databases();
      await root.transaction(() => {
        if (kept.get(name) !== undefined) void kept.remove(name);
      });
    },
  };

  async has(name: string): Promise<boolean> {
    return this.databases().sequences.get(name) !== undefined;
  }

  async *list(): AsyncIterable<StoredSequence> {
    const { sequences } = this.databases();
    for (const { key, value } of sequences.getRange()) {
      yield { name: key, next: BigInt(value) };
    }
  }

  private settingsDatabase(): Database<string, string> {
    if (!this.settings) throw new Error('lmdb store is not open');
    return this.settings;
  }

  async readSettings(name: string): Promise<string | undefined> {
    return this.settingsDatabase().get(name);
  }

  async writeSettings(name: string, settings: string | undefined): Promise<void> {
    checkSettingsLength(settings);
    const database = this.settingsDatabase();
    // Resolves after the commit has synced (overlappingSync is off), as a reservation does.
    if (settings === undefined) await database.remove(name);
    else await database.put(name, settings);
  }

  async *listSettings(): AsyncIterable<StoredSettings> {
    for (const { key, value } of this.settingsDatabase().getRange()) yield { name: key, settings: value };
  }

  async health(): Promise<StoreHealth> {
    try {
      const { root } = this.databases();
      const stats = root.getStats() as { entryCount?: number };
      return { ok: true, detail: `${this.directory} (${stats.entryCount ?? 0} root entries)` };
    } catch (error) {
      return { ok: false, detail: error instanceof Error ? error.message : 'unknown error' };
    }
  }

  async close(): Promise<void> {
    const root = this.root;
    this.root = this.sequences = this.meta = this.settings = this.kept = undefined;
    if (root) await root.close();
    if (this.lock) {
      await this.lock.release();
      this.lock = undefined;
    }
  }
}

/** Most directory levels `makeDirectory` creates (a bound, not a limit anyone meets). */
const MAX_DIRECTORY_DEPTH = 64;

/**
 * Creates `directory` and missing parents, like `mkdir -p`, but fails where
 * a directory cannot be made. Node 20's `mkdir(…, { recursive: true })` never
 * returns under /proc (`--data /proc/x`: ENOENT though the parent exists, and
 * it tries again for ever), so the parents are walked here, each level once.
 * @throws the file-system error of the level that cannot be made
 */
export async function makeDirectory(directory: string, depth = 0): Promise<void> {
  try {
    await mkdir(directory);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (!(await stat(directory)).isDirectory()) throw new Error(`${directory} exists and is not a directory`, { cause: error });
      return;
    }
    const parent = dirname(directory);
    if (code !== 'ENOENT' || parent === directory || depth >= MAX_DIRECTORY_DEPTH) throw error;
  }
  // A missing parent: make it, then this level, once (ENOENT again means it cannot be made here).
  await makeDirectory(dirname(directory), depth + 1);
  try {
    await mkdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

/** Writes a sequence's kept ranges inside the caller's transaction, when they changed (removed when none are left). */
function writeKept(kept: Database<string, string>, name: string, before: string | undefined, after: string | undefined): void {
  if (after === before) return;
  if (after === undefined) void kept.remove(name);
  else void kept.put(name, after);
}
