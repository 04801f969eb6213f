/**
 * ZeroMQ request/reply protocol (SPEC §6.1).
 *
 * Request: a UTF-8 JSON array `[name, last]` or `[name, last, count]`; a
 * server with issuing tokens needs a fourth element, the token:
 * `[name, last, count, token]`, where `count` may be null for one value (a
 * server without tokens ignores it).
 * Reply: `[null, "value"]`, `[null, ["v1", …]]` when a count was given, or
 * `["ECODE", "message"]`.
 *
 * The socket is a ROUTER that speaks the REP envelope, so REQ and DEALER
 * clients see a REP server; unlike REP it lets a request that waits for a lease
 * stay pending while later requests (other sequences) are answered.
 */
import { Router } from 'zeromq';
import { TicketError, toTicketError } from '../core/errors.js';
import { authorizeIssue, type IssueTokens } from '../core/issue-tokens.js';
import { validateSequenceName } from '../core/names.js';
import { MAX_COUNT, parseCount } from '../core/request.js';
import { parseLastTicket, ticketJson, type Ticket } from '../core/ticket.js';
import type { TicketSource } from '../core/ticket-source.js';
import type { ProtocolStats } from '../core/protocol-stats.js';
import type { ProtocolServer } from './protocol-server.js';
import type { CurveServerKeys } from '../security/security-files.js';
import { registerZapDomain } from '../security/zap-handler.js';
import { ZmtpGuard } from './zmtp-guard.js';
import { QUOTED_VALUE_BYTES, writeValues } from './decimal-output.js';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/** Largest request body answered with a reply; larger ones get EBADREQ. */
export const MAX_REQUEST_BYTES = 4096;
/**
 * Frames above this are dropped by ZeroMQ itself (the peer is disconnected);
 * over TCP the front (zmtp-guard.ts) already bounds a whole message far lower.
 */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** Replies ZeroMQ queues for one peer (its send high-water mark); further ones wait here, in `MAX_HELD_REPLY_BYTES`. */
export const SEND_QUEUE_MESSAGES = 128;
/**
 * Reply bytes held here for a peer whose ZeroMQ queue is full; past it replies
 * to that peer are dropped. With `SEND_QUEUE_MESSAGES` (replies up to ~20 KB),
 * what a peer that never receives costs the server is bounded by a few MB.
 */
export const MAX_HELD_REPLY_BYTES = 1024 * 1024;
/** How soon a held reply is offered to ZeroMQ again: at first, and at most (a peer that does not receive). */
const HELD_RETRY_MS = 1;
const HELD_RETRY_MAX_MS = 100;
/** Requests queued from one peer before it is read no further (ZeroMQ's receive high-water mark). */
export const RECEIVE_QUEUE_MESSAGES = 1000;
/** How long a stopping server keeps its connections after the last value reply, for peers to read it. */
const STOP_QUIET_MS = 200;
/** Most routing/envelope frames accepted before the body. */
const MAX_ENVELOPE_FRAMES = 16;

/** Default of `--heartbeat-timeout`. */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 30_000;

/** Options of the ZeroMQ server. */
export interface ZmqServerOptions {
  /**
   * A peer silent this long (no request, no heartbeat answer), or that has not
   * completed its handshake by then, is disconnected. Default 30,000 ms.
   */
  readonly heartbeatTimeoutMs?: number | undefined;
  /** Most peers connected at once over TCP; any beyond are closed at once. Default 10,000 (`--max-connections`). */
  readonly maxConnections?: number | undefined;
  /**
   * Serve a `tcp://` endpoint through the metering front (zmtp-guard.ts).
   * Default true; false binds ZeroMQ directly: faster, but neither unfinished
   * messages nor the number of peers are bounded (`--zmq-guard off`).
   */
  readonly guard?: boolean | undefined;
}

