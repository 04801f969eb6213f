/**
 * Reads the files the security options name (`--tls-*`, `--issue-token-file`,
 * `--curve-*`) when a server is created, so that an unreadable, malformed or
 * mismatched file stops the start with `CONFIG_INVALID` (exit status 2)
 * naming the option, before anything listens.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { IssueTokens, TokenFileError } from '../core/issue-tokens.js';
import { StartupError } from '../core/startup-errors.js';
import { z85Decode, z85Encode } from './z85.js';

/** Largest security file read (certificate chains, CA bundles, allow-lists), in bytes. */
export const MAX_SECURITY_FILE_BYTES = 1024 * 1024;

/** What fastify's `https` option takes. */
export interface HttpsOptions {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string;
  readonly requestCert?: boolean;
  readonly rejectUnauthorized?: boolean;
}

/** A CurveZMQ key pair in Z85. */
export interface CurveKeyPair {
  readonly publicKey: string;
  readonly secretKey: string;
}

/** The server side of CurveZMQ: its keys and, optionally, the client keys it accepts. */
export interface CurveServerKeys extends CurveKeyPair {
  /** Allowed client public keys, hex of the 32 bytes; undefined: any client that knows the server key. */
  readonly allowed: ReadonlySet<string> | undefined;
}

/**
 * Reads a small text file an option names.
 * @throws StartupError CONFIG_INVALID naming the option
 */
export function readOptionFile(path: string, option: string): string {
  try {
    const size = statSync(path).size;
    if (size > MAX_SECURITY_FILE_BYTES) throw new Error(`larger than ${MAX_SECURITY_FILE_BYTES} bytes`);
    return readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new StartupError('CONFIG_INVALID', `invalid --${option}: cannot read "${path.slice(0, 300)}" (${reason})`, { cause: error });
  }
}

/** The issuing tokens of `--issue-token-file`. @throws StartupError CONFIG_INVALID */
export function loadIssueTokens(path: string): IssueTokens {
  const text = readOptionFile(path, 'issue-token-file');
  try {
    return IssueTokens.parse(text);
  } catch (error) {
    if (!(error instanceof TokenFileError)) throw error;
    throw new StartupError('CONFIG_INVALID', `invalid --issue-token-file "${path.slice(0, 300)}": ${error.message}`, { cause: error });
  }
}

/**
 * The HTTPS options of `--tls-cert`/`--tls-key` (and `--tls-ca`: clients must
 * present a certificate it signed). The pair is tried in a TLS context here, so
 * a key that does not belong to the certificate stops the start.
 * @throws StartupError CONFIG_INVALID
 */
export function loadHttpsOptions(certPath: string, keyPath: string, caPath: string | undefined): HttpsOptions {
  const cert = readOptionFile(certPath, 'tls-cert');
  const key = readOptionFile(keyPath, 'tls-key');
  const ca = caPath === undefined ? undefined : readOptionFile(caPath, 'tls-ca');
  try {
    createSecureContext({ cert, key, ...(ca === undefined ? {} : { ca }) });
  } catch (error) {
    const reason = (error as Error).message;
    throw new StartupError(
      'CONFIG_INVALID',
      `invalid --tls-cert/--tls-key: not a usable PEM certificate and matching private key${ca === undefined ? '' : ' (or --tls-ca)'}: ${reason}`,
      { cause: error },
    );
  }
  return ca === undefined ? { cert, key } : { cert, key, ca, requestCert: true, rejectUnauthorized: true };
}

const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

/** The X25519 public key of a CurveZMQ secret key (both Z85). */
export function curvePublicKeyOf(secretKey: string): string {
  // PKCS#8 wrapping of a raw X25519 private key: Node derives the public key from it.
  const der = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), z85Decode(secretKey)]);
  const spki = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' });
  return z85Encode(spki.subarray(spki.length - 32));
}

/**
 * A key file: the Z85 secret key on its first line, optionally the public key
 * on the second (checked against the secret key). Blank and `#` lines are skipped.
 * @throws StartupError CONFIG_INVALID naming `option`
 */
export function loadCurveKeyPair(path: string, option: string): CurveKeyPair {
  const lines = keyLines(readOptionFile(path, option));
  const invalid = (why: string): StartupError => new StartupError('CONFIG_INVALID', `invalid --${option} "${path.slice(0, 300)}": ${why}`);
  if (lines.length < 1 || lines.length > 2 || !lines.every((line) => Z85_KEY.test(line))) {
    throw invalid('expected the 40-character Z85 secret key on the first line and optionally the public key on the second');
  }
  const secretKey = lines[0] as string;
  const publicKey = curvePublicKeyOf(secretKey);
  if (lines[1] !== undefined && lines[1] !== publicKey) throw invalid('the public key on the second line does not belong to the secret key');
  return { secretKey, publicKey };
}

/** The allowed client keys of `--curve-allow`, as hex. @throws StartupError CONFIG_INVALID */
export function loadCurveAllowList(path: string): ReadonlySet<string> {
  const lines = keyLines(readOptionFile(path, 'curve-allow'));
  const allowed = new Set<string>();
  lines.forEach((line) => {
    if (!Z85_KEY.test(line)) {
      throw new StartupError('CONFIG_INVALID', `invalid --curve-allow "${path.slice(0, 300)}": "${line.slice(0, 60)}" is not a 40-character Z85 public key`);
    }
    allowed.add(z85Decode(line).toString('hex'));
  });
  if (allowed.size === 0) throw new StartupError('CONFIG_INVALID', `invalid --curve-allow "${path.slice(0, 300)}": no key in the file (every client would be refused)`);
  return allowed;
}

function keyLines(text: string): string[] {
  return text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
}
