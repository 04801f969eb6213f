/**
 * Wires one server: store → TicketService → protocols, or, in proxy mode
 * (`--host`), upstream pool → ProxySource → the same protocols. The CLI's
 * `serve` command and embedders (`import { createServer } from 'ticket-server/server'`)
 * both come through here.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { pino, type Logger } from 'pino';
import { createAdminApi, type LeaderStatus, type WorkerStatus } from './admin/admin-server.js';
import { createMetrics, type Metrics } from './admin/metrics.js';
import { Sampler } from './admin/sampler.js';
import type { ServerConfig } from './config/options.js';
import { ConfigError } from './config/config-error.js';
import { toTicketError } from './core/errors.js';
import { JS_SAFE_MAX } from './core/sequence-definitions.js';
import { ProtocolStats } from './core/protocol-stats.js';
import type { TicketSource } from './core/ticket-source.js';
import { createHttpApi } from './protocols/http.js';
import { LineServer } from './protocols/line.js';
import { FastifyProtocolServer, type HostPort, type HttpLimits, type ProtocolServer } from './protocols/protocol-server.js';
import { OneShotServer } from './protocols/tcp-oneshot.js';
import { ZmqServer } from './protocols/zmq.js';
import { StartupError } from './core/startup-errors.js';
import { ProxySource } from './proxy/proxy-source.js';
import { TicketService } from './service/ticket-service.js';
import { createStore } from './store/open-store.js';
import type { Store, StoreOptions } from './store/store.js';
import type { LeaderElection } from './leader/election.js';
import { LeaderSource } from './leader/leader-source.js';
import type { IssueTokens } from './core/issue-tokens.js';
import type { TransportSecurity } from './client/transport.js';
import {
  loadCurveAllowList,
  loadCurveKeyPair,
  loadHttpsOptions,
  loadIssueTokens,
  type CurveKeyPair,
  type CurveServerKeys,
  type HttpsOptions,
} from './security/security-files.js';

/** A running (or ready to run) ticket server or proxy. */
export interface TicketServer {
  readonly config: ServerConfig;
  /** What the protocols call: the service, or the proxy in proxy mode. */
  readonly source: TicketSource;
  /** The issuing service; undefined in proxy mode. */
  readonly service: TicketService | undefined;
  /** The store; undefined in proxy mode. */
  readonly store: Store | undefined;
  /** The upstream proxy; undefined unless in proxy mode. */
  readonly proxy: ProxySource | undefined;
  /** Leader mode's election; undefined unless `--leader` (available after `start()`). */
  readonly election: LeaderElection | undefined;
  /** Request counters per protocol (also behind /metrics). */
  readonly stats: ProtocolStats;
  /**
   * Endpoints actually bound, filled by `start()`: `{ zmq: 'tcp://127.0.0.1:40123', http: 'http://…',
   * admin: 'http://…', tcp: '127.0.0.1:8963', line: '…' }`; a listener that is off has no key.
   * `start()` ends by logging them in one `ready` line.
   */
  readonly endpoints: Readonly<Record<string, string>>;
  /** Opens the store and checks its numbering (not in proxy mode), binds every protocol. */
  start(): Promise<void>;
  /** Graceful stop: stops the protocols, hands unissued leases back, closes the store. */
  close(): Promise<void>;
}

/** Options for `createServer` beyond the configuration. */
export interface CreateServerOptions {
  /** Logger; default: pino JSON lines on stdout at `config.logLevel`. */
  readonly logger?: Logger;
  /**
   * The store to issue from instead of opening `config.store` (`--workers`: the
   * owner's lease broker, or a worker's channel to it); default: opened from `config.store`.
   */
  readonly store?: Store;
  /** Whether `start()` logs the `ready` line; default true (`--workers` logs one for all processes). */
  readonly announceReady?: boolean;
  /** `--workers`: the worker processes, for the admin port's `/status`; default none (one process). */
  readonly workers?: () => WorkerStatus[];
}

/** How the server opens `config.store` (also used by `--workers`' owner process). */
export function storeOptionsOf(config: ServerConfig, onWarning: (message: string) => void): StoreOptions {
  return {
    poolSize: config.poolSize,
    poolTimeoutMs: config.poolTimeoutMs,
    // A hung database must not hold a sequence's reservation much longer than waiting requests wait.
    operationTimeoutMs: Math.max(2 * config.storeTimeoutMs, 2_000),
    onWarning,
  };
}