/** A parsed ticket request. `count` is undefined for the single-value form. */
export interface ZmqRequest {
  readonly name: string;
  readonly last: Ticket | undefined;
  readonly count: number | undefined;
  /** The issuing token of the 4-element form. */
  readonly token?: string | undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Parses one request body.
 * @throws TicketError EBADREQ for anything that is not a request, EBADNAME for a bad name.
 */
export function parseZmqRequest(body: Uint8Array): ZmqRequest {
  if (body.length > MAX_REQUEST_BYTES) throw new TicketError('EBADREQ', `request larger than ${MAX_REQUEST_BYTES} bytes`);
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new TicketError('EBADREQ', 'request is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TicketError('EBADREQ', 'request is not JSON');
  }
  if (!Array.isArray(parsed) || parsed.length < 1 || parsed.length > 4) {
    throw new TicketError('EBADREQ', 'request must be a JSON array [name, last], [name, last, count] or [name, last, count, token]');
  }
  const [name, last, count, token] = parsed as unknown[];
  if (parsed.length === 4 && (typeof token !== 'string' || token.length > 256)) {
    throw new TicketError('EBADREQ', 'the token (4th element) must be a string of at most 256 characters');
  }
  return {
    name: validateSequenceName(name),
    last: parseLastTicket(last),
    // The 4-element form may carry a null count: one value.
    count: parsed.length === 3 || (parsed.length === 4 && count !== null) ? parseCount(count) : undefined,
    ...(parsed.length === 4 ? { token: token as string } : {}),
  };
}

/** A reply body: text, or bytes already encoded (a counted reply of numbers). */
export type ZmqReply = string | Buffer;

const LIST_OPEN = Buffer.from('[null,[');
const QUOTE = 0x22;
const COMMA = 0x2c;
const CLOSE_BRACKET = 0x5d;
/** Where counted replies are written before they are copied out at their exact size (one thread: shared). */
const scratch = Buffer.allocUnsafe(LIST_OPEN.length + MAX_COUNT * QUOTED_VALUE_BYTES + 1);

/**
 * Encodes a successful reply. A list of numbers is written as bytes, digit by
 * digit (consecutive values counted up in decimal): no string per value.
 */
export function encodeValues(values: Ticket | readonly Ticket[]): ZmqReply {
  if (typeof values === 'bigint') return `[null,"${values}"]`;
  if (typeof values === 'string') return `[null,${JSON.stringify(values)}]`;
  let numbers = values.length > 0;
  for (let index = 0; numbers && index < values.length; index++) numbers = typeof values[index] === 'bigint';
  if (numbers && values.length <= MAX_COUNT) {
    LIST_OPEN.copy(scratch);
    // `"1","2",` with the last comma made the closing bracket of the list.
    const end = writeValues(scratch, LIST_OPEN.length, values as readonly bigint[], COMMA, QUOTE);
    scratch[end - 1] = CLOSE_BRACKET;
    scratch[end] = CLOSE_BRACKET;
    // A copy of its own: ZeroMQ may keep the buffer until it is sent, and held replies count their size.
    return Buffer.from(scratch.subarray(0, end + 1));
  }
  let text = '[null,[';
  for (let index = 0; index < values.length; index++) text += `${index === 0 ? '' : ','}${ticketJson(values[index] as Ticket)}`;
  return `${text}]]`;
}

/** Encodes an error reply; internal errors never leak their message. */
export function encodeError(error: unknown): string {
  const ticketError = toTicketError(error);
  return JSON.stringify([ticketError.code, ticketError.message]);
}

/**
 * Answers one body: a string reply now, or a promise of one. Never throws.
 * With `tokens`, the request's token must cover its sequence (else EAUTH), and
 * `last` counts only from a trusted token.
 */
export function answerZmqRequest(source: TicketSource, body: Uint8Array, stats?: ProtocolStats, tokens?: IssueTokens): ZmqReply | Promise<ZmqReply> {
  const succeeded = (values: Ticket | Ticket[]): ZmqReply => {
    stats?.countIssued('zmq', Array.isArray(values) ? values.length : 1);
    return encodeValues(values);
  };
  const failed = (error: unknown): ZmqReply => {
    const ticketError = toTicketError(error);
    stats?.countError('zmq', ticketError.code);
    return encodeError(ticketError);
  };
  try {
    const request = parseZmqRequest(body);
    const last = tokens === undefined ? request.last : authorizeIssue(tokens.find(request.token), request.name, request.last);
    const result =
      request.count === undefined
        ? source.nextValue(request.name, last)
        : source.next(request.name, request.count, last);
    if (result instanceof Promise) return result.then(succeeded, failed);
    return succeeded(result);
  } catch (error) {
    return failed(error);
  }
}

/** Replies held for one peer, in order; `full` once one was dropped, until one is sent. */
interface HeldReplies {
  readonly replies: Buffer[][];
  bytes: number;
  full: boolean;
}

/** Minimal logger (pino fits). */
export interface ProtocolLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** Options of the ZeroMQ server. */
export interface ZmqServerOptions {
  /** Issuing tokens; undefined: none needed. */
  readonly tokens?: IssueTokens | undefined;
  /**
   * CurveZMQ: this server's key pair and the client keys it accepts
   * (enforced by a ZAP handler); undefined: no encryption.
   */
  readonly curve?: CurveServerKeys | undefined;
}

/** The ZeroMQ server: binds, answers until closed. */
export class ZmqServer implements ProtocolServer<string> {
  readonly name = 'zmq';
  private readonly socket: Router;
  private readonly source: TicketSource;
  private readonly logger: ProtocolLogger;
  private loop: Promise<void> | undefined;
  private pending = 0;
  private drained: (() => void) | undefined;
  /**
   * Replies held back per peer (by routing id) while an earlier reply to the
   * same peer is still being worked out, so that each connection gets its
   * replies in the order it sent the requests — a pipelining client sees the
   * values of a sequence in increasing order.
   */
  private readonly backlog = new Map<string, Array<{ envelope: Buffer[]; text: ZmqReply | undefined }>>();

