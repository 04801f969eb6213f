import type { Ticket } from '../core/ticket.js';
import type { TicketRun } from './reply.js';

/**
 * A connection to one server, whatever its protocol. The pool above it
 * handles failover; a transport only sends one request and waits, bounded.
 */

/** One ticket request as the client sends it. */
export interface TicketRequest {
  readonly name: string;
  /** Undefined for the single-value form. */
  readonly count: number | undefined;
  readonly last: Ticket | undefined;
  /**
   * The caller takes a `TicketRun` for a `count` request whose values are
   * consecutive plain numbers (a prefetching client does); a transport may
   * also answer with an array. Default false: never a run.
   */
  readonly run?: boolean;
}

/** What a transport answers: one value (single form), the values, or (only when asked, `run`) a run of them. */
export type TicketReply = Ticket | Ticket[] | TicketRun;

/** A connection to one server. */
export interface Transport {
  readonly uri: string;
  /**
   * Sends one request; resolves with one value (single form) or an array,
   * or a `TicketRun` when `request.run` asked for one.
   * @throws TicketError ETIMEOUT after `timeoutMs`, the server's code for its errors,
   *   EUNAVAILABLE when the request could not be sent.
   */
  request(request: TicketRequest, timeoutMs: number): Promise<TicketReply>;
  /** Fails every pending request and frees the connection. */
  close(): void;
}

/** What a transport needs beyond the URI to reach a server that asks for credentials. */
export interface TransportSecurity {
  /**
   * Issuing token, for servers started with `--issue-token-file`: sent as
   * `Authorization: Bearer` (http://, https://), as the request's 4th element
   * (tcp://), or by `AUTH` once per connection (line://). Servers without
   * tokens ignore it.
   */
  readonly token?: string | undefined;
  /** PEM CA certificate(s) trusted for https:// servers; default: Node's bundled CAs. */
  readonly ca?: string | Buffer | undefined;
  /** CurveZMQ for tcp://: the server's Z85 public key. Without it, no encryption. */
  readonly curveServerKey?: string | undefined;
  /** CurveZMQ: this client's Z85 public key; with `curveSecretKey`. Default: a fresh pair per connection. */
  readonly curvePublicKey?: string | undefined;
  /** CurveZMQ: this client's Z85 secret key. */
  readonly curveSecretKey?: string | undefined;
}

/**
 * Checks a token can go on every protocol's wire (no spaces or line breaks).
 * @throws TypeError
 */
export function checkToken(token: string | undefined): void {
  if (token !== undefined && (typeof token !== 'string' || !/^[\x21-\x7e]{1,256}$/.test(token))) {
    throw new TypeError('token must be 1-256 printable characters without spaces');
  }
}
