/**
 * The option table (SPEC §10) and its precedence:
 * built-in defaults < `--config FILE` (JSON) < the earlier systems' environment
 * variables (aliases) < `TICKET_SERVER_<OPTION>` < command-line flags.
 *
 * Every value is checked here, once; an invalid one raises `ConfigError`,
 * which names the option and where it came from, and the CLI exits with code 2.
 */
import { readFileSync } from 'node:fs';
import { MAX_INSTANCES, MAX_VALUE } from '../core/numbering.js';
import { MAX_BLOCK_LIMIT } from '../core/lease-policy.js';
import { validateStoreUri, StoreUriError } from '../store/open-store.js';
import { validateSequenceName } from '../core/names.js';

/** An invalid option: the CLI prints the message and exits with code 2. */
export class ConfigError extends Error {
  readonly option: string;

  constructor(option: string, message: string) {
    super(message);
    this.name = 'ConfigError';
    this.option = option;
  }
}

/** Log levels pino understands, plus `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The resolved configuration of a server. */
export interface ServerConfig {
  readonly instance: number;
  readonly instances: number;
  readonly offset: bigint;
  /** Jump threshold in values; ≤ 0 disables jumping. */
  readonly drift: bigint;
  readonly maxJump: bigint;
  readonly maxBlock: number;
  readonly maxSequences: number;
  readonly strictSequences: boolean;
  readonly data: string;
  /** Store URI; `lmdb:<data>` unless given. */
  readonly store: string;
  /** ZeroMQ endpoint (SPEC §6.1), or undefined when off (`--bind off`). */
  readonly bind: string | undefined;
  readonly storeTimeout: number;
  /** Shared stores: database connections. */
  readonly poolSize: number;
  /** Shared stores: connect timeout in ms. */
  readonly poolTimeout: number;
  readonly logLevel: LogLevel;
  /** Upstream servers; non-empty means proxy mode (SPEC §8). */
  readonly hosts: readonly string[];
  /** Time an upstream gets to answer before the next one is tried (proxy mode), in ms. */
  readonly timeout: number;
  /** Public HTTP API address (SPEC §6.2), or undefined when off. */
  readonly http: ListenAddress | undefined;
  /** Admin and status HTTP address (SPEC §6.3), or undefined when off. */
  readonly admin: ListenAddress | undefined;
  /** Bearer token for admin mutations; undefined turns them off (EAUTH). */
  readonly adminToken: string | undefined;
  /** TCP one-number-per-connection address (SPEC §6.4), or undefined when off. */
  readonly tcp: ListenAddress | undefined;
  /** Sequence the one-shot TCP protocol issues from. */
  readonly tcpSequence: string;
  /** Long-lived TCP protocol address (SPEC §6.5), or undefined when off. */
  readonly line: ListenAddress | undefined;
  /** Idle connections of the TCP protocols are closed after this, in seconds. */
  readonly idleTimeout: number;
  /** Most connections per TCP protocol. */
  readonly maxConnections: number;
  /** Leader mode (SPEC §5.3): elect one issuer through the store. */
  readonly leader: boolean;
  /** Leader mode: leadership TTL in seconds. */
  readonly leaderTtl: number;
  /** Leader mode: public HTTP URL to redirect to while this server leads; undefined: derived from `http`. */
  readonly advertiseHttp: string | undefined;
  /** Leader mode: ZeroMQ endpoint to forward to while this server leads; undefined: derived from `bind`. */
  readonly advertiseZmq: string | undefined;
}

/** A TCP address to listen on. Port 0 picks a free port. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

type Kind = 'integer' | 'bigint' | 'string' | 'boolean' | 'list';

/** One row of the option table. */
export interface OptionSpec {
  /** Flag name without dashes, kebab-case. */
  readonly name: string;
  readonly kind: Kind;
  /** Default as shown in --help. */
  readonly defaultText: string;
  readonly description: string;
  /** Value placeholder for --help. */
  readonly placeholder?: string;
}

