/**
 * `--workers N` (N > 1): one owner process and N worker processes.
 *
 * The owner opens the store (and, for `lmdb:`, holds its directory lock, so a
 * second server is still refused), runs the lease broker, its own
 * TicketService for ZeroMQ, one-shot TCP and the admin port, and the worker
 * pool. Workers serve HTTP and line over an `IpcStore`: each lease they issue
 * from is reserved by the owner in the store before they get it.
 *
 * ZeroMQ stays in the owner: its sockets are bound inside libzmq, which
 * node:cluster cannot share between processes. One-shot TCP too: under
 * node:cluster's round robin the owner accepts every connection anyway, and
 * passing a connection that carries one value to a worker cost more than
 * answering it (measured 3-4x slower).
 */
import { pino, type Logger } from 'pino';
import type { ServerConfig } from '../config/options.js';
import { createServer, storeOptionsOf, type TicketServer } from '../server.js';
import { createStore } from '../store/open-store.js';
import { LeaseBroker } from './lease-broker.js';
import { WorkerPool, type WorkerInfo } from './worker-pool.js';
import { newerTicket } from '../core/ticket.js';

/** The order endpoints are listed in, as a one-process server lists them. */
const ENDPOINT_ORDER = ['http', 'admin', 'tcp', 'line', 'zmq'];

/** A server of several processes; `workers()` tells what each worker does. */
export interface ClusterServer extends TicketServer {
  workers(): WorkerInfo[];
}

/**
 * Creates the owner of a `--workers` server (nothing runs until `start()`).
 * `start()` opens the store, binds ZeroMQ and admin here, forks the workers and
 * logs `ready` once every process listens. `close()` stops the workers first
 * (each hands its leases back through the owner), then the owner.
 * @throws StartupError from `start()` as a one-process server would (STORE_LOCKED, LISTEN_FAILED, …)
 */
export async function createClusterServer(config: ServerConfig, options: { logger?: Logger } = {}): Promise<ClusterServer> {
  const logger = options.logger ?? pino({ level: config.logLevel, base: { pid: process.pid } });
  const store = await createStore(config.store, storeOptionsOf(config, (message) => logger.warn({ store: store.description }, message)));
  // The broker answers for the owner's service and pool, which are created after it.
  const late: { pool?: WorkerPool; owner?: TicketServer } = {};
  const broker = new LeaseBroker(store, {
    numbering: { instance: config.instance, instances: config.instances, offset: config.offset },
    broadcastFloor: async (name, slot) => late.pool?.broadcastFloor(name, slot),
    admit: async (name) => {
      const service = late.owner?.service;
      if (!service) throw new Error('owner not started');
      await service.admitName(name);
    },
    logger,
  });
  const ownerServer = await createServer(
    // One-shot TCP stays here: node:cluster's round robin has the owner accept every connection and pass
    // it to a worker over IPC, which for a connection per value cost 3-4x the owner serving it itself.
    { ...config, workers: 1, http: undefined, line: undefined },
    { logger, store: broker, announceReady: false, workers: () => late.pool?.info() ?? [] },
  );
  late.owner = ownerServer;
  const workerPool = new WorkerPool({
    count: config.workers,
    // Workers ask the owner about every name (it applies --max-sequences and strict mode for all).
    workerConfig: { ...config, workers: 1, bind: undefined, admin: undefined, tcp: undefined, strictSequences: true },
    storeDescription: store.description,
    broker,
    logger,
    stats: ownerServer.stats,
    commandTimeoutMs: config.storeTimeoutMs,
  });
  late.pool = workerPool;
  // /status, the dashboard and /metrics sample the owner's service: let it visit the workers' sequences too.
  const service = ownerServer.service;
  if (service) {
    const ownSequences = service.forEachSequence.bind(service);
    service.forEachSequence = (visit) => {
      const totals = workerPool.sequenceTotals();
      ownSequences((name, issued, leaseRemaining) => {
        const workers = totals.get(name);
        totals.delete(name);
        visit(name, issued + (workers?.issued ?? 0), leaseRemaining + (workers?.leaseRemaining ?? 0n));
      });
      for (const [name, figures] of totals) visit(name, figures.issued, figures.leaseRemaining);
    };
    const ownDescribe = service.describe.bind(service);
    service.describe = (name) => {
      const own = ownDescribe(name);
      const workers = workerPool.sequenceTotal(name);
      if (!workers) return own;
      const last = own?.lastIssued === undefined ? workers.lastIssued : workers.lastIssued === undefined ? own.lastIssued : newerTicket(own.lastIssued, workers.lastIssued);
      return {
        name,
        lastIssued: last,
        issued: (own?.issued ?? 0) + workers.issued,
        leaseRemaining: (own?.leaseRemaining ?? 0n) + workers.leaseRemaining,
        leaseSize: own?.leaseSize ?? 0,
      };
    };
  }
  const endpoints: Record<string, string> = {};
  let closed = false;

  return {
    config,
    source: ownerServer.source,
    service: ownerServer.service,
    store: ownerServer.store,
    proxy: undefined,
    election: undefined,
    stats: ownerServer.stats,
    endpoints,
    workers: () => workerPool.info(),
    async start() {
      await ownerServer.start();
      const workerEndpoints = await workerPool.start();
      const all: Record<string, string> = { ...ownerServer.endpoints, ...workerEndpoints };
      for (const key of ENDPOINT_ORDER) if (all[key] !== undefined) endpoints[key] = all[key];
      // The admin port's /status shows the owner's endpoint record: add the workers' listeners to it.
      Object.assign(ownerServer.endpoints as Record<string, string>, workerEndpoints);
      logger.info({ endpoints: { ...endpoints }, workers: config.workers }, 'ready');
    },
    async close() {
      if (closed) return;
      closed = true;
      // Workers first: they hand their leases back through the broker, which needs the store open.
      await workerPool.stop(config.storeTimeoutMs + 2_000);
      await ownerServer.close();
      const { released, kept, gaps } = broker.handBackTotals();
      logger.info({ releasedSlots: released.toString(), keptSlots: kept.toString(), gapSlots: gaps.toString() }, 'leases handed back across processes');
    },
  };
}