  private readonly stats: ProtocolStats | undefined;
  private readonly tokens: IssueTokens | undefined;
  private readonly curve: CurveServerKeys | undefined;
  private releaseZap: (() => void) | undefined;
  /** Set by `close()`: requests from then on are refused without a value. */
  private stopping = false;
  private readonly maxConnections: number;
  private readonly guarded: boolean;
  /** The TCP front of a `tcp://` endpoint; undefined for ipc:// and inproc:// (local) endpoints. */
  private guard: ZmtpGuard | undefined;
  /**
   * Replies to peers whose ZeroMQ queue was full, in order, with their bytes;
   * a pump offers them again one at a time (so their order holds).
   */
  private readonly held = new Map<string, HeldReplies>();

  constructor(source: TicketSource, logger: ProtocolLogger, stats?: ProtocolStats, options: ZmqServerOptions = {}) {
    this.source = source;
    this.logger = logger;
    this.stats = stats;
    this.tokens = options.tokens;
    this.curve = options.curve;
    this.maxConnections = options.maxConnections ?? 10_000;
    this.guarded = options.guard ?? true;
    const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS;
    this.socket = new Router({
      // A peer that completed its handshake and then sends nothing, not even the answer to a ping, is
      // disconnected after the timeout; live peers (their ZeroMQ answers pings) stay however idle.
      heartbeatInterval: Math.max(100, Math.floor(heartbeatTimeoutMs / 3)),
      heartbeatTimeout: heartbeatTimeoutMs,
      // Asks peers to drop this server after as long without traffic from it.
      heartbeatTimeToLive: heartbeatTimeoutMs,
      // A connection that does not complete the ZeroMQ handshake in as long is closed.
      handshakeInterval: heartbeatTimeoutMs,
      maxMessageSize: MAX_MESSAGE_BYTES,
      // A reply that ZeroMQ cannot queue fails (EHOSTUNREACH: the peer went away, dropped; EAGAIN: its
      // queue is full, held here within a bound) instead of being dropped silently.
      mandatory: true,
      // Send at once, always. Without this, zeromq.js defers one send after a
      // run of 512 and throws EBUSY synchronously for the next one, which would
      // stop the receive loop under load; a send that cannot be queued fails at once.
      sendTimeout: 0,
      linger: 1000,
      // Requests queued per peer before ZeroMQ stops reading that peer (this loop takes them at once).
      receiveHighWaterMark: RECEIVE_QUEUE_MESSAGES,
      // Replies queued per peer; past it replies to that peer are dropped (not `mandatory`): a peer that
      // never receives holds at most this many replies here (up to ~20 KB each) beside the socket buffers.
      sendHighWaterMark: SEND_QUEUE_MESSAGES,
      ...(options.curve === undefined ? {} : { curveServer: true, curveSecretKey: options.curve.secretKey }),
    });
  }

