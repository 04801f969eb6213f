/**
 * `tcp://` — the ZeroMQ protocol from the client side.
 *
 * A DEALER socket, not REQ: a REQ socket whose reply was lost is stuck
 * forever, a DEALER is not. Each request carries a 4-byte id frame before the
 * empty delimiter; the server echoes the envelope, so replies are matched to
 * requests whatever their order, and late replies to timed-out requests are
 * dropped.
 *
 * Requests are queued only to a connected server (ZMQ_IMMEDIATE) and never
 * wait inside ZeroMQ: before the first handshake a request waits (within its
 * timeout) for the connection; once a server that was connected is gone,
 * requests fail at once, so the pool moves on without waiting out a timeout.
 */
import { Dealer, curveKeyPair } from 'zeromq';
import { TicketError } from '../core/errors.js';
import { MAX_COUNT } from '../core/request.js';
import { MAX_TICKET_TEXT } from '../core/ticket.js';
import { checkValueCount, decodeReplyBody } from './reply.js';
import type { TicketReply, TicketRequest, Transport, TransportSecurity } from './transport.js';

interface Pending {
  /** The request takes a `TicketRun` for consecutive values. */
  readonly run: boolean;
  /** Values asked for; undefined: the single form. */
  readonly count: number | undefined;
  resolve(value: TicketReply): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
}

const EMPTY = Buffer.alloc(0);

/** After a disconnect, how long ZeroMQ has to schedule its own reconnect (its longest interval is 1 s). */
const RECONNECT_WATCH_MS = 1500;

/**
 * Largest reply frame taken, in bytes: 1000 formatted tickets of the longest text, JSON-escaped
 * (up to six bytes per character), with their quotes and commas. A server that sends more is
 * disconnected, and connected afresh (see `watchReconnect`).
 */
export const MAX_REPLY_BYTES = MAX_COUNT * (MAX_TICKET_TEXT * 6 + 3) + 64;

/**
 * Encodes a request body; `last` is sent as "0" when unknown. With a token,
 * the 4-element form `[name, last, count or null, token]`.
 */
export function encodeZmqRequest(request: TicketRequest, token?: string): string {
  // A formatted ticket may hold quotes: JSON-encoded; numbers as base-10 strings.
  const last = request.last === undefined ? '"0"' : typeof request.last === 'string' ? JSON.stringify(request.last) : `"${request.last}"`;
  const name = JSON.stringify(request.name);
  if (token !== undefined) return `[${name},${last},${request.count ?? 'null'},${JSON.stringify(token)}]`;
  return request.count === undefined ? `[${name},${last}]` : `[${name},${last},${request.count}]`;
}

/** ZeroMQ transport to one server. */
export class ZmqTransport implements Transport {
  readonly uri: string;
  private readonly socket: Dealer;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private connected = false;
  private everConnected = false;
  private readonly awaitingConnection = new Set<() => void>();
  private readonly token: string | undefined;
  /** Set after a disconnect until ZeroMQ schedules a reconnect (see `watchReconnect`). */
  private reconnectWatch: NodeJS.Timeout | undefined;

  /**
   * @param security `token`, and `curveServerKey` (with this client's key pair, or a fresh one) for CurveZMQ;
   *   a server that refuses the key is never connected: requests time out
   */
  constructor(uri: string, security: TransportSecurity = {}) {
    this.uri = uri;
    this.token = security.token;
    const keys =
      security.curveServerKey === undefined
        ? undefined
        : security.curveSecretKey !== undefined && security.curvePublicKey !== undefined
          ? { publicKey: security.curvePublicKey, secretKey: security.curveSecretKey }
          : curveKeyPair();
    this.socket = new Dealer({
      ...(keys === undefined
        ? {}
        : { curveServerKey: security.curveServerKey, curvePublicKey: keys.publicKey, curveSecretKey: keys.secretKey }),
      linger: 0,
      // Queue only to connected servers, and never wait to send: a request to a
      // server that is down fails at once, and the pool tries the next one.
      immediate: true,
      sendTimeout: 0,
      reconnectInterval: 100,
      reconnectMaxInterval: 1000, // a restarted server is found again within about a second
      receiveHighWaterMark: 0,
      // A reply is at most 1000 formatted tickets; a larger frame drops the connection (its requests time out).
      maxMessageSize: MAX_REPLY_BYTES,
    });
    this.socket.events.on('handshake', () => {
      this.stopReconnectWatch();
      this.connected = true;
      this.everConnected = true;
      for (const wake of this.awaitingConnection) wake();
      this.awaitingConnection.clear();
    });
    this.socket.events.on('disconnect', () => {
      this.connected = false;
      this.watchReconnect();
    });
    this.socket.events.on('connect:retry', () => this.stopReconnectWatch());
    this.socket.connect(uri);
    void this.receive();
  }

