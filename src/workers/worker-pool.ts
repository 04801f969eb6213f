/**
 * The owner's worker processes (node:cluster): forks them, answers their store
 * calls through the lease broker, restarts one that dies (at a bounded rate),
 * tells them about floors, adds their counters to the owner's, stops them.
 *
 * node:cluster shares the listening sockets: the owner process accepts each
 * connection and hands it to a worker in turn (round robin), so a connection
 * lives in one worker for its whole life and per-connection order is as in one
 * process. Workers that listen on port 0 share one port.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/options.js';
import { TicketError } from '../core/errors.js';
import type { ProtocolName, ProtocolStats } from '../core/protocol-stats.js';
import { StartupError, isStartupErrorCode } from '../core/startup-errors.js';
import type { LeaseBroker } from './lease-broker.js';
import { fromWire, isMessage, toWire, type OwnerMessage, type WorkerMessage, type WorkerReport } from './messages.js';
import { newerTicket, type Ticket } from '../core/ticket.js';

/** How long a worker may take from fork to `ready`. */
const WORKER_START_TIMEOUT_MS = 30_000;
/** A worker that lived at least this long restarts at once when it dies; one that died younger waits. */
const HEALTHY_LIFETIME_MS = 30_000;
/** Wait before restarting a worker that died young: doubles from the first to the last, per worker slot. */
const RESTART_DELAY_FIRST_MS = 250;
const RESTART_DELAY_MAX_MS = 30_000;

/** One worker's state as the owner sees it (for status and logs). */
export interface WorkerInfo {
  readonly slot: number;
  readonly pid: number | undefined;
  readonly ready: boolean;
  readonly restarts: number;
  readonly sequences: number;
}

interface Slot {
  readonly slot: number;
  worker: Worker | undefined;
  ready: boolean;
  startedAt: number;
  restarts: number;
  restartDelayMs: number;
  restartTimer: NodeJS.Timeout | undefined;
  /** The last counters the current process reported (deltas go to the owner's stats). */
  reported: { issued: Record<string, number>; errors: Map<string, number>; sequenceCount: number };
  /** Per sequence, what the current process last reported. */
  sequences: Map<string, SequenceFigures>;
}

/** What a worker reported of one sequence. */
export interface SequenceFigures {
  issued: number;
  leaseRemaining: bigint;
  lastIssued: Ticket | undefined;
}

/** Adds `more` into `total` (last value: the higher). */
function addFigures(total: SequenceFigures, more: SequenceFigures): void {
  total.issued += more.issued;
  total.leaseRemaining += more.leaseRemaining;
  if (more.lastIssued !== undefined) total.lastIssued = newerTicket(total.lastIssued, more.lastIssued);
}

interface PendingCommand {
  readonly worker: Worker;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** What a pool is made of. */
export interface WorkerPoolOptions {
  readonly count: number;
  /** What each worker serves: the owner's configuration with ZeroMQ and admin off. */
  readonly workerConfig: ServerConfig;
  readonly storeDescription: string;
  readonly broker: LeaseBroker;
  readonly logger: Logger;
  /** The owner's counters: workers' counters are added to them. */
  readonly stats: ProtocolStats;
  /** How long a floor broadcast waits for every worker, in ms. */
  readonly commandTimeoutMs: number;
}

function emptyReport(): Slot['reported'] {
  return { issued: {}, errors: new Map(), sequenceCount: 0 };
}

/** The worker processes of one owner. */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly commands = new Map<number, PendingCommand>();
  private nextCommandId = 1;
  /** Values issued per sequence by workers that have died, so totals never go back. */
  private readonly retired = new Map<string, SequenceFigures>();
  private stopping = false;
  /** Endpoints the first ready worker bound (all workers share them). */
  endpoints: Record<string, string> = {};

  constructor(private readonly options: WorkerPoolOptions) {
    for (let slot = 1; slot <= options.count; slot++) {
      this.slots.push({
        slot,
        worker: undefined,
        ready: false,
        startedAt: 0,
        restarts: 0,
        restartDelayMs: 0,
        restartTimer: undefined,
        reported: emptyReport(),
        sequences: new Map(),
      });
    }
  }

  /**
   * Forks every worker and resolves with the bound endpoints once all are ready.
   * @throws StartupError (the worker's start-up code, e.g. LISTEN_FAILED) or Error when a worker fails to start
   */
  async start(): Promise<Record<string, string>> {
    cluster.setupPrimary({
      exec: fileURLToPath(new URL('./worker-main.js', import.meta.url)),
      args: [],
      // Structured clone: bigints (leases, floors, the configuration) cross the channel as they are.
      serialization: 'advanced',
    });
    await Promise.all(this.slots.map((slot) => this.fork(slot)));
    return this.endpoints;
  }

