/**
 * Issuing tokens: who may take values from which sequences (`--issue-token-file`).
 *
 * The file holds one token per line:
 *
 * ```text
 * # comment lines and blank lines are ignored
 * TOKEN PREFIX[,PREFIX…] [trusted]
 * ```
 *
 * - `TOKEN`: 16–256 printable ASCII characters without spaces, unique in the file;
 * - `PREFIX`: a sequence name must start with one of them; `*` covers every
 *   sequence; prefixes hold no spaces or commas (a name with a space is only
 *   reachable through `*` or a prefix ending before the space);
 * - `trusted`: the token may send `last` (drift catch-up, which moves the
 *   sequence forward); from other tokens `last` is ignored, as a proxy ignores it.
 *
 * A token that matches no entry, or no token, is `EAUTH` (HTTP 401); a valid
 * token whose prefixes do not cover the sequence is `EAUTH` too (HTTP 403).
 * Tokens are compared in constant time: each candidate is hashed and compared
 * against every entry, whatever matched.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { TicketError } from './errors.js';
import type { Ticket } from './ticket.js';

/** Largest token file read, in bytes. */
export const MAX_TOKEN_FILE_BYTES = 1024 * 1024;
/** Most entries a token file may hold (every request compares against each). */
export const MAX_TOKENS = 1000;
/** Most prefixes one entry may list. */
export const MAX_PREFIXES = 100;

const TOKEN_SHAPE = /^[\x21-\x7e]{16,256}$/;
const PREFIX_SHAPE = /^[^\s,]{1,128}$/;

/** What one token allows. */
export interface TokenGrant {
  /** True when `name` starts with one of the token's prefixes (`*`: every name). */
  covers(name: string): boolean;
  /** The token may send `last`. */
  readonly trusted: boolean;
}

/** A valid token used outside its prefixes: HTTP answers 403 rather than 401. */
export class TokenScopeError extends TicketError {
  constructor(name: string) {
    super('EAUTH', `this token does not cover sequence "${name.slice(0, 128)}"`);
  }

  override get status(): number {
    return 403;
  }
}

/** A token file that cannot be used; the message names the line. */
export class TokenFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenFileError';
  }
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

class Entry implements TokenGrant {
  private readonly every: boolean;

  constructor(
    readonly digest: Buffer,
    private readonly prefixes: readonly string[],
    readonly trusted: boolean,
  ) {
    this.every = prefixes.includes('*');
  }

  covers(name: string): boolean {
    if (this.every) return true;
    for (const prefix of this.prefixes) if (name.startsWith(prefix)) return true;
    return false;
  }
}

/** The tokens of one file. */
export class IssueTokens {
  private constructor(private readonly entries: readonly Entry[]) {}

  /** Number of tokens. */
  get size(): number {
    return this.entries.length;
  }

  /**
   * Parses a token file's text.
   * @throws TokenFileError naming the first bad line (never the token itself)
   */
  static parse(text: string): IssueTokens {
    if (Buffer.byteLength(text, 'utf8') > MAX_TOKEN_FILE_BYTES) throw new TokenFileError(`larger than ${MAX_TOKEN_FILE_BYTES} bytes`);
    const entries: Entry[] = [];
    const seen = new Set<string>();
    const lines = text.split(/\r?\n/);
    for (let index = 0; index < lines.length; index++) {
      const line = (lines[index] as string).trim();
      if (line === '' || line.startsWith('#')) continue;
      const where = `line ${index + 1}`;
      const words = line.split(/\s+/);
      if (words.length < 2 || words.length > 3) throw new TokenFileError(`${where}: expected TOKEN PREFIX[,PREFIX...] [trusted]`);
      const [token, prefixList, flag] = words as [string, string, string | undefined];
      if (!TOKEN_SHAPE.test(token)) throw new TokenFileError(`${where}: a token is 16-256 printable characters without spaces`);
      if (flag !== undefined && flag !== 'trusted') throw new TokenFileError(`${where}: the third word may only be "trusted"`);
      const prefixes = prefixList.split(',');
      if (prefixes.length > MAX_PREFIXES) throw new TokenFileError(`${where}: at most ${MAX_PREFIXES} prefixes`);
      if (!prefixes.every((prefix) => PREFIX_SHAPE.test(prefix))) {
        throw new TokenFileError(`${where}: prefixes are 1-128 characters, separated by commas, without spaces`);
      }
      if (seen.has(token)) throw new TokenFileError(`${where}: the same token appears twice`);
      seen.add(token);
      entries.push(new Entry(digest(token), prefixes, flag === 'trusted'));
      if (entries.length > MAX_TOKENS) throw new TokenFileError(`more than ${MAX_TOKENS} tokens`);
    }
    if (entries.length === 0) throw new TokenFileError('no token in the file (every request would be refused)');
    return new IssueTokens(entries);
  }

  /**
   * The grant of `given`, or undefined for no or an unknown token. Every entry
   * is compared, so the time taken does not tell which entry (or how much of
   * one) matched.
   */
  find(given: string | undefined): TokenGrant | undefined {
    if (given === undefined || given.length === 0 || given.length > 256) return undefined;
    const candidate = digest(given);
    let found: Entry | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(candidate, entry.digest) && found === undefined) found = entry;
    }
    return found;
  }
}

/**
 * Checks one request against the tokens and returns the `last` it may use.
 * @param grant what the request's token allows (undefined: no or a wrong token)
 * @returns `last` for trusted tokens, undefined otherwise (ignored, not refused:
 *   the client library sends the last value it saw with every request)
 * @throws TicketError EAUTH without a grant; TokenScopeError (EAUTH, HTTP 403)
 *   when the grant does not cover `name`
 */
export function authorizeIssue(grant: TokenGrant | undefined, name: string, last: Ticket | undefined): Ticket | undefined {
  if (grant === undefined) throw new TicketError('EAUTH', 'missing or wrong issuing token');
  if (!grant.covers(name)) throw new TokenScopeError(name);
  return grant.trusted ? last : undefined;
}

/** The token of an `Authorization: Bearer TOKEN` header, or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  return match ? match[1] : undefined;
}
