/**
 * The earlier systems' command lines as pure mappings: argv + environment →
 * native argv, defaults, environment and the notice line. The commands
 * themselves are run against real servers in test/integration/legacy-commands.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig, type RawOptions } from '../../src/config/options.js';
import { redact, type LegacyOutcome, type LegacyPlan } from '../../src/cli/legacy/common.js';
import { SEQGEN_HELP, mapSeqgen } from '../../src/cli/legacy/seqgen.js';
import { TICKETD_HELP, mapTicketd } from '../../src/cli/legacy/ticketd.js';
import { TICKR_HELP, mapTickr } from '../../src/cli/legacy/tickr.js';
import { TXNID_HELP, mapTxnIdServer, txnIdNumbering } from '../../src/cli/legacy/txn-id-server.js';
import { configError } from '../helpers/config-errors.js';

function plan(outcome: LegacyOutcome): LegacyPlan {
  if (outcome.kind !== 'serve') throw new Error(`expected serve, got ${outcome.kind}`);
  return outcome.plan;
}

function defaultsOf(result: LegacyPlan): Record<string, string> {
  return Object.fromEntries([...result.defaults].map(([name, raw]) => [name, String(raw.value)]));
}

/** The native flags of a plan as the native parser would see them: name → last value. */
function flagsOf(result: LegacyPlan): RawOptions {
  const flags: RawOptions = new Map();
  for (const arg of result.argv.slice(1)) {
    const match = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!match) throw new Error(`not a flag: ${arg}`);
    const name = match[1] as string;
    // --host may be repeated (the native parser keeps every value): joined, as the native CLI does.
    const earlier = name === 'host' ? flags.get(name) : undefined;
    const value = earlier ? `${String(earlier.value)},${match[2] ?? ''}` : (match[2] ?? true);
    flags.set(name, { value, source: `--${name}` });
  }
  return flags;
}

/** The configuration a plan resolves to (what the server would run with). */
function configOf(result: LegacyPlan): ReturnType<typeof loadConfig> {
  return loadConfig(flagsOf(result), result.env, result.defaults);
}


describe('seqgen', () => {
  it('has seqgen\'s defaults: drift 100, /var/lib/seqgen/, ZeroMQ and admin on, public HTTP off', () => {
    const result = plan(mapSeqgen([], {}));
    expect(result.argv).toEqual(['serve']);
    const config = configOf(result);
    expect(config).toMatchObject({ drift: 100n, data: '/var/lib/seqgen/', bind: 'tcp://0.0.0.0:6410', http: undefined });
    expect(config.admin).toEqual({ host: '0.0.0.0', port: 6411 });
    expect(result.notice).toBe('seqgen: serving as ticket-server (seqgen defaults: --drift 100 --data /var/lib/seqgen/ --http off)');
  });

  it('maps seqgen\'s flags, --admin http://HOST:PORT included, onto the native ones', () => {
    const result = plan(mapSeqgen(['--instance', '2', '--instances', '3', '--admin', 'http://127.0.0.1:7411', '--bind', 'tcp://127.0.0.1:7410', '--drift', '-1'], {}));
    const config = configOf(result);
    expect(config).toMatchObject({ instance: 2, instances: 3, drift: -1n, bind: 'tcp://127.0.0.1:7410' });
    expect(config.admin).toEqual({ host: '127.0.0.1', port: 7411 });
    expect(result.notice).toContain('--instance 2 --instances 3');
  });

  it('proxy mode: repeated --host are all kept', () => {
    const config = configOf(plan(mapSeqgen(['--host', 'tcp://10.0.0.11:6410', '--host=tcp://10.0.0.12:6410'], {})));
    expect(config.hosts).toEqual(['tcp://10.0.0.11:6410', 'tcp://10.0.0.12:6410']);
  });

  it('native flags and TICKET_SERVER_* win over seqgen\'s defaults, and the notice drops what they replace', () => {
    const byFlag = plan(mapSeqgen(['--http', '127.0.0.1:0', '--data', '/tmp/x'], {}));
    expect(configOf(byFlag).http).toEqual({ host: '127.0.0.1', port: 0 });
    expect(byFlag.notice).not.toContain('--http off');
    const byEnv = plan(mapSeqgen([], { TICKET_SERVER_DRIFT: '7' }));
    expect(configOf(byEnv).drift).toBe(7n);
    expect(defaultsOf(byEnv)).not.toHaveProperty('drift');
    expect(byEnv.notice).not.toContain('--drift 100');
  });

  it('refuses unknown flags and arguments naming them; --help and --version', () => {
    expect(configError(() => mapSeqgen(['--instnce', '2'], {})).message).toContain('--instnce');
    expect(configError(() => mapSeqgen(['-instance', '2'], {})).message).toContain('-instance');
    expect(configError(() => mapSeqgen(['dump'], {})).message).toContain('"dump"');
    expect(configError(() => mapSeqgen(['--drift'], {})).message).toContain('--drift needs a value');
    expect(mapSeqgen(['--help'], {}).kind).toBe('help');
    expect(mapSeqgen(['--version'], {}).kind).toBe('version');
  });
});

