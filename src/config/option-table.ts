/**
 * The option table: one row per option of `serve`, `dump`, `restore` and
 * `takeover`, in --help order. A row holds everything about its option: the
 * flag, the `ServerConfig` field it fills, its kind, parser, real default,
 * unit and help text. The flag parser, the `TICKET_SERVER_*` variables, the
 * `--config` keys, `resolveConfig` and `--help` all read these rows, so adding
 * an option is adding a row (plus the code that uses its field).
 *
 * Field names carry the unit of durations (`storeTimeoutMs`, `idleTimeoutS`).
 */
import { MAX_INSTANCES, MAX_VALUE } from '../core/numbering.js';
import { MAX_BLOCK_LIMIT } from '../core/lease-policy.js';
import {
  LOG_LEVELS,
  adminToken,
  advertisedHttpUrl,
  advertisedZmqEndpoint,
  bigIntegerIn,
  booleanValue,
  directoryPath,
  filePath,
  integerIn,
  listenAddressOrOff,
  logLevel,
  sequenceDefinitions,
  sequenceName,
  storeUri,
  upstreamList,
  z85Key,
  workerCount,
  zmqEndpointOrOff,
  type ListenAddress,
  type LogLevel,
  type ValueParser,
} from './option-values.js';

/** How an option is written on the command line: booleans take no value, lists may repeat. */
export type OptionKind = 'integer' | 'bigint' | 'string' | 'boolean' | 'list';

/** Unit of a duration option; the `ServerConfig` field name ends with it (`Ms`, `S`). */
export type OptionUnit = 'ms' | 's';

/** What every row shows of itself, for the command-line parsers and --help. */
export interface OptionSpec {
  /** Flag name without dashes, kebab-case; also the `--config` key and the `TICKET_SERVER_*` suffix. */
  readonly name: string;
  readonly kind: OptionKind;
  /** Value placeholder for --help (`MS`, `DIR`); none for booleans. */
  readonly placeholder?: string;
  readonly unit?: OptionUnit;
  /** --help text, without the default (--help adds it). */
  readonly description: string;
}

/** Values already resolved, by field: what a derived default may read. */
export type ResolvedFields = Readonly<Record<string, unknown>>;

/** A default computed from options resolved before it (rows are resolved in table order). */
export class DerivedDefault<T> {
  /**
   * @param text how --help shows it
   * @param derive computes it; may throw `OptionValueError` as a parser does
   */
  constructor(readonly text: string, readonly derive: (resolved: ResolvedFields) => T) {}
}

/** A row of the table: an option and the `ServerConfig` field `F` of type `T` it fills. */
export interface OptionRow<F extends string = string, T = unknown> extends OptionSpec {
  readonly field: F;
  readonly parse: ValueParser<T>;
  /** The value when no layer sets the option (a constant, or derived from earlier rows). */
  readonly default: T | DerivedDefault<T>;
  /** --help's rendering of the default when the value alone does not say it (`none (admin mutations off)`). */
  readonly defaultText?: string;
}

const DEFAULT_LOG_LEVEL: LogLevel = 'info';

function listenOn(host: string, port: number): ListenAddress {
  return { host, port };
}

function option<const F extends string, T>(row: OptionRow<F, T>): OptionRow<F, T> {
  return row;
}

/** `--config FILE`: read before the table is resolved, so it fills no field. */
export const CONFIG_OPTION: OptionSpec = {
  name: 'config',
  kind: 'string',
  placeholder: 'FILE',
  description: 'JSON file of options (keys as the flags, kebab- or camelCase)',
};