interface Backend {
  readonly source: TicketSource;
  /** Leader mode: the election, once the protocols are bound and the server can advertise itself. */
  readonly leader: LeaderBackend | undefined;
  readonly sampler: Sampler | undefined;
  readonly metrics: Metrics;
  readonly service: TicketService | undefined;
  readonly store: Store | undefined;
  readonly proxy: ProxySource | undefined;
  open(): Promise<void>;
  close(): Promise<void>;
}

/** Leader mode's moving parts, wired by `issuingBackend`. */
interface LeaderBackend {
  readonly source: LeaderSource;
  election: LeaderElection | undefined;
  /** Starts the election, advertising the bound endpoints. */
  start(endpoints: Readonly<Record<string, string>>): Promise<void>;
}

/** `tcp://0.0.0.0:6410` → `tcp://<host name>:6410`: an address others can reach. */
function reachable(address: string): string {
  return address.replace(/^(\w+:\/\/)(0\.0\.0\.0|\[::\]|\*)(?=:)/, `$1${hostname()}`);
}

/** What this server presents to the servers it forwards to (proxy mode, leader mode's followers). */
function upstreamSecurity(config: ServerConfig, security: Security): TransportSecurity {
  return {
    token: config.upstreamToken,
    ...(config.curveServerKey === undefined
      ? {}
      : { curveServerKey: config.curveServerKey, curvePublicKey: security.curveClient?.publicKey, curveSecretKey: security.curveClient?.secretKey }),
  };
}

async function issuingBackend(
  config: ServerConfig,
  logger: Logger,
  stats: ProtocolStats,
  security: Security,
  given: Store | undefined,
): Promise<Backend> {
  const store: Store =
    given ?? (await createStore(config.store, storeOptionsOf(config, (message) => logger.warn({ store: store.description }, message))));
  const metrics = createMetrics({ stats });
  // Leader mode: closed until this server wins the election (then the election's own check).
  const gate = { mayIssue: (): boolean => false };
  const service = new TicketService({
    ...(config.leader ? { gate } : {}),
    observer: metrics.observer,
    store,
    numbering: { instance: config.instance, instances: config.instances, offset: config.offset },
    drift: config.drift,
    maxJump: config.maxJump,
    maxBlock: config.maxBlock,
    maxSequences: config.maxSequences,
    strictSequences: config.strictSequences,
    storeTimeoutMs: config.storeTimeoutMs,
    ...(config.jsSafe ? { maxValue: JS_SAFE_MAX } : {}),
    logger,
  });
  const sampler = new Sampler(service);
  metrics.watchSequences(sampler, () => service.sequenceCount);
  let storeOpen = false;
  const leader = config.leader ? leaderBackend(config, logger, store, service, gate, upstreamSecurity(config, security)) : undefined;
  if (leader) metrics.watchLeader(() => leader.election);
  return {
    source: leader ? leader.source : service,
    leader,
    service,
    store,
    proxy: undefined,
    sampler,
    metrics,
    async open() {
      if (!store.durable) {
        logger.warn({ store: store.description }, 'memory: store is NOT durable: every value may repeat after a restart; use it for tests and benchmarks only');
      }
      await store.open();
      storeOpen = true;
      await service.start();
      await defineConfiguredSequences(service, config.sequences);
      sampler.start();
      logger.info(
        {
          store: store.description,
          instance: config.instance,
          instances: config.instances,
          offset: config.offset.toString(),
          drift: config.drift.toString(),
          maxBlock: config.maxBlock,
          sequences: service.sequenceCount,
        },
        'store open',
      );
    },
    async close() {
      sampler.stop();
      leader?.source.close();
      await service.close();
      // After the hand-back: the next leader continues right above what this one issued.
      await leader?.election?.resign().catch((error: unknown) => logger.warn({ err: error }, 'could not resign leadership'));
      await leader?.election?.close();
      if (storeOpen) await store.close();
    },
  };
}

/**
 * Applies the `sequences` option (config file) after the store is open: each
 * entry as a `PUT /admin/sequences/{name}` would. A setting the store's state
 * refuses (it would repeat a value) stops the start with exit status 2.
 */
async function defineConfiguredSequences(service: TicketService, sequences: Readonly<Record<string, unknown>> | undefined): Promise<void> {
  for (const [name, settings] of Object.entries(sequences ?? {})) {
    try {
      await service.settings.define(name, settings);
    } catch (error) {
      if (toTicketError(error).code !== 'EBADREQ' && toTicketError(error).code !== 'EJUMP') throw error;
      throw new ConfigError('sequences', `sequence "${name}": ${(error as Error).message}`, { cause: error });
    }
  }
}

