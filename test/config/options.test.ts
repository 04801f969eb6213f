import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  envName,
  loadConfig,
  resolveConfig,
  validateZmqEndpoint,
  type RawOptions,
} from '../../src/config/options.js';
import { configError } from '../helpers/config-errors.js';

const dir = mkdtempSync(join(tmpdir(), 'ticket-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function flags(entries: Record<string, string | boolean>): RawOptions {
  return new Map(Object.entries(entries).map(([name, value]) => [name, { value, source: `--${name}` }]));
}


describe('defaults', () => {
  it('are those of SPEC §3–§6', () => {
    const config = resolveConfig([]);
    expect(config).toMatchObject({
      instance: 1,
      instances: 1,
      offset: 1n,
      drift: 10n,
      maxJump: 1_000_000_000n,
      maxBlock: 10_000,
      maxSequences: 100_000,
      strictSequences: false,
      data: './data',
      store: 'lmdb:./data',
      bind: 'tcp://0.0.0.0:6410',
    });
  });

  it('derive drift from instances (10 × instances)', () => {
    expect(resolveConfig([flags({ instances: '3' })]).drift).toBe(30n);
  });

  it('put the lmdb store in the data directory', () => {
    expect(resolveConfig([flags({ data: '/var/lib/tickets' })]).store).toBe('lmdb:/var/lib/tickets');
  });
});

describe('precedence', () => {
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ instances: 4, maxBlock: 77, 'strict-sequences': true }));

  it('takes the config file over defaults, camelCase and kebab-case keys alike', () => {
    const config = loadConfig(flags({ config: file }), {});
    expect(config.instances).toBe(4);
    expect(config.maxBlock).toBe(77);
    expect(config.strictSequences).toBe(true);
  });

  it('takes TICKET_SERVER_* over the config file', () => {
    expect(loadConfig(flags({ config: file }), { TICKET_SERVER_INSTANCES: '3' }).instances).toBe(3);
  });

  it('takes flags over TICKET_SERVER_*', () => {
    expect(loadConfig(flags({ config: file, instances: '2' }), { TICKET_SERVER_INSTANCES: '3' }).instances).toBe(2);
  });

  it('reads the config file named by TICKET_SERVER_CONFIG', () => {
    expect(loadConfig(new Map(), { TICKET_SERVER_CONFIG: file }).maxBlock).toBe(77);
  });

  it('puts the earlier systems\' variables below the native ones', () => {
    expect(loadConfig(new Map(), { TICKR_MAX_NODES: '5', TICKET_SERVER_INSTANCES: '6' }).instances).toBe(6);
    expect(loadConfig(new Map(), { TICKR_MAX_NODES: '5' }).instances).toBe(5);
  });

  it('does not change the flags it is given', () => {
    const given = flags({ config: file });
    loadConfig(given, {});
    expect(given.has('config')).toBe(true);
  });
});

