/**
 * `http://` — the HTTP API from the client side:
 * `POST {base}/v1/sequences/{name}/next` with `{"count": N, "last": "…"}`,
 * answered by `{"sequence": name, "values": ["…"]}` or
 * `{"error": {"code": "ECODE", "message": "…"}}`.
 *
 * `node:http` with a keep-alive agent rather than fetch: one request costs a
 * write and a read on a pooled socket, and a timed-out request is simply
 * destroyed. Reply bodies are bounded (1 MiB).
 *
 * Failures that are not an answer from the server (refused, reset, closed
 * mid-reply) become ETIMEOUT, as in the ZeroMQ transport, so the pool fails
 * over at once. A request that fails on a pooled keep-alive socket before any
 * reply (the server closed the idle socket as it was reused) is sent once more
 * on a fresh attempt: at worst the first attempt cost a value, which is a gap.
 * 307/308 redirects (leader mode) are followed, a few hops at most, within the
 * same timeout; where a redirect led is remembered and asked first next time
 * (the leader), until it fails to answer — then the configured server is asked
 * again, within the same request, and redirects to the new leader.
 */
import { Agent, request as sendHttpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as sendHttpsRequest } from 'node:https';
import { TicketError, isErrorCode } from '../core/errors.js';
import { readTicket, type Ticket } from '../core/ticket.js';
import { validateSequenceName } from '../core/names.js';
import { checkValueCount } from './reply.js';
import type { TicketRequest, Transport, TransportSecurity } from './transport.js';

/** Largest reply body accepted, in bytes; a larger reply fails with EINTERNAL. */
export const MAX_REPLY_BYTES = 1024 * 1024;

/** Redirects followed per request. */
const MAX_REDIRECTS = 3;

/** Idle time after which a pooled socket is dropped, in ms (lowered by the server's Keep-Alive hint). */
const IDLE_SOCKET_TIMEOUT = 15_000;


/** Where one attempt goes. */
interface Target {
  readonly hostname: string;
  readonly port: number;
  /** Path and query, already encoded. */
  readonly path: string;
}

/** Leader mode: a server a redirect led to, and the path prefix its location added. */
interface Preferred {
  readonly hostname: string;
  readonly port: number;
  readonly prefix: string;
}

/** One request in flight, as `close()` sees it. */
interface Exchange {
  abort(error: TicketError): void;
}

/** Encodes a request body: `count` only for the counted form, `last` only when known, as a string. */
export function encodeHttpRequest(request: TicketRequest): string {
  const body: { count?: number; last?: string } = {};
  if (request.count !== undefined) body.count = request.count;
  if (request.last !== undefined && request.last !== 0n) body.last = request.last.toString();
  return JSON.stringify(body);
}

/**
 * The path of a request under `base` (a base path without a trailing slash, or "").
 * The name is percent-encoded; "." and ".." are encoded too, so that nothing
 * on the way treats them as dot segments.
 */
export function httpRequestPath(base: string, name: string): string {
  const encoded = name === '.' || name === '..' ? name.replace(/\./g, '%2E') : encodeURIComponent(name);
  return `${base}/v1/sequences/${encoded}/next`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}


/**
 * Turns a complete reply into values or throws the server's error.
 * @throws TicketError with the server's code (unknown codes become EINTERNAL);
 *   EINTERNAL for a malformed reply
 */
export function decodeHttpReply(status: number, body: string, request: TicketRequest): Ticket | Ticket[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  if (status < 200 || status > 299) {
    const error = isRecord(parsed) ? parsed.error : undefined;
    if (!isRecord(error)) throw new TicketError('EINTERNAL', `server answered HTTP ${status} without an error body`);
    const message = typeof error.message === 'string' ? error.message : `server answered HTTP ${status}`;
    throw new TicketError(isErrorCode(error.code) ? error.code : 'EINTERNAL', message);
  }
  const values = isRecord(parsed) ? parsed.values : undefined;
  if (!Array.isArray(values)) throw new TicketError('EINTERNAL', 'server sent a malformed reply');
  checkValueCount(values as Ticket[], request.count ?? 1); // the values list before it is shaped: a length check
  const decoded = values.map(readTicket);
  return request.count === undefined ? (decoded[0] as Ticket) : decoded;
}