  /**
   * Binds and starts answering. A `tcp://` endpoint is served through a TCP
   * front that bounds messages and peers (see zmtp-guard.ts), with the ROUTER
   * itself on a free loopback port; ipc:// and inproc:// (local), and every
   * endpoint with `guard: false`, are bound directly.
   * @returns the bound endpoint (with the real port).
   */
  async listen(endpoint: string): Promise<string> {
    if (this.curve !== undefined) {
      // Every Curve socket gets a ZAP domain: with an allow-list it is enforced, without one any key is accepted.
      const zap = await registerZapDomain(this.curve.allowed);
      this.releaseZap = zap.release;
      this.socket.zapDomain = zap.domain;
    }
    const tcp = this.guarded ? tcpHostPort(endpoint) : undefined;
    let bound: string;
    try {
      if (tcp === undefined) {
        await this.socket.bind(endpoint);
        bound = this.socket.lastEndpoint ?? endpoint;
      } else {
        await this.socket.bind('tcp://127.0.0.1:*');
        const inner = Number(/:(\d+)$/.exec(this.socket.lastEndpoint ?? '')?.[1]);
        const guard = new ZmtpGuard({ host: '127.0.0.1', port: inner }, this.logger, this.maxConnections, () => {
          this.stats?.countError('zmq', 'EBADREQ');
        });
        // As ZeroMQ does without its IPv6 option, a host name means its IPv4 address.
        const host = isIP(tcp.host) === 0 ? (await lookup(tcp.host, { family: 4 })).address : tcp.host;
        const address = await guard.listen(host, tcp.port);
        this.guard = guard;
        const separator = address.lastIndexOf(':');
        const boundHost = address.slice(0, separator);
        bound = `tcp://${boundHost.includes(':') ? `[${boundHost}]` : boundHost}${address.slice(separator)}`;
      }
    } catch (error) {
      this.socket.close();
      this.releaseZap?.();
      throw error;
    }
    this.loop = this.serve();
    return bound;
  }