/** Every option `serve`, `dump` and `restore` accept, in --help order. */
export const OPTIONS: readonly OptionSpec[] = [
  { name: 'config', kind: 'string', placeholder: 'FILE', defaultText: 'none', description: 'JSON file of options (keys as the flags, kebab- or camelCase)' },
  { name: 'instance', kind: 'integer', placeholder: 'I', defaultText: '1', description: 'this server\'s instance number, 1..instances' },
  { name: 'instances', kind: 'integer', placeholder: 'N', defaultText: '1', description: `number of instances sharing the number space, 1..${MAX_INSTANCES}` },
  { name: 'offset', kind: 'bigint', placeholder: 'O', defaultText: '1', description: 'first value; instance i issues O+(i-1), O+(i-1)+N, ...' },
  { name: 'drift', kind: 'integer', placeholder: 'D', defaultText: '10 x instances', description: 'jump ahead when a client\'s last value is more than D above ours; 0 or -1 disables' },
  { name: 'max-jump', kind: 'bigint', placeholder: 'J', defaultText: '1000000000', description: 'largest jump one request may cause (larger: EJUMP)' },
  { name: 'max-block', kind: 'integer', placeholder: 'B', defaultText: '10000', description: 'largest lease in slots; a crash loses at most 2 x B per sequence' },
  { name: 'max-sequences', kind: 'integer', placeholder: 'M', defaultText: '100000', description: 'most sequences that may exist (more: ELIMIT)' },
  { name: 'strict-sequences', kind: 'boolean', defaultText: 'off', description: 'only sequences that already exist may be used (others: ENOSEQ)' },
  { name: 'data', kind: 'string', placeholder: 'DIR', defaultText: './data', description: 'data directory of the embedded store' },
  { name: 'store', kind: 'string', placeholder: 'URI', defaultText: 'lmdb:DIR', description: 'lmdb:DIR (embedded), postgres://USER:PASS@HOST:PORT/DB, mysql://USER:PASS@HOST:PORT/DB, etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (shared), or memory: (tests only)' },
  { name: 'pool-size', kind: 'integer', placeholder: 'N', defaultText: '4', description: 'shared stores: connections to the database, 1-1000' },
  { name: 'pool-timeout', kind: 'integer', placeholder: 'MS', defaultText: '5000', description: 'shared stores: give up connecting to the database after this' },
  { name: 'bind', kind: 'string', placeholder: 'ENDPOINT', defaultText: 'tcp://0.0.0.0:6410', description: 'ZeroMQ endpoint to serve (port 0 or * picks a free port), or off' },
  { name: 'store-timeout', kind: 'integer', placeholder: 'MS', defaultText: '5000', description: 'a reservation slower than this fails waiting requests with EUNAVAILABLE' },
  { name: 'log-level', kind: 'string', placeholder: 'LEVEL', defaultText: 'info', description: LOG_LEVELS.join(', ') },
  { name: 'http', kind: 'string', placeholder: 'ADDR', defaultText: '0.0.0.0:6412', description: 'public HTTP API (HOST:PORT, http://HOST:PORT, PORT, or off)' },
  { name: 'admin', kind: 'string', placeholder: 'ADDR', defaultText: '0.0.0.0:6411', description: 'admin, status, metrics and dashboard HTTP (HOST:PORT, http://HOST:PORT, PORT, or off)' },
  { name: 'admin-token', kind: 'string', placeholder: 'TOKEN', defaultText: 'none (admin mutations off)', description: 'Bearer token for admin mutations, 16-256 characters' },
  { name: 'tcp', kind: 'string', placeholder: 'ADDR', defaultText: 'off', description: 'TCP, one number per connection: writes <value>\\n and closes (HOST:PORT or PORT; txn-id-server used 8963)' },
  { name: 'tcp-sequence', kind: 'string', placeholder: 'NAME', defaultText: 'default', description: 'sequence the one-shot TCP protocol issues from' },
  { name: 'line', kind: 'string', placeholder: 'ADDR', defaultText: 'off', description: 'long-lived TCP: STX/ETX/BEL and NEXT/PING lines, pipelined (HOST:PORT or PORT)' },
  { name: 'idle-timeout', kind: 'integer', placeholder: 'S', defaultText: '60', description: 'close idle TCP connections after S seconds' },
  { name: 'max-connections', kind: 'integer', placeholder: 'C', defaultText: '10000', description: 'most connections per TCP protocol' },
  { name: 'host', kind: 'list', placeholder: 'URI', defaultText: 'none', description: 'proxy mode: forward to this upstream (tcp://HOST:PORT); repeat for several; env: comma-separated' },
  { name: 'timeout', kind: 'integer', placeholder: 'MS', defaultText: '1000', description: 'proxy mode: fail over to the next upstream after this' },
  { name: 'leader', kind: 'boolean', defaultText: 'off', description: 'leader mode: servers sharing an etcd store elect one that issues; the others redirect HTTP clients to it and forward the other protocols (strictly increasing values)' },
  { name: 'leader-ttl', kind: 'integer', placeholder: 'S', defaultText: '5', description: 'leader mode: a leader that cannot renew its leadership for this long is replaced; it stops issuing before that' },
  { name: 'advertise-http', kind: 'string', placeholder: 'URL', defaultText: 'http://HOST:PORT of --http', description: 'leader mode: public HTTP URL followers redirect clients to while this server leads' },
  { name: 'advertise-zmq', kind: 'string', placeholder: 'ENDPOINT', defaultText: 'tcp://HOST:PORT of --bind', description: 'leader mode: ZeroMQ endpoint followers forward to while this server leads' },
];