describe('aliases', () => {
  it('maps Tickr\'s 0-based node number to a 1-based instance', () => {
    const config = loadConfig(new Map(), { TICKR_MAX_NODES: '2', TICKR_NODE_NUMBER: '1', TICKR_STARTING_OFFSET: '1000001' });
    expect(config).toMatchObject({ instances: 2, instance: 2, offset: 1_000_001n });
  });

  it('maps txn-id-server\'s increment, instance and confdir', () => {
    const config = loadConfig(new Map(), {
      TXNID_SERVER_INCREMENT: '3',
      TXNID_SERVER_INSTANCE: '2',
      TXNID_SERVER_CONFDIR: '/etc/txnidserver',
    });
    expect(config).toMatchObject({ instances: 3, instance: 2, data: '/etc/txnidserver', store: 'lmdb:/etc/txnidserver' });
  });

  it('turns TXNID_SERVER_VERBOSE=1 into debug logging', () => {
    expect(loadConfig(new Map(), { TXNID_SERVER_VERBOSE: '1' }).logLevel).toBe('debug');
  });

  it('refuses a Tickr node number that is not a number, naming the variable', () => {
    expect(configError(() => loadConfig(new Map(), { TICKR_NODE_NUMBER: 'one' })).message).toContain('TICKR_NODE_NUMBER');
  });

  it('selects the MySQL store from Tickr\'s database variables, pool size and pool timeout in seconds', () => {
    const config = loadConfig(new Map(), {
      TICKR_DATABASE_HOST: 'db.internal:3307',
      TICKR_DATABASE_USERNAME: 'tickr',
      TICKR_DATABASE_PASSWORD: 'p@ss:w/rd',
      TICKR_DATABASE_NAME: 'tickets',
      TICKR_DATABASE_POOL_SIZE: '8',
      TICKR_DATABASE_POOL_TIMEOUT: '2.5',
    });
    expect(config).toMatchObject({ store: 'mysql://tickr:p%40ss%3Aw%2Frd@db.internal:3307/tickets', poolSize: 8, poolTimeoutMs: 2500 });
  });

  it('lets --store and TICKET_SERVER_POOL_SIZE win over Tickr\'s variables', () => {
    const config = loadConfig(new Map([['store', { value: 'memory:', source: '--store' }]]), {
      TICKR_DATABASE_HOST: 'db',
      TICKR_DATABASE_NAME: 'tickets',
      TICKR_DATABASE_POOL_SIZE: '8',
      TICKET_SERVER_POOL_SIZE: '3',
    });
    expect(config).toMatchObject({ store: 'memory:', poolSize: 3 });
  });

  it.each([
    [{ TICKR_DATABASE_HOST: 'db' }, 'TICKR_DATABASE_NAME'],
    [{ TICKR_DATABASE_HOST: 'db/x', TICKR_DATABASE_NAME: 't' }, 'TICKR_DATABASE_HOST'],
    [{ TICKR_DATABASE_HOST: 'db', TICKR_DATABASE_NAME: 't', TICKR_DATABASE_POOL_TIMEOUT: 'soon' }, 'TICKR_DATABASE_POOL_TIMEOUT'],
    [{ TICKR_DATABASE_HOST: 'db', TICKR_DATABASE_NAME: 't', TICKR_DATABASE_POOL_SIZE: '0' }, 'TICKR_DATABASE_POOL_SIZE'],
  ])('refuses incomplete or malformed Tickr database variables (%o), naming %s', (env, named) => {
    expect(configError(() => loadConfig(new Map(), env)).message).toContain(named);
  });
});

describe('validation', () => {
  it.each([
    ['instances', { instances: '0' }],
    ['instances', { instances: '65537' }],
    ['instances', { instances: 'two' }],
    ['instance', { instance: '3', instances: '2' }],
    ['instance', { instance: '0' }],
    ['offset', { offset: '0' }],
    ['offset', { offset: '9223372036854775808' }],
    ['drift', { drift: '-2' }],
    ['max-jump', { 'max-jump': '-1' }],
    ['max-block', { 'max-block': '0' }],
    ['max-block', { 'max-block': '1.5' }],
    ['max-sequences', { 'max-sequences': '0' }],
    ['strict-sequences', { 'strict-sequences': 'maybe' }],
    ['store', { store: 'redis://x' }],
    ['store', { store: 'lmdb:' }],
    ['store', { store: 'postgres://user:pw@/tickets' }],
    ['store', { store: 'mysql://user:pw@db:3306' }],
    ['store', { store: 'etcd://' }],
    ['store', { store: 'etcd://db:99999' }],
    ['pool-size', { 'pool-size': '0' }],
    ['pool-size', { 'pool-size': '1001' }],
    ['pool-timeout', { 'pool-timeout': '0' }],
    ['bind', { bind: 'http://0.0.0.0:6410' }],
    ['bind', { bind: 'tcp://127.0.0.1:70000' }],
    ['log-level', { 'log-level': 'loud' }],
    ['data', { data: '' }],
  ])('refuses a bad --%s and names it', (option, given) => {
    const error = configError(() => resolveConfig([flags(given)]));
    expect(error.option).toBe(option);
    expect(error.message).toContain(`--${option}`);
  });

  it('names the environment variable a bad value came from', () => {
    const error = configError(() => loadConfig(new Map(), { TICKET_SERVER_MAX_BLOCK: 'lots' }));
    expect(error.message).toContain('TICKET_SERVER_MAX_BLOCK');
    expect(error.message).toContain('--max-block');
  });

  it('refuses unknown keys in a config file', () => {
    const file = join(dir, 'unknown.json');
    writeFileSync(file, JSON.stringify({ instancez: 2 }));
    expect(configError(() => loadConfig(flags({ config: file }), {})).message).toContain('instancez');
  });

  it('refuses a config file that is not a JSON object', () => {
    const file = join(dir, 'array.json');
    writeFileSync(file, '[1,2]');
    expect(configError(() => loadConfig(flags({ config: file }), {})).option).toBe('config');
  });

  it('accepts drift 0 and -1, which disable jumping', () => {
    expect(resolveConfig([flags({ drift: '0' })]).drift).toBe(0n);
    expect(resolveConfig([flags({ drift: '-1' })]).drift).toBe(-1n);
  });
});