  request(request: TicketRequest, timeoutMs: number): Promise<TicketReply> {
    if (this.closed) return Promise.reject(new TicketError('EUNAVAILABLE', 'client is closed'));
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    const idFrame = Buffer.allocUnsafe(4);
    idFrame.writeUInt32BE(id);
    return new Promise((resolve, reject) => {
      const fail = (error: unknown): void => {
        const entry = this.pending.get(id);
        if (!entry) return;
        this.pending.delete(id);
        clearTimeout(entry.timer);
        // Not an answer from the server: to the caller it is a server that did not answer in time.
        reject(new TicketError('ETIMEOUT', `cannot reach ${this.uri}`, { cause: error }));
      };
      const send = (): void => {
        if (!this.pending.has(id)) return; // timed out while waiting for the connection
        try {
          this.socket.send([idFrame, EMPTY, encodeZmqRequest(request, this.token)]).catch(fail);
        } catch (error) {
          fail(error); // zeromq.js throws some send errors synchronously
        }
      };
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.awaitingConnection.delete(send);
        reject(new TicketError('ETIMEOUT', `${this.uri} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { run: request.run === true, count: request.count, resolve, reject, timer });
      if (this.connected || this.everConnected) send();
      else this.awaitingConnection.add(send); // first connection still being made
    });
  }

  /**
   * ZeroMQ reconnects by itself after a lost connection, but not after a
   * protocol error such as a reply frame over `maxMessageSize`: then nothing
   * would ever retry. When no reconnect is scheduled within a bit more than the
   * longest reconnect interval, connect afresh.
   */
  private watchReconnect(): void {
    if (this.closed || this.reconnectWatch !== undefined) return;
    this.reconnectWatch = setTimeout(() => {
      this.reconnectWatch = undefined;
      if (this.closed || this.connected) return;
      try {
        this.socket.disconnect(this.uri);
      } catch {
        // nothing left to disconnect
      }
      this.socket.connect(this.uri);
    }, RECONNECT_WATCH_MS);
    this.reconnectWatch.unref();
  }

  private stopReconnectWatch(): void {
    clearTimeout(this.reconnectWatch);
    this.reconnectWatch = undefined;
  }

  private async receive(): Promise<void> {
    while (!this.closed) {
      try {
        for await (const frames of this.socket) this.settle(frames);
      } catch {
        if (this.closed) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  }

  private settle(frames: Buffer[]): void {
    const idFrame = frames[0];
    if (frames.length !== 3 || !idFrame || idFrame.length !== 4) return; // not ours
    const id = idFrame.readUInt32BE(0);
    const entry = this.pending.get(id);
    if (!entry) return; // a late reply to a request that timed out
    this.pending.delete(id);
    clearTimeout(entry.timer);
    try {
      const reply = decodeReplyBody(frames[2] as Buffer, entry.run);
      checkValueCount(reply, entry.count);
      entry.resolve(reply);
    } catch (error) {
      entry.reject(error instanceof TicketError ? error : new TicketError('EINTERNAL', 'server sent a malformed reply'));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopReconnectWatch();
    const error = new TicketError('EUNAVAILABLE', 'client is closed');
    for (const entry of this.pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(error);
    }
    this.pending.clear();
    this.awaitingConnection.clear();
    this.socket.close();
  }
}