const SPEC_BY_NAME = new Map(OPTIONS.map((spec) => [spec.name, spec]));

/** Raw option values as strings/booleans, keyed by flag name, with their source for messages. */
export type RawOptions = Map<string, { value: string | boolean; source: string }>;

/** Environment variable of an option: `max-block` → `TICKET_SERVER_MAX_BLOCK`. */
export function envName(option: string): string {
  return `TICKET_SERVER_${option.toUpperCase().replace(/-/g, '_')}`;
}

function camelToKebab(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** Reads `--config FILE`: a JSON object whose keys are option names. */
export function readConfigFile(path: string): RawOptions {
  const result: RawOptions = new Map();
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError('config', `cannot read --config ${path}: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('config', `--config ${path} must hold a JSON object`);
  }
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    const name = camelToKebab(key);
    if (!SPEC_BY_NAME.has(name) || name === 'config') {
      throw new ConfigError(name, `unknown option "${key}" in --config ${path}`);
    }
    const source = `"${key}" in ${path}`;
    if (Array.isArray(value) && SPEC_BY_NAME.get(name)?.kind === 'list' && value.every((item) => typeof item === 'string')) {
      result.set(name, { value: value.join(','), source });
      continue;
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new ConfigError(name, `invalid "${key}" in --config ${path}: expected a string, number or boolean`);
    }
    result.set(name, { value: typeof value === 'boolean' ? value : String(value), source });
  }
  return result;
}

/**
 * Maps the earlier systems' variables (SPEC §10) onto options. Tickr's node
 * number is 0-based, ours 1-based; txn-id-server's instance is already the
 * first value's offset from 1 (default 1), so it maps as it is.
 */
export function readAliasEnvironment(env: NodeJS.ProcessEnv): RawOptions {
  const result: RawOptions = new Map();
  const put = (option: string, variable: string, transform: (text: string) => string | boolean = (t) => t): void => {
    const text = env[variable];
    if (text !== undefined && text !== '') result.set(option, { value: transform(text), source: variable });
  };
  put('instances', 'TXNID_SERVER_INCREMENT');
  put('instance', 'TXNID_SERVER_INSTANCE');
  put('data', 'TXNID_SERVER_CONFDIR');
  put('log-level', 'TXNID_SERVER_VERBOSE', (t) => (t === '0' || t === 'false' ? 'info' : 'debug'));
  put('instances', 'TICKR_MAX_NODES');
  put('instance', 'TICKR_NODE_NUMBER', (text) => {
    if (!/^[0-9]{1,6}$/.test(text)) {
      throw new ConfigError('instance', `invalid TICKR_NODE_NUMBER (--instance): expected a 0-based integer, got "${text}"`);
    }
    return String(Number(text) + 1);
  });
  put('offset', 'TICKR_STARTING_OFFSET');
  const ip = env.TXNID_SERVER_IP;
  const port = env.TXNID_SERVER_PORT;
  if ((ip !== undefined && ip !== '') || (port !== undefined && port !== '')) {
    result.set('tcp', {
      value: `${ip || '0.0.0.0'}:${port || '8963'}`,
      source: ip ? (port ? 'TXNID_SERVER_IP/TXNID_SERVER_PORT' : 'TXNID_SERVER_IP') : 'TXNID_SERVER_PORT',
    });
  }
  const tickrStore = tickrDatabaseUri(env);
  if (tickrStore) result.set('store', tickrStore);
  put('pool-size', 'TICKR_DATABASE_POOL_SIZE');
  put('pool-timeout', 'TICKR_DATABASE_POOL_TIMEOUT', (text) => {
    // Tickr's pool timeout is in seconds (as in Ruby's connection pools); ours is in ms.
    if (!/^[0-9]{1,6}(\.[0-9]{1,3})?$/.test(text.trim())) {
      throw new ConfigError('pool-timeout', `invalid TICKR_DATABASE_POOL_TIMEOUT (--pool-timeout): expected seconds, got "${text.slice(0, 40)}"`);
    }
    return String(Math.round(Number(text) * 1000));
  });
  return result;
}

/**
 * Tickr's `TICKR_DATABASE_HOST/USERNAME/PASSWORD/NAME` select the MySQL store
 * (`mysql://USERNAME:PASSWORD@HOST/NAME`; HOST may carry `:PORT`).
 */
function tickrDatabaseUri(env: NodeJS.ProcessEnv): { value: string; source: string } | undefined {
  const host = env.TICKR_DATABASE_HOST;
  if (host === undefined || host === '') return undefined;
  const source = 'TICKR_DATABASE_HOST';
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]{1,253})(:[0-9]{1,5})?$/.test(host)) {
    throw new ConfigError('store', `invalid TICKR_DATABASE_HOST (--store): expected HOST or HOST:PORT, got "${host.slice(0, 80)}"`);
  }
  const name = env.TICKR_DATABASE_NAME;
  if (name === undefined || name === '') {
    throw new ConfigError('store', 'TICKR_DATABASE_HOST is set but TICKR_DATABASE_NAME is not: name the MySQL database');
  }
  const user = encodeURIComponent(env.TICKR_DATABASE_USERNAME ?? '');
  const password = env.TICKR_DATABASE_PASSWORD ? `:${encodeURIComponent(env.TICKR_DATABASE_PASSWORD)}` : '';
  const credentials = user === '' && password === '' ? '' : `${user}${password}@`;
  return { value: `mysql://${credentials}${host}/${encodeURIComponent(name)}`, source };
}

