/**
 * The admin port described once: the floor body schema the mutation routes
 * check against, and the OpenAPI document served at the admin port's
 * /openapi.json, are built from the same objects.
 */
import { errorResponses, errorSchema } from '../protocols/http-openapi.js';

/** Body of `PUT /admin/sequences/{name}` (optional) and `POST …/floor` (required). */
export const floorBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    floor: {
      description: 'Every later value is above this, base-10 (a JSON string keeps all 64 bits).',
      oneOf: [
        { type: 'string', pattern: '^[0-9]{1,19}$' },
        { type: 'integer', minimum: 0 },
      ],
    },
  },
} as const;

/** Fields a floor body may hold. */
export const FLOOR_BODY_FIELDS: readonly string[] = Object.keys(floorBodySchema.properties);

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
          summary: 'Create a sequence, optionally raising its floor',
          security: bearer,
          parameters: [nameParameter],
          requestBody: { required: false, content: { 'application/json': { schema: floorBodySchema } } },
          responses: {
            '200': jsonOk('It existed: {"sequence","created":false,"raised"}'),
            '201': jsonOk('Created: {"sequence","created":true,"raised"}'),
            ...errorResponses(400, 401, 405, 413, 503, 504),
          },
        },
      },
      '/admin/sequences/{name}/floor': {
        post: {
          summary: 'Raise a sequence\'s floor (never lowers)',
          security: bearer,
          parameters: [nameParameter],
          requestBody: { required: true, content: { 'application/json': { schema: { ...floorBodySchema, required: ['floor'] } } } },
          responses: { '200': jsonOk('{"sequence","floor","raised"}'), ...errorResponses(400, 401, 404, 405, 413, 503, 504) },
        },
      },
    },
    components: {
      schemas: { Error: errorSchema },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
  };
}
