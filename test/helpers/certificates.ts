/**
 * Certificates for TLS tests, made by the openssl CLI in a test's temp dir.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * A self-signed certificate for 127.0.0.1 and its key (PEM files `NAME.crt`, `NAME.key` in `dir`).
 * `rsa` for servers whose TLS library is picky about EC keys (MariaDB's), else a P-256 key.
 */
export function selfSignedCertificate(dir: string, name: string, kind: 'ec' | 'rsa' = 'ec'): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const algorithm = kind === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  execFileSync('openssl', [
    'req', '-x509', ...algorithm, '-nodes', '-keyout', key, '-out', cert, '-days', '2',
    '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return { cert, key };
}