describe('ZeroMQ endpoints', () => {
  it('turns port 0 into ZeroMQ\'s wildcard port', () => {
    expect(validateZmqEndpoint('tcp://127.0.0.1:0')).toBe('tcp://127.0.0.1:*');
  });

  it('keeps ipc endpoints', () => {
    expect(validateZmqEndpoint('ipc:///tmp/tickets.sock')).toBe('ipc:///tmp/tickets.sock');
  });
});

describe('environment names', () => {
  it('follow TICKET_SERVER_<OPTION>', () => {
    expect(envName('max-block')).toBe('TICKET_SERVER_MAX_BLOCK');
  });
});

describe('proxy options', () => {
  it('collect repeated --host values (joined by the CLI) into a list', () => {
    const config = resolveConfig([flags({ host: 'tcp://10.0.0.11:6410,tcp://10.0.0.12:6410' })]);
    expect(config.hosts).toEqual(['tcp://10.0.0.11:6410', 'tcp://10.0.0.12:6410']);
  });

  it('read TICKET_SERVER_HOST as a comma-separated list', () => {
    expect(loadConfig(new Map(), { TICKET_SERVER_HOST: 'tcp://a:1, tcp://b:2' }).hosts).toEqual(['tcp://a:1', 'tcp://b:2']);
  });

  it('accept an array of hosts in a config file', () => {
    const file = join(dir, 'proxy.json');
    writeFileSync(file, JSON.stringify({ host: ['tcp://a:1', 'tcp://b:2'], timeout: 250 }));
    expect(loadConfig(flags({ config: file }), {})).toMatchObject({ hosts: ['tcp://a:1', 'tcp://b:2'], timeoutMs: 250 });
  });

  it('default to no upstream (not a proxy) and a 1000 ms timeout', () => {
    expect(resolveConfig([])).toMatchObject({ hosts: [], timeoutMs: 1000 });
  });

  it.each(['http://a:1', 'tcp://a', 'tcp://a:99999', 'a:1'])('refuse the upstream %s, naming --host', (host) => {
    expect(configError(() => resolveConfig([flags({ host })])).option).toBe('host');
  });

  it('refuse a timeout of 0', () => {
    expect(configError(() => resolveConfig([flags({ timeout: '0' })])).option).toBe('timeout');
  });
});

