/**
 * The public HTTP API (SPEC §6.2) against real server processes, through
 * Node's global fetch: ticketd's `POST /`, Tickr's `/tickets/create[/N]` and
 * `/status`, and `POST /v1/sequences/{name}/next` with `count`/`last` in the
 * query or a JSON body; every error in the `{"error": {"code", "message"}}`
 * shape with its §7 status; exact digits above 2^53; bad input that changes
 * nothing; the OpenAPI document checked against the real responses (ajv);
 * proxy mode (§8) serving the same API without forwarding `last`; keep-alive.
 *
 * Servers use `--store memory:` where durability does not matter.
 */
import { Agent, request as httpRequest } from 'node:http';
import { Ajv, type ValidateFunction } from 'ajv';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, stopAllServers, urlOf, type ServerProcess } from '../helpers/server-process.js';
import { nextValues } from '../helpers/zmq-client.js';

afterAll(async () => {
  await stopAllServers();
});

/** A response read to the end: status, media type (no parameters) and raw text. */
interface Reply {
  readonly status: number;
  readonly type: string;
  readonly text: string;
  /** The Allow header of a 405. */
  readonly allow: string | null;
}

async function call(url: string, init: RequestInit = {}): Promise<Reply> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  const type = (response.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
  return { status: response.status, type, text, allow: response.headers.get('allow') };
}

const post = (url: string, init: RequestInit = {}): Promise<Reply> => call(url, { ...init, method: 'POST' });
const postJson = (url: string, body: unknown): Promise<Reply> =>
  post(url, { headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

interface ErrorBody {
  error: { code: string; message: string };
}

/** Asserts the §6.2 error shape, status and code; returns the body. */
function expectError(reply: Reply, status: number, code: string): ErrorBody {
  expect(reply.status, reply.text).toBe(status);
  expect(reply.type).toBe('application/json');
  const body = JSON.parse(reply.text) as ErrorBody;
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message.length).toBeGreaterThan(0);
  return body;
}

/** Values of a successful `/v1/…/next` reply, checked for shape; strings stay strings. */
function v1Values(reply: Reply, name?: string): string[] {
  expect(reply.status, reply.text).toBe(200);
  expect(reply.type).toBe('application/json');
  const body = JSON.parse(reply.text) as { sequence: unknown; values: unknown };
  expect(Object.keys(body).sort()).toEqual(['sequence', 'values']);
  if (name !== undefined) expect(body.sequence).toBe(name);
  expect(Array.isArray(body.values)).toBe(true);
  for (const value of body.values as unknown[]) {
    expect(typeof value).toBe('string');
    expect(value).toMatch(/^[1-9][0-9]{0,18}$/);
  }
  return body.values as string[];
}

/** The digits of a Tickr array body, read from the text (never through JSON numbers). */
function tickrDigits(reply: Reply): string[] {
  expect(reply.status, reply.text).toBe(200);
  expect(reply.type).toBe('application/json');
  expect(reply.text).toMatch(/^\[[1-9][0-9]*(,[1-9][0-9]*)*\]$/);
  return reply.text.slice(1, -1).split(',');
}

const big = (values: readonly string[]): bigint[] => values.map((value) => BigInt(value));

function expectIncreasing(values: readonly bigint[]): void {
  for (let index = 1; index < values.length; index++) {
    expect(values[index] as bigint).toBeGreaterThan(values[index - 1] as bigint);
  }
}

// ---------------------------------------------------------------------------
// OpenAPI checking

interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: unknown }> }> }>>;
  components: { schemas: Record<string, unknown> };
}

/** Validates real responses against the schemas of the served OpenAPI document. */
class OpenApiChecker {
  private readonly ajv = new Ajv({ strict: false });
  private readonly compiled = new Map<string, ValidateFunction>();
  /** `METHOD path status media` of every response checked, for the report. */
  readonly checked = new Set<string>();

  constructor(readonly document: OpenApiDocument) {
    this.ajv.addSchema({ $id: 'https://ticket-server.test/openapi.json', components: document.components });
  }