function leaderBackend(
  config: ServerConfig,
  logger: Logger,
  store: Store,
  service: TicketService,
  gate: { mayIssue: () => boolean },
  upstream: TransportSecurity,
): LeaderBackend {
  const backend: LeaderBackend = {
    source: new LeaderSource(service, () => backend.election, { timeout: config.timeoutMs, upstream }),
    election: undefined,
    async start(endpoints) {
      if (!store.createElection) throw new Error(`${store.description} cannot elect a leader`);
      const http = config.advertiseHttp ?? (endpoints.http === undefined ? undefined : reachable(endpoints.http));
      const zmq = config.advertiseZmq ?? (endpoints.zmq === undefined ? undefined : reachable(endpoints.zmq));
      const election = store.createElection({
        ttlSeconds: config.leaderTtlS,
        ...(http !== undefined ? { http } : {}),
        ...(zmq !== undefined ? { zmq } : {}),
        onWarning: (message) => logger.warn({}, message),
      });
      let leading = false;
      election.onChange((role, leader) => {
        logger.info({ role, leader: leader ?? null }, role === 'leader' ? 'leading' : leader ? 'following' : 'no leader known');
        if (leading && role !== 'leader') {
          // Lost: nothing more is issued from this server's leases; hand back what the store allows.
          void service.suspend().catch((error: unknown) => logger.error({ err: error }, 'could not hand leases back after losing leadership'));
        }
        leading = role === 'leader';
      });
      gate.mayIssue = () => election.mayIssue();
      backend.election = election;
      await election.start();
    },
  };
  return backend;
}