/** Reads `TICKET_SERVER_<OPTION>` variables. */
export function readNativeEnvironment(env: NodeJS.ProcessEnv): RawOptions {
  const result: RawOptions = new Map();
  for (const spec of OPTIONS) {
    const variable = envName(spec.name);
    const text = env[variable];
    if (text !== undefined && text !== '') result.set(spec.name, { value: text, source: variable });
  }
  return result;
}

function describe(option: string, source: string): string {
  return source.startsWith('--') ? source : `${source} (--${option})`;
}

function integer(option: string, raw: { value: string | boolean; source: string }, min: number, max: number): number {
  const text = String(raw.value).trim();
  const value = /^-?[0-9]{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(option, `invalid ${describe(option, raw.source)}: expected an integer from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

function bigInteger(option: string, raw: { value: string | boolean; source: string }, min: bigint, max: bigint): bigint {
  const text = String(raw.value).trim();
  const value = /^-?[0-9]{1,19}$/.test(text) ? BigInt(text) : undefined;
  if (value === undefined || value < min || value > max) {
    throw new ConfigError(option, `invalid ${describe(option, raw.source)}: expected an integer from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

function boolean(option: string, raw: { value: string | boolean; source: string }): boolean {
  if (typeof raw.value === 'boolean') return raw.value;
  const text = raw.value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off'].includes(text)) return false;
  throw new ConfigError(option, `invalid ${describe(option, raw.source)}: expected true or false, got "${raw.value}"`);
}

/** Words that turn a listener off. */
const OFF_WORDS = ['off', 'false', 'none'];

/**
 * Reads HOST:PORT, [IPv6]:PORT, PORT or `off`; for the HTTP listeners
 * (`allowHttpUrl`) also `http://HOST:PORT[/]`, the form seqgen's `--admin` took.
 * TLS is not served, so `https://` is refused rather than served as plain HTTP.
 */
function listenAddress(
  option: string,
  raw: { value: string | boolean; source: string } | undefined,
  fallback: ListenAddress | undefined,
  allowHttpUrl = false,
): ListenAddress | undefined {
  if (!raw) return fallback;
  let text = String(raw.value).trim();
  if (OFF_WORDS.includes(text)) return undefined;
  if (allowHttpUrl) {
    if (/^https:\/\//i.test(text)) {
      throw new ConfigError(
        option,
        `invalid ${describe(option, raw.source)}: https is not served here; give http://HOST:PORT or HOST:PORT and put a TLS proxy in front, got "${text.slice(0, 80)}"`,
      );
    }
    const url = /^http:\/\/([^/]*)\/?$/i.exec(text);
    if (url) text = url[1] as string;
  }
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253}):)?([0-9]{1,5})$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) {
    throw new ConfigError(option, `invalid ${describe(option, raw.source)}: expected HOST:PORT, PORT or off, got "${text}"`);
  }
  const host = match[1] ?? '0.0.0.0';
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port };
}

