/**
 * `ticket-server takeover SOURCE…` (docs/takeover.md): read what every
 * earlier system may have issued, then raise each sequence above it with the
 * one floor operation stores have, `reserve(name, 0, slotAbove(floor))`.
 * Every source is read before anything is written, so a bad source changes nothing.
 */
import { readFile, stat } from 'node:fs/promises';
import { ConfigError } from '../config/options.js';
import { DEFAULT_SEQUENCE, validateSequenceName } from '../core/names.js';
import type { SlotMap } from '../core/numbering.js';
import { FIRST_SLOT, type Store } from '../store/store.js';
import { parseDatabaseSource, readDatabaseSource } from './database-sources.js';
import {
  MAX_SOURCE_FILE_BYTES,
  TICKETD_FLOOR,
  TakeoverSourceError,
  classifySource,
  mergeFloors,
  parseSequencesJson,
  parseTxnidProgress,
  sequencesJsonFloors,
  txnidFloor,
  type TakeoverFloor,
} from './sources.js';

/** Most SOURCE arguments in one run (a bound on input). */
export const MAX_SOURCES = 1000;

async function readSourceFile(file: string, label: string): Promise<string> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new TakeoverSourceError(`${label}: not a regular file`);
    if (info.size > MAX_SOURCE_FILE_BYTES) throw new TakeoverSourceError(`${label}: larger than ${MAX_SOURCE_FILE_BYTES} bytes`);
    const buffer = await readFile(file);
    if (buffer.length > MAX_SOURCE_FILE_BYTES) throw new TakeoverSourceError(`${label}: larger than ${MAX_SOURCE_FILE_BYTES} bytes`);
    return new TextDecoder('utf-8', { fatal: true }).decode(buffer);
  } catch (error) {
    if (error instanceof TakeoverSourceError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new TakeoverSourceError(`${label}: cannot read: ${why}`);
  }
}

/**
 * Reads one SOURCE into floors. `sequence` is the `--sequence` target; a
 * `sequences.json` without it sets every entry, with it only that entry.
 *
 * @throws TakeoverSourceError naming the source
 */
export async function readSource(source: string, sequence: string | undefined): Promise<TakeoverFloor[]> {
  const spec = classifySource(source);
  const target = sequence ?? DEFAULT_SEQUENCE;
  switch (spec.kind) {
    case 'value':
      return [{ name: target, floor: spec.floor, source: spec.label }];
    case 'ticketd':
      return [{ name: target, floor: TICKETD_FLOOR, source: spec.label }];
    case 'sequences-json': {
      const entries = parseSequencesJson(await readSourceFile(spec.file, spec.label), spec.label);
      return sequencesJsonFloors(entries, spec.label, sequence);
    }
    case 'txnid': {
      const progress = parseTxnidProgress(await readSourceFile(spec.file, spec.label), spec.label);
      return [{ name: target, floor: txnidFloor(progress), source: spec.label }];
    }
    case 'database': {
      const database = parseDatabaseSource(spec.uri);
      return [{ name: target, floor: await readDatabaseSource(database), source: database.label }];
    }
  }
}

/**
 * Reads every SOURCE (one after the other: each may open a connection) and
 * keeps, per sequence, the highest floor.
 *
 * @throws TakeoverSourceError for the first source that cannot be read
 */
export async function readSources(sources: readonly string[], sequence: string | undefined): Promise<TakeoverFloor[]> {
  if (sources.length === 0) throw new TakeoverSourceError('takeover needs at least one SOURCE (see --help)');
  if (sources.length > MAX_SOURCES) throw new TakeoverSourceError(`takeover takes at most ${MAX_SOURCES} SOURCEs`);
  const floors: TakeoverFloor[] = [];
  for (const source of sources) floors.push(...(await readSource(source, sequence)));
  return mergeFloors(floors);
}

/** What takeover did to one sequence. */
export interface TakeoverResult {
  readonly name: string;
  readonly floor: bigint;
  /** True exactly when the stored counter moved because of this run. */
  readonly raised: boolean;
}

/**
 * Checks that every floor leaves at least one value for this numbering, so a
 * takeover never leaves a sequence exhausted by accident.
 *
 * @throws TakeoverSourceError naming the sequence and the source
 */
export function checkFloorsFit(floors: readonly TakeoverFloor[], map: SlotMap): void {
  for (const { name, floor, source } of floors) {
    if (map.slotAbove(floor) > map.maxSlot) {
      throw new TakeoverSourceError(
        `${source}: floor ${floor} for ${JSON.stringify(name)} leaves no value at or below 2^63 - 1 for this numbering`,
      );
    }
  }
}

/**
 * Raises every sequence above its floor, one atomic reservation each (never
 * lowers). The counters are read first so that a sequence already at or
 * beyond its floor reports `raised: false`; on a shared store another server
 * may move a counter meanwhile, which only ever makes a reported raise
 * conservative, never wrong about safety.
 * @param onApplied told after each sequence is done (progress); default nothing
 */
export async function applyFloors(
  store: Store,
  map: SlotMap,
  floors: readonly TakeoverFloor[],
  onApplied: () => void = () => undefined,
): Promise<TakeoverResult[]> {
  const before = new Map<string, bigint>();
  const wanted = new Set(floors.map(({ name }) => name));
  for await (const { name, next } of store.list()) {
    if (wanted.has(name)) before.set(name, next);
  }
  const results: TakeoverResult[] = [];
  for (const { name, floor } of floors) {
    const target = map.slotAbove(floor);
    const lease = await store.reserve(name, 0n, target);
    // The lease starts at max(stored, target): it equals target only if the counter was moved up to it.
    const raised = (before.get(name) ?? FIRST_SLOT) < target && lease.start === target;
    results.push({ name, floor, raised });
    onApplied();
  }
  return results;
}

/** The line printed for one sequence: `NAME: FLOOR (raised)` or `NAME: FLOOR (unchanged)`. */
export function formatResult(result: TakeoverResult): string {
  return `${result.name}: ${result.floor} (${result.raised ? 'raised' : 'unchanged'})`;
}

/**
 * Takes `--sequence NAME` / `--sequence=NAME` out of takeover's arguments: it
 * is takeover's own option, not a server option, so the shared option parser never sees it.
 *
 * @throws ConfigError for a missing, repeated or invalid NAME
 */
export function takeSequenceOption(argv: readonly string[]): { sequence: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let sequence: string | undefined;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    let value: string | undefined;
    if (arg === '--sequence') {
      value = argv[++index];
      if (value === undefined) throw new ConfigError('sequence', 'invalid --sequence: expected a sequence NAME');
    } else if (arg.startsWith('--sequence=')) {
      value = arg.slice('--sequence='.length);
    } else {
      rest.push(arg);
      continue;
    }
    if (sequence !== undefined) throw new ConfigError('sequence', 'invalid --sequence: given twice');
    try {
      sequence = validateSequenceName(value);
    } catch (error) {
      throw new ConfigError('sequence', `invalid --sequence: ${(error as Error).message}`);
    }
  }
  return { sequence, rest };
}