function proxyBackend(config: ServerConfig, logger: Logger, stats: ProtocolStats, security: Security): Backend {
  const proxy = new ProxySource(config.hosts, {
    ...upstreamSecurity(config, security),
    timeout: config.timeoutMs,
    onStateChange: (uri, state, error) => {
      if (state === 'down') logger.warn({ upstream: uri, err: error }, 'upstream down');
      else logger.info({ upstream: uri }, 'upstream back up');
    },
  });
  return {
    source: proxy,
    leader: undefined,
    service: undefined,
    store: undefined,
    proxy,
    sampler: undefined,
    metrics: createMetrics({ stats, upstreams: () => proxy.stats() }),
    async open() {
      logger.info({ upstreams: config.hosts, timeoutMs: config.timeoutMs }, 'proxy mode: forwarding ticket requests, never last');
    },
    async close() {
      proxy.close();
    },
  };
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** What the admin port shows of leader mode. */
function leaderStatus(leader: LeaderBackend): LeaderStatus {
  const election = leader.election;
  const upstream = leader.source.upstream();
  return {
    role: election?.role ?? 'candidate',
    mayIssue: election?.mayIssue() ?? false,
    leader: election?.leader,
    reachable: election?.role === 'leader' ? election.mayIssue() : upstream !== undefined && upstream.up,
  };
}

/** What the security options' files hold, read once when the server is created. */
interface Security {
  readonly tokens: IssueTokens | undefined;
  readonly https: HttpsOptions | undefined;
  readonly curve: CurveServerKeys | undefined;
  /** Proxy mode: the key pair presented upstream (`--curve-client-key`); undefined: a fresh one. */
  readonly curveClient: CurveKeyPair | undefined;
}

/** Reads the security files. @throws StartupError CONFIG_INVALID naming the option and file */
function loadSecurity(config: ServerConfig): Security {
  const https = config.tlsCert !== undefined && config.tlsKey !== undefined ? loadHttpsOptions(config.tlsCert, config.tlsKey, config.tlsCa) : undefined;
  const serverKeys = config.curveSecretKey === undefined ? undefined : loadCurveKeyPair(config.curveSecretKey, 'curve-secret-key');
  return {
    tokens: config.issueTokenFile === undefined ? undefined : loadIssueTokens(config.issueTokenFile),
    https,
    curve: serverKeys === undefined
      ? undefined
      : { ...serverKeys, allowed: config.curveAllow === undefined ? undefined : loadCurveAllowList(config.curveAllow) },
    curveClient: config.curveClientKey === undefined ? undefined : loadCurveKeyPair(config.curveClientKey, 'curve-client-key'),
  };
}

/** What a protocol is created from. */
interface ProtocolContext {
  readonly security: Security;
  readonly config: ServerConfig;
  readonly source: TicketSource;
  readonly logger: Logger;
  readonly stats: ProtocolStats;
  readonly backend: Backend;
  /** Filled as protocols bind; the admin port shows it. */
  readonly endpoints: Readonly<Record<string, string>>;
  readonly workers: (() => WorkerStatus[]) | undefined;
}

/**
 * One protocol the server can run. Adding a protocol is one entry here and its
 * file under `protocols/`; everything else (binding, `endpoints`, the
 * `listening` line, close) is the loop in `start()`.
 */
interface ProtocolEntry<Address> {
  /** Its `endpoints` key and the `protocol` of its `listening` line. */
  readonly name: string;
  /** The option that sets its address, as a bind failure names it. */
  readonly option: string;
  /** Where it listens; undefined when the configuration leaves it off. */
  address(config: ServerConfig): Address | undefined;
  create(context: ProtocolContext): ProtocolServer<Address>;
  /** Fields of its `listening` line after `protocol`, from what was bound. */
  logFields(bound: string, config: ServerConfig): Record<string, unknown>;
  /**
   * Logs `listening` only after leader mode's campaign has started: ZeroMQ,
   * whose line older scripts wait for as "the server is up".
   */
  readonly announceAfterElection?: boolean;
}

/** The protocols, in the order they bind and log (ZeroMQ last: older scripts wait for its line). */
const PROTOCOLS: ReadonlyArray<ProtocolEntry<HostPort> | ProtocolEntry<string>> = [
  {
    name: 'http',
    option: '--http',
    address: (config) => config.http,
    create: ({ config, source, stats, backend, security }) => {
      const leader = backend.leader;
      // Leader mode: a follower redirects HTTP clients to the leader's public URL (when it advertises one).
      const redirectTo = leader
        ? (): string | undefined => {
            const election = leader.election;
            return election !== undefined && election.role !== 'leader' ? election.leader?.http : undefined;
          }
        : undefined;
      const app = createHttpApi(source, { stats, redirectTo, tokens: security.tokens, https: security.https });
      return new FastifyProtocolServer('http', app, security.https ? 'https' : 'http', httpLimits(config));
    },
    logFields: (url) => ({ url }),
  },
  {
    name: 'admin',
    option: '--admin',
    address: (config) => config.admin,
    create: ({ config, backend, endpoints, security, workers }) => {
      const leader = backend.leader;
      const app = createAdminApi({
        version: packageVersion(),
        numbering: backend.service ? { instance: config.instance, instances: config.instances, offset: config.offset } : undefined,
        service: backend.service,
        store: backend.store,
        sampler: backend.sampler,
        upstreams: backend.proxy ? () => backend.proxy?.stats() ?? [] : undefined,
        leader: leader ? () => leaderStatus(leader) : undefined,
        workers,
        registry: backend.metrics.registry,
        adminToken: config.adminToken,
        endpoints,
        https: security.https,
      });
      return new FastifyProtocolServer('admin', app, security.https ? 'https' : 'http', httpLimits(config));
    },
    logFields: (url, config) => ({ url, mutations: config.adminToken !== undefined }),
  },
  {
    name: 'tcp',
    option: '--tcp',
    address: (config) => config.tcp,
    create: ({ config, source, logger, stats }) =>
      new OneShotServer(source, logger, { ...tcpOptions(config, stats), sequence: config.tcpSequence }),
    logFields: (address, config) => ({ address, sequence: config.tcpSequence }),
  },
  {
    name: 'line',
    option: '--line',
    address: (config) => config.line,
    create: ({ config, source, logger, stats, security }) =>
      new LineServer(source, logger, { ...tcpOptions(config, stats), tokens: security.tokens, maxReplyBytes: config.maxReplyBytes }),
    logFields: (address) => ({ address }),
  },
  {
    name: 'zmq',
    option: '--bind',
    address: (config) => config.bind,
    create: ({ config, source, logger, stats, security }) =>
      new ZmqServer(source, logger, stats, {
        tokens: security.tokens,
        curve: security.curve,
        heartbeatTimeoutMs: config.heartbeatTimeoutMs,
        maxConnections: config.maxConnections,
        guard: config.zmqGuard,
      }),
    logFields: (endpoint, config) => ({ endpoint, guard: config.zmqGuard, ...(config.curveSecretKey === undefined ? {} : { curve: true }) }),
    announceAfterElection: true,
  },
];

/** What both HTTP listeners are bounded by. */
function httpLimits(config: ServerConfig): HttpLimits {
  return {
    maxConnections: config.maxConnections,
    requestTimeoutMs: config.requestTimeoutMs,
    idleTimeoutMs: config.idleTimeoutS * 1000,
    maxRequestsPerConnection: config.maxRequestsPerConnection,
    maxReplyBytes: config.maxReplyBytes,
  };
}

/** What both raw TCP protocols are bounded by. */
function tcpOptions(config: ServerConfig, stats: ProtocolStats): { idleTimeoutMs: number; maxConnections: number; stats: ProtocolStats } {
  return { idleTimeoutMs: config.idleTimeoutS * 1000, maxConnections: config.maxConnections, stats };
}

/** A protocol the configuration turns on, created and ready to bind. */
interface ActiveProtocol {
  readonly entry: ProtocolEntry<unknown>;
  readonly server: ProtocolServer<unknown>;
  readonly address: unknown;
}

/** Why a bind failed, in words, for the errno codes a user can act on. */
const LISTEN_FAILURE_REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied; ports below 1024 need privileges',
  EADDRNOTAVAIL: 'no interface of this machine has that address',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
};