  /** What each worker is doing, for status. */
  info(): WorkerInfo[] {
    return this.slots.map((slot) => ({
      slot: slot.slot,
      pid: slot.worker?.process.pid,
      ready: slot.ready,
      restarts: slot.restarts,
      sequences: slot.reported.sequenceCount,
    }));
  }

  /** Per sequence, values issued by every worker (live and dead) and slots left in live workers' leases. */
  sequenceTotals(): Map<string, SequenceFigures> {
    const totals = new Map<string, SequenceFigures>();
    for (const [name, figures] of this.retired) totals.set(name, { ...figures });
    for (const slot of this.slots) {
      for (const [name, figures] of slot.sequences) {
        const total = totals.get(name);
        if (total) addFigures(total, figures);
        else totals.set(name, { ...figures });
      }
    }
    return totals;
  }

  /** `sequenceTotals()` of one sequence; undefined when no worker reported it. */
  sequenceTotal(name: string): SequenceFigures | undefined {
    let total: SequenceFigures | undefined;
    const retired = this.retired.get(name);
    if (retired) total = { ...retired };
    for (const slot of this.slots) {
      const figures = slot.sequences.get(name);
      if (!figures) continue;
      if (total) addFigures(total, figures);
      else total = { ...figures };
    }
    return total;
  }

  /** Number of workers up and serving. */
  get readyCount(): number {
    return this.slots.filter((slot) => slot.ready).length;
  }

  /**
   * Tells every live worker that the store's next slot of `name` is now at
   * least `slot`, and resolves once each applied it (a worker that dies
   * meanwhile holds no lease any more, so it counts as done).
   * @throws TicketError EUNAVAILABLE when a worker does not confirm within the timeout
   */
  async broadcastFloor(name: string, slot: bigint): Promise<void> {
    const workers = this.slots.flatMap((entry) => (entry.worker && entry.worker.isConnected() ? [entry.worker] : []));
    await Promise.all(workers.map((worker) => this.command(worker, (id) => ({ type: 'floor', id, name, slot }))));
  }

