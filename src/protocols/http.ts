/**
 * Public HTTP API (SPEC §6.2), with fastify:
 *
 * - `POST /` → the next value of `default` as text/plain (ticketd);
 * - `GET /tickets/create[/N]` → a JSON array of numbers, exact digits (Tickr);
 * - `GET /status` → `{"last_ticket": value|null}` (Tickr);
 * - `POST /v1/sequences/{name}/next` with `count`/`last` in the query or a JSON body
 *   → `{"sequence": name, "values": ["…"]}`;
 * - `GET /openapi.json` → the OpenAPI document of these routes.
 *
 * With issuing tokens every ticket route needs `Authorization: Bearer TOKEN`
 * covering its sequence (`default` for the ticketd and Tickr routes).
 *
 * Every error is `{"error": {"code", "message"}}` with its §7 code and HTTP
 * status; unknown routes answer 404 in the same shape (code EBADREQ).
 * Values above 2^53 keep their digits: bodies are written as text, never
 * through JavaScript numbers.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TicketError, toTicketError } from '../core/errors.js';
import { authorizeIssue, bearerToken, type IssueTokens } from '../core/issue-tokens.js';
import { DEFAULT_SEQUENCE, validateSequenceName } from '../core/names.js';
import { parseCount } from '../core/request.js';
import { MAX_TICKET_TEXT, parseLastTicket, ticketJson, ticketText, type Ticket } from '../core/ticket.js';
import type { TicketSource } from '../core/ticket-source.js';
import type { ProtocolStats } from '../core/protocol-stats.js';
import type { HttpsOptions } from '../security/security-files.js';
import { createHttpApp, sendError } from './http-common.js';
import { nextBodySchema, nextQuerySchema, openApiDocument } from './http-openapi.js';

/** Largest request body; larger ones get 413. */
export const MAX_BODY_BYTES = 16 * 1024;

const openApiText = JSON.stringify(openApiDocument);

/** Options of the public HTTP API. */
export interface HttpApiOptions {
  readonly stats?: ProtocolStats | undefined;
  /**
   * Leader mode: the leader's public URL while this server follows (undefined
   * while it leads or no leader is known). Ticket routes then answer
   * `307 Temporary Redirect` to that URL plus the original path and query,
   * which clients follow with the same method and body.
   */
  readonly redirectTo?: (() => string | undefined) | undefined;
  /**
   * Issuing tokens (`--issue-token-file`); undefined: none needed. With them,
   * every ticket route needs `Authorization: Bearer TOKEN` covering its
   * sequence (`default` for the ticketd and Tickr routes).
   */
  readonly tokens?: IssueTokens | undefined;
  /** Serve HTTPS (`--tls-cert`, `--tls-key`, `--tls-ca`); undefined: plain HTTP. */
  readonly https?: HttpsOptions | undefined;
}

/** Routes a follower redirects: every route that issues or reports tickets. */
const LEADER_ROUTES = new Set(['/', '/tickets/create', '/tickets/create/:count', '/status', '/v1/sequences/:name/next']);

