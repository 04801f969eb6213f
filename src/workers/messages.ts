/**
 * The messages between the owner process (which holds the store) and its
 * worker processes, over node:cluster's IPC channel with `advanced`
 * serialization (structured clone), so bigints and plain objects cross as they are.
 *
 * A worker asks (`StoreCall`), the owner answers each call once (`StoreReply`),
 * in any order; the owner also tells (`OwnerCommand`) and the worker answers
 * commands that carry an id with a `CommandDone`.
 */
import { TicketError, isErrorCode } from '../core/errors.js';
import type { ServerConfig } from '../config/options.js';
import type { Ticket } from '../core/ticket.js';

/** The store operations a worker forwards to the owner. */
export type StoreOperation = 'reserve' | 'release' | 'admit' | 'health' | 'fence' | 'readSettings' | 'writeSettings' | 'listSettings';

/** Worker → owner: one store operation. */
export interface StoreCall {
  readonly type: 'call';
  readonly id: number;
  readonly op: StoreOperation;
  readonly args: readonly unknown[];
}

/** An error as it crosses the channel: ticket errors keep their code. */
export interface WireError {
  readonly code: string | undefined;
  readonly message: string;
}

/** Owner → worker: the answer to one `StoreCall`. */
export type StoreReply =
  | { readonly type: 'reply'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly type: 'reply'; readonly id: number; readonly ok: false; readonly error: WireError };

/** Owner → worker: what to serve (sent once, first). */
export interface StartCommand {
  readonly type: 'start';
  /** The worker's configuration: the owner's, with ZeroMQ and the admin port off. */
  readonly config: ServerConfig;
  /** 1-based slot of this worker, for logs. */
  readonly slot: number;
  /** The owner's store, as logs name it. */
  readonly storeDescription: string;
}

/** Owner → worker: a floor was written to the store; every value issued from now on must be above it. */
export interface FloorCommand {
  readonly type: 'floor';
  readonly id: number;
  readonly name: string;
  /** The store's new next slot. */
  readonly slot: bigint;
}

/** Owner → worker: graceful stop (close listeners, hand every lease back, exit 0). */
export interface StopCommand {
  readonly type: 'stop';
}

export type OwnerMessage = StoreReply | StartCommand | FloorCommand | StopCommand;

/** Worker → owner: listening on the channel; send `start`. */
export interface WorkerHello {
  readonly type: 'hello';
}

/** Worker → owner: every listener is bound. */
export interface WorkerReady {
  readonly type: 'ready';
  readonly endpoints: Readonly<Record<string, string>>;
}

/** Worker → owner: a command with an id was carried out. */
export interface CommandDone {
  readonly type: 'done';
  readonly id: number;
  readonly error?: WireError;
}

/** Worker → owner, once a second: cumulative counters since the worker started. */
export interface WorkerReport {
  readonly type: 'report';
  readonly issued: Readonly<Record<string, number>>;
  readonly errors: ReadonlyArray<readonly [string, number]>;
  /** Sequences this worker has admitted. */
  readonly sequenceCount: number;
  /** Sequences whose figures changed since the previous report (at most 1000): name, values issued, slots left in leases, last value. */
  readonly sequences: ReadonlyArray<readonly [string, number, bigint, Ticket | undefined]>;
}

/** Worker → owner: start-up failed (the worker exits next); `code` is the start-up code when there is one. */
export interface WorkerFailed {
  readonly type: 'failed';
  readonly error: WireError;
}

export type WorkerMessage = WorkerHello | StoreCall | WorkerReady | CommandDone | WorkerReport | WorkerFailed;

/** An error as it crosses the channel. */
export function toWire(error: unknown): WireError {
  if (error instanceof TicketError) return { code: error.code, message: error.message };
  return { code: undefined, message: error instanceof Error ? error.message : String(error) };
}

/** The error back on the other side: a `TicketError` when it was one, else a plain `Error`. */
export function fromWire(wire: WireError): Error {
  return isErrorCode(wire.code) ? new TicketError(wire.code, wire.message) : new Error(wire.message);
}

/** Loose check of anything received on the channel (it comes from our own code, but never trust a shape blindly). */
export function isMessage(value: unknown): value is { readonly type: string } {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}