  /** Rewrites local `$ref`s to the document added under its `$id`. */
  private static rebase(schema: unknown): unknown {
    if (Array.isArray(schema)) return schema.map((item) => OpenApiChecker.rebase(item));
    if (schema === null || typeof schema !== 'object') return schema;
    const result: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(schema)) {
      result[key] =
        key === '$ref' && typeof value === 'string' && value.startsWith('#/')
          ? `https://ticket-server.test/openapi.json${value}`
          : OpenApiChecker.rebase(value);
    }
    return result;
  }

  /** The documented response, or a message saying what is missing. */
  lookup(path: string, method: string, status: number, media: string): { schema: unknown } | string {
    const operation = this.document.paths[path]?.[method.toLowerCase()];
    if (!operation) return `${method} ${path} is not documented`;
    const response = operation.responses[String(status)] ?? operation.responses.default;
    if (!response) return `${method} ${path} does not document status ${status}`;
    const content = response.content?.[media];
    if (!content) return `${method} ${path} ${status} does not document content type ${media}`;
    return { schema: content.schema };
  }

  /** Asserts that `reply` is documented for `path` (a template) and matches its schema. */
  check(path: string, method: string, reply: Reply): void {
    const found = this.lookup(path, method, reply.status, reply.type);
    expect(found, `${method} ${path} → ${reply.status} ${reply.type}: ${reply.text.slice(0, 200)}`).not.toBeTypeOf('string');
    if (typeof found === 'string') return;
    this.checked.add(`${method} ${path} ${reply.status} ${reply.type}`);
    if (found.schema === undefined) return;
    const key = `${method} ${path} ${reply.status} ${reply.type}`;
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(OpenApiChecker.rebase(found.schema) as Record<string, unknown>);
      this.compiled.set(key, validate);
    }
    const data: unknown = reply.type === 'application/json' ? JSON.parse(reply.text) : reply.text;
    const ok = validate(data);
    expect(ok, `${key}: ${this.ajv.errorsText(validate.errors)}; body ${reply.text.slice(0, 300)}`).toBe(true);
  }
}

// ---------------------------------------------------------------------------

const SERVER_ARGS = ['--store', 'memory:', '--max-jump', '1000'];

let main: ServerProcess;
let mainUrl: string;
let strict: ServerProcess;
let limited: ServerProcess;
let exhausted: ServerProcess;
let wide: ServerProcess;
let openApi: OpenApiChecker;

beforeAll(async () => {
  [main, strict, limited, exhausted, wide] = await Promise.all([
    startServer(SERVER_ARGS),
    startServer(['--store', 'memory:', '--strict-sequences']),
    startServer(['--store', 'memory:', '--max-sequences', '1']),
    startServer(['--store', 'memory:', '--offset', '9223372036854775800']),
    startServer(['--store', 'memory:', '--offset', '9007199254740993']),
  ]);
  mainUrl = urlOf(main, 'http');
  const reply = await call(`${mainUrl}/openapi.json`);
  expect(reply.status).toBe(200);
  expect(reply.type).toBe('application/json');
  openApi = new OpenApiChecker(JSON.parse(reply.text) as OpenApiDocument);
});

describe('Tickr GET /status on a fresh server', () => {
  it('answers {"last_ticket": null} before the first ticket, then the last value of default', async () => {
    // Runs first: nothing has been issued on `main` yet.
    const before = await call(`${mainUrl}/status`);
    expect(before.status).toBe(200);
    expect(before.type).toBe('application/json');
    expect(JSON.parse(before.text)).toEqual({ last_ticket: null });
    openApi.check('/status', 'GET', before);

    const values = tickrDigits(await call(`${mainUrl}/tickets/create/4`));
    const after = await call(`${mainUrl}/status`);
    expect(after.text).toContain(`"last_ticket":${values[3]}`);
    expect((JSON.parse(after.text) as { last_ticket: unknown }).last_ticket).toBe(Number(values[3]));
    openApi.check('/status', 'GET', after);

    // A named sequence is not `default`: last_ticket stays.
    v1Values(await post(`${mainUrl}/v1/sequences/not-default/next`));
    expect((JSON.parse((await call(`${mainUrl}/status`)).text) as { last_ticket: unknown }).last_ticket).toBe(Number(values[3]));
  });
});

