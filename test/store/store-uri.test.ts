import { describe, it, expect } from 'vitest';
import { StoreUriError, parseEtcdUri, parseSqlUri } from '../../src/store/store-uri.js';
import { validateStoreUri, isSharedStoreUri } from '../../src/store/open-store.js';

const SECRET = 'Sup3r-secret';

function uriError(uri: string): StoreUriError {
  try {
    validateStoreUri(uri);
  } catch (error) {
    if (error instanceof StoreUriError) return error;
    throw error;
  }
  throw new Error(`expected ${uri} to be refused`);
}

describe('SQL store URIs', () => {
  it('reads user, password, host, port and database, decoding percent-escapes', () => {
    const uri = parseSqlUri(`postgres://tick%40et:${SECRET}%2F1@db.internal:6543/my%20tickets?sslmode=require`);
    expect(uri).toMatchObject({
      scheme: 'postgres',
      user: 'tick@et',
      password: `${SECRET}/1`,
      host: 'db.internal',
      port: 6543,
      database: 'my tickets',
    });
    expect(uri.params.get('sslmode')).toBe('require');
  });

  it('describes the store without the password or the parameters', () => {
    const postgres = parseSqlUri(`postgresql://ticket:${SECRET}@10.0.0.5:5432/tickets?password=${SECRET}`);
    expect(postgres.description).toBe('postgres://ticket@10.0.0.5:5432/tickets');
    const mysql = parseSqlUri(`mysql://root:${SECRET}@[::1]:3306/tickr`);
    expect(mysql.description).toBe('mysql://root@[::1]:3306/tickr');
    expect(mysql.host).toBe('::1');
  });

  it.each([
    `postgres://ticket:${SECRET}@/tickets`,
    `postgres://ticket:${SECRET}@db:5432`,
    `postgres://ticket:${SECRET}@db:5432/`,
    `mysql://ticket:${SECRET}@db:3306/a/b`,
    `mysql://ticket:${SECRET}@db:99999/tickets`,
    `mysql://ticket:%E0%A4%A@db/tickets`,
  ])('refuses %s with a message that never shows the password', (uri) => {
    const error = uriError(uri);
    expect(error.message).toMatch(/mysql|postgres/);
    expect(error.message).not.toContain(SECRET);
  });
});

describe('etcd store URIs', () => {
  it('reads every member, credentials and the key prefix', () => {
    const uri = parseEtcdUri(`etcd://ops:${SECRET}@10.0.0.1:2379,10.0.0.2:2379,[fd00::3]:2379/billing/eu`);
    expect(uri.hosts).toEqual(['http://10.0.0.1:2379', 'http://10.0.0.2:2379', 'http://[fd00::3]:2379']);
    expect(uri).toMatchObject({ user: 'ops', password: SECRET, prefix: '/billing/eu/' });
    expect(uri.description).toBe('etcd://ops@10.0.0.1:2379,10.0.0.2:2379,[fd00::3]:2379/billing/eu');
  });

  it('uses /ticket-server/ when no prefix is given', () => {
    expect(parseEtcdUri('etcd://127.0.0.1:2379').prefix).toBe('/ticket-server/');
    expect(parseEtcdUri('etcd://127.0.0.1:2379/').prefix).toBe('/ticket-server/');
  });

  it.each(['etcd://', 'etcd://host', 'etcd://host:0', 'etcd://host:2379,', `etcd://u:${SECRET}@host:x`, 'etcd://a b:1'])(
    'refuses %s',
    (uri) => {
      const error = uriError(uri);
      expect(error.message).toContain('etcd');
      expect(error.message).not.toContain(SECRET);
    },
  );

  it('bounds the number of members', () => {
    const members = Array.from({ length: 65 }, (_, index) => `h${index}:2379`).join(',');
    expect(uriError(`etcd://${members}`).message).toContain('64');
  });
});

describe('store URI kinds', () => {
  it('knows which stores several servers may share', () => {
    expect(['postgres://u@h/d', 'postgresql://u@h/d', 'mysql://u@h/d', 'etcd://h:1'].map(isSharedStoreUri)).toEqual([true, true, true, true]);
    expect(['lmdb:./data', 'memory:'].map(isSharedStoreUri)).toEqual([false, false]);
  });

  it('bounds the length of a store URI', () => {
    expect(uriError(`lmdb:${'x'.repeat(5000)}`).message).toContain('4096');
  });
});