/** Checks a ZeroMQ endpoint: tcp://HOST:PORT (port 0 or * for a free port), ipc://PATH or inproc://NAME. */
export function validateZmqEndpoint(text: string): string {
  const tcp = /^tcp:\/\/(\*|\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253}):(\*|[0-9]{1,5})$/.exec(text);
  if (tcp) {
    const port = tcp[2] as string;
    if (port !== '*' && Number(port) > 65535) throw new Error('port must be 0..65535');
    return port === '0' ? text.replace(/:0$/, ':*') : text;
  }
  if (/^(ipc|inproc):\/\/.{1,200}$/.test(text)) return text;
  throw new Error('expected tcp://HOST:PORT, ipc://PATH or inproc://NAME');
}

/**
 * Resolves the layers into a checked configuration.
 * @param layers lowest precedence first
 * @throws ConfigError naming the first invalid option
 */
export function resolveConfig(layers: readonly RawOptions[]): ServerConfig {
  const merged: RawOptions = new Map();
  for (const layer of layers) for (const [key, value] of layer) merged.set(key, value);
  const get = (name: string): { value: string | boolean; source: string } | undefined => merged.get(name);
  for (const [name, raw] of merged) {
    const spec = SPEC_BY_NAME.get(name);
    if (!spec) throw new ConfigError(name, `unknown option --${name}`);
    if (spec.kind !== 'boolean' && typeof raw.value === 'boolean') {
      throw new ConfigError(name, `invalid ${describe(name, raw.source)}: a value is required`);
    }
  }

  const instancesRaw = get('instances');
  const instances = instancesRaw ? integer('instances', instancesRaw, 1, MAX_INSTANCES) : 1;
  const instanceRaw = get('instance');
  const instance = instanceRaw ? integer('instance', instanceRaw, 1, MAX_INSTANCES) : 1;
  if (instance > instances) {
    throw new ConfigError(
      'instance',
      `invalid ${describe('instance', instanceRaw?.source ?? '--instance')}: instance ${instance} is above --instances ${instances}`,
    );
  }
  const offsetRaw = get('offset');
  const offset = offsetRaw ? bigInteger('offset', offsetRaw, 1n, MAX_VALUE) : 1n;
  const driftRaw = get('drift');
  const drift = driftRaw ? BigInt(integer('drift', driftRaw, -1, Number.MAX_SAFE_INTEGER)) : 10n * BigInt(instances);
  const maxJumpRaw = get('max-jump');
  const maxJump = maxJumpRaw ? bigInteger('max-jump', maxJumpRaw, 0n, MAX_VALUE) : 1_000_000_000n;
  const maxBlockRaw = get('max-block');
  const maxBlock = maxBlockRaw ? integer('max-block', maxBlockRaw, 1, MAX_BLOCK_LIMIT) : 10_000;
  const maxSequencesRaw = get('max-sequences');
  const maxSequences = maxSequencesRaw ? integer('max-sequences', maxSequencesRaw, 1, 100_000_000) : 100_000;
  const strictRaw = get('strict-sequences');
  const strictSequences = strictRaw ? boolean('strict-sequences', strictRaw) : false;
  const storeTimeoutRaw = get('store-timeout');
  const storeTimeout = storeTimeoutRaw ? integer('store-timeout', storeTimeoutRaw, 1, 600_000) : 5_000;
  const poolSizeRaw = get('pool-size');
  const poolSize = poolSizeRaw ? integer('pool-size', poolSizeRaw, 1, 1000) : 4;
  const poolTimeoutRaw = get('pool-timeout');
  const poolTimeout = poolTimeoutRaw ? integer('pool-timeout', poolTimeoutRaw, 1, 600_000) : 5_000;

  const dataRaw = get('data');
  const data = dataRaw ? String(dataRaw.value) : './data';
  if (data.length === 0 || data.length > 4096 || data.includes('\0')) {
    throw new ConfigError('data', `invalid ${describe('data', dataRaw?.source ?? '--data')}: expected a directory path`);
  }
  const storeRaw = get('store');
  const store = storeRaw ? String(storeRaw.value) : `lmdb:${data}`;
  try {
    validateStoreUri(store);
  } catch (error) {
    if (error instanceof StoreUriError) {
      throw new ConfigError('store', `invalid ${describe('store', storeRaw?.source ?? '--store')}: ${error.message}`);
    }
    throw error;
  }

  const bindRaw = get('bind');
  let bind: string | undefined = 'tcp://0.0.0.0:6410';
  if (bindRaw && OFF_WORDS.includes(String(bindRaw.value).trim())) {
    bind = undefined;
  } else if (bindRaw) {
    try {
      bind = validateZmqEndpoint(String(bindRaw.value));
    } catch (error) {
      throw new ConfigError('bind', `invalid ${describe('bind', bindRaw.source)}: ${(error as Error).message}, got "${String(bindRaw.value)}"`);
    }
  }

  const logLevelRaw = get('log-level');
  const logLevel = (logLevelRaw ? String(logLevelRaw.value) : 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('log-level', `invalid ${describe('log-level', logLevelRaw?.source ?? '--log-level')}: expected one of ${LOG_LEVELS.join(', ')}`);
  }

  const hostRaw = get('host');
  const hosts = hostRaw ? String(hostRaw.value).split(',').map((host) => host.trim()).filter((host) => host !== '') : [];
  if (hosts.length > 64) throw new ConfigError('host', `invalid ${describe('host', hostRaw?.source ?? '--host')}: at most 64 upstreams`);
  for (const host of hosts) {
    if (!/^tcp:\/\/[^\s/,]{1,253}:[0-9]{1,5}$/.test(host) || Number(host.slice(host.lastIndexOf(':') + 1)) > 65535) {
      throw new ConfigError('host', `invalid ${describe('host', hostRaw?.source ?? '--host')}: expected tcp://HOST:PORT, got "${host}"`);
    }
  }
  const http = listenAddress('http', get('http'), { host: '0.0.0.0', port: 6412 }, true);
  const admin = listenAddress('admin', get('admin'), { host: '0.0.0.0', port: 6411 }, true);
  const adminTokenRaw = get('admin-token');
  const adminToken = adminTokenRaw ? String(adminTokenRaw.value) : undefined;
  if (adminToken !== undefined && !/^[\x21-\x7e]{16,256}$/.test(adminToken)) {
    throw new ConfigError(
      'admin-token',
      `invalid ${describe('admin-token', adminTokenRaw?.source ?? '--admin-token')}: expected 16-256 printable characters without spaces`,
    );
  }
  const tcp = listenAddress('tcp', get('tcp'), undefined);
  const line = listenAddress('line', get('line'), undefined);
  const tcpSequenceRaw = get('tcp-sequence');
  const tcpSequence = tcpSequenceRaw ? String(tcpSequenceRaw.value) : 'default';
  try {
    validateSequenceName(tcpSequence);
  } catch (error) {
    throw new ConfigError('tcp-sequence', `invalid ${describe('tcp-sequence', tcpSequenceRaw?.source ?? '--tcp-sequence')}: ${(error as Error).message}`);
  }
  const idleTimeoutRaw = get('idle-timeout');
  const idleTimeout = idleTimeoutRaw ? integer('idle-timeout', idleTimeoutRaw, 1, 86_400) : 60;
  const maxConnectionsRaw = get('max-connections');
  const maxConnections = maxConnectionsRaw ? integer('max-connections', maxConnectionsRaw, 1, 1_000_000) : 10_000;
  const timeoutRaw = get('timeout');
  const timeout = timeoutRaw ? integer('timeout', timeoutRaw, 1, 600_000) : 1_000;
  const leaderRaw = get('leader');
  const leader = leaderRaw ? boolean('leader', leaderRaw) : false;
  if (leader && !store.startsWith('etcd:')) {
    throw new ConfigError(
      'leader',
      `invalid ${describe('leader', leaderRaw?.source ?? '--leader')}: leader mode elects its leader through etcd; add --store etcd://HOST:PORT[,HOST:PORT…]`,
    );
  }
  if (leader && hosts.length > 0) {
    throw new ConfigError('leader', `invalid ${describe('leader', leaderRaw?.source ?? '--leader')}: a proxy (--host) cannot take part in leader mode`);
  }
  const leaderTtlRaw = get('leader-ttl');
  const leaderTtl = leaderTtlRaw ? integer('leader-ttl', leaderTtlRaw, 2, 300) : 5;
  const advertiseHttpRaw = get('advertise-http');
  const advertiseHttp = advertiseHttpRaw ? String(advertiseHttpRaw.value).trim().replace(/\/+$/, '') : undefined;
  if (advertiseHttp !== undefined && !/^https?:\/\/[^\s/?#]{1,300}(\/[^\s?#]{0,500})?$/.test(advertiseHttp)) {
    throw new ConfigError(
      'advertise-http',
      `invalid ${describe('advertise-http', advertiseHttpRaw?.source ?? '--advertise-http')}: expected http://HOST:PORT[/PATH], got "${advertiseHttp.slice(0, 100)}"`,
    );
  }
  const advertiseZmqRaw = get('advertise-zmq');
  const advertiseZmq = advertiseZmqRaw ? String(advertiseZmqRaw.value).trim() : undefined;
  if (advertiseZmq !== undefined && (!/^tcp:\/\/[^\s/,*]{1,253}:[0-9]{1,5}$/.test(advertiseZmq) || Number(advertiseZmq.slice(advertiseZmq.lastIndexOf(':') + 1)) > 65535)) {
    throw new ConfigError(
      'advertise-zmq',
      `invalid ${describe('advertise-zmq', advertiseZmqRaw?.source ?? '--advertise-zmq')}: expected tcp://HOST:PORT, got "${advertiseZmq.slice(0, 100)}"`,
    );
  }

  return {
    leader,
    leaderTtl,
    advertiseHttp,
    advertiseZmq,
    tcp,
    tcpSequence,
    line,
    idleTimeout,
    maxConnections,
    http,
    admin,
    adminToken,
    hosts,
    timeout,
    instance,
    instances,
    offset,
    drift,
    maxJump,
    maxBlock,
    maxSequences,
    strictSequences,
    data,
    store,
    bind,
    storeTimeout,
    poolSize,
    poolTimeout,
    logLevel,
  };
}

/**
 * Loads the configuration from all sources.
 * @param flags options given on the command line (already parsed), keyed by flag name
 * @param env environment to read `TICKET_SERVER_*` and the aliases from; default `process.env`
 * @param defaults a command's own defaults (the earlier systems' commands), below every other layer;
 *   default none
 * @throws ConfigError naming the first invalid option
 */
export function loadConfig(flags: RawOptions, env: NodeJS.ProcessEnv = process.env, defaults: RawOptions = new Map()): ServerConfig {
  const nativeEnv = readNativeEnvironment(env);
  const configPath = flags.get('config') ?? nativeEnv.get('config');
  const fileLayer = configPath ? readConfigFile(String(configPath.value)) : new Map();
  const flagLayer: RawOptions = new Map(flags);
  nativeEnv.delete('config');
  flagLayer.delete('config');
  return resolveConfig([defaults, fileLayer, readAliasEnvironment(env), nativeEnv, flagLayer]);
}