describe('ticketd POST /', () => {
  it('answers 200 text/plain with a value of default, with no body, a form body and a text body', async () => {
    const values: bigint[] = [];
    const bodies: Array<RequestInit> = [
      {},
      { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'x=1' },
      { headers: { 'content-type': 'text/plain' }, body: 'anything' },
      { body: new Uint8Array([1, 2, 3]) },
    ];
    for (const init of bodies) {
      const reply = await post(`${mainUrl}/`, init);
      expect(reply.status, reply.text).toBe(200);
      expect(reply.type).toBe('text/plain');
      expect(reply.text).toMatch(/^[1-9][0-9]*$/);
      openApi.check('/', 'POST', reply);
      values.push(BigInt(reply.text));
    }
    expectIncreasing(values);
    // The values are of `default`: Tickr's create continues the same sequence.
    const [next] = big(tickrDigits(await call(`${mainUrl}/tickets/create`)));
    expect(next).toBeGreaterThan(values[values.length - 1] as bigint);
  });

  it('answers POST / with Content-Type: application/json and an empty body with a value', async () => {
    const reply = await post(`${mainUrl}/`, { headers: { 'content-type': 'application/json' } });
    expect(reply.status, reply.text).toBe(200);
  });
});

describe('Tickr GET /tickets/create', () => {
  it('answers a one-element array, and N increasing values for /N', async () => {
    const one = await call(`${mainUrl}/tickets/create`);
    expect(tickrDigits(one)).toHaveLength(1);
    openApi.check('/tickets/create', 'GET', one);

    const five = await call(`${mainUrl}/tickets/create/5`);
    const values = big(tickrDigits(five));
    expect(values).toHaveLength(5);
    expectIncreasing(values);
    expect(values[0]).toBeGreaterThan(BigInt(tickrDigits(one)[0] as string));
    openApi.check('/tickets/create/{count}', 'GET', five);

    const thousand = await call(`${mainUrl}/tickets/create/1000`);
    const many = big(tickrDigits(thousand));
    expect(many).toHaveLength(1000);
    expectIncreasing(many);
    openApi.check('/tickets/create/{count}', 'GET', thousand);
  });

  it.each(['0', '1001', 'abc', '-1', '1.5', '99999'])('refuses /tickets/create/%s with 400 EBADREQ', async (count) => {
    const reply = await call(`${mainUrl}/tickets/create/${count}`);
    expectError(reply, 400, 'EBADREQ');
    openApi.check('/tickets/create/{count}', 'GET', reply);
  });
});

