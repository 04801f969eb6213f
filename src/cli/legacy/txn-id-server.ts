/**
 * `txn-id-server`: txn-id-server's command line (Go's flag package: one or two
 * dashes, `-flag value` or `-flag=value`) and its `TXNID_SERVER_*` variables,
 * read first and overridden by the flags, as txn-id-server did. It serves only
 * the one-shot TCP protocol (`<value>\n`, then close) on 0.0.0.0:8963 unless
 * native options turn other listeners on.
 *
 * Numbering: txn-id-server issued `S, S+K, S+2K, …` for `-instance S
 * -increment K`. Ours issues `offset + (instance−1) + (slot−1)·instances`, so
 * instances = K, instance − 1 = (S − 1) mod K and offset = S − (instance − 1).
 * S = 0 (allowed by txn-id-server, but 0 is no ticket here) issues K, 2K, … :
 * the same residue class, starting at its first positive value.
 */
import { ConfigError } from '../../config/options.js';
import {
  NATIVE_HELP_FOOTER,
  buildPlan,
  lastValue,
  parseBooleanWord,
  refusePositionals,
  scanArgs,
  type LegacyFlagSpec,
  type LegacyOutcome,
  type MappedOption,
} from './common.js';

const FLAGS = new Map<string, LegacyFlagSpec>([
  ['ip', { kind: 'string' }],
  ['port', { kind: 'string' }],
  ['instance', { kind: 'string' }],
  ['increment', { kind: 'string' }],
  ['confdir', { kind: 'string' }],
  ['v', { kind: 'boolean' }],
  ['daemon', { kind: 'boolean' }],
]);

/** Variable of each flag. */
const VARIABLES: Readonly<Record<string, string>> = {
  ip: 'TXNID_SERVER_IP',
  port: 'TXNID_SERVER_PORT',
  instance: 'TXNID_SERVER_INSTANCE',
  increment: 'TXNID_SERVER_INCREMENT',
  confdir: 'TXNID_SERVER_CONFDIR',
  v: 'TXNID_SERVER_VERBOSE',
  daemon: 'TXNID_SERVER_DAEMON',
};

/** txn-id-server's bounds for -instance and -increment (its lower 16 bits, signed). */
export const TXNID_MAX_INSTANCE = 32_767;
export const TXNID_DEFAULT_PORT = 8963;
export const TXNID_DEFAULT_CONFDIR = '/etc/txnidserver';

/** A setting and where it came from: a flag (`-port`) or a variable (`TXNID_SERVER_PORT`). */
interface Setting {
  readonly text: string;
  readonly fromFlag: boolean;
  readonly source: string;
}

/** ticket-server's numbering for txn-id-server's `-instance S -increment K`. */
export interface TxnIdNumbering {
  readonly instance: number;
  readonly instances: number;
  readonly offset: number;
}

/**
 * Maps `S, S+K, S+2K, …` onto instance/instances/offset. S = 0 maps to the
 * first value K (0 is not a valid ticket; K is the next value of its class).
 * @param start S, 0..32767
 * @param increment K, 1..32767
 */
export function txnIdNumbering(start: number, increment: number): TxnIdNumbering {
  const first = start === 0 ? increment : start;
  const residue = (first - 1) % increment;
  return { instance: residue + 1, instances: increment, offset: first - residue };
}

function integerSetting(setting: Setting, min: number, max: number, what: string): number {
  const text = setting.text.trim();
  const value = /^[0-9]{1,6}$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) {
    throw new ConfigError(setting.source, `invalid ${setting.source}: ${what} must be an integer from ${min} to ${max}, got "${text.slice(0, 40)}"`);
  }
  return value;
}

function booleanSetting(setting: Setting): boolean {
  const value = parseBooleanWord(setting.text);
  if (value === undefined) throw new ConfigError(setting.source, `invalid ${setting.source}: expected 1 or 0 (true or false), got "${setting.text.slice(0, 40)}"`);
  return value;
}

/**
 * Maps a txn-id-server command line and environment onto the native serve path.
 * @throws ConfigError (exit 2) naming the flag or variable: unknown flag, a value out of
 *   txn-id-server's bounds (instance 0–32767, increment 1–32767, port 0–65535), a stray argument
 */