/**
 * Binds one protocol. A failure becomes `LISTEN_FAILED` naming the address and
 * the option that set it: "Address already in use" alone does not say which of
 * five listeners clashed.
 * @throws StartupError (`LISTEN_FAILED`, exit status 1)
 */
async function listenOrExplain(protocol: ActiveProtocol): Promise<string> {
  try {
    return await protocol.server.listen(protocol.address);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const reason = (typeof code === 'string' ? LISTEN_FAILURE_REASONS[code] : undefined) ?? (error as Error).message;
    const address = protocol.address as HostPort | string;
    const where = typeof address === 'string' ? address : `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
    throw new StartupError('LISTEN_FAILED', `cannot listen on ${where} for ${protocol.entry.option} (${reason})`, { cause: error });
  }
}

/**
 * Creates a server from a resolved configuration. Nothing is opened until `start()`.
 * Always one process: `config.workers` is applied by the CLI (`workers/cluster-server.ts`).
 */
export async function createServer(config: ServerConfig, options: CreateServerOptions = {}): Promise<TicketServer> {
  const logger = options.logger ?? pino({ level: config.logLevel, base: { pid: process.pid } });
  // First: a bad security file must stop the start before a store is created.
  const security = loadSecurity(config);
  if (security.curve) {
    // The public key is what clients need: logged, so nobody has to derive it from the secret key file.
    logger.info({ curvePublicKey: security.curve.publicKey, allowedClients: security.curve.allowed?.size ?? 'any' }, 'CurveZMQ on');
  }
  const stats = new ProtocolStats();
  const backend =
    config.hosts.length > 0 ? proxyBackend(config, logger, stats, security) : await issuingBackend(config, logger, stats, security, options.store);
  const endpoints: Record<string, string> = {};
  const leader = backend.leader;
  const context: ProtocolContext = { security, config, source: backend.source, logger, stats, backend, endpoints, workers: options.workers };
  const protocols: ActiveProtocol[] = [];
  for (const entry of PROTOCOLS as ReadonlyArray<ProtocolEntry<unknown>>) {
    const address = entry.address(config);
    if (address !== undefined) protocols.push({ entry, server: entry.create(context), address });
  }
  let closed = false;

  return {
    config,
    source: backend.source,
    service: backend.service,
    store: backend.store,
    proxy: backend.proxy,
    get election() {
      return leader?.election;
    },
    stats,
    endpoints,
    async start() {
      await backend.open();
      const announced: ActiveProtocol[] = [];
      for (const protocol of protocols) {
        const bound = await listenOrExplain(protocol);
        endpoints[protocol.entry.name] = bound;
        if (protocol.entry.announceAfterElection) announced.push(protocol);
        else logger.info({ protocol: protocol.entry.name, ...protocol.entry.logFields(bound, config) }, 'listening');
      }
      // Leader mode: campaign once every endpoint the leader advertises is bound.
      await leader?.start(endpoints);
      for (const { entry } of announced) {
        logger.info({ protocol: entry.name, ...entry.logFields(endpoints[entry.name] as string, config) }, 'listening');
      }
      // Logged once every listener is bound, whichever are on: what scripts and tests wait for.
      if (options.announceReady ?? true) logger.info({ endpoints: { ...endpoints } }, 'ready');
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(protocols.map(({ server }) => server.close()));
      await backend.close();
      logger.info({}, 'stopped');
    },
  };
}