describe('txn-id-server', () => {
  it.each([
    [1, 1, [1, 2, 3]],
    [2, 3, [2, 5, 8]],
    [5, 3, [5, 8, 11]],
    [3, 3, [3, 6, 9]],
    [0, 3, [3, 6, 9]],
    [0, 1, [1, 2, 3]],
    [32_767, 32_767, [32_767, 65_534, 98_301]],
    [40, 7, [40, 47, 54]],
  ])('-instance %i -increment %i issues %j', (start, increment, values) => {
    const numbering = txnIdNumbering(start, increment);
    const issued = [1, 2, 3].map((slot) => numbering.offset + (numbering.instance - 1) + (slot - 1) * numbering.instances);
    expect(issued).toEqual(values);
    expect(numbering.instance).toBeGreaterThanOrEqual(1);
    expect(numbering.instance).toBeLessThanOrEqual(numbering.instances);
    expect(numbering.offset).toBeGreaterThanOrEqual(1);
  });

  it('defaults: only the one-shot TCP protocol on 0.0.0.0:8963, data in /etc/txnidserver', () => {
    const result = plan(mapTxnIdServer([], {}));
    const config = configOf(result);
    expect(config).toMatchObject({ bind: undefined, http: undefined, admin: undefined, data: '/etc/txnidserver', instance: 1, instances: 1, offset: 1n });
    expect(config.tcp).toEqual({ host: '0.0.0.0', port: 8963 });
  });

  it.each([
    [['-ip', '127.0.0.1', '-port', '9000', '-instance', '2', '-increment', '3']],
    [['--ip', '127.0.0.1', '--port', '9000', '--instance', '2', '--increment', '3']],
    [['-ip=127.0.0.1', '-port=9000', '-instance=2', '-increment=3']],
    [['--ip=127.0.0.1', '--port=9000', '--instance=2', '--increment=3']],
  ])('one or two dashes, -flag value or -flag=value: %j', (argv) => {
    const config = configOf(plan(mapTxnIdServer(argv, {})));
    expect(config.tcp).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(config).toMatchObject({ instance: 2, instances: 3, offset: 1n });
  });

  it('reads TXNID_SERVER_* first; flags override them; the native aliases do not apply on top', () => {
    const env = {
      TXNID_SERVER_IP: '127.0.0.1',
      TXNID_SERVER_PORT: '9001',
      TXNID_SERVER_INSTANCE: '5',
      TXNID_SERVER_INCREMENT: '3',
      TXNID_SERVER_CONFDIR: '/srv/txnid',
      TXNID_SERVER_VERBOSE: '1',
    };
    const fromEnv = plan(mapTxnIdServer([], env));
    // S = 5, K = 3 is instance 2 of 3 from offset 4: 5, 8, 11 (the native alias would say instance 5 of 3).
    expect(configOf(fromEnv)).toMatchObject({ instance: 2, instances: 3, offset: 4n, data: '/srv/txnid', logLevel: 'debug' });
    expect(configOf(fromEnv).tcp).toEqual({ host: '127.0.0.1', port: 9001 });
    expect(Object.keys(fromEnv.env).filter((key) => key.startsWith('TXNID_SERVER_'))).toEqual([]);
    expect(defaultsOf(fromEnv).tcp).toBe('127.0.0.1:9001');
    expect(fromEnv.defaults.get('tcp')?.source).toBe('TXNID_SERVER_IP/TXNID_SERVER_PORT');

    const overridden = configOf(plan(mapTxnIdServer(['-port', '9002', '-instance', '1', '-v=false'], env)));
    expect(overridden.tcp).toEqual({ host: '127.0.0.1', port: 9002 });
    // -instance 1 with TXNID_SERVER_INCREMENT=3: 1, 4, 7.
    expect(overridden).toMatchObject({ instance: 1, instances: 3, offset: 1n, logLevel: 'info' });
  });

  it('native options and TICKET_SERVER_* win over its defaults and variables; its flags are flags', () => {
    const env = { TXNID_SERVER_PORT: '9001', TICKET_SERVER_TCP: '127.0.0.1:9100', TICKET_SERVER_BIND: 'tcp://127.0.0.1:0' };
    const config = configOf(plan(mapTxnIdServer(['--http', '127.0.0.1:0'], env)));
    expect(config.tcp).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(config.bind).toBe('tcp://127.0.0.1:*');
    expect(config.http).toEqual({ host: '127.0.0.1', port: 0 });
    expect(configOf(plan(mapTxnIdServer(['-port', '9200'], env))).tcp).toEqual({ host: '0.0.0.0', port: 9200 });
  });

  it('S = 0 is said in the notice; -daemon is accepted, ignored and said', () => {
    const zero = plan(mapTxnIdServer(['-instance', '0', '-increment', '4', '-daemon'], {}));
    expect(configOf(zero)).toMatchObject({ instance: 4, instances: 4, offset: 1n });
    expect(zero.notice).toContain('instance 0 issues 4, 8, …');
    expect(zero.notice).toContain('-daemon ignored');
    expect(zero.notice.split('\n')).toHaveLength(1);
    expect(plan(mapTxnIdServer([], { TXNID_SERVER_DAEMON: '1' })).notice).toContain('TXNID_SERVER_DAEMON ignored');
    expect(plan(mapTxnIdServer([], { TXNID_SERVER_DAEMON: '0' })).notice).not.toContain('ignored');
  });

  it.each([
    [['-instance', '32768'], '-instance'],
    [['-instance', '-1'], '-instance'],
    [['-increment', '0'], '-increment'],
    [['-increment', '32768'], '-increment'],
    [['-port', '65536'], '-port'],
    [['-port', 'http'], '-port'],
    [['-ip', '256.0.0.1'], '-ip'],
    [['-ip', 'localhost'], '-ip'],
    [['-v=maybe'], '-v'],
    [['-verbose'], '-verbose'],
    [['-port'], '-port'],
    [['-v', 'false'], '"false"'],
  ])('%j stops with a message naming %s', (argv, named) => {
    expect(configError(() => mapTxnIdServer(argv, {})).message).toContain(named);
  });

  it('bad variables are named too', () => {
    expect(configError(() => mapTxnIdServer([], { TXNID_SERVER_INCREMENT: '0' })).message).toContain('TXNID_SERVER_INCREMENT');
    expect(configError(() => mapTxnIdServer([], { TXNID_SERVER_VERBOSE: 'loud' })).message).toContain('TXNID_SERVER_VERBOSE');
  });
});

