/**
 * The admin port described once: the floor body schema the mutation routes
 * check against, and the OpenAPI document served at the admin port's
 * /openapi.json, are built from the same objects.
 */
import { errorResponses, errorSchema } from '../protocols/http-openapi.js';

const valueSchema = {
  oneOf: [
    { type: 'string', pattern: '^[0-9]{1,19}$' },
    { type: 'integer', minimum: 0 },
  ],
} as const;

/** Body of `POST /admin/sequences/{name}/floor`. */
export const floorBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    floor: { description: 'Every later value is above this, base-10 (a JSON string keeps all 64 bits).', ...valueSchema },
    force: { type: 'boolean', description: 'Allow a floor more than --max-jump above the current position.' },
  },
} as const;

/** Body of `PUT /admin/sequences/{name}`: settings (left out: kept; null: default) and a floor. */
export const settingsBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    max: { description: 'Largest value; past it EXHAUSTED. null: no limit of its own.', anyOf: [...valueSchema.oneOf, { type: 'null' }] },
    period: { enum: ['none', 'yearly', 'monthly', 'daily', null], description: 'Count each period on its own from 1.' },
    timezone: { type: ['string', 'null'], description: 'IANA time zone the period counts in (default UTC).' },
    format: { type: ['string', 'null'], description: 'Template such as INV-{yyyy}-{value:6}{check}; null: plain numbers.' },
    check: { enum: ['none', 'luhn', 'damm', 'mod97', null], description: 'Check digit(s) computed over the value.' },
    floor: floorBodySchema.properties.floor,
    force: floorBodySchema.properties.force,
  },
} as const;

const sequenceViewSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    settings: { type: 'object' },
    state: { type: ['object', 'null'], description: 'This server\'s live state (null when it did not issue since start)' },
  },
} as const;

/** Fields a floor body may hold. */
export const FLOOR_BODY_FIELDS: readonly string[] = Object.keys(floorBodySchema.properties);

/** Fields a settings body may hold. */
export const SETTINGS_BODY_FIELDS: readonly string[] = Object.keys(settingsBodySchema.properties);

const nameParameter = {
  name: 'name',
  in: 'path',
  required: true,
  schema: { type: 'string', minLength: 1 },
  description: '1–128 bytes of UTF-8, no control characters',
} as const;

const bearer = [{ bearer: [] }];

const jsonOk = (description: string, schema: Record<string, unknown> = { type: 'object' }): Record<string, unknown> => ({
  description,
  content: { 'application/json': { schema } },
});

/**
 * The OpenAPI 3.1 document of the admin port.
 * @param statusSequenceLimit most sequences `/status` lists (its `limit` maximum)
 */
export function adminOpenApiDocument(statusSequenceLimit: number): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'ticket-server admin API',
      version: '1',
      description: 'Status, health, metrics and sequence administration of one ticket-server. Mutations need ' +
        'Authorization: Bearer TOKEN (the server\'s --admin-token); without a token configured they answer EAUTH.',
    },
    paths: {
      '/': { get: { summary: 'Dashboard (HTML)', responses: { '200': { description: 'The dashboard', content: { 'text/html': {} } } } } },
      '/status': {
        get: {
          summary: 'Readiness, mode, store, leader, runway and the busiest sequences',
          parameters: [
            {
              name: 'limit',
              in: 'query',
              required: false,
              schema: { type: 'integer', minimum: 0, maximum: statusSequenceLimit },
              description: `Most sequences listed (default and maximum ${statusSequenceLimit})`,
            },
          ],
          responses: { '200': jsonOk('The status document') },
        },
      },
      '/healthz': { get: { summary: 'The process is up', responses: { '200': jsonOk('Always {"status":"ok"}') } } },
      '/readyz': {
        get: {
          summary: 'Ready to issue (store reachable, serving, leader reachable)',
          responses: { '200': jsonOk('{"ready":true}'), '503': jsonOk('{"ready":false,"reason":"…"}') },
        },
      },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'Text exposition format', content: { 'text/plain': {} } } } } },
      '/openapi.json': { get: { summary: 'This document', responses: { '200': jsonOk('OpenAPI 3.1') } } },
      '/admin/sequences/{name}': {
        put: {
          summary: 'Create or configure a sequence (settings merge: left out = kept, null = default), optionally raising its floor',
          security: bearer,
          parameters: [nameParameter],
          requestBody: { required: false, content: { 'application/json': { schema: settingsBodySchema } } },
          responses: {
            '200': jsonOk('It existed: {"sequence","created":false,"raised","name","settings","state"}'),
            '201': jsonOk('Created: {"sequence","created":true,"raised","name","settings","state"}'),
            ...errorResponses(400, 401, 405, 409, 413, 503, 504),
          },
        },
        get: {
          summary: 'A sequence\'s settings and this server\'s state of it (no token needed)',
          parameters: [nameParameter],
          responses: { '200': jsonOk('{"name","settings","state"}', sequenceViewSchema), ...errorResponses(400, 404, 405, 503) },
        },
        delete: {
          summary: 'Delete a sequence; a tombstone keeps its counters, so a new one under the name continues above',
          security: bearer,
          parameters: [nameParameter],
          responses: { '200': jsonOk('{"sequence","deleted":true}'), ...errorResponses(400, 401, 404, 405, 503, 504) },
        },
      },
      '/admin/sequences/{name}/floor': {
        post: {
          summary: 'Raise a sequence\'s floor (never lowers)',
          security: bearer,
          parameters: [nameParameter],
          requestBody: { required: true, content: { 'application/json': { schema: { ...floorBodySchema, required: ['floor'] } } } },
          responses: { '200': jsonOk('{"sequence","floor","raised"}'), ...errorResponses(400, 401, 404, 405, 409, 413, 503, 504) },
        },
      },
    },
    components: {
      schemas: { Error: errorSchema },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
  };
}
