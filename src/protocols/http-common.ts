/**
 * What both HTTP ports (the public API and the admin port) share: one fastify
 * setup, one error shape (`{"error": {"code", "message"}}` with a §7 code),
 * and the translation of fastify's own errors into it — so no response of
 * either port ever carries fastify's default error body.
 */
import { fastify, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { TicketError, toTicketError } from '../core/errors.js';
import type { HttpsOptions } from '../security/security-files.js';

/** Writes an error in the §6.2 shape. */
export function sendError(reply: FastifyReply, error: TicketError, status = error.status): FastifyReply {
  return reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send(JSON.stringify({ error: { code: error.code, message: error.message } }));
}

/** Translates fastify's own errors (body size, JSON syntax, bad URL, validation) into §7 codes. */
export function translateFrameworkError(error: FastifyError | TicketError | Error, bodyLimit: number): { error: TicketError; status: number } {
  if (error instanceof TicketError) return { error, status: error.status };
  const framework = error as FastifyError;
  if (framework.validation) {
    return { error: new TicketError('EBADREQ', `invalid request: ${framework.message}`), status: 400 };
  }
  const status = framework.statusCode;
  if (status === 413) return { error: new TicketError('EBADREQ', `request body larger than ${bodyLimit} bytes`), status: 413 };
  if (status !== undefined && status >= 400 && status < 500) {
    return { error: new TicketError('EBADREQ', framework.message), status };
  }
  return { error: toTicketError(error), status: 500 };
}

/** Options of `createHttpApp`. */
export interface HttpAppOptions {
  readonly bodyLimit: number;
  /** Told about every error answered, for metrics. */
  readonly onError?: ((error: TicketError) => void) | undefined;
  /** Serve HTTPS with these (PEM certificate, key, optional client CA); undefined: plain HTTP. */
  readonly https?: HttpsOptions | undefined;
}

/**
 * A fastify app with request logging off, every error in the §6.2 shape,
 * unknown routes as 404 in that shape, bodies of any content type accepted
 * as bytes, and JSON bodies that may be empty (ticketd clients POST with any
 * or no body).
 */
export function createHttpApp(options: HttpAppOptions): FastifyInstance {
  const { bodyLimit, onError } = options;
  const answerError = (reply: FastifyReply, error: unknown): FastifyReply => {
    const translated = translateFrameworkError(error as Error, bodyLimit);
    onError?.(translated.error);
    return sendError(reply, translated.error, translated.status);
  };
  // The https variant of fastify's types differs only in the server class; callers see one FastifyInstance.
  const app = fastify({
    ...(options.https === undefined ? {} : { https: { ...options.https } }),
    logger: false,
    bodyLimit,
    // Names are up to 128 bytes, percent-encoded up to 384 characters; longer ones must reach EBADNAME, not 404.
    routerOptions: { maxParamLength: 2048 },
    return503OnClosing: true,
    forceCloseConnections: true,
    // How often Node checks requests against their timeouts (its default, 30 s, would stretch a 10 s timeout to 40 s).
    http: { connectionsCheckingInterval: 1000 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    // Errors fastify raises before routing (a malformed percent-encoded URL, …).
    frameworkErrors: (error, _request, reply) => {
      answerError(reply, error);
    },
  }) as unknown as FastifyInstance;
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new TicketError('EBADREQ', 'request body is not valid JSON'), undefined);
    }
  });
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));
  app.setErrorHandler((error, _request, reply) => answerError(reply, error));
  const routes = new RouteTable();
  app.addHook('onRoute', (route) => routes.add(route.url, route.method));
  app.setNotFoundHandler((request, reply) => {
    // A known path with another method is a wrong method, not a missing route: say which methods it takes.
    const allowed = routes.methodsOf(request.url);
    if (allowed.length > 0) {
      const error = new TicketError('EBADREQ', `${request.method} is not allowed on ${request.url.split('?')[0]?.slice(0, 200)}; use ${allowed.join(' or ')}`);
      onError?.(error);
      return sendError(reply.header('allow', allowed.join(', ')), error, 405);
    }
    const error = new TicketError('EBADREQ', `no route ${request.method} ${request.url.slice(0, 200)}`);
    onError?.(error);
    return sendError(reply, error, 404);
  });
  return app;
}

/**
 * The methods each registered path answers, for 405 and `Allow`. Parameters
 * (`:name`) match one path segment, as fastify's router matches them.
 */
class RouteTable {
  private readonly routes: Array<{ pattern: RegExp; methods: Set<string> }> = [];
  private readonly byUrl = new Map<string, Set<string>>();

  add(url: string, method: string | readonly string[]): void {
    let methods = this.byUrl.get(url);
    if (!methods) {
      methods = new Set();
      this.byUrl.set(url, methods);
      const source = url
        .split('/')
        .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('/');
      this.routes.push({ pattern: new RegExp(`^${source}$`), methods });
    }
    for (const one of typeof method === 'string' ? [method] : method) methods.add(one.toUpperCase());
  }

  /** Methods some route answers on the path of `url` (its query ignored), sorted; none for an unknown path. */
  methodsOf(url: string): string[] {
    const path = url.split('?')[0] ?? '';
    const methods = new Set<string>();
    for (const route of this.routes) if (route.pattern.test(path)) for (const method of route.methods) methods.add(method);
    return [...methods].sort();
  }
}
