/**
 * Takeover SOURCEs: what an earlier system may have issued, as a floor per
 * sequence (docs/takeover.md). Everything here is pure parsing; reading a file
 * or a database happens in `read-sources.ts`, so every format can be tested
 * without I/O.
 *
 * A floor is the highest value the earlier system may have issued: the next
 * value ticket-server issues must be above it.
 */
import { MAX_VALUE } from '../core/numbering.js';
import { validateSequenceName } from '../core/names.js';

/** One sequence to raise: `floor` is the highest value `source` may have issued. */
export interface TakeoverFloor {
  readonly name: string;
  readonly floor: bigint;
  /** The SOURCE as the user gave it, without any password; for messages. */
  readonly source: string;
}

/**
 * A SOURCE that cannot be read or understood. The message names the source
 * (never a password); the CLI exits with code 2 and changes nothing.
 */
export class TakeoverSourceError extends Error {
  readonly code = 'TAKEOVER_SOURCE_INVALID' as const;
  constructor(message: string) {
    super(message);
    this.name = 'TakeoverSourceError';
  }
}

/** Floor of the `ticketd` source: ticketd issued random values below 2^31. */
export const TICKETD_FLOOR = (1n << 31n) - 1n;

/** Longest SOURCE argument accepted (a bound on input). */
export const MAX_SOURCE_LENGTH = 4096;

/** Largest `sequences.json` or progress file read, so a wrong path cannot exhaust memory. */
export const MAX_SOURCE_FILE_BYTES = 64 * 1024 * 1024;

/** Most entries read from one `sequences.json` (ten times the default `--max-sequences`). */
export const MAX_SEQUENCES_PER_FILE = 1_000_000;

/** txn-id-server keeps 16 low bits in memory; its progress file records the 48 high bits. */
const TXNID_LOW_BITS = 16n;

/** Highest `base` whose floor `(base + 1) × 65536 − 1` is still at most 2^63 − 1. */
const TXNID_MAX_BASE = (MAX_VALUE + 1n) / (1n << TXNID_LOW_BITS) - 1n;

/** The forms a SOURCE argument can take, before any I/O. */
export type SourceSpec =
  | { readonly kind: 'value'; readonly floor: bigint; readonly label: string }
  | { readonly kind: 'ticketd'; readonly label: string }
  | { readonly kind: 'sequences-json'; readonly file: string; readonly label: string }
  | { readonly kind: 'txnid'; readonly file: string; readonly label: string }
  | { readonly kind: 'database'; readonly uri: string; readonly label: string };

const DECIMAL = /^[0-9]{1,19}$/;

/**
 * Parses a decimal value from 0 to 2^63 − 1.
 * @throws TakeoverSourceError naming `what`
 */
export function parseDecimalFloor(text: string, what: string): bigint {
  const value = DECIMAL.test(text) ? BigInt(text) : undefined;
  if (value === undefined || value > MAX_VALUE) {
    throw new TakeoverSourceError(`${what}: expected a decimal integer from 0 to 2^63 - 1, got "${text.slice(0, 40)}"`);
  }
  return value;
}

/**
 * Classifies one SOURCE argument. Database URIs are only recognised here;
 * `database-sources.ts` parses them.
 *
 * @throws TakeoverSourceError for an empty, overlong or unknown SOURCE
 */
export function classifySource(source: string): SourceSpec {
  if (source.length > MAX_SOURCE_LENGTH) {
    throw new TakeoverSourceError(`SOURCE is longer than ${MAX_SOURCE_LENGTH} characters`);
  }
  if (/^[0-9]+$/.test(source)) {
    return { kind: 'value', floor: parseDecimalFloor(source, `SOURCE ${source.slice(0, 40)}`), label: source };
  }
  if (source === 'ticketd') return { kind: 'ticketd', label: source };
  for (const prefix of ['seqgen:', 'ticket-server:']) {
    if (source.startsWith(prefix)) {
      const file = source.slice(prefix.length);
      if (file === '') throw new TakeoverSourceError(`SOURCE ${source} needs a file, as in ${prefix}/var/lib/ticket-server/sequences.json`);
      return { kind: 'sequences-json', file, label: source };
    }
  }
  if (source.startsWith('txnid:')) {
    const file = source.slice('txnid:'.length);
    if (file === '') throw new TakeoverSourceError('SOURCE txnid: needs a file, as in txnid:/etc/txnidserver/txnid.dat');
    return { kind: 'txnid', file, label: source };
  }
  if (/^(mysql|postgres|postgresql):\/\//.test(source)) {
    // The label is made by the database parser, which knows where the password is.
    return { kind: 'database', uri: source, label: source.slice(0, source.indexOf(':')) };
  }
  const shown = /^[a-z-]+:/.test(source) ? `"${source.slice(0, source.indexOf(':') + 1)}…"` : `"${source.slice(0, 40)}"`;
  throw new TakeoverSourceError(
    `unknown SOURCE ${shown}; expected a decimal value, seqgen:FILE, ticket-server:FILE, txnid:FILE, ticketd, ` +
      'mysql://…/DB?table=T or postgres://…/DB?sequence=S|table=T',
  );
}