export function mapTxnIdServer(argv: readonly string[], env: NodeJS.ProcessEnv): LegacyOutcome {
  const scanned = scanArgs(argv, FLAGS, true);
  if (scanned.help) return { kind: 'help' };
  if (scanned.version) return { kind: 'version' };
  refusePositionals(scanned);
  const setting = (flag: string): Setting | undefined => {
    const given = lastValue(scanned, flag);
    // As Go's flag package shows a flag in its messages: one dash.
    if (given !== undefined) return { text: given, fromFlag: true, source: `-${flag}` };
    const variable = VARIABLES[flag] as string;
    const text = env[variable];
    return text === undefined || text === '' ? undefined : { text, fromFlag: false, source: variable };
  };
  const mapped: MappedOption[] = [];
  const defaults: Array<MappedOption & { source?: string }> = [];
  const put = (from: readonly (Setting | undefined)[], option: MappedOption): void => {
    const given = from.filter((item): item is Setting => item !== undefined);
    if (given.some((item) => item.fromFlag)) mapped.push(option);
    else defaults.push(given.length > 0 ? { ...option, source: given.map((item) => item.source).join('/') } : option);
  };
  const remarks: string[] = [];

  const ip = setting('ip');
  const port = setting('port');
  if (ip && !/^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$/.test(ip.text.trim())) {
    throw new ConfigError(ip.source, `invalid ${ip.source}: expected an IPv4 address n.n.n.n, got "${ip.text.slice(0, 80)}"`);
  }
  const portNumber = port ? integerSetting(port, 0, 65_535, 'the port') : TXNID_DEFAULT_PORT;
  put([ip, port], { name: 'tcp', value: `${ip ? ip.text.trim() : '0.0.0.0'}:${portNumber}` });

  const instance = setting('instance');
  const increment = setting('increment');
  const start = instance ? integerSetting(instance, 0, TXNID_MAX_INSTANCE, 'the instance') : 1;
  const step = increment ? integerSetting(increment, 1, TXNID_MAX_INSTANCE, 'the increment') : 1;
  if (instance || increment) {
    const numbering = txnIdNumbering(start, step);
    for (const [name, value] of [
      ['instance', numbering.instance],
      ['instances', numbering.instances],
      ['offset', numbering.offset],
    ] as const) {
      put([instance, increment], { name, value: String(value) });
    }
    if (start === 0) remarks.push(`instance 0 issues ${step}, ${2 * step}, … (0 is not a valid ticket)`);
  }

  const confdir = setting('confdir');
  if (confdir && (confdir.text.length > 4096 || confdir.text.includes('\0'))) {
    throw new ConfigError(confdir.source, `invalid ${confdir.source}: expected a directory path`);
  }
  put([confdir], { name: 'data', value: confdir ? confdir.text : TXNID_DEFAULT_CONFDIR });

  const verbose = setting('v');
  if (verbose) put([verbose], { name: 'log-level', value: booleanSetting(verbose) ? 'debug' : 'info' });

  const daemon = setting('daemon');
  if (daemon && booleanSetting(daemon)) {
    remarks.push(`${daemon.source} ignored: ticket-server stays in the foreground, run it under a supervisor (systemd, runit, …)`);
  }

  // Only the one-shot TCP protocol, as txn-id-server served, unless native options ask for more.
  defaults.push({ name: 'bind', value: 'off' }, { name: 'http', value: 'off' }, { name: 'admin', value: 'off' });
  return {
    kind: 'serve',
    plan: buildPlan({ command: 'txn-id-server', mapped, defaults, scanned, env, consumedEnvPrefixes: ['TXNID_SERVER_'], remarks }),
  };
}

/** `txn-id-server --help`. */
export const TXNID_HELP = [
  'txn-id-server — txn-id-server\'s command line, served by ticket-server (the same server)',
  '',
  'Usage:',
  '  txn-id-server [-ip n.n.n.n] [-port n] [-instance n] [-increment n] [-confdir DIR] [-v] [-daemon]',
  '  txn-id-server --help | --version',
  '',
  'Flags take one or two dashes and -flag value or -flag=value. TXNID_SERVER_* variables are read',
  'first; flags override them. Each connection to the TCP port reads <number>\\n and is closed.',
  '  -ip n.n.n.n    TXNID_SERVER_IP         listen address (default 0.0.0.0)    → --tcp IP:PORT',
  '  -port n        TXNID_SERVER_PORT       listen port (default 8963)          → --tcp IP:PORT',
  '  -instance S    TXNID_SERVER_INSTANCE   first number, 0-32767 (default 1)   → see below',
  '  -increment K   TXNID_SERVER_INCREMENT  step, 1-32767 (default 1)           → --instances K',
  '  -confdir DIR   TXNID_SERVER_CONFDIR    data (default /etc/txnidserver)     → --data DIR',
  '  -v             TXNID_SERVER_VERBOSE=1  debug logs                          → --log-level debug',
  '  -daemon        TXNID_SERVER_DAEMON=1   accepted and ignored: run it under a supervisor',
  '',
  '-instance S -increment K issue S, S+K, S+2K, …: --instances K, --instance ((S-1) mod K)+1,',
  '--offset S-((S-1) mod K). S = 0 issues K, 2K, … (0 is not a valid ticket).',
  'Only the one-shot TCP protocol is served (--bind, --http and --admin default to off).',
  'Numbers are not those txn-id-server issued: take over its progress file first',
  '(ticket-server takeover txnid:FILE) so that none is issued again.',
  ...NATIVE_HELP_FOOTER,
].join('\n');
