/**
 * The public HTTP API (SPEC §6.2) described once: the JSON schemas fastify
 * validates requests with, and the OpenAPI document served at /openapi.json,
 * are built from the same objects, so the document cannot drift from the routes.
 */

/** Body and query fields of `POST /v1/sequences/{name}/next`. */
export const nextBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    count: {
      description: 'Number of values, 1–1000 (default: one value).',
      oneOf: [
        { type: 'integer', minimum: 1, maximum: 1000 },
        { type: 'string', pattern: '^[0-9]{1,4}$' },
      ],
    },
    last: {
      description:
        'Last value the client received from any server (drift catch-up): base-10, or a ticket of a formatted sequence.',
      oneOf: [
        { type: 'string', minLength: 1, maxLength: 64 },
        { type: 'integer', minimum: 0 },
      ],
    },
  },
} as const;

export const nextQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    count: { type: 'string', pattern: '^[0-9]{1,4}$', description: 'Number of values, 1–1000.' },
    last: {
      type: 'string',
      minLength: 1,
      maxLength: 64,
      description: 'Last value the client received: base-10, or a ticket of a formatted sequence.',
    },
  },
} as const;

/** The error body of every non-2xx answer, on both HTTP ports. */
export const errorSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      additionalProperties: false,
      required: ['code', 'message'],
      properties: {
        code: {
          type: 'string',
          enum: ['EBADREQ', 'EBADNAME', 'ENOSEQ', 'ELIMIT', 'EJUMP', 'EXHAUSTED', 'EUNAVAILABLE', 'ETIMEOUT', 'EAUTH', 'EINTERNAL'],
        },
        message: { type: 'string' },
      },
    },
  },
} as const;

const valuesSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['sequence', 'values'],
  properties: {
    sequence: { type: 'string' },
    values: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 64, description: 'a base-10 value, or a ticket of a formatted sequence' } },
  },
} as const;

/** OpenAPI responses of the given error statuses, each an `Error` body. */
export const errorResponses = (...statuses: number[]): Record<string, unknown> =>
  Object.fromEntries(
    statuses.map((status) => [
      String(status),
      { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
    ]),
  );

/** Issuing tokens are optional (`--issue-token-file`): a route may be called with or without one. */
const optionalBearer = [{}, { bearer: [] }];

/** The OpenAPI 3.1 document of the public API. */
export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'ticket-server public API',
    version: '1',
    description: 'Short, unique, roughly increasing 64-bit numbers from named sequences.',
  },
  paths: {
    '/': {
      post: {
        summary: 'One value of sequence "default", as text (ticketd)',
        security: optionalBearer,
        responses: {
          '200': { description: 'The value', content: { 'text/plain': { schema: { type: 'string', pattern: '^[1-9][0-9]{0,18}$' } } } },
          ...errorResponses(400, 401, 403, 404, 413, 503, 504),
        },
      },
    },
    '/tickets/create': {
      get: {
        summary: 'One value of sequence "default" as a JSON array of one number (Tickr)',
        security: optionalBearer,
        responses: {
          '200': {
            description: 'A one-element array; the number is written with its exact digits',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/TickrValues' } } },
          },
          ...errorResponses(400, 401, 403, 404, 503, 504),
        },
      },
    },
    '/tickets/create/{count}': {
      get: {
        summary: 'count values of sequence "default" (Tickr)',
        security: optionalBearer,
        parameters: [{ name: 'count', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9]{1,4}$' } }],
        responses: {
          '200': { description: 'count values', content: { 'application/json': { schema: { $ref: '#/components/schemas/TickrValues' } } } },
          ...errorResponses(400, 401, 403, 404, 503, 504),
        },
      },
    },
    '/status': {
      get: {
        summary: 'Last value issued of sequence "default" (Tickr)',
        security: optionalBearer,
        responses: {
          '200': {
            description: 'last_ticket is null before the first ticket',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['last_ticket'],
                  properties: { last_ticket: { oneOf: [{ type: 'integer', minimum: 1 }, { type: 'null' }] } },
                },
              },
            },
          },
          ...errorResponses(401, 403),
        },
      },
    },
    '/v1/sequences/{name}/next': {
      post: {
        summary: 'Values of a named sequence; count and last in the query or a JSON body',
        description: 'With issuing tokens: Authorization: Bearer TOKEN whose prefixes cover the name (401 without a valid token, ' +
          '403 outside its prefixes); last counts only from a trusted token.',
        security: optionalBearer,
        parameters: [
          { name: 'name', in: 'path', required: true, schema: { type: 'string', minLength: 1 }, description: '1–128 bytes of UTF-8, no control characters' },
          { name: 'count', in: 'query', required: false, schema: nextQuerySchema.properties.count },
          { name: 'last', in: 'query', required: false, schema: nextQuerySchema.properties.last },
        ],
        requestBody: { required: false, content: { 'application/json': { schema: nextBodySchema } } },
        responses: {
          '200': { description: 'The values, as base-10 strings (ticket texts for a formatted sequence)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Values' } } } },
          ...errorResponses(400, 401, 403, 404, 409, 413, 503, 504),
        },
      },
    },
    '/v1/sequences/{name}/check/{text}': {
      get: {
        summary: 'Is this a well-formed number of the sequence, with a correct check digit? (Not whether it was issued.)',
        parameters: [
          { name: 'name', in: 'path', required: true, schema: { type: 'string', minLength: 1 }, description: '1–128 bytes of UTF-8, no control characters' },
          { name: 'text', in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 64 }, description: 'The number as read (percent-encoded)' },
        ],
        responses: {
          '200': {
            description: '{"valid", "value", "period"}',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['valid', 'value', 'period'],
                  properties: { valid: { type: 'boolean' }, value: { type: ['string', 'null'] }, period: { type: ['string', 'null'] } },
                },
              },
            },
          },
          ...errorResponses(400, 404, 503),
        },
      },
    },
    '/openapi.json': {
      get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': {} } } } },
    },
  },
  components: {
    schemas: {
      Error: errorSchema,
      Values: valuesSchema,
      TickrValues: {
        type: 'array',
        minItems: 1,
        maxItems: 1000,
        items: { oneOf: [{ type: 'integer', minimum: 1 }, { type: 'string', description: 'a ticket of a formatted sequence' }] },
      },
    },
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an issuing token (--issue-token-file)' } },
  },
} as const;
