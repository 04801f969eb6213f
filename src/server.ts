/**
 * Wires one server: store → TicketService → protocols, or, in proxy mode
 * (`--host`), upstream pool → ProxySource → the same protocols. The CLI's
 * `serve` command and embedders (`import { createServer } from 'ticket-server'`)
 * both come through here.
 */
import { pino, type Logger } from 'pino';
import type { ServerConfig } from './config/options.js';
import type { TicketSource } from './core/ticket-source.js';
import { ZmqServer } from './protocols/zmq.js';
import { ProxySource } from './proxy/proxy-source.js';
import { TicketService } from './service/ticket-service.js';
import { createStore } from './store/open-store.js';
import type { Store } from './store/store.js';

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
  /** Endpoints actually bound, filled by `start()`: `{ zmq: 'tcp://127.0.0.1:40123' }`. */
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
}

interface Backend {
  readonly source: TicketSource;
  readonly service: TicketService | undefined;
  readonly store: Store | undefined;
  readonly proxy: ProxySource | undefined;
  open(): Promise<void>;
  close(): Promise<void>;
}

async function issuingBackend(config: ServerConfig, logger: Logger): Promise<Backend> {
  const store = await createStore(config.store);
  const service = new TicketService({
    store,
    numbering: { instance: config.instance, instances: config.instances, offset: config.offset },
    drift: config.drift,
    maxJump: config.maxJump,
    maxBlock: config.maxBlock,
    maxSequences: config.maxSequences,
    strictSequences: config.strictSequences,
    storeTimeoutMs: config.storeTimeout,
    logger,
  });
  let storeOpen = false;
  return {
    source: service,
    service,
    store,
    proxy: undefined,
    async open() {
      if (!store.durable) {
        logger.warn({ store: store.description }, 'memory: store is NOT durable: every value may repeat after a restart; use it for tests and benchmarks only');
      }
      await store.open();
      storeOpen = true;
      await service.start();
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
      await service.close();
      if (storeOpen) await store.close();
    },
  };
}

function proxyBackend(config: ServerConfig, logger: Logger): Backend {
  const proxy = new ProxySource(config.hosts, {
    timeout: config.timeout,
    onStateChange: (uri, state, error) => {
      if (state === 'down') logger.warn({ upstream: uri, err: error }, 'upstream down');
      else logger.info({ upstream: uri }, 'upstream back up');
    },
  });
  return {
    source: proxy,
    service: undefined,
    store: undefined,
    proxy,
    async open() {
      logger.info({ upstreams: config.hosts, timeoutMs: config.timeout }, 'proxy mode: forwarding ticket requests, never last');
    },
    async close() {
      proxy.close();
    },
  };
}

/** Creates a server from a resolved configuration. Nothing is opened until `start()`. */
export async function createServer(config: ServerConfig, options: CreateServerOptions = {}): Promise<TicketServer> {
  const logger = options.logger ?? pino({ level: config.logLevel, base: { pid: process.pid } });
  const backend = config.hosts.length > 0 ? proxyBackend(config, logger) : await issuingBackend(config, logger);
  const zmq = new ZmqServer(backend.source, logger);
  const endpoints: Record<string, string> = {};
  let closed = false;

  return {
    config,
    source: backend.source,
    service: backend.service,
    store: backend.store,
    proxy: backend.proxy,
    endpoints,
    async start() {
      await backend.open();
      endpoints.zmq = await zmq.listen(config.bind);
      logger.info({ protocol: 'zmq', endpoint: endpoints.zmq }, 'listening');
    },
    async close() {
      if (closed) return;
      closed = true;
      await zmq.close();
      await backend.close();
      logger.info({}, 'stopped');
    },
  };
}
