import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  FIELD_OPTIONS,
  OPTIONS,
  defaultText,
  envName,
  loadConfig,
  readConfigFile,
  resolveConfig,
  type OptionRow,
  type RawOptions,
} from '../../src/config/options.js';
import { HELP_WIDTH, optionHelpLines, paragraph, twoColumns, wrapText } from '../../src/config/help.js';
import { helpText } from '../../src/cli/help-text.js';
import { configError } from '../helpers/config-errors.js';

const dir = mkdtempSync(join(tmpdir(), 'ticket-option-table-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rows = FIELD_OPTIONS as readonly OptionRow[];

function configFile(content: string): string {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, content);
  return file;
}


/** Display width in columns: code points (the help text is single-width). */
const columns = (line: string): number => [...line].length;

describe('the option table', () => {
  it('resolves to these defaults when nothing is set (every field, with its unit in the name)', () => {
    expect(resolveConfig([])).toEqual({
      instance: 1,
      instances: 1,
      offset: 1n,
      drift: 10n,
      maxJump: 1_000_000_000n,
      maxBlock: 10_000,
      maxSequences: 100_000,
      strictSequences: false,
      jsSafe: false,
      sequences: undefined,
      data: './data',
      store: 'lmdb:./data',
      poolSize: 4,
      poolTimeoutMs: 5_000,
      bind: 'tcp://0.0.0.0:6410',
      storeTimeoutMs: 5_000,
      logLevel: 'info',
      http: { host: '0.0.0.0', port: 6412 },
      admin: { host: '0.0.0.0', port: 6411 },
      adminToken: undefined,
      tcp: undefined,
      tcpSequence: 'default',
      line: undefined,
      idleTimeoutS: 60,
      maxConnections: 10_000,
      workers: 1,
      maxReplyBytes: 262_144,
      requestTimeoutMs: 10_000,
      maxRequestsPerConnection: 0,
      heartbeatTimeoutMs: 30_000,
      zmqGuard: true,
      hosts: [],
      timeoutMs: 1_000,
      leader: false,
      leaderTtlS: 5,
      advertiseHttp: undefined,
      advertiseZmq: undefined,
      tlsCert: undefined,
      tlsKey: undefined,
      tlsCa: undefined,
      issueTokenFile: undefined,
      tcpTrusted: false,
      curveSecretKey: undefined,
      curveAllow: undefined,
      curveServerKey: undefined,
      curveClientKey: undefined,
      upstreamToken: undefined,
    });
  });

  it('has one field per row, one row per flag, and --config besides', () => {
    const fields = rows.map((row) => row.field);
    expect(new Set(fields).size).toBe(fields.length);
    expect(Object.keys(resolveConfig([])).sort()).toEqual([...fields].sort());
    expect(OPTIONS.map((spec) => spec.name)).toEqual(['config', ...rows.map((row) => row.name)]);
    expect(new Set(OPTIONS.map((spec) => spec.name)).size).toBe(OPTIONS.length);
  });

  it.each(rows.map((row) => [row.name, row] as const))('--%s names its unit in its field and placeholder', (_name, row) => {
    const suffix = { ms: 'Ms', s: 'S' } as const;
    if (row.unit !== undefined) {
      expect(row.field.endsWith(suffix[row.unit])).toBe(true);
      expect(row.placeholder).toBe(row.unit.toUpperCase());
    } else {
      expect(row.placeholder === 'MS' || row.placeholder === 'S').toBe(false);
    }
  });

  it('shows each default in --help as before the table (derived ones in words)', () => {
    expect(Object.fromEntries(OPTIONS.map((spec) => [spec.name, defaultText(spec)]))).toEqual({
      config: 'none',
      instance: '1',
      instances: '1',
      offset: '1',
      drift: '10 x instances',
      'max-jump': '1000000000',
      'max-block': '10000',
      'max-sequences': '100000',
      'strict-sequences': 'off',
      'js-safe': 'off',
      sequences: 'none',
      data: './data',
      store: 'lmdb:DIR',
      'pool-size': '4',
      'pool-timeout': '5000',
      bind: 'tcp://0.0.0.0:6410',
      'store-timeout': '5000',
      'log-level': 'info',
      http: '0.0.0.0:6412',
      admin: '0.0.0.0:6411',
      'admin-token': 'none (admin mutations off)',
      tcp: 'off',
      'tcp-sequence': 'default',
      line: 'off',
      'idle-timeout': '60',
      'max-connections': '10000',
      workers: '1',
      'max-reply-bytes': '262144',
      'request-timeout': '10000',
      'max-requests-per-connection': '0 (no limit)',
      'heartbeat-timeout': '30000',
      'zmq-guard': 'on',
      host: 'none',
      timeout: '1000',
      leader: 'off',
      'leader-ttl': '5',
      'advertise-http': 'http://HOST:PORT of --http',
      'advertise-zmq': 'tcp://HOST:PORT of --bind',
      'tls-cert': 'off',
      'tls-key': 'off',
      'tls-ca': 'none (no client certificate asked for)',
      'issue-token-file': 'none (anyone may take values)',
      'tcp-trusted': 'off',
      'curve-secret-key': 'none (ZeroMQ unencrypted)',
      'curve-allow': 'none (any client knowing the server key)',
      'curve-server-key': 'off',
      'curve-client-key': 'a fresh key pair per start',
      'upstream-token': 'off',
    });
  });
});

describe('--config numbers', () => {
  it('refuses an integer JSON cannot carry exactly rather than rounding it, and says to quote it', () => {
    const file = configFile('{"offset": 9007199254740993}');
    const error = configError(() => readConfigFile(file));
    expect(error.option).toBe('offset');
    expect(error.message).toContain('"offset"');
    expect(error.message).toContain(file);
    expect(error.message).toContain('quote it as a string');
  });

  it.each(['1.5', '1e21', '-9007199254740993'])('refuses %s the same way', (number) => {
    expect(configError(() => readConfigFile(configFile(`{"maxBlock": ${number}}`))).message).toContain('quote it as a string');
  });

  it('takes the same value quoted, exactly, and safe integers as numbers', () => {
    const file = configFile('{"offset": "9007199254740993", "instances": 2, "drift": -1}');
    expect(loadConfig(new Map([['config', { value: file, source: '--config' }]]), {})).toMatchObject({
      offset: 9_007_199_254_740_993n,
      instances: 2,
      drift: -1n,
    });
  });
});

describe('--help', () => {
  it(`fits every line in ${HELP_WIDTH} columns`, () => {
    expect(HELP_WIDTH).toBe(100);
    const lines = helpText().split('\n');
    const long = lines.filter((line) => columns(line) > HELP_WIDTH);
    expect(long).toEqual([]);
  });

  it('shows every option with its default and its variable, from the rows', () => {
    const text = optionHelpLines().join('\n').replace(/\s+/g, ' ');
    for (const spec of OPTIONS) {
      expect(text).toContain(`--${spec.name}${spec.placeholder ? ` ${spec.placeholder}` : ''} `);
      expect(text).toContain(`(default ${defaultText(spec)}; env ${envName(spec.name)})`);
    }
    expect(helpText()).toContain(optionHelpLines().join('\n'));
  });

  it('never cites the contract\'s sections', () => {
    expect(helpText()).not.toMatch(/SPEC|§/);
  });
});

describe('wrapping', () => {
  it('breaks at spaces within the width and keeps a too-long word whole', () => {
    expect(wrapText('aa bb cc dd', 5)).toEqual(['aa bb', 'cc dd']);
    expect(wrapText('a verylongword b', 4)).toEqual(['a', 'verylongword', 'b']);
    expect(wrapText('', 10)).toEqual([]);
  });

  it('puts a description under a term too wide for its column', () => {
    expect(twoColumns([['--short', 'text'], ['--a-very-long-term', 'more text']], 12, 2, 30)).toEqual([
      '  --short   text',
      '  --a-very-long-term',
      '            more text',
    ]);
  });

  it('indents a paragraph\'s following lines and keeps them within the width', () => {
    const lines = paragraph('one two three four five six', 2, 2, 12);
    expect(lines).toEqual(['  one two', '    three', '    four', '    five six']);
    for (const line of lines) expect(columns(line)).toBeLessThanOrEqual(12);
  });
});

describe('layers still resolve through the rows', () => {
  it('names where an invalid value came from', () => {
    const layer: RawOptions = new Map([['idle-timeout', { value: '0', source: 'TICKET_SERVER_IDLE_TIMEOUT' }]]);
    expect(configError(() => resolveConfig([layer])).message).toBe(
      'invalid TICKET_SERVER_IDLE_TIMEOUT (--idle-timeout): expected an integer from 1 to 86400, got "0"',
    );
  });
});