  private async serve(): Promise<void> {
    // One failure must never leave the server up but deaf: log it and keep receiving.
    while (!this.socket.closed) {
      try {
        for await (const frames of this.socket) {
          try {
            this.handle(frames);
          } catch (error) {
            this.logger.error({ err: error }, 'zeromq request failed');
          }
        }
      } catch (error) {
        if (this.socket.closed) break;
        this.logger.error({ err: error }, 'zeromq receive failed; receiving again');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  }

  private handle(frames: Buffer[]): void {
    // [routing id, (more ids…), empty delimiter, body] from REQ; DEALER peers may omit the delimiter.
    let delimiter = -1;
    for (let index = 1; index < frames.length && index <= MAX_ENVELOPE_FRAMES; index++) {
      if ((frames[index] as Buffer).length === 0) {
        delimiter = index;
        break;
      }
    }
    const peer = (frames[0] as Buffer).toString('latin1');
    // A peer whose held replies reached the bound does not receive: its requests are not worked out
    // (their replies would only be dropped), so it costs neither values nor time until it receives again.
    if (this.held.get(peer)?.full === true) {
      this.stats?.countError('zmq', 'EUNAVAILABLE');
      return;
    }
    const envelopeEnd = delimiter >= 0 ? delimiter + 1 : 1;
    const envelope = frames.slice(0, envelopeEnd);
    const bodyFrames = frames.length - envelopeEnd;
    let reply: ZmqReply | Promise<ZmqReply>;
    if (this.stopping) {
      // A value sent now could be lost in the peer's closing connection; this answer costs none.
      this.stats?.countError('zmq', 'EUNAVAILABLE');
      reply = encodeError(new TicketError('EUNAVAILABLE', 'server is stopping'));
    } else if (bodyFrames !== 1) {
      this.stats?.countError('zmq', 'EBADREQ');
      reply = encodeError(new TicketError('EBADREQ', 'request must be exactly one frame'));
    } else {
      reply = answerZmqRequest(this.source, frames[envelopeEnd] as Buffer, this.stats, this.tokens);
    }
    const queue = this.backlog.get(peer);
    if (!(reply instanceof Promise) && queue === undefined) {
      this.send(envelope, reply); // the common case: nothing earlier is pending for this peer
      return;
    }
    const entry = { envelope, text: reply instanceof Promise ? undefined : reply };
    if (queue) queue.push(entry);
    else this.backlog.set(peer, [entry]);
    if (!(reply instanceof Promise)) return;
    this.pending++;
    void reply.then((text) => {
      entry.text = text;
      this.flush(peer);
      if (--this.pending === 0 && this.drained) this.drained();
    });
  }

  /** Sends a peer's held replies up to the first one still being worked out. */
  private flush(peer: string): void {
    const queue = this.backlog.get(peer);
    if (!queue) return;
    let sent = 0;
    while (queue.length > 0 && (queue[0] as { text: ZmqReply | undefined }).text !== undefined) {
      const entry = queue.shift() as { envelope: Buffer[]; text: ZmqReply };
      // After the first, one at a time through the pump: whether a send was queued is known only later.
      if (sent++ === 0) this.send(entry.envelope, entry.text);
      else this.hold(peer, [...entry.envelope, typeof entry.text === 'string' ? Buffer.from(entry.text) : entry.text]);
    }
    if (queue.length === 0) this.backlog.delete(peer);
  }

  private send(envelope: Buffer[], reply: ZmqReply): void {
    if (this.socket.closed) return;
    envelope.push(typeof reply === 'string' ? Buffer.from(reply) : reply);
    const peer = (envelope[0] as Buffer).toString('latin1');
    if (this.held.has(peer)) {
      this.hold(peer, envelope);
      return;
    }
    const unsent = (error: unknown): void => {
      const code = (error as { code?: unknown }).code;
      if (code === 'EAGAIN') this.hold(peer, envelope, true);
      // EHOSTUNREACH: the peer went away, as peers may.
      else if (code !== 'EHOSTUNREACH') this.logger.warn({ err: error }, 'zeromq reply dropped');
    };
    try {
      this.socket.send(envelope).catch(unsent);
    } catch (error) {
      unsent(error); // zeromq.js throws some send errors synchronously
    }
  }

  /** Holds a reply ZeroMQ could not queue for `peer` (at the head when it was the one that failed). */
  private hold(peer: string, message: Buffer[], first = false): void {
    let held = this.held.get(peer);
    if (held === undefined) {
      held = { replies: [], bytes: 0, full: false };
      this.held.set(peer, held);
      void this.pump(peer, held);
    }
    const bytes = (message.at(-1) as Buffer).length;
    if (held.bytes + bytes > MAX_HELD_REPLY_BYTES) {
      this.stats?.countError('zmq', 'EUNAVAILABLE');
      held.full = true;
      return; // a peer that does not receive: its replies are dropped past the bound
    }
    held.bytes += bytes;
    if (first) held.replies.unshift(message);
    else held.replies.push(message);
  }

  /** Offers a peer's held replies to ZeroMQ one at a time, waiting while its queue is full. */
  private async pump(peer: string, held: HeldReplies): Promise<void> {
    // Let the failed send that started this put its reply at the head first.
    await new Promise((resolve) => setImmediate(resolve));
    let retryMs = HELD_RETRY_MS;
    while (held.replies.length > 0 && !this.socket.closed) {
      const message = held.replies[0] as Buffer[];
      try {
        await this.socket.send(message);
        retryMs = HELD_RETRY_MS;
      } catch (error) {
        if ((error as { code?: unknown }).code === 'EAGAIN') {
          await new Promise((resolve) => setTimeout(resolve, retryMs));
          retryMs = Math.min(retryMs * 2, HELD_RETRY_MAX_MS);
          continue;
        }
        held.replies.length = 0; // the peer went away
        break;
      }
      held.replies.shift();
      held.bytes -= (message.at(-1) as Buffer).length;
      held.full = false;
    }
    this.held.delete(peer);
  }

  /**
   * Stops issuing (later requests get EUNAVAILABLE, which spends no value), lets pending
   * and held replies go out, keeps the connections open `STOP_QUIET_MS` more so that
   * peers read the replies already sent (a ZeroMQ client with ZMQ_IMMEDIATE drops what
   * it has received but not read when the connection closes), then closes the socket.
   * All of it within `graceMs`.
   */
  async close(graceMs = 2000): Promise<void> {
    if (this.socket.closed || this.stopping) return;
    this.stopping = true;
    const deadline = Date.now() + graceMs;
    if (this.pending > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    while (this.held.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(STOP_QUIET_MS, deadline - Date.now()))));
    this.socket.close();
    this.releaseZap?.();
    // The ROUTER's last replies (its linger) pass through the front before the clients are dropped.
    await Promise.all([this.loop, this.guard?.close(graceMs)]);
  }
}

/**
 * The host and port the TCP front listens on for a `tcp://HOST:PORT` endpoint
 * (`*` is every IPv4 interface, as in ZeroMQ; a network interface's name is its
 * first IPv4 address); undefined for ipc:// and inproc://.
 */
export function tcpHostPort(endpoint: string): { host: string; port: number } | undefined {
  const match = /^tcp:\/\/(.+):(\*|\d+)$/.exec(endpoint);
  if (match === null) return undefined;
  const [, rawHost = '', rawPort = '*'] = match;
  const port = rawPort === '*' ? 0 : Number(rawPort);
  if (rawHost === '*') return { host: '0.0.0.0', port };
  if (rawHost.startsWith('[') && rawHost.endsWith(']')) return { host: rawHost.slice(1, -1), port };
  const named = networkInterfaces()[rawHost]?.find((address) => address.family === 'IPv4');
  return { host: named?.address ?? rawHost, port };
}