/** Host and port of an `http:` or `https:` URL, for `http.request` (IPv6 literals without brackets). */
function endpoint(url: URL): { hostname: string; port: number } {
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { hostname, port: url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port) };
}

/** HTTP transport to one server. */
export class HttpTransport implements Transport {
  readonly uri: string;
  private readonly hostname: string;
  private readonly port: number;
  /** Base path without a trailing slash; "" for none. */
  private readonly base: string;
  private readonly agent: Agent;
  /** `http:` or `https:`; redirects are followed only to the same. */
  private readonly protocol: string;
  private readonly startRequest: (options: RequestOptions) => ClientRequest;
  private readonly authorization: string | undefined;
  private readonly pending = new Set<Exchange>();
  private closed = false;
  /** Where the last redirect led (the leader), asked first; forgotten when it does not answer. */
  private preferred: Preferred | undefined;

  /**
   * @param security `token` (sent as `Authorization: Bearer`), `ca` (trusted for https://)
   * @throws TypeError when `uri` is not `http[s]://HOST:PORT[/base]`
   */
  constructor(uri: string, security: TransportSecurity = {}) {
    let url: URL;
    try {
      url = new URL(uri);
    } catch (error) {
      throw new TypeError(`unsupported server URI "${uri}": not a valid URL`, { cause: error });
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
      throw new TypeError(`unsupported server URI "${uri}": expected http[s]://HOST:PORT[/base path]`);
    }
    this.uri = uri;
    this.protocol = url.protocol;
    this.authorization = security.token === undefined ? undefined : `Bearer ${security.token}`;
    ({ hostname: this.hostname, port: this.port } = endpoint(url));
    this.base = url.pathname.replace(/\/+$/, '');
    const agentOptions = {
      keepAlive: true,
      maxSockets: 64,
      maxFreeSockets: 64,
      // Reuse the most recently used socket: the one least likely to have been closed by the server.
      scheduling: 'lifo' as const,
      timeout: IDLE_SOCKET_TIMEOUT,
    };
    if (url.protocol === 'https:') {
      this.agent = new HttpsAgent({ ...agentOptions, ...(security.ca === undefined ? {} : { ca: security.ca }) });
      this.startRequest = sendHttpsRequest;
    } else {
      this.agent = new Agent(agentOptions);
      this.startRequest = sendHttpRequest;
    }
  }