  private command(worker: Worker, build: (id: number) => OwnerMessage): Promise<void> {
    const id = this.nextCommandId++;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.commands.delete(id);
        reject(new TicketError('EUNAVAILABLE', `worker ${worker.process.pid} did not confirm in time`));
      }, this.options.commandTimeoutMs);
      const done = (): void => clearTimeout(timer);
      this.commands.set(id, {
        worker,
        resolve: () => {
          done();
          resolve();
        },
        reject: (error) => {
          done();
          reject(error);
        },
      });
      this.send(worker, build(id));
    });
  }

  /**
   * Graceful stop: every worker closes its listeners, hands its leases back
   * through the broker and exits; one still alive after `timeoutMs` is killed
   * (its leases are lost, as in a crash).
   */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const exits: Array<Promise<void>> = [];
    for (const slot of this.slots) {
      clearTimeout(slot.restartTimer);
      const worker = slot.worker;
      if (!worker || worker.isDead()) continue;
      exits.push(new Promise((resolve) => worker.once('exit', () => resolve())));
      this.send(worker, { type: 'stop' });
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    if ((await Promise.race([Promise.all(exits), timedOut])) === 'timeout') {
      for (const slot of this.slots) {
        if (slot.worker && !slot.worker.isDead()) {
          this.options.logger.error({ worker: slot.slot, workerPid: slot.worker.process.pid }, 'worker did not stop in time; killing it');
          slot.worker.process.kill('SIGKILL');
        }
      }
      await Promise.all(exits);
    }
    clearTimeout(timer);
  }

  private send(worker: Worker, message: OwnerMessage): void {
    if (!worker.isConnected()) return;
    // A worker that died meanwhile cannot be answered; its exit is handled on its own.
    worker.send(message, undefined, () => undefined);
  }

  /** Forks the worker of `slot`; resolves when it is ready. @throws when it fails before that */
  private fork(slot: Slot): Promise<void> {
    const worker = cluster.fork();
    slot.worker = worker;
    slot.ready = false;
    slot.startedAt = Date.now();
    slot.reported = emptyReport();
    slot.sequences = new Map();
    let failure: Error | undefined;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`worker ${slot.slot} did not start within ${WORKER_START_TIMEOUT_MS / 1000} s`));
        worker.process.kill('SIGKILL');
      }, WORKER_START_TIMEOUT_MS);
      worker.on('message', (message: unknown) => {
        if (!isMessage(message)) return;
        const typed = message as WorkerMessage;
        if (typed.type === 'hello') {
          const { workerConfig, storeDescription } = this.options;
          this.send(worker, { type: 'start', config: workerConfig, slot: slot.slot, storeDescription });
          return;
        }
        if (typed.type === 'ready') {
          clearTimeout(timer);
          slot.ready = true;
          if (Object.keys(this.endpoints).length === 0) this.endpoints = { ...typed.endpoints };
          this.options.logger.info({ worker: slot.slot, workerPid: worker.process.pid, restarts: slot.restarts }, 'worker ready');
          resolve();
          return;
        }
        if (typed.type === 'failed') {
          failure = isStartupErrorCode(typed.error.code)
            ? new StartupError(typed.error.code, typed.error.message)
            : new Error(`worker ${slot.slot} failed to start: ${typed.error.message}`);
          return;
        }
        this.onMessage(slot, worker, typed);
      });
      worker.on('exit', (code, signal) => {
        clearTimeout(timer);
        slot.ready = false;
        // A dead worker holds no lease: a floor it was asked to apply is satisfied.
        for (const [id, pending] of this.commands) {
          if (pending.worker === worker) {
            this.commands.delete(id);
            pending.resolve();
          }
        }
        // No effect once ready (the promise is settled).
        reject(failure ?? new Error(`worker ${slot.slot} exited (code ${code}, signal ${signal}) before it was ready`));
        if (slot.worker !== worker) return;
        slot.worker = undefined;
        for (const [name, figures] of slot.sequences) {
          // Its leases are gone; what it issued still counts.
          const retired = this.retired.get(name);
          const issuedOnly = { issued: figures.issued, leaseRemaining: 0n, lastIssued: figures.lastIssued };
          if (retired) addFigures(retired, issuedOnly);
          else this.retired.set(name, issuedOnly);
        }
        slot.sequences = new Map();
        if (this.stopping) return;
        this.options.logger.error({ worker: slot.slot, workerPid: worker.process.pid, code, signal }, 'worker died; its leases are lost');
        this.scheduleRestart(slot);
      });
    });
  }

  private scheduleRestart(slot: Slot): void {
    const lived = Date.now() - slot.startedAt;
    slot.restartDelayMs = lived >= HEALTHY_LIFETIME_MS ? 0 : Math.min(Math.max(slot.restartDelayMs * 2, RESTART_DELAY_FIRST_MS), RESTART_DELAY_MAX_MS);
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.stopping) return;
      slot.restarts++;
      this.fork(slot).catch((error: unknown) => {
        this.options.logger.error({ worker: slot.slot, err: error }, 'worker restart failed');
      });
    }, slot.restartDelayMs);
  }

  private onMessage(slot: Slot, worker: Worker, message: WorkerMessage): void {
    switch (message.type) {
      case 'call':
        this.options.broker.handle(message).then(
          (value) => this.send(worker, { type: 'reply', id: message.id, ok: true, value }),
          (error: unknown) => this.send(worker, { type: 'reply', id: message.id, ok: false, error: toWire(error) }),
        );
        return;
      case 'done': {
        const pending = this.commands.get(message.id);
        if (!pending) return;
        this.commands.delete(message.id);
        if (message.error) pending.reject(fromWire(message.error));
        else pending.resolve();
        return;
      }
      case 'report':
        this.addReport(slot, message);
        return;
      default:
        return;
    }
  }

  /** Adds what a worker counted since its previous report to the owner's counters. */
  private addReport(slot: Slot, report: WorkerReport): void {
    const stats = this.options.stats;
    for (const [protocol, total] of Object.entries(report.issued)) {
      if (!(protocol in stats.issued) || typeof total !== 'number') continue;
      const delta = total - (slot.reported.issued[protocol] ?? 0);
      if (delta > 0) stats.issued[protocol as ProtocolName] += delta;
      slot.reported.issued[protocol] = total;
    }
    for (const [key, total] of report.errors) {
      const delta = total - (slot.reported.errors.get(key) ?? 0);
      if (delta > 0) stats.errors.set(key, (stats.errors.get(key) ?? 0) + delta);
      slot.reported.errors.set(key, total);
    }
    slot.reported.sequenceCount = report.sequenceCount;
    for (const [name, issued, leaseRemaining, lastIssued] of report.sequences) slot.sequences.set(name, { issued, leaseRemaining, lastIssued });
  }
}
