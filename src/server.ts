/**
 * Wires one server: store → TicketService → protocols. The CLI's `serve`
 * command and embedders (`import { createServer } from 'ticket-server'`) both
 * come through here.
 */
import { pino, type Logger } from 'pino';
import type { ServerConfig } from './config/options.js';
import { ZmqServer } from './protocols/zmq.js';
import { TicketService } from './service/ticket-service.js';
import { createStore } from './store/open-store.js';
import type { Store } from './store/store.js';

/** A running (or ready to run) ticket server. */
export interface TicketServer {
  readonly config: ServerConfig;
  readonly service: TicketService;
  readonly store: Store;
  /** Endpoints actually bound, filled by `start()`: `{ zmq: 'tcp://127.0.0.1:40123' }`. */
  readonly endpoints: Readonly<Record<string, string>>;
  /** Opens the store, checks its numbering, binds every protocol. */
  start(): Promise<void>;
  /** Graceful stop: stops the protocols, hands unissued leases back, closes the store. */
  close(): Promise<void>;
}

/** Options for `createServer` beyond the configuration. */
export interface CreateServerOptions {
  /** Logger; default: pino JSON lines on stdout at `config.logLevel`. */
  readonly logger?: Logger;
}

/** Creates a server from a resolved configuration. Nothing is opened until `start()`. */
export async function createServer(config: ServerConfig, options: CreateServerOptions = {}): Promise<TicketServer> {
  const logger = options.logger ?? pino({ level: config.logLevel, base: { pid: process.pid } });
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
  const zmq = new ZmqServer(service, logger);
  const endpoints: Record<string, string> = {};
  let storeOpen = false;
  let closed = false;

  return {
    config,
    service,
    store,
    endpoints,
    async start() {
      if (!store.durable) logger.warn({ store: store.description }, 'memory: store is NOT durable: every value may repeat after a restart; use it for tests and benchmarks only');
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
      endpoints.zmq = await zmq.listen(config.bind);
      logger.info({ protocol: 'zmq', endpoint: endpoints.zmq }, 'listening');
    },
    async close() {
      if (closed) return;
      closed = true;
      await zmq.close();
      await service.close();
      if (storeOpen) await store.close();
      logger.info({}, 'stopped');
    },
  };
}