  request(request: TicketRequest, timeoutMs: number): Promise<Ticket | Ticket[]> {
    if (this.closed) return Promise.reject(new TicketError('EUNAVAILABLE', 'client is closed'));
    let configured: Target;
    try {
      // A name the server would refuse fails here: some could not even be put in a path ("", lone surrogates).
      configured = { hostname: this.hostname, port: this.port, path: httpRequestPath(this.base, validateSequenceName(request.name)) };
    } catch (error) {
      return Promise.reject(error instanceof TicketError ? error : new TicketError('EBADNAME', undefined, { cause: error }));
    }
    const preferred = this.preferred;
    const first: Target = preferred
      ? { hostname: preferred.hostname, port: preferred.port, path: `${preferred.prefix}${configured.path}` }
      : configured;
    const body = encodeHttpRequest(request);
    return new Promise((resolve, reject) => {
      let current: ClientRequest | undefined;
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        this.pending.delete(exchange);
        return true;
      };
      /** Fails the request and drops the connection of the attempt in flight. */
      const abort = (error: TicketError): void => {
        if (!settle()) return;
        current?.destroy();
        reject(error);
      };
      const exchange: Exchange = { abort };
      const timer = setTimeout(() => {
        abort(new TicketError('ETIMEOUT', `${this.uri} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.add(exchange);

      const send = (target: Target, redirects: number, retried: boolean): void => {
        const req = this.startRequest({
          agent: this.agent,
          hostname: target.hostname,
          port: target.port,
          path: target.path,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            accept: 'application/json',
            ...(this.authorization === undefined ? {} : { authorization: this.authorization }),
          },
        });
        current = req;
        const live = (): boolean => !settled && current === req;
        let answered = false;
        req.on('error', (error) => {
          if (!live()) return;
          if (!answered && req.reusedSocket && !retried) {
            send(target, redirects, true); // a pooled socket the server had closed
            return;
          }
          if (!answered && target === first && preferred !== undefined && this.preferred === preferred) {
            // The remembered leader is gone: ask the configured server, which redirects to the new one.
            this.preferred = undefined;
            send(configured, 0, false);
            return;
          }
          // Not an answer from the server: to the caller it is a server that did not answer in time.
          abort(new TicketError('ETIMEOUT', `cannot reach ${this.uri}`, { cause: error }));
        });
        req.on('response', (res: IncomingMessage) => {
          answered = true;
          if (!live()) {
            res.resume();
            return;
          }
          const status = res.statusCode ?? 0;
          if (status === 307 || status === 308) {
            res.resume(); // drain, so that the socket goes back to the pool
            this.redirect(target, res, redirects, (next) => send(next, redirects + 1, false), abort);
            return;
          }
          this.receive(res, (text) => {
            if (!live()) return;
            settle();
            if (redirects > 0) this.remember(target, configured.path);
            else if (target === first && preferred !== undefined && status === 503) this.preferred = undefined; // no longer leads
            try {
              resolve(decodeHttpReply(status, text, request));
            } catch (error) {
              reject(error instanceof TicketError ? error : new TicketError('EINTERNAL', 'server sent a malformed reply'));
            }
          }, (error) => {
            if (live()) abort(error);
          });
        });
        req.end(body);
      };
      send(first, 0, false);
    });
  }

  /** Remembers where redirects led, so the next request goes there first. */
  private remember(target: Target, originalPath: string): void {
    if (!target.path.endsWith(originalPath)) return;
    this.preferred = { hostname: target.hostname, port: target.port, prefix: target.path.slice(0, target.path.length - originalPath.length) };
  }

  /** Follows a 307/308 to a location of the same scheme (never from https down to http), or fails. */
  private redirect(
    from: Target,
    res: IncomingMessage,
    redirects: number,
    follow: (next: Target) => void,
    fail: (error: TicketError) => void,
  ): void {
    const location = res.headers.location;
    if (redirects >= MAX_REDIRECTS) return fail(new TicketError('EINTERNAL', `${this.uri}: more than ${MAX_REDIRECTS} redirects`));
    let next: URL | undefined;
    try {
      const host = from.hostname.includes(':') ? `[${from.hostname}]` : from.hostname;
      if (location !== undefined) next = new URL(location, `${this.protocol}//${host}:${from.port}${from.path}`);
    } catch {
      next = undefined;
    }
    if (next?.protocol !== this.protocol) return fail(new TicketError('EINTERNAL', `${this.uri} redirected to an unusable location`));
    follow({ ...endpoint(next), path: `${next.pathname}${next.search}` });
  }

  /** Reads a reply body, bounded by MAX_REPLY_BYTES. */
  private receive(res: IncomingMessage, done: (text: string) => void, fail: (error: TicketError) => void): void {
    const tooLarge = (): TicketError => new TicketError('EINTERNAL', `${this.uri} sent a reply larger than ${MAX_REPLY_BYTES} bytes`);
    const declared = Number(res.headers['content-length']);
    if (declared > MAX_REPLY_BYTES) {
      res.resume();
      fail(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let complete = false;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REPLY_BYTES) {
        chunks.length = 0;
        fail(tooLarge()); // destroys the request and its socket
        return;
      }
      chunks.push(chunk);
    });
    res.on('end', () => {
      complete = true;
      done(Buffer.concat(chunks, size).toString('utf8'));
    });
    res.on('error', () => {
      // reported by 'close' below
    });
    res.on('close', () => {
      if (!complete) fail(new TicketError('ETIMEOUT', `cannot reach ${this.uri}: connection closed before the reply was complete`));
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const error = new TicketError('EUNAVAILABLE', 'client is closed');
    for (const exchange of [...this.pending]) exchange.abort(error);
    this.pending.clear();
    this.agent.destroy();
  }
}