describe('ticketd', () => {
  it('a single node: POST / on --http_port (every interface, or HOST:PORT), ZeroMQ and admin off', () => {
    const result = plan(mapTicketd(['--http_port', '8002'], {}));
    expect(result.argv).toEqual(['serve', '--http=0.0.0.0:8002']);
    expect(configOf(result)).toMatchObject({ bind: undefined, admin: undefined, http: { host: '0.0.0.0', port: 8002 } });
    expect(configOf(plan(mapTicketd(['--http_port=127.0.0.1:8003'], {}))).http).toEqual({ host: '127.0.0.1', port: 8003 });
    expect(configOf(plan(mapTicketd([], {}))).http).toEqual({ host: '0.0.0.0', port: 8001 });
  });

  it('PEERS or --peer_port without an etcd store stop it, pointing at --store etcd:// and --leader', () => {
    for (const argv of [
      ['127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003', '--peer_port', '9001', '--http_port', '8001'],
      ['--peer_port', '9001'],
      ['127.0.0.1:9001,127.0.0.1:9002', '--store', 'postgres://u:p@db/tickets'],
    ]) {
      const error = configError(() => mapTicketd(argv, {}));
      expect(error.message).toContain('--store etcd://HOST:PORT');
      expect(error.message).toContain('--leader');
    }
  });

  it('with an etcd store: leader mode, advertising this node\'s PEERS entry with the HTTP port', () => {
    const argv = ['10.0.0.1:9001,10.0.0.2:9002', '--peer_port', '9002', '--http_port', '8002', '--store', 'etcd://127.0.0.1:2379'];
    const result = plan(mapTicketd(argv, {}));
    expect(result.argv).toEqual(['serve', '--http=0.0.0.0:8002', '--leader', '--store=etcd://127.0.0.1:2379']);
    expect(defaultsOf(result)['advertise-http']).toBe('http://10.0.0.2:8002');
    expect(result.notice).toContain('--leader');
    const viaEnv = plan(mapTicketd(['10.0.0.1:9001', '--peer_port', '9001'], { TICKET_SERVER_STORE: 'etcd://127.0.0.1:2379' }));
    expect(viaEnv.argv).toContain('--leader');
    expect(defaultsOf(viaEnv)['advertise-http']).toBe('http://10.0.0.1:8001');
  });

  it('refuses bad ports, bad peers and a second peer list', () => {
    expect(configError(() => mapTicketd(['--http_port', '70000'], {})).message).toContain('--http_port');
    expect(configError(() => mapTicketd(['--peer_port', 'x', '--store', 'etcd://h:1'], {})).message).toContain('--peer_port');
    expect(configError(() => mapTicketd(['a:1,b', '--store', 'etcd://h:1'], {})).message).toContain('PEERS');
    expect(configError(() => mapTicketd(['a:1', 'b:2'], {})).message).toContain('"b:2"');
    expect(configError(() => mapTicketd(['--http-port', '8001'], {})).message).toContain('--http-port');
    expect(configError(() => mapTicketd(['a:1', '--peer_port', '1', '--http_port', '0', '--store', 'etcd://h:1'], {})).message).toContain('--http_port 0');
    // An advertised URL given by the operator (the leader-mode option's variable) makes port 0 fine.
    const advertised = plan(mapTicketd(['a:1', '--http_port', '0', '--store', 'etcd://h:1'], { TICKET_SERVER_ADVERTISE_HTTP: 'http://a:8001' }));
    expect(advertised.argv).toContain('--leader');
    expect(defaultsOf(advertised)).not.toHaveProperty('advertise-http');
  });
});

