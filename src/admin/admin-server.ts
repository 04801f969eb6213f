/**
 * Admin and status HTTP (SPEC §6.3), with fastify:
 *
 * - `GET /` dashboard; `GET /status` JSON; `GET /healthz` (process up);
 *   `GET /readyz` (store reachable and serving); `GET /metrics` (Prometheus);
 *   `GET /openapi.json` (this port's OpenAPI document);
 * - `PUT /admin/sequences/{name}` — create a sequence (optionally with a floor);
 * - `POST /admin/sequences/{name}/floor` `{"floor": "<value>"}` — raise a floor.
 *
 * Mutations need `Authorization: Bearer <token>` (`--admin-token`, compared in
 * constant time); with no token configured they are off (EAUTH). In proxy
 * mode there is nothing to mutate here: admin requests are never forwarded.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TicketError, toTicketError } from '../core/errors.js';
import type { Numbering } from '../core/numbering.js';
import { parseValue } from '../core/request.js';
import { validateSequenceName } from '../core/names.js';
import type { UpstreamStats } from '../client/pool.js';
import type { TicketService } from '../service/ticket-service.js';
import type { Store } from '../store/store.js';
import { createHttpApp, sendError } from '../protocols/http-common.js';
import type { HttpsOptions } from '../security/security-files.js';
import { DASHBOARD_HTML } from './dashboard.js';
import { FLOOR_BODY_FIELDS, SETTINGS_BODY_FIELDS, adminOpenApiDocument } from './admin-openapi.js';
import { watchStoreAndBuild } from './metrics.js';
import type { Sampler } from './sampler.js';
import type { Registry } from 'prom-client';
import type { LeaderInfo, LeaderRole } from '../leader/election.js';

/** Most sequences `/status` lists (the busiest first); `?limit=` may ask for fewer. */
export const STATUS_SEQUENCE_LIMIT = 1000;
const MAX_ADMIN_BODY = 4096;

/** Leader mode as the admin port shows it. */
export interface LeaderStatus {
  readonly role: LeaderRole;
  /** This server leads and its leadership cannot have expired: it issues. */
  readonly mayIssue: boolean;
  readonly leader: LeaderInfo | undefined;
  /** Leading and may issue, or following a leader that answers. */
  readonly reachable: boolean;
}

/** `--workers`: one worker process as `/status` shows it. */
export interface WorkerStatus {
  readonly slot: number;
  readonly pid: number | undefined;
  readonly ready: boolean;
  readonly restarts: number;
  /** Sequences the worker has used. */
  readonly sequences: number;
}

/** What the admin port reports on and acts upon. */
export interface AdminContext {
  readonly version: string;
  readonly numbering: Numbering | undefined;
  readonly service: TicketService | undefined;
  readonly store: Store | undefined;
  readonly sampler: Sampler | undefined;
  readonly upstreams: (() => UpstreamStats[]) | undefined;
  /** Leader mode; undefined otherwise. */
  readonly leader?: (() => LeaderStatus) | undefined;
  /** `--workers`: the worker processes; undefined in one process. */
  readonly workers?: (() => WorkerStatus[]) | undefined;
  readonly registry: Registry;
  readonly adminToken: string | undefined;
  readonly endpoints: Readonly<Record<string, string>>;
  /** Serve HTTPS (`--tls-cert`, `--tls-key`, `--tls-ca`); undefined: plain HTTP. */
  readonly https?: HttpsOptions | undefined;
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** Checks `Authorization: Bearer <token>` in constant time. @throws TicketError EAUTH */
function authorize(request: FastifyRequest, token: string | undefined): void {
  if (token === undefined) throw new TicketError('EAUTH', 'admin mutations are off: start the server with --admin-token');
  const header = request.headers.authorization;
  const given = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : '';
  // Hashing first gives equal lengths, so the comparison takes the same time whatever was sent.
  if (!timingSafeEqual(digest(given), digest(token))) throw new TicketError('EAUTH', 'missing or wrong bearer token');
}

/** A JSON object body, or {} when there is none. @throws TicketError EBADREQ */
function objectBody(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (body === undefined || body === null || (Buffer.isBuffer(body) && body.length === 0)) return {};
  if (typeof body !== 'object' || Array.isArray(body) || Buffer.isBuffer(body)) {
    throw new TicketError('EBADREQ', 'the body must be a JSON object');
  }
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) throw new TicketError('EBADREQ', `unknown field "${key.slice(0, 50)}"`);
  }
  return body as Record<string, unknown>;
}