describe('POST /v1/sequences/{name}/next', () => {
  const url = (name: string, query = ''): string => `${mainUrl}/v1/sequences/${encodeURIComponent(name)}/next${query}`;

  it('answers one value without a body, then count values from the query', async () => {
    const first = await post(url('orders'));
    expect(v1Values(first, 'orders')).toEqual(['1']);
    openApi.check('/v1/sequences/{name}/next', 'POST', first);

    const three = await post(url('orders', '?count=3'));
    expect(v1Values(three, 'orders')).toEqual(['2', '3', '4']);
    openApi.check('/v1/sequences/{name}/next', 'POST', three);

    const empty = await postJson(url('orders'), {});
    expect(v1Values(empty, 'orders')).toEqual(['5']);
  });

  it('jumps past `last` from a JSON body (default drift 10): {"count":3,"last":"500"} gives 501..503', async () => {
    const reply = await postJson(url('drift-body'), { count: 3, last: '500' });
    expect(v1Values(reply, 'drift-body')).toEqual(['501', '502', '503']);
    openApi.check('/v1/sequences/{name}/next', 'POST', reply);
    // Within drift: no jump.
    expect(v1Values(await postJson(url('drift-body'), { last: '510' }))).toEqual(['504']);
    // A numeric last and count are accepted too.
    expect(v1Values(await postJson(url('drift-body'), { count: 2, last: 700 }))).toEqual(['701', '702']);
  });

  it('takes last from the query, and count and last from body and query together', async () => {
    expect(v1Values(await post(url('drift-query', '?last=500')), 'drift-query')).toEqual(['501']);
    expect(v1Values(await post(url('drift-query', '?last=600&count=2')))).toEqual(['601', '602']);
    // last in the query, count in the body
    expect(v1Values(await postJson(url('drift-query', '?last=800'), { count: 2 }))).toEqual(['801', '802']);
    // count in the query, last in the body
    expect(v1Values(await postJson(url('drift-query', '?count=3'), { last: '900' }))).toEqual(['901', '902', '903']);
    // both in both: the body wins (documented choice), and nothing is issued twice
    const both = v1Values(await postJson(url('drift-query', '?count=1&last=10'), { count: 2, last: '950' }));
    expect(both).toEqual(['951', '952']);
  });

  it('round-trips names with spaces, unicode and an encoded slash in the `sequence` field', async () => {
    const names = ['with space', 'ünïcödé-名前-🎫', 'a/b', 'q?x=1&y', '#hash', '%41', ' ', 'A'.repeat(128), '€'.repeat(42)];
    for (const name of names) {
      const reply = await post(url(name, '?count=2'));
      expect(v1Values(reply, name)).toEqual(['1', '2']);
      openApi.check('/v1/sequences/{name}/next', 'POST', reply);
    }
    // Names are case-sensitive and distinct from the unencoded forms.
    expect(v1Values(await post(url('a')))).toEqual(['1']);
    expect(v1Values(await post(url('a/b')), 'a/b')).toEqual(['3']);
    expect(v1Values(await post(url('With space')), 'With space')).toEqual(['1']);
  });

  describe('errors', () => {
    it.each([
      ['empty', `${'/v1/sequences//next'}`],
      ['129 bytes', `/v1/sequences/${'n'.repeat(129)}/next`],
      ['129 bytes of multi-byte UTF-8', `/v1/sequences/${encodeURIComponent('é'.repeat(64) + 'x')}/next`],
      ['a control character', '/v1/sequences/a%01b/next'],
      ['a newline', '/v1/sequences/a%0Ab/next'],
      ['DEL', '/v1/sequences/a%7F/next'],
    ])('refuses a name that is %s with 400 EBADNAME', async (_what, path) => {
      const reply = await post(`${mainUrl}${path}`);
      expectError(reply, 400, 'EBADNAME');
      openApi.check('/v1/sequences/{name}/next', 'POST', reply);
    });

    it.each([
      ['count=0', '?count=0', undefined],
      ['count=1001', '?count=1001', undefined],
      ['count=abc', '?count=abc', undefined],
      ['count=-1', '?count=-1', undefined],
      ['count empty', '?count=', undefined],
      ['count twice', '?count=1&count=2', undefined],
      ['last=-1', '?last=-1', undefined],
      ['last=abc', '?last=abc', undefined],
      ['last above 2^63-1', '?last=9223372036854775808', undefined],
      ['last of 20 digits', '?last=10000000000000000000', undefined],
      ['an unknown query field', '?counts=2', undefined],
      ['body count 0', '', { count: 0 }],
      ['body count 1001', '', { count: 1001 }],
      ['body count 1.5', '', { count: 1.5 }],
      ['body count "x"', '', { count: 'x' }],
      ['body count true', '', { count: true }],
      ['body last -1', '', { last: -1 }],
      ['body last "-1"', '', { last: '-1' }],
      ['body last 1.5', '', { last: 1.5 }],
      ['body last above 2^53 as a number', '', { last: 2 ** 60 }],
      ['body last above 2^63-1', '', { last: '9223372036854775808' }],
      ['body last an object', '', { last: { value: 1 } }],
      ['an unknown body field', '', { count: 1, sequence: 'x' }],
      ['a JSON array body', '', [1, 2]],
      ['a JSON string body', '', '"text"'],
      ['a JSON number body', '', '3'],
      ['malformed JSON', '', '{"count": 3'],
      ['JSON with trailing garbage', '', '{"count": 3} x'],
    ])('refuses %s with 400 EBADREQ', async (_what, query, body) => {
      const target = url('errors', query);
      const reply = body === undefined ? await post(target) : await postJson(target, body);
      expectError(reply, 400, 'EBADREQ');
      openApi.check('/v1/sequences/{name}/next', 'POST', reply);
    });

    it('refuses a non-empty body that is not JSON with 400 EBADREQ', async () => {
      for (const init of [
        { headers: { 'content-type': 'text/plain' }, body: 'count=3' },
        { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'count=3' },
        { body: new Uint8Array([0xff, 0x00]) },
      ] satisfies RequestInit[]) {
        const reply = await post(url('errors'), init);
        expectError(reply, 400, 'EBADREQ');
        openApi.check('/v1/sequences/{name}/next', 'POST', reply);
      }
    });

    it('refuses a body over 16 KiB with 413 in the same error shape', async () => {
      const reply = await postJson(url('errors'), { count: 1, padding: 'x'.repeat(17 * 1024) });
      expect(reply.status).toBe(413);
      const body = JSON.parse(reply.text) as ErrorBody;
      expect(Object.keys(body)).toEqual(['error']);
      expect(typeof body.error.code).toBe('string');
      expect(typeof body.error.message).toBe('string');
      openApi.check('/v1/sequences/{name}/next', 'POST', reply);

      const raw = await post(url('errors'), { headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(20_000) });
      expect(raw.status).toBe(413);
      expect(Object.keys((JSON.parse(raw.text) as ErrorBody).error).sort()).toEqual(['code', 'message']);
    });

    it('refuses a jump over --max-jump with 409 EJUMP', async () => {
      v1Values(await post(url('jumpy')));
      const reply = await postJson(url('jumpy'), { last: '1000000' });
      expectError(reply, 409, 'EJUMP');
      openApi.check('/v1/sequences/{name}/next', 'POST', reply);
      // A jump within --max-jump (1000) is taken.
      expect(v1Values(await post(url('jumpy', '?last=900')))).toEqual(['901']);
    });

    it('answers unknown routes with 404 in the same shape', async () => {
      const unknown: Array<[string, string]> = [
        ['GET', '/nope'],
        ['POST', '/v1/sequences/x'],
        ['POST', '/v1/sequences/x/next/more'],
        ['PUT', '/admin/sequences/x'],
        ['GET', '/metrics'],
      ];
      for (const [method, path] of unknown) {
        const reply = await call(`${mainUrl}${path}`, { method });
        expect(reply.status, `${method} ${path}`).toBe(404);
        const body = JSON.parse(reply.text) as ErrorBody;
        expect(Object.keys(body)).toEqual(['error']);
        expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
        expect(typeof body.error.code).toBe('string');
      }
    });

    it('answers a wrong method on a known route with 405, an Allow header and EBADREQ in the same shape', async () => {
      const wrong: Array<[string, string, string]> = [
        ['GET', '/', 'POST'],
        ['POST', '/tickets/create', 'GET, HEAD'],
        ['DELETE', '/tickets/create/5', 'GET, HEAD'],
        ['GET', '/v1/sequences/x/next?count=2', 'POST'],
        ['DELETE', '/status', 'GET, HEAD'],
        ['POST', '/openapi.json', 'GET, HEAD'],
      ];
      for (const [method, path, allow] of wrong) {
        const reply = await call(`${mainUrl}${path}`, { method });
        expect(reply.status, `${method} ${path}`).toBe(405);
        expect(reply.allow, `${method} ${path}`).toBe(allow);
        const body = JSON.parse(reply.text) as ErrorBody;
        expect(Object.keys(body)).toEqual(['error']);
        expect(body.error.code).toBe('EBADREQ');
        expect(body.error.message).toContain(`${method} is not allowed`);
      }
    });

    it('answers a path with malformed percent-encoding in the {"error":{"code","message"}} shape', async () => {
      for (const path of ['/v1/sequences/%ZZ/next', '/v1/sequences/%E2%82/next']) {
        const reply = await post(`${mainUrl}${path}`);
        expect(reply.status).toBe(400);
        const body = JSON.parse(reply.text) as ErrorBody;
        expect(Object.keys(body)).toEqual(['error']);
        expect(['EBADNAME', 'EBADREQ']).toContain(body.error.code);
      }
    });

    it('answers ENOSEQ with 404 under --strict-sequences', async () => {
      const strictUrl = urlOf(strict, 'http');
      const reply = await post(`${strictUrl}/v1/sequences/never-created/next?count=2`);
      expectError(reply, 404, 'ENOSEQ');
      openApi.check('/v1/sequences/{name}/next', 'POST', reply);
      expectError(await post(`${strictUrl}/`), 404, 'ENOSEQ');
      expectError(await call(`${strictUrl}/tickets/create/2`), 404, 'ENOSEQ');
      // Nothing was created by asking.
      expectError(await post(`${strictUrl}/v1/sequences/never-created/next`), 404, 'ENOSEQ');
    });

    it('answers ELIMIT with its catalogue status once --max-sequences exist', async () => {
      const limitedUrl = urlOf(limited, 'http');
      expect(v1Values(await post(`${limitedUrl}/v1/sequences/only/next`))).toEqual(['1']);
      const reply = await post(`${limitedUrl}/v1/sequences/second/next`);
      // src/core/errors.ts: ELIMIT → 400
      expectError(reply, 400, 'ELIMIT');
      openApi.check('/v1/sequences/{name}/next', 'POST', reply);
      expectError(await post(`${limitedUrl}/`), 400, 'ELIMIT');
      // The existing sequence is unaffected.
      expect(v1Values(await post(`${limitedUrl}/v1/sequences/only/next`))).toEqual(['2']);
    });

    it('answers EXHAUSTED with 503 when a sequence would pass 2^63 - 1, losing nothing', async () => {
      const exhaustedUrl = urlOf(exhausted, 'http');
      const reply = await post(`${exhaustedUrl}/v1/sequences/end/next?count=10`);
      expectError(reply, 503, 'EXHAUSTED');
      openApi.check('/v1/sequences/{name}/next', 'POST', reply);
      // Only 8 values remain: the refused request took none of them.
      expect(v1Values(await post(`${exhaustedUrl}/v1/sequences/end/next?count=3`))).toEqual([
        '9223372036854775800',
        '9223372036854775801',
        '9223372036854775802',
      ]);
      const rest = v1Values(await post(`${exhaustedUrl}/v1/sequences/end/next?count=5`));
      expect(rest[4]).toBe('9223372036854775807');
      const after = await post(`${exhaustedUrl}/v1/sequences/end/next`);
      expectError(after, 503, 'EXHAUSTED');
      openApi.check('/v1/sequences/{name}/next', 'POST', after);

      const tickr = await call(`${exhaustedUrl}/tickets/create/9`);
      expectError(tickr, 503, 'EXHAUSTED');
      openApi.check('/tickets/create/{count}', 'GET', tickr);
      const last = await post(`${exhaustedUrl}/`);
      expect(last.text).toBe('9223372036854775800');
      openApi.check('/', 'POST', last);
    });
  });

  it('leaves the sequence as it was after bad input: the next value continues exactly', async () => {
    const name = 'untouched';
    const [start] = v1Values(await post(url(name)));
    const bad: Array<() => Promise<Reply>> = [
      () => post(url(name, '?count=0')),
      () => post(url(name, '?last=x')),
      () => postJson(url(name), { count: 3, bogus: 1 }),
      () => postJson(url(name), '{"count":'),
      () => post(url(name), { headers: { 'content-type': 'text/plain' }, body: 'hello' }),
      () => postJson(url(name), { last: '99999999' }), // EJUMP
      () => postJson(url(name), { count: 2, last: '9223372036854775808' }),
      () => postJson(url(name), { count: 5, padding: 'y'.repeat(20_000) }), // 413
    ];
    for (const send of bad) expect((await send()).status).toBeGreaterThanOrEqual(400);
    expect(v1Values(await post(url(name)))).toEqual([String(BigInt(start as string) + 1n)]);
  });

  it.each(['valueOf', 'constructor', 'toString', 'hasOwnProperty'])(
    'refuses the inherited property name %s as a body field, consuming nothing',
    async (key) => {
      const name = `inherited-${key}`;
      const first = BigInt(v1Values(await post(url(name)))[0] as string);
      expectError(await postJson(url(name), { [key]: 1 }), 400, 'EBADREQ');
      expect(v1Values(await post(url(name)))).toEqual([String(first + 1n)]);
    },
  );

  it('property: random bad bodies are refused with 400 and never consume a value', async () => {
    const name = 'property';
    let expected = BigInt((v1Values(await post(url(name)))[0] as string)) + 1n;
    const badCount = fc.oneof(
      fc.integer({ min: -1_000_000, max: 0 }),
      fc.integer({ min: 1001, max: 1_000_000 }),
      fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true }),
      fc.string().filter((text) => !/^[0-9]{1,4}$/.test(text) || Number(text) < 1 || Number(text) > 1000),
      fc.boolean(),
    );
    const badLast = fc.oneof(
      fc.integer({ min: -1_000_000, max: -1 }),
      fc.string().filter((text) => !/^[0-9]{1,19}$/.test(text)),
      fc.bigInt({ min: 2n ** 63n, max: 10n ** 19n - 1n }).map(String),
      fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true }),
    );
    const unknownKey = fc.string({ minLength: 1, maxLength: 12 }).filter((key) => key !== 'count' && key !== 'last' && key !== '__proto__');
    const badBody = fc.oneof(
      badCount.map((count): Record<string, unknown> => ({ count })),
      badLast.map((last): Record<string, unknown> => ({ last })),
      unknownKey.map((key): Record<string, unknown> => ({ [key]: 1 })),
    );
    await fc.assert(
      fc.asyncProperty(badBody, async (body) => {
        const reply = await postJson(url(name), body);
        expectError(reply, 400, 'EBADREQ');
        const [next] = v1Values(await post(url(name)));
        expect(next).toBe(String(expected));
        expected++;
      }),
      { numRuns: 25 },
    );
  });
});