/** Every row that fills a `ServerConfig` field, in --help order (a derived default follows what it reads). */
export const FIELD_OPTIONS = [
  option({
    name: 'instance', field: 'instance', kind: 'integer', placeholder: 'I', default: 1, parse: integerIn(1, MAX_INSTANCES),
    description: 'this server\'s instance number, 1..instances',
  }),
  option({
    name: 'instances', field: 'instances', kind: 'integer', placeholder: 'N', default: 1, parse: integerIn(1, MAX_INSTANCES),
    description: `number of instances sharing the number space, 1..${MAX_INSTANCES}`,
  }),
  option({
    name: 'offset', field: 'offset', kind: 'bigint', placeholder: 'O', default: 1n, parse: bigIntegerIn(1n, MAX_VALUE),
    description: 'first value; instance i issues O+(i-1), O+(i-1)+N, ...',
  }),
  option({
    // Jump threshold in values; ≤ 0 disables jumping.
    name: 'drift', field: 'drift', kind: 'integer', placeholder: 'D',
    default: new DerivedDefault('10 x instances', (resolved) => 10n * BigInt(resolved.instances as number)),
    parse: (raw) => BigInt(integerIn(-1, Number.MAX_SAFE_INTEGER)(raw)),
    description: 'jump ahead when a client\'s last value is more than D above ours; 0 or -1 disables',
  }),
  option({
    name: 'max-jump', field: 'maxJump', kind: 'bigint', placeholder: 'J', default: 1_000_000_000n, parse: bigIntegerIn(0n, MAX_VALUE),
    description: 'largest jump one request may cause (larger: EJUMP)',
  }),
  option({
    name: 'max-block', field: 'maxBlock', kind: 'integer', placeholder: 'B', default: 10_000, parse: integerIn(1, MAX_BLOCK_LIMIT),
    description: 'largest lease in slots; a crash loses at most 2 x B per sequence',
  }),
  option({
    name: 'max-sequences', field: 'maxSequences', kind: 'integer', placeholder: 'M', default: 100_000, parse: integerIn(1, 100_000_000),
    description: 'most sequences that may exist (more: ELIMIT)',
  }),
  option({
    name: 'strict-sequences', field: 'strictSequences', kind: 'boolean', default: false, parse: booleanValue,
    description: 'only sequences that already exist may be used (others: ENOSEQ)',
  }),
  option({
    name: 'js-safe', field: 'jsSafe', kind: 'boolean', default: false, parse: booleanValue,
    description: 'every sequence ends at 2^53-1, so every value fits a JavaScript Number',
  }),
  option({
    name: 'sequences', field: 'sequences', kind: 'string', placeholder: 'JSON',
    default: undefined as Readonly<Record<string, unknown>> | undefined, parse: sequenceDefinitions,
    defaultText: 'none',
    description: 'sequence settings applied at start: {"NAME": {"period", "format", "check", ...}}',
  }),
  option({
    name: 'data', field: 'data', kind: 'string', placeholder: 'DIR', default: './data', parse: directoryPath,
    description: 'data directory of the embedded store',
  }),
  option({
    name: 'store', field: 'store', kind: 'string', placeholder: 'URI',
    default: new DerivedDefault('lmdb:DIR', (resolved) => storeUri(`lmdb:${resolved.data as string}`)),
    parse: storeUri,
    description: 'lmdb:DIR (embedded), postgres://USER:PASS@HOST:PORT/DB, mysql://USER:PASS@HOST:PORT/DB, ' +
      'etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (shared), or memory: (tests only)',
  }),
  option({
    name: 'pool-size', field: 'poolSize', kind: 'integer', placeholder: 'N', default: 4, parse: integerIn(1, 1000),
    description: 'shared stores: connections to the database, 1-1000',
  }),
  option({
    name: 'pool-timeout', field: 'poolTimeoutMs', kind: 'integer', placeholder: 'MS', unit: 'ms', default: 5_000, parse: integerIn(1, 600_000),
    description: 'shared stores: give up connecting to the database after this',
  }),
  option({
    name: 'bind', field: 'bind', kind: 'string', placeholder: 'ENDPOINT', default: 'tcp://0.0.0.0:6410', parse: zmqEndpointOrOff,
    description: 'ZeroMQ endpoint to serve (port 0 or * picks a free port), or off',
  }),
  option({
    name: 'store-timeout', field: 'storeTimeoutMs', kind: 'integer', placeholder: 'MS', unit: 'ms', default: 5_000, parse: integerIn(1, 600_000),
    description: 'a reservation slower than this fails waiting requests with EUNAVAILABLE',
  }),
  option({
    name: 'log-level', field: 'logLevel', kind: 'string', placeholder: 'LEVEL', default: DEFAULT_LOG_LEVEL, parse: logLevel,
    description: LOG_LEVELS.join(', '),
  }),
  option({
    name: 'http', field: 'http', kind: 'string', placeholder: 'ADDR', default: listenOn('0.0.0.0', 6412), parse: listenAddressOrOff(true),
    description: 'public HTTP API (HOST:PORT, http://HOST:PORT, PORT, or off)',
  }),
  option({
    name: 'admin', field: 'admin', kind: 'string', placeholder: 'ADDR', default: listenOn('0.0.0.0', 6411), parse: listenAddressOrOff(true),
    description: 'admin, status, metrics and dashboard HTTP (HOST:PORT, http://HOST:PORT, PORT, or off)',
  }),
  option({
    // Undefined turns admin mutations off (EAUTH).
    name: 'admin-token', field: 'adminToken', kind: 'string', placeholder: 'TOKEN', default: undefined, parse: adminToken,
    defaultText: 'none (admin mutations off)',
    description: 'Bearer token for admin mutations, 16-256 characters',
  }),
  option({
    name: 'tcp', field: 'tcp', kind: 'string', placeholder: 'ADDR', default: undefined, parse: listenAddressOrOff(false),
    description: 'TCP, one number per connection: writes <value>\\n and closes (HOST:PORT or PORT; txn-id-server used 8963)',
  }),
  option({
    name: 'tcp-sequence', field: 'tcpSequence', kind: 'string', placeholder: 'NAME', default: 'default', parse: sequenceName,
    description: 'sequence the one-shot TCP protocol issues from',
  }),
  option({
    name: 'line', field: 'line', kind: 'string', placeholder: 'ADDR', default: undefined, parse: listenAddressOrOff(false),
    description: 'long-lived TCP: STX/ETX/BEL and NEXT/PING lines, pipelined (HOST:PORT or PORT)',
  }),
  option({
    name: 'idle-timeout', field: 'idleTimeoutS', kind: 'integer', placeholder: 'S', unit: 's', default: 60, parse: integerIn(1, 86_400),
    description: 'close idle TCP, line and keep-alive HTTP connections after S seconds',
  }),
  option({
    name: 'max-connections', field: 'maxConnections', kind: 'integer', placeholder: 'C', default: 10_000, parse: integerIn(1, 1_000_000),
    description: 'most connections per listener (TCP, line, HTTP, admin); keep their sum below the open-files limit',
  }),
  option({
    name: 'max-reply-bytes', field: 'maxReplyBytes', kind: 'integer', placeholder: 'BYTES', default: 256 * 1024, parse: integerIn(4096, 64 * 1024 * 1024),
    description: 'line and HTTP: reply bytes one connection may have unsent before it is read no further',
  }),
  option({
    name: 'request-timeout', field: 'requestTimeoutMs', kind: 'integer', placeholder: 'MS', unit: 'ms', default: 10_000, parse: integerIn(100, 600_000),
    description: 'HTTP and admin: a request\'s headers and body must arrive within this, else 408 and the connection is closed',
  }),
  option({
    name: 'max-requests-per-connection', field: 'maxRequestsPerConnection', kind: 'integer', placeholder: 'N', default: 0, parse: integerIn(0, 100_000_000),
    defaultText: '0 (no limit)',
    description: 'HTTP and admin: a keep-alive connection is closed after N requests (the last reply says Connection: close)',
  }),
  option({
    name: 'heartbeat-timeout', field: 'heartbeatTimeoutMs', kind: 'integer', placeholder: 'MS', unit: 'ms', default: 30_000, parse: integerIn(300, 600_000),
    description: 'ZeroMQ: a peer that sends nothing, not even a heartbeat, for this long is disconnected (pinged every third of it)',
  }),
  option({
    name: 'zmq-guard', field: 'zmqGuard', kind: 'string', placeholder: 'on|off', default: true, defaultText: 'on', parse: booleanValue,
    description: 'ZeroMQ over TCP: meter each peer\'s frames (a message of more than 32 frames or 64 KiB ends the connection) and '
      + 'bound the peers by --max-connections; off binds ZeroMQ directly (faster; only for a trusted network or Curve with --curve-allow)',
  }),
  option({
    // 1: today's single process. More: an owner process (store, ZeroMQ, one-shot TCP, admin) and N workers (HTTP, line).
    name: 'workers', field: 'workers', kind: 'string', placeholder: 'N', default: 1, parse: workerCount,
    description: 'processes serving HTTP and line (auto: one per core); the owner process keeps the store, ' +
      'ZeroMQ, one-shot TCP and the admin port and grants the workers their leases',
  }),
  option({
    // Non-empty means proxy mode.
    name: 'host', field: 'hosts', kind: 'list', placeholder: 'URI', default: [], parse: upstreamList,
    description: 'proxy mode: forward to this upstream (tcp://HOST:PORT); repeat for several; env: comma-separated',
  }),
  option({
    name: 'timeout', field: 'timeoutMs', kind: 'integer', placeholder: 'MS', unit: 'ms', default: 1_000, parse: integerIn(1, 600_000),
    description: 'proxy mode: fail over to the next upstream after this',
  }),
  option({
    name: 'leader', field: 'leader', kind: 'boolean', default: false, parse: booleanValue,
    description: 'leader mode: servers sharing an etcd store elect one that issues; the others redirect HTTP clients ' +
      'to it and forward the other protocols (strictly increasing values)',
  }),
  option({
    name: 'leader-ttl', field: 'leaderTtlS', kind: 'integer', placeholder: 'S', unit: 's', default: 5, parse: integerIn(2, 300),
    description: 'leader mode: a leader that cannot renew its leadership for this long is replaced; it stops issuing before that',
  }),
  option({
    // Undefined: derived from `http` once it is bound.
    name: 'advertise-http', field: 'advertiseHttp', kind: 'string', placeholder: 'URL', default: undefined, parse: advertisedHttpUrl,
    defaultText: 'http://HOST:PORT of --http',
    description: 'leader mode: public HTTP URL followers redirect clients to while this server leads',
  }),
  option({
    // Undefined: derived from `bind` once it is bound.
    name: 'advertise-zmq', field: 'advertiseZmq', kind: 'string', placeholder: 'ENDPOINT', default: undefined, parse: advertisedZmqEndpoint,
    defaultText: 'tcp://HOST:PORT of --bind',
    description: 'leader mode: ZeroMQ endpoint followers forward to while this server leads',
  }),
  option({
    name: 'tls-cert', field: 'tlsCert', kind: 'string', placeholder: 'FILE', default: undefined, parse: filePath,
    description: 'PEM certificate (chain): serve the public HTTP API and the admin port over HTTPS; needs --tls-key',
  }),
  option({
    name: 'tls-key', field: 'tlsKey', kind: 'string', placeholder: 'FILE', default: undefined, parse: filePath,
    description: 'PEM private key of --tls-cert',
  }),
  option({
    name: 'tls-ca', field: 'tlsCa', kind: 'string', placeholder: 'FILE', default: undefined, parse: filePath,
    defaultText: 'none (no client certificate asked for)',
    description: 'PEM CA certificates: HTTPS clients must present a certificate they signed',
  }),
  option({
    name: 'issue-token-file', field: 'issueTokenFile', kind: 'string', placeholder: 'FILE', default: undefined, parse: filePath,
    defaultText: 'none (anyone may take values)',
    description: 'issuing tokens, one "TOKEN PREFIX[,PREFIX...] [trusted]" a line: every ticket request needs a token ' +
      'covering its sequence (docs/security.md)',
  }),
  option({
    name: 'tcp-trusted', field: 'tcpTrusted', kind: 'boolean', default: false, parse: booleanValue,
    description: 'with --issue-token-file: serve --tcp anyway (it cannot carry a token: anyone reaching it gets values)',
  }),
  option({
    name: 'curve-secret-key', field: 'curveSecretKey', kind: 'string', placeholder: 'FILE', default: undefined, parse: filePath,
    defaultText: 'none (ZeroMQ unencrypted)',
    description: 'CurveZMQ: file with this server\'s Z85 secret key (a second line may hold its public key); ZeroMQ clients ' +
      'must then know the public key',
  }),
  option({
    name: 'curve-allow', field: 'curveAllow', kind: 'string', placeholder: 'FILE', default: undefined, parse: filePath,
    defaultText: 'none (any client knowing the server key)',
    description: 'CurveZMQ: file of allowed client public keys, one Z85 key a line',
  }),
  option({
    name: 'curve-server-key', field: 'curveServerKey', kind: 'string', placeholder: 'KEY', default: undefined, parse: z85Key,
    description: 'proxy and leader mode: Z85 public key of the upstream servers (the leader) for CurveZMQ',
  }),
  option({
    name: 'curve-client-key', field: 'curveClientKey', kind: 'string', placeholder: 'FILE', default: undefined, parse: filePath,
    defaultText: 'a fresh key pair per start',
    description: 'proxy and leader mode: file with the Z85 secret key (and optionally public key) presented upstream',
  }),
  option({
    name: 'upstream-token', field: 'upstreamToken', kind: 'string', placeholder: 'TOKEN', default: undefined, parse: adminToken,
    description: 'proxy and leader mode: issuing token sent upstream (to the leader: a trusted token covering *)',
  }),
] as const;