/** Builds the fastify app (not listening). */
export function createHttpApi(source: TicketSource, options: HttpApiOptions = {}): FastifyInstance {
  const stats = options.stats;
  const app = createHttpApp({ bodyLimit: MAX_BODY_BYTES, onError: (error) => stats?.countError('http', error.code), https: options.https });

  const fail = (reply: FastifyReply, error: unknown): FastifyReply => {
    const ticketError = toTicketError(error);
    stats?.countError('http', ticketError.code);
    return sendError(reply, ticketError);
  };

  const tokens = options.tokens;
  /** The `last` a request may use. @throws TicketError EAUTH */
  const authorize = (request: FastifyRequest, name: string, last: Ticket | undefined): Ticket | undefined =>
    tokens === undefined ? last : authorizeIssue(tokens.find(bearerToken(request.headers.authorization)), name, last);

  const redirectTo = options.redirectTo;
  if (redirectTo) {
    // Only in leader mode: the hook costs a call per request.
    app.addHook('onRequest', async (request, reply) => {
      if (!LEADER_ROUTES.has(request.routeOptions.url ?? '')) return;
      const base = redirectTo();
      if (base === undefined) return;
      return reply.code(307).header('location', `${base}${request.url}`).header('cache-control', 'no-store').send();
    });
  }

  app.post('/', async (request, reply) => {
    try {
      authorize(request, DEFAULT_SEQUENCE, undefined);
      const value = await source.nextValue(DEFAULT_SEQUENCE);
      stats?.countIssued('http', 1);
      return reply.type('text/plain; charset=utf-8').send(ticketText(value));
    } catch (error) {
      return fail(reply, error);
    }
  });

  const tickr = async (request: FastifyRequest, reply: FastifyReply, count: number): Promise<FastifyReply> => {
    try {
      authorize(request, DEFAULT_SEQUENCE, undefined);
      const values = await source.next(DEFAULT_SEQUENCE, count);
      stats?.countIssued('http', values.length);
      // Tickr's JSON numbers, with their exact digits; a formatted sequence's tickets are JSON strings.
      return reply.type('application/json; charset=utf-8').send(`[${values.map(tickrJson).join(',')}]`);
    } catch (error) {
      return fail(reply, error);
    }
  };
  app.get('/tickets/create', async (request, reply) => tickr(request, reply, 1));
  app.get<{ Params: { count: string } }>('/tickets/create/:count', async (request, reply) => {
    let count: number;
    try {
      count = parseCount(request.params.count);
    } catch (error) {
      return fail(reply, error);
    }
    return tickr(request, reply, count);
  });

  app.get('/status', async (request, reply) => {
    try {
      authorize(request, DEFAULT_SEQUENCE, undefined);
    } catch (error) {
      return fail(reply, error);
    }
    const last = source.lastValue?.(DEFAULT_SEQUENCE);
    return reply.type('application/json; charset=utf-8').send(`{"last_ticket":${last === undefined ? 'null' : tickrJson(last)}}`);
  });

  app.get('/openapi.json', async (_request, reply) => reply.type('application/json; charset=utf-8').send(openApiText));

  app.get<{ Params: { name: string; text: string } }>('/v1/sequences/:name/check/:text', async (request, reply) => {
    try {
      const name = validateSequenceName(request.params.name);
      const text = request.params.text;
      if (text.length === 0 || text.length > MAX_TICKET_TEXT) {
        throw new TicketError('EBADREQ', `a ticket has 1 to ${MAX_TICKET_TEXT} characters`);
      }
      if (source.checkTicket === undefined) throw new TicketError('EUNAVAILABLE', 'proxy mode: check numbers at a server');
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(await source.checkTicket(name, text)));
    } catch (error) {
      return fail(reply, error);
    }
  });

  app.post<{ Params: { name: string }; Querystring: { count?: string; last?: string }; Body: unknown }>(
    '/v1/sequences/:name/next',
    { schema: { querystring: nextQuerySchema } },
    // Not async: a value from a warm lease is answered in the same tick, without a microtask per request.
    (request, reply) => {
      try {
        const name = validateSequenceName(request.params.name);
        const body = readNextBody(request.body);
        const countInput = body.count ?? request.query.count;
        const count = countInput === undefined ? undefined : parseCount(countInput);
        const last = authorize(request, name, parseLastTicket(body.last ?? request.query.last));
        const send = (values: Ticket | Ticket[]): FastifyReply => {
          const list = Array.isArray(values) ? values.map(ticketJson).join(',') : ticketJson(values);
          stats?.countIssued('http', Array.isArray(values) ? values.length : 1);
          return reply.type('application/json; charset=utf-8').send(`{"sequence":${JSON.stringify(name)},"values":[${list}]}`);
        };
        const result = count === undefined ? source.nextValue(name, last) : source.next(name, count, last);
        if (result instanceof Promise) {
          result.then(send, (error: unknown) => fail(reply, error));
          return reply;
        }
        return send(result);
      } catch (error) {
        return fail(reply, error);
      }
    },
  );

  return app;
}

/** A ticket in Tickr's JSON: a number with its exact digits, or a string for formatted tickets. */
function tickrJson(ticket: Ticket): string {
  return typeof ticket === 'bigint' ? ticket.toString() : JSON.stringify(ticket);
}

/**
 * Reads the optional JSON body of `/v1/…/next` against its schema. Bodies of
 * other content types must be empty.
 * @throws TicketError EBADREQ
 */
function readNextBody(body: unknown): { count?: unknown; last?: unknown } {
  if (body === undefined || body === null) return {};
  if (Buffer.isBuffer(body)) {
    if (body.length === 0) return {};
    throw new TicketError('EBADREQ', 'a request body must be JSON (Content-Type: application/json)');
  }
  if (typeof body !== 'object' || Array.isArray(body)) throw new TicketError('EBADREQ', 'the body must be a JSON object');
  const fields = body as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!Object.hasOwn(nextBodySchema.properties, key)) throw new TicketError('EBADREQ', `unknown field "${key.slice(0, 50)}"`);
  }
  return fields;
}