describe('exact digits above 2^53 (--offset 9007199254740993)', () => {
  it('writes Tickr numbers, POST / text, /status and /v1 strings with their exact digits', async () => {
    const wideUrl = urlOf(wide, 'http');
    const one = await call(`${wideUrl}/tickets/create`);
    expect(one.text).toBe('[9007199254740993]');
    openApi.check('/tickets/create', 'GET', one);
    const three = await call(`${wideUrl}/tickets/create/3`);
    expect(three.text).toBe('[9007199254740994,9007199254740995,9007199254740996]');
    const text = await post(`${wideUrl}/`);
    expect(text.text).toBe('9007199254740997');
    const status = await call(`${wideUrl}/status`);
    expect(status.text).toContain('9007199254740997');
    expect(status.text.replace(/\s/g, '')).toBe('{"last_ticket":9007199254740997}');
    const v1 = await post(`${wideUrl}/v1/sequences/wide/next?count=2`);
    expect(v1.text).toContain('"9007199254740993"');
    expect(v1Values(v1, 'wide')).toEqual(['9007199254740993', '9007199254740994']);
    // last above 2^53 is read exactly too.
    expect(v1Values(await postJson(`${wideUrl}/v1/sequences/wide/next`, { last: '9007199254741093' }))).toEqual(['9007199254741094']);
  });
});

