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
import { parseCount } from '../core/request.js';
import { parseLastTicket, ticketJson, type Ticket } from '../core/ticket.js';
import type { TicketSource } from '../core/ticket-source.js';
import type { ProtocolStats } from '../core/protocol-stats.js';
import type { ProtocolServer } from './protocol-server.js';
import type { CurveServerKeys } from '../security/security-files.js';
import { registerZapDomain } from '../security/zap-handler.js';

/** Largest request body answered with a reply; larger ones get EBADREQ. */
export const MAX_REQUEST_BYTES = 4096;
/** Frames above this are dropped by ZeroMQ itself (the peer is disconnected). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** Most routing/envelope frames accepted before the body. */
const MAX_ENVELOPE_FRAMES = 16;

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

/** Encodes a successful reply. */
export function encodeValues(values: Ticket | readonly Ticket[]): string {
  if (typeof values === 'bigint') return `[null,"${values}"]`;
  if (typeof values === 'string') return `[null,${JSON.stringify(values)}]`;
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
export function answerZmqRequest(source: TicketSource, body: Uint8Array, stats?: ProtocolStats, tokens?: IssueTokens): string | Promise<string> {
  const succeeded = (values: Ticket | Ticket[]): string => {
    stats?.countIssued('zmq', Array.isArray(values) ? values.length : 1);
    return encodeValues(values);
  };
  const failed = (error: unknown): string => {
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
  private readonly backlog = new Map<string, Array<{ envelope: Buffer[]; text: string | undefined }>>();

  private readonly stats: ProtocolStats | undefined;
  private readonly tokens: IssueTokens | undefined;
  private readonly curve: CurveServerKeys | undefined;
  private releaseZap: (() => void) | undefined;

  constructor(source: TicketSource, logger: ProtocolLogger, stats?: ProtocolStats, options: ZmqServerOptions = {}) {
    this.source = source;
    this.logger = logger;
    this.stats = stats;
    this.tokens = options.tokens;
    this.curve = options.curve;
    this.socket = new Router({
      maxMessageSize: MAX_MESSAGE_BYTES,
      // Replies to peers that went away are dropped, never block the loop.
      mandatory: false,
      // Send at once, always. Without this, zeromq.js defers one send after a
      // run of 512 and throws EBUSY synchronously for the next one, which would
      // stop the receive loop under load. A ROUTER that is not `mandatory`
      // never blocks, so a send that cannot be queued is a reply to drop.
      sendTimeout: 0,
      linger: 1000,
      receiveHighWaterMark: 10_000,
      sendHighWaterMark: 10_000,
      ...(options.curve === undefined ? {} : { curveServer: true, curveSecretKey: options.curve.secretKey }),
    });
  }

  /** Binds and starts answering. @returns the bound endpoint (with the real port). */
  async listen(endpoint: string): Promise<string> {
    if (this.curve !== undefined) {
      // Every Curve socket gets a ZAP domain: with an allow-list it is enforced, without one any key is accepted.
      const zap = await registerZapDomain(this.curve.allowed);
      this.releaseZap = zap.release;
      this.socket.zapDomain = zap.domain;
    }
    try {
      await this.socket.bind(endpoint);
    } catch (error) {
      this.releaseZap?.();
      throw error;
    }
    this.loop = this.serve();
    return this.socket.lastEndpoint ?? endpoint;
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
    const envelopeEnd = delimiter >= 0 ? delimiter + 1 : 1;
    const envelope = frames.slice(0, envelopeEnd);
    const bodyFrames = frames.length - envelopeEnd;
    let reply: string | Promise<string>;
    if (bodyFrames !== 1) {
      this.stats?.countError('zmq', 'EBADREQ');
      reply = encodeError(new TicketError('EBADREQ', 'request must be exactly one frame'));
    } else {
      reply = answerZmqRequest(this.source, frames[envelopeEnd] as Buffer, this.stats, this.tokens);
    }
    const peer = (frames[0] as Buffer).toString('latin1');
    const queue = this.backlog.get(peer);
    if (typeof reply === 'string' && queue === undefined) {
      this.send(envelope, reply); // the common case: nothing earlier is pending for this peer
      return;
    }
    const entry = { envelope, text: typeof reply === 'string' ? reply : undefined };
    if (queue) queue.push(entry);
    else this.backlog.set(peer, [entry]);
    if (typeof reply === 'string') return;
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
    while (queue.length > 0 && (queue[0] as { text: string | undefined }).text !== undefined) {
      const entry = queue.shift() as { envelope: Buffer[]; text: string };
      this.send(entry.envelope, entry.text);
    }
    if (queue.length === 0) this.backlog.delete(peer);
  }

  private send(envelope: Buffer[], reply: string): void {
    if (this.socket.closed) return;
    envelope.push(Buffer.from(reply));
    const dropped = (error: unknown): void => this.logger.warn({ err: error }, 'zeromq reply dropped');
    try {
      this.socket.send(envelope).catch(dropped);
    } catch (error) {
      dropped(error); // zeromq.js throws some send errors synchronously
    }
  }

  /** Stops receiving, lets pending replies (bounded by `graceMs`) go out, then closes the socket. */
  async close(graceMs = 2000): Promise<void> {
    if (this.socket.closed) return;
    if (this.pending > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.socket.close();
    this.releaseZap?.();
    await this.loop;
  }
}