/** The `/status` document. */
export async function buildStatus(context: AdminContext, limit: number): Promise<Record<string, unknown>> {
  const { service, store, sampler } = context;
  const health = store ? await store.health() : undefined;
  sampler?.refresh();
  const upstreams = context.upstreams?.();
  const sequences = sampler
    ? sampler.busiest(limit).map((sample) => {
        // Live figures from the service; rate and runway from the once-a-second sampler.
        const live = service?.describe(sample.name);
        const last = live?.lastIssued;
        return {
          name: sample.name,
          last_value: last === undefined ? null : last.toString(),
          issued: live?.issued ?? sample.issued,
          lease_remaining: (live?.leaseRemaining ?? sample.leaseRemaining).toString(),
          period: live?.period ?? null,
          settings: service?.settings.settingsOf(sample.name) ?? null,
          rate: Math.round(sample.rate * 10) / 10,
          runway_seconds: sample.runway === undefined ? null : Math.round(sample.runway * 10) / 10,
        };
      })
    : [];
  const leader = context.leader?.();
  const workers = context.workers?.();
  const ready = service
    ? service.running && health?.ok === true && (leader === undefined || leader.reachable) && (workers === undefined || workers.some((worker) => worker.ready))
    : (upstreams ?? []).some((upstream) => upstream.up);
  return {
    mode: service ? 'server' : 'proxy',
    version: context.version,
    ready,
    uptime_seconds: Math.round(process.uptime()),
    numbering: context.numbering
      ? { instance: context.numbering.instance, instances: context.numbering.instances, offset: context.numbering.offset.toString() }
      : null,
    store: store ? { kind: store.kind, description: store.description, durable: store.durable, ok: health?.ok ?? false, detail: health?.detail ?? null } : null,
    runway_seconds: sampler ? (sampler.runway() ?? null) : null,
    sequence_count: service ? service.sequenceCount : 0,
    sequences,
    upstreams: upstreams ?? null,
    leader: leader
      ? {
          role: leader.role,
          issuing: leader.mayIssue,
          id: leader.leader?.id ?? null,
          http: leader.leader?.http ?? null,
          zmq: leader.leader?.zmq ?? null,
          since: leader.leader?.since ?? null,
        }
      : null,
    workers: workers ?? null,
    endpoints: context.endpoints,
  };
}

/** Builds the admin app (not listening). */
export function createAdminApi(context: AdminContext): FastifyInstance {
  const app = createHttpApp({ bodyLimit: MAX_ADMIN_BODY, https: context.https });
  const fail = (reply: FastifyReply, error: unknown): FastifyReply => sendError(reply, toTicketError(error));
  // Registered here, where the store and the version are at hand: only /metrics shows them.
  watchStoreAndBuild(context.registry, { version: context.version, store: context.store });

  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(DASHBOARD_HTML));

  app.get<{ Querystring: { limit?: string } }>('/status', async (request, reply) => {
    const requested = Number(request.query.limit ?? STATUS_SEQUENCE_LIMIT);
    const limit = Number.isInteger(requested) && requested >= 0 ? Math.min(requested, STATUS_SEQUENCE_LIMIT) : STATUS_SEQUENCE_LIMIT;
    return reply.header('cache-control', 'no-store').send(await buildStatus(context, limit));
  });

  const openApiText = JSON.stringify(adminOpenApiDocument(STATUS_SEQUENCE_LIMIT));
  app.get('/openapi.json', async (_request, reply) => reply.type('application/json; charset=utf-8').send(openApiText));

  app.get('/healthz', async (_request, reply) => reply.send({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const status = await buildStatus(context, 0);
    const store = status.store as { ok: boolean; detail: string | null } | null;
    if (status.ready) return reply.send({ ready: true });
    const leader = status.leader as { role: LeaderRole } | null;
    const reason = context.service
      ? !context.service.running
        ? 'not serving (starting or stopping)'
        : store?.ok !== true
          ? `store unreachable: ${store?.detail ?? 'unknown'}`
          : leader?.role === 'leader'
            ? 'leading, but leadership could not be renewed'
            : 'no reachable leader'
      : 'no upstream answers';
    return reply.code(503).send({ ready: false, reason });
  });

  app.get('/metrics', async (_request, reply) =>
    reply.type(context.registry.contentType).send(await context.registry.metrics()),
  );

  const serviceFor = (request: FastifyRequest): TicketService => {
    authorize(request, context.adminToken);
    if (!context.service) throw new TicketError('EUNAVAILABLE', 'proxy mode: admin requests are not forwarded; send them to a server');
    return context.service;
  };

  app.put<{ Params: { name: string }; Body: unknown }>('/admin/sequences/:name', async (request, reply) => {
    try {
      const service = serviceFor(request);
      const name = validateSequenceName(request.params.name);
      const body = objectBody(request.body, SETTINGS_BODY_FIELDS);
      const { created, raised, view } = await service.settings.define(name, body);
      return reply.code(created ? 201 : 200).send({ sequence: name, created, raised, ...view });
    } catch (error) {
      return fail(reply, error);
    }
  });

  app.get<{ Params: { name: string } }>('/admin/sequences/:name', async (request, reply) => {
    try {
      if (!context.service) throw new TicketError('EUNAVAILABLE', 'proxy mode: ask a server');
      const name = validateSequenceName(request.params.name);
      return reply.send(await context.service.settings.describe(name));
    } catch (error) {
      return fail(reply, error);
    }
  });

  app.delete<{ Params: { name: string } }>('/admin/sequences/:name', async (request, reply) => {
    try {
      const service = serviceFor(request);
      const name = validateSequenceName(request.params.name);
      await service.settings.remove(name);
      return reply.send({ sequence: name, deleted: true });
    } catch (error) {
      return fail(reply, error);
    }
  });

  app.post<{ Params: { name: string }; Body: unknown }>('/admin/sequences/:name/floor', async (request, reply) => {
    try {
      const service = serviceFor(request);
      const name = validateSequenceName(request.params.name);
      const body = objectBody(request.body, FLOOR_BODY_FIELDS);
      if (body.floor === undefined) throw new TicketError('EBADREQ', 'body must be {"floor": "<value>"}');
      const floor = parseValue(body.floor, 'floor');
      if (body.force !== undefined && typeof body.force !== 'boolean') throw new TicketError('EBADREQ', 'force must be true or false');
      const raised = await service.raiseFloor(name, floor, body.force === true);
      return reply.send({ sequence: name, floor: floor.toString(), raised });
    } catch (error) {
      return fail(reply, error);
    }
  });

  return app;
}
