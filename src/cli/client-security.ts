/** The security files of the client commands (`next`, `status`): `--ca` and `--curve-client-key`. */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/options.js';
import { loadCurveKeyPair } from '../security/security-files.js';

/** The PEM file of `--ca`. @throws ConfigError when it cannot be read */
export function readCaFile(path: string): string {
  try {
    const text = readFileSync(path, 'utf8');
    if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
    return text;
  } catch (error) {
    throw new ConfigError('ca', `invalid --ca: cannot use "${path.slice(0, 300)}" (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

/**
 * A CurveZMQ key file for a client (secret key line, optional public key line).
 * @throws ConfigError
 */
export function curveKeyFile(path: string): { curvePublicKey: string; curveSecretKey: string } {
  try {
    const pair = loadCurveKeyPair(path, 'curve-client-key');
    return { curvePublicKey: pair.publicKey, curveSecretKey: pair.secretKey };
  } catch (error) {
    throw new ConfigError('curve-client-key', (error as Error).message);
  }
}

