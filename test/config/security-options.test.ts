/** The rules between the security options, checked when the configuration is resolved. */
import { describe, expect, it } from 'vitest';
import { resolveConfig, type RawOptions } from '../../src/config/options.js';
import { configError } from '../helpers/config-errors.js';

function flags(entries: Record<string, string | boolean>): RawOptions {
  return new Map(Object.entries(entries).map(([name, value]) => [name, { value, source: `--${name}` }]));
}

const ETCD = 'etcd://127.0.0.1:2379';
const KEY = 'E'.repeat(40);

describe('security options together', () => {
  it.each([
    [{ 'tls-cert': 'c.pem' }, 'tls-cert', '--tls-key'],
    [{ 'tls-key': 'k.pem' }, 'tls-key', '--tls-cert'],
    [{ 'tls-ca': 'ca.pem' }, 'tls-ca', '--tls-cert'],
    [{ 'curve-allow': 'allow' }, 'curve-allow', '--curve-secret-key'],
    [{ 'curve-client-key': 'client.key' }, 'curve-client-key', '--curve-server-key'],
    [{ 'issue-token-file': 'tokens', tcp: '8963' }, 'tcp', '--tcp-trusted'],
    [{ 'issue-token-file': 'tokens', leader: true, store: ETCD }, 'issue-token-file', '--upstream-token'],
    [{ 'curve-secret-key': 'server.key', leader: true, store: ETCD }, 'curve-secret-key', '--curve-server-key'],
  ] as const)('%j is refused, naming --%s and saying to add %s', (entries, option, missing) => {
    const error = configError(() => resolveConfig([flags(entries)]));
    expect(error.option).toBe(option);
    expect(error.message).toContain(missing);
  });

  it('accepts the combinations that are complete', () => {
    const config = resolveConfig([
      flags({
        'tls-cert': 'c.pem', 'tls-key': 'k.pem', 'tls-ca': 'ca.pem',
        'issue-token-file': 'tokens', tcp: '8963', 'tcp-trusted': true,
        'curve-secret-key': 'server.key', 'curve-allow': 'allow',
        leader: true, store: ETCD, 'upstream-token': 'cluster-token-0123456789', 'curve-server-key': KEY, 'curve-client-key': 'c.key',
      }),
    ]);
    expect(config.tcpTrusted).toBe(true);
    expect(config.curveServerKey).toBe(KEY);
  });

  it('refuses a --curve-server-key that is not a Z85 key and an --upstream-token too short', () => {
    expect(configError(() => resolveConfig([flags({ 'curve-server-key': 'short' })])).option).toBe('curve-server-key');
    expect(configError(() => resolveConfig([flags({ 'upstream-token': 'short' })])).option).toBe('upstream-token');
  });
});