describe('tickr', () => {
  const database = { TICKR_DATABASE_HOST: 'db:3306', TICKR_DATABASE_NAME: 'tickr', TICKR_DATABASE_USERNAME: 'u', TICKR_DATABASE_PASSWORD: 's3cret' };

  it('HTTP on 0.0.0.0:9292 from the MySQL store of TICKR_DATABASE_*; ZeroMQ and admin off', () => {
    const result = plan(mapTickr([], { ...database, TICKR_MAX_NODES: '4', TICKR_NODE_NUMBER: '0' }));
    const config = configOf(result);
    expect(config).toMatchObject({ store: 'mysql://u:s3cret@db:3306/tickr', instances: 4, instance: 1, bind: undefined, admin: undefined });
    expect(config.http).toEqual({ host: '0.0.0.0', port: 9292 });
    expect(result.notice).toContain('TICKR_DATABASE_HOST');
    expect(result.notice).not.toContain('s3cret');
  });

  it('without its database variables it stops, saying which variables Tickr needs', () => {
    const error = configError(() => mapTickr([], { TICKR_DATABASE_HOST: 'db' }));
    expect(error.message).toContain('TICKR_DATABASE_NAME');
    expect(error.message).not.toContain('set TICKR_DATABASE_HOST');
    expect(configError(() => mapTickr([], {})).message).toContain('TICKR_DATABASE_HOST and TICKR_DATABASE_NAME');
    expect(plan(mapTickr(['--store', 'memory:'], {})).argv).toEqual(['serve', '--store=memory:']);
  });

  it('TICKET_SERVER_HTTP wins over rackup\'s port; Tickr takes no flags of its own', () => {
    expect(configOf(plan(mapTickr([], { ...database, TICKET_SERVER_HTTP: '127.0.0.1:0' }))).http).toEqual({ host: '127.0.0.1', port: 0 });
    expect(configError(() => mapTickr(['-p', '9292'], database)).message).toContain('-p');
  });
});

describe('every command', () => {
  it('--help fits in 100 columns and never cites the contract\'s sections', () => {
    for (const text of [SEQGEN_HELP, TXNID_HELP, TICKETD_HELP, TICKR_HELP]) {
      for (const line of text.split('\n')) expect([...line].length, line).toBeLessThanOrEqual(100);
      expect(text).not.toMatch(/SPEC|§|\.\.\/shared/);
    }
  });

  it('notices hide passwords and the admin token', () => {
    expect(redact('--store mysql://u:pw@db/x --admin-token abcdefghijklmnopq')).toBe('--store mysql://u:***@db/x --admin-token ***');
    const result = plan(mapSeqgen(['--store', 'postgres://u:pw@db/x'], {}));
    expect(result.notice).toContain('postgres://u:***@db/x');
    expect(result.argv).toContain('--store=postgres://u:pw@db/x');
  });
});