// ---------------------------------------------------------------------------
// sequences.json (seqgen, the earlier ticket-server)
// ---------------------------------------------------------------------------

/** One entry of a `sequences.json`, exact. */
export interface SequenceEntry {
  readonly name: string;
  readonly value: bigint;
}

const JSON_WHITESPACE = /[ \t\n\r]*/y;
// JSON forbids raw control characters inside strings.
// eslint-disable-next-line no-control-regex
const JSON_STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const JSON_NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/**
 * Reads a `sequences.json`: one JSON object, name → last value issued, each
 * value a JSON integer or a decimal string. Number tokens are read from the
 * text itself, so values above 2^53 stay exact (JSON.parse would round them).
 * A name given twice keeps its highest value (never lowers).
 *
 * @throws TakeoverSourceError naming `label` and the offending entry for
 *   anything else: not an object, nested values, fractions, negative values,
 *   values above 2^63 − 1, bad names, more than MAX_SEQUENCES_PER_FILE entries
 */
export function parseSequencesJson(text: string, label: string): SequenceEntry[] {
  let position = 0;
  const bad = (why: string): TakeoverSourceError =>
    new TakeoverSourceError(`${label}: not a sequences.json (an object of name → last value): ${why}`);
  const skipWhitespace = (): void => {
    JSON_WHITESPACE.lastIndex = position;
    JSON_WHITESPACE.exec(text);
    position = JSON_WHITESPACE.lastIndex;
  };
  const expect = (character: string, what: string): void => {
    skipWhitespace();
    if (text[position] !== character) throw bad(`expected ${what} at character ${position + 1}`);
    position++;
  };
  const readString = (what: string): string => {
    skipWhitespace();
    JSON_STRING.lastIndex = position;
    const match = JSON_STRING.exec(text);
    if (match === null) throw bad(`expected ${what} at character ${position + 1}`);
    position = JSON_STRING.lastIndex;
    return JSON.parse(match[0]) as string;
  };

  const values = new Map<string, bigint>();
  if (text.charCodeAt(0) === 0xfeff) position = 1;
  expect('{', 'a JSON object');
  skipWhitespace();
  if (text[position] === '}') {
    position++;
  } else {
    for (;;) {
      const name = readString('a quoted sequence name');
      try {
        validateSequenceName(name);
      } catch (error) {
        throw bad(`name ${JSON.stringify(name.slice(0, 64))}: ${(error as Error).message}`);
      }
      expect(':', '":"');
      skipWhitespace();
      const entry = `the value of ${JSON.stringify(name)}`;
      let value: bigint;
      if (text[position] === '"') {
        const digits = readString(entry);
        value = parseEntryValue(digits, entry, bad);
      } else {
        JSON_NUMBER.lastIndex = position;
        const match = JSON_NUMBER.exec(text);
        if (match === null) throw bad(`${entry} must be an integer or a decimal string`);
        position = JSON_NUMBER.lastIndex;
        value = parseEntryValue(match[0], entry, bad);
      }
      const known = values.get(name);
      if (known === undefined) {
        if (values.size >= MAX_SEQUENCES_PER_FILE) throw bad(`more than ${MAX_SEQUENCES_PER_FILE} entries`);
        values.set(name, value);
      } else if (value > known) {
        values.set(name, value);
      }
      skipWhitespace();
      if (text[position] === ',') {
        position++;
        continue;
      }
      expect('}', '"," or "}"');
      break;
    }
  }
  skipWhitespace();
  if (position !== text.length) throw bad(`unexpected text after the object at character ${position + 1}`);
  return [...values].map(([name, value]) => ({ name, value }));
}