/** Every option `serve`, `dump`, `restore` and `takeover` accept, in --help order. */
export const OPTIONS: readonly OptionSpec[] = [CONFIG_OPTION, ...FIELD_OPTIONS];

type FieldRow = (typeof FIELD_OPTIONS)[number];

/**
 * The resolved configuration of a server: one field per row of `FIELD_OPTIONS`
 * (see each row's description), typed by its parser. Listeners and `bind` are
 * undefined when off; `hosts` non-empty means proxy mode.
 */
export type ServerConfig = { readonly [R in FieldRow as R['field']]: R extends OptionRow<string, infer T> ? T : never };

/** Environment variable of an option: `max-block` → `TICKET_SERVER_MAX_BLOCK`. */
export function envName(option: string): string {
  return `TICKET_SERVER_${option.toUpperCase().replace(/-/g, '_')}`;
}

/** --help's rendering of a row's default. */
export function defaultText(row: OptionSpec): string {
  if (row.name === CONFIG_OPTION.name) return 'none';
  const field = row as OptionRow;
  if (field.defaultText !== undefined) return field.defaultText;
  const value = field.default;
  if (value instanceof DerivedDefault) return value.text;
  if (value === undefined) return 'off';
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.join(',');
  const address = value as ListenAddress;
  return `${address.host}:${address.port}`;
}
