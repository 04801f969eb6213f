/**
 * A `--workers` worker process (forked by the owner through node:cluster):
 * serves HTTP and line with the normal server over an `IpcStore`,
 * so every lease it issues from was reserved by the owner.
 *
 * Lifetime: the owner sends `start` first and `stop` for a graceful stop (the
 * worker closes its listeners, hands its leases back through the owner, exits
 * 0). The worker exits at once when the IPC channel closes: a dead owner must
 * not leave a process holding a socket. SIGTERM and SIGINT start the same
 * graceful stop (a terminal's Ctrl-C or a supervisor reaches the whole process
 * group); the owner restarts a worker that stopped while the owner runs.
 */
import cluster from 'node:cluster';
import { pino, type Logger } from 'pino';
import { isStartupErrorCode } from '../core/startup-errors.js';
import { createServer, type TicketServer } from '../server.js';
import { IpcStore } from './ipc-store.js';
import { isMessage, type OwnerMessage, type StartCommand, type WorkerMessage } from './messages.js';
import type { Ticket } from '../core/ticket.js';

/** How often a worker reports its counters to the owner. */
const REPORT_INTERVAL_MS = 1_000;
/** Most sequences one report carries, so a worker with a million sequences cannot flood the channel. */
const MAX_REPORTED_SEQUENCES = 1_000;

function send(message: WorkerMessage): void {
  process.send?.(message);
}

let store: IpcStore | undefined;
let server: TicketServer | undefined;
let logger: Logger | undefined;
let stopping: Promise<void> | undefined;

async function start(command: StartCommand): Promise<void> {
  const config = command.config;
  logger = pino({ level: config.logLevel, base: { pid: process.pid, worker: command.slot } });
  store = new IpcStore(send, command.storeDescription);
  try {
    server = await createServer(config, { logger, store, announceReady: false });
    await server.start();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    send({ type: 'failed', error: { code: isStartupErrorCode(code) ? code : undefined, message: (error as Error).message } });
    await server?.close().catch(() => undefined);
    process.exit(1);
  }
  send({ type: 'ready', endpoints: { ...server.endpoints } });
  const running = server;
  const reported = new Map<string, { issued: number; remaining: bigint }>();
  setInterval(() => {
    const sequences: Array<readonly [string, number, bigint, Ticket | undefined]> = [];
    running.service?.forEachSequence((name, issued, remaining) => {
      const last = reported.get(name);
      if (sequences.length >= MAX_REPORTED_SEQUENCES || (last?.issued === issued && last.remaining === remaining)) return;
      reported.set(name, { issued, remaining });
      sequences.push([name, issued, remaining, running.service?.lastValue(name)]);
    });
    send({
      type: 'report',
      issued: { ...running.stats.issued },
      errors: [...running.stats.errors],
      sequenceCount: running.service?.sequenceCount ?? 0,
      sequences,
    });
  }, REPORT_INTERVAL_MS).unref();
}

function stop(): void {
  if (stopping) return;
  // What this worker served, so a stop shows how the load was spread.
  if (server) logger?.info({ issued: { ...server.stats.issued } }, 'worker stopping');
  // A stop that hangs (the owner stopped answering) ends as a crash would: the leases make that safe.
  const limit = (server?.config.storeTimeoutMs ?? 5_000) + 5_000;
  setTimeout(() => process.exit(1), limit).unref();
  stopping = (server?.close() ?? Promise.resolve()).then(
    () => process.exit(0),
    () => process.exit(1),
  );
}

async function onMessage(message: OwnerMessage): Promise<void> {
  switch (message.type) {
    case 'start':
      await start(message);
      return;
    case 'reply':
      store?.receive(message);
      return;
    case 'floor': {
      let error: { code: string | undefined; message: string } | undefined;
      try {
        // The value just below the floor slot: raiseFloor turns it back into the same slot.
        // A worker that never used the name holds no lease of it: its first reservation lands above the floor.
        const service = server?.service;
        if (service?.describe(message.name) !== undefined) await service.raiseFloor(message.name, service.map.floorBelow(message.slot));
      } catch (caught) {
        error = { code: (caught as { code?: string }).code, message: (caught as Error).message };
      }
      send({ type: 'done', id: message.id, ...(error ? { error } : {}) });
      return;
    }
    case 'stop':
      stop();
      return;
  }
}

if (!cluster.isWorker || process.send === undefined) {
  process.stderr.write('worker-main.js is started by `ticket-server --workers N`, not directly\n');
  process.exit(2);
}
process.on('message', (message: unknown) => {
  if (isMessage(message)) void onMessage(message as OwnerMessage);
});
process.on('disconnect', () => {
  // The owner is gone (crash or kill -9): its store and lock with it. Leave no process holding a socket.
  store?.disconnect('owner process is gone');
  process.exit(1);
});
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Messages sent before a listener exists could be missed: the owner sends `start` only after this.
send({ type: 'hello' });