describe('HTTP and admin options', () => {
  it('default to 0.0.0.0:6412 and 0.0.0.0:6411 with mutations off', () => {
    expect(resolveConfig([])).toMatchObject({
      http: { host: '0.0.0.0', port: 6412 },
      admin: { host: '0.0.0.0', port: 6411 },
      adminToken: undefined,
    });
  });

  it('read HOST:PORT, [IPv6]:PORT and a bare PORT', () => {
    expect(resolveConfig([flags({ http: '127.0.0.1:0' })]).http).toEqual({ host: '127.0.0.1', port: 0 });
    expect(resolveConfig([flags({ http: '[::1]:8080' })]).http).toEqual({ host: '::1', port: 8080 });
    expect(resolveConfig([flags({ admin: '9000' })]).admin).toEqual({ host: '0.0.0.0', port: 9000 });
  });

  it('turn a listener off with "off"', () => {
    expect(resolveConfig([flags({ http: 'off', admin: 'off' })])).toMatchObject({ http: undefined, admin: undefined });
  });

  it.each([['http', 'localhost:99999'], ['http', 'tcp://x:1'], ['admin', 'a b:1'], ['admin-token', 'short'], ['admin-token', 'has spaces in it ok?']])(
    'refuse --%s %s, naming it',
    (option, value) => {
      expect(configError(() => resolveConfig([flags({ [option]: value })])).option).toBe(option);
    },
  );

  it('take a 16-character token', () => {
    expect(resolveConfig([flags({ 'admin-token': 'abcdefghijklmnop' })]).adminToken).toBe('abcdefghijklmnop');
  });
});

describe('listeners as the earlier systems wrote them', () => {
  it('--bind off turns ZeroMQ off; other words are still checked', () => {
    expect(resolveConfig([flags({ bind: 'off' })]).bind).toBeUndefined();
    expect(resolveConfig([]).bind).toBe('tcp://0.0.0.0:6410');
    expect(configError(() => resolveConfig([flags({ bind: 'of' })])).option).toBe('bind');
  });

  it.each(['admin', 'http'] as const)('--%s http://HOST:PORT (seqgen\'s form) is HOST:PORT', (option) => {
    expect(resolveConfig([flags({ [option]: 'http://127.0.0.1:6411' })])[option]).toEqual({ host: '127.0.0.1', port: 6411 });
    expect(resolveConfig([flags({ [option]: 'http://0.0.0.0:7000/' })])[option]).toEqual({ host: '0.0.0.0', port: 7000 });
    expect(resolveConfig([flags({ [option]: 'HTTP://[::1]:7000' })])[option]).toEqual({ host: '::1', port: 7000 });
  });

  it.each(['admin', 'http'] as const)('--%s https://… is refused with a message saying TLS is turned on by --tls-cert', (option) => {
    const error = configError(() => resolveConfig([flags({ [option]: 'https://0.0.0.0:6411' })]));
    expect(error.option).toBe(option);
    expect(error.message).toContain(`--${option}`);
    expect(error.message).toContain('turn HTTPS on with --tls-cert');
  });

  it('refuses a URL with a path, and the URL form on listeners that are not HTTP', () => {
    expect(configError(() => resolveConfig([flags({ admin: 'http://0.0.0.0:6411/admin' })])).option).toBe('admin');
    expect(configError(() => resolveConfig([flags({ tcp: 'http://0.0.0.0:8963' })])).option).toBe('tcp');
  });
});

describe('a command\'s own defaults (the earlier systems\' commands)', () => {
  const defaults = flags({ drift: '100', http: 'off' });

  it('apply when nothing else sets the option', () => {
    const config = loadConfig(new Map(), {}, defaults);
    expect(config.drift).toBe(100n);
    expect(config.http).toBeUndefined();
  });

  it('lose to a config file, the aliases, TICKET_SERVER_* and flags', () => {
    const file = join(dir, 'drift.json');
    writeFileSync(file, JSON.stringify({ drift: 7 }));
    expect(loadConfig(flags({ config: file }), {}, defaults).drift).toBe(7n);
    expect(loadConfig(new Map(), { TICKET_SERVER_DRIFT: '8' }, defaults).drift).toBe(8n);
    expect(loadConfig(flags({ drift: '9' }), {}, defaults).drift).toBe(9n);
    expect(loadConfig(new Map(), { TICKR_MAX_NODES: '3' }, flags({ instances: '2' })).instances).toBe(3);
  });
});