describe('OpenAPI document', () => {
  it('is served, parses as OpenAPI 3.x with the §6.2 paths', () => {
    const doc = openApi.document as OpenApiDocument & { openapi?: unknown };
    expect(String(doc.openapi)).toMatch(/^3\./);
    for (const path of ['/', '/tickets/create', '/tickets/create/{count}', '/status', '/v1/sequences/{name}/next']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
  });

  it('serves every documented path and method (no 404), each reply matching the document', async () => {
    const concrete = (path: string): string => path.replace('{name}', 'documented').replace('{count}', '2');
    const operations = Object.entries(openApi.document.paths).flatMap(([path, methods]) =>
      Object.keys(methods)
        .filter((method) => ['get', 'post', 'put', 'delete', 'patch'].includes(method))
        .map((method) => ({ path, method: method.toUpperCase() })),
    );
    expect(operations.length).toBeGreaterThanOrEqual(6);
    for (const { path, method } of operations) {
      const reply = await call(`${mainUrl}${concrete(path)}`, { method });
      expect(reply.status, `${method} ${path}`).not.toBe(404);
      expect(reply.status, `${method} ${path}: ${reply.text}`).toBeLessThan(400);
      openApi.check(path, method, reply);
    }
  });

  it('checked every response of this file against the document', () => {
    // Runs last in the file's order: a summary guard that the checks above really ran.
    expect(openApi.checked.size).toBeGreaterThanOrEqual(12);
  });

  it('documents the 4xx that POST / and /tickets/create answer (ENOSEQ, ELIMIT, 413)', async () => {
    const replies: Array<[string, string, Reply]> = [
      ['/', 'POST', await post(`${urlOf(strict, 'http')}/`)],
      ['/tickets/create', 'GET', await call(`${urlOf(strict, 'http')}/tickets/create`)],
      ['/', 'POST', await post(`${urlOf(limited, 'http')}/`)],
      ['/', 'POST', await post(`${mainUrl}/`, { body: new Uint8Array(20_000) })],
    ];
    for (const [path, method, reply] of replies) {
      expect(reply.status).toBeGreaterThanOrEqual(400);
      expect(openApi.lookup(path, method, reply.status, reply.type), `${method} ${path} ${reply.status}`).not.toBeTypeOf('string');
    }
  });
});

describe('proxy mode (SPEC §8)', () => {
  let upstream: ServerProcess;
  let proxy: ServerProcess;

  beforeAll(async () => {
    upstream = await startServer(['--store', 'memory:']);
    proxy = await startServer(['--host', upstream.endpoint]);
  });

  it('serves POST /, /tickets/create/3 and /v1 with values from the upstream', async () => {
    const proxyUrl = urlOf(proxy, 'http');
    const upstreamUrl = urlOf(upstream, 'http');
    const first = await post(`${proxyUrl}/`);
    expect(first.status, first.text).toBe(200);
    expect(first.type).toBe('text/plain');
    openApi.check('/', 'POST', first);
    const three = await call(`${proxyUrl}/tickets/create/3`);
    const tickr = big(tickrDigits(three));
    expect(tickr).toHaveLength(3);
    expectIncreasing([BigInt(first.text), ...tickr]);
    openApi.check('/tickets/create/{count}', 'GET', three);
    const status = JSON.parse((await call(`${proxyUrl}/status`)).text) as { last_ticket: unknown };
    expect(status.last_ticket).toBe(Number(tickr[2]));

    const v1 = await post(`${proxyUrl}/v1/sequences/${encodeURIComponent('via proxy')}/next?count=2`);
    expect(v1Values(v1, 'via proxy')).toEqual(['1', '2']);
    openApi.check('/v1/sequences/{name}/next', 'POST', v1);

    // They are the upstream's values: its own API continues after them.
    const direct = BigInt((await post(`${upstreamUrl}/`)).text);
    expect(direct).toBeGreaterThan(tickr[2] as bigint);
    expect(v1Values(await post(`${upstreamUrl}/v1/sequences/${encodeURIComponent('via proxy')}/next`))).toEqual(['3']);
    // And through ZeroMQ as well.
    const [zmqNext] = await nextValues(upstream.endpoint, 'via proxy', 1);
    expect(zmqNext).toBe(4n);
  });

  it('never forwards `last`: the upstream does not move', async () => {
    const proxyUrl = urlOf(proxy, 'http');
    const upstreamUrl = urlOf(upstream, 'http');
    const viaProxy = v1Values(await postJson(`${proxyUrl}/v1/sequences/isolated/next`, { count: 2, last: '500000' }));
    expect(big(viaProxy).every((value) => value < 100n)).toBe(true);
    v1Values(await post(`${proxyUrl}/v1/sequences/isolated/next?last=900000`));
    const [direct] = v1Values(await post(`${upstreamUrl}/v1/sequences/isolated/next`));
    expect(BigInt(direct as string)).toBeLessThan(100n);
  });

  it('refuses bad input itself, in the same error shape', async () => {
    const proxyUrl = urlOf(proxy, 'http');
    expectError(await post(`${proxyUrl}/v1/sequences/${'n'.repeat(129)}/next`), 400, 'EBADNAME');
    expectError(await post(`${proxyUrl}/v1/sequences/x/next?count=0`), 400, 'EBADREQ');
    expectError(await call(`${proxyUrl}/tickets/create/1001`), 400, 'EBADREQ');
    expect((await call(`${proxyUrl}/nope`)).status).toBe(404);
  });
});

describe('keep-alive', () => {
  it('answers 200 sequential requests over one keep-alive connection, all distinct', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const { hostname, port } = new URL(mainUrl);
    const seen = new Set<string>();
    let reused = 0;
    try {
      for (let index = 0; index < 200; index++) {
        const path = index % 2 === 0 ? '/' : '/v1/sequences/keepalive/next';
        const { status, body, reusedSocket } = await new Promise<{ status: number; body: string; reusedSocket: boolean }>((resolve, reject) => {
          const req = httpRequest({ host: hostname, port, path, method: 'POST', agent, timeout: 5_000 }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (text += chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, reusedSocket: req.reusedSocket }));
            res.on('error', reject);
          });
          req.on('timeout', () => req.destroy(new Error('timeout')));
          req.on('error', reject);
          req.end();
        });
        expect(status, body).toBe(200);
        const value = path === '/' ? `default:${body}` : `keepalive:${(JSON.parse(body) as { values: string[] }).values[0]}`;
        expect(seen.has(value)).toBe(false);
        seen.add(value);
        if (reusedSocket) reused++;
      }
    } finally {
      agent.destroy();
    }
    expect(seen.size).toBe(200);
    // One connection carried them all: every request after the first reused it.
    expect(reused).toBe(199);
  });

  it('answers 200 sequential requests through the global fetch (undici keep-alive)', async () => {
    const values = new Set<string>();
    for (let index = 0; index < 200; index++) {
      const reply = await post(`${mainUrl}/v1/sequences/fetch-keepalive/next`);
      values.add(v1Values(reply)[0] as string);
    }
    expect(values.size).toBe(200);
  });
});