function parseEntryValue(token: string, entry: string, bad: (why: string) => TakeoverSourceError): bigint {
  if (!/^[0-9]+$/.test(token)) {
    throw bad(`${entry} must be a non-negative integer, got ${token.slice(0, 40)}`);
  }
  const value = BigInt(token);
  if (value > MAX_VALUE) throw bad(`${entry} is above 2^63 - 1`);
  return value;
}

/**
 * The floors a `sequences.json` sets: every entry, or with `only` just that
 * sequence's entry (the user named the one sequence to take over).
 *
 * @throws TakeoverSourceError when `only` has no entry in the file
 */
export function sequencesJsonFloors(entries: readonly SequenceEntry[], label: string, only?: string): TakeoverFloor[] {
  if (only === undefined) return entries.map(({ name, value }) => ({ name, floor: value, source: label }));
  const entry = entries.find(({ name }) => name === only);
  if (entry === undefined) throw new TakeoverSourceError(`${label} has no entry for --sequence ${JSON.stringify(only)}`);
  return [{ name: only, floor: entry.value, source: label }];
}

// ---------------------------------------------------------------------------
// txn-id-server's progress file
// ---------------------------------------------------------------------------

/** txn-id-server's progress file, parsed. */
export interface TxnidProgress {
  /** The 48 high bits the server starts from after a restart. */
  readonly base: bigint;
  readonly counter: number;
  readonly increment: number;
}

/**
 * Reads txn-id-server's progress file `base|counter|increment|` (one
 * optional trailing newline). Strict: digits only, counter 0..65535,
 * increment 1..32767, base small enough that `(base + 1) × 65536 − 1` fits.
 *
 * @throws TakeoverSourceError naming `label` for anything else
 */
export function parseTxnidProgress(text: string, label: string): TxnidProgress {
  const match = /^([0-9]{1,20})\|([0-9]{1,5})\|([0-9]{1,5})\|(?:\r?\n)?$/.exec(text);
  if (match === null) {
    throw new TakeoverSourceError(
      `${label}: not a txn-id-server progress file; expected base|counter|increment| in decimal, got ${JSON.stringify(text.slice(0, 60))}`,
    );
  }
  const base = BigInt(match[1] as string);
  const counter = Number(match[2]);
  const increment = Number(match[3]);
  if (base > TXNID_MAX_BASE) throw new TakeoverSourceError(`${label}: base ${base} is above ${TXNID_MAX_BASE}: its values would pass 2^63 - 1`);
  if (counter > 65_535) throw new TakeoverSourceError(`${label}: counter ${counter} is above 65535`);
  if (increment < 1 || increment > 32_767) throw new TakeoverSourceError(`${label}: increment ${increment} is outside 1..32767`);
  return { base, counter, increment };
}

/**
 * Floor of a txn-id-server progress file: every value below `(base + 1) × 65536`.
 * The server ORs a 16-bit counter onto `base << 16` and writes the file when
 * the counter wraps, so everything it issued since is below the next base.
 */
export function txnidFloor(progress: TxnidProgress): bigint {
  return ((progress.base + 1n) << TXNID_LOW_BITS) - 1n;
}

// ---------------------------------------------------------------------------
// Tickr
// ---------------------------------------------------------------------------

/** Tickr's settings, as `&nodes=N&offset=O` on a mysql:// SOURCE. */
export interface TickrSettings {
  /** TICKR_MAX_NODES, ≥ 1. */
  readonly nodes: bigint;
  /** TICKR_STARTING_OFFSET, ≥ 0. */
  readonly offset: bigint;
}

/**
 * Highest ticket any Tickr node may have issued from database id `id`.
 * Tickr issues `(id − 2) × nodes + node + offset` for node 0..nodes−1; taking
 * the highest node covers every node, so one formula serves each node's table.
 * Returns 0 when no ticket can have been issued.
 */
export function tickrFloor(id: bigint, settings: TickrSettings): bigint {
  const floor = (id - 1n) * settings.nodes + settings.offset - 1n;
  return floor < 0n ? 0n : floor;
}

/**
 * Keeps, per sequence, the highest floor of all sources (the order of the
 * result follows first appearance).
 */
export function mergeFloors(floors: Iterable<TakeoverFloor>): TakeoverFloor[] {
  const merged = new Map<string, TakeoverFloor>();
  for (const item of floors) {
    const known = merged.get(item.name);
    if (known === undefined || item.floor > known.floor) merged.set(item.name, item);
  }
  return [...merged.values()];
}
