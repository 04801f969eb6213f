#!/usr/bin/env node
// Baseline for benchmark (e): the framework ceiling. A fastify app built like the
// real API's (src/protocols/http-common.ts createHttpApp: logger off, the same
// body limit, router param length, closing behaviour, AJV options, content-type
// parsers and error handlers) and one route, `POST /v1/sequences/:name/next`, that
// answers a constant `{"sequence":"x","values":["1"]}` with the content type of
// the real route. No ticket is issued, nothing is validated, no store exists:
// ticket-server req/s ÷ this req/s is the cost of issuing (and durability)
// relative to what fastify itself can do on this machine.
//
//   node bench/fastify-constant.mjs --http 127.0.0.1:0
//
// Logs `{"level":30,"msg":"listening","protocol":"http","url":"http://127.0.0.1:PORT"}`
// on stdout (the shape of the server's own line) and stops on SIGTERM/SIGINT.
import { fastify } from 'fastify';

const BODY = '{"sequence":"x","values":["1"]}';
/** As MAX_BODY_BYTES in src/protocols/http.ts. */
const MAX_BODY_BYTES = 16 * 1024;

function parseAddress(argv) {
  const index = argv.indexOf('--http');
  const text = index >= 0 ? argv[index + 1] : '127.0.0.1:0';
  const colon = typeof text === 'string' ? text.lastIndexOf(':') : -1;
  if (colon <= 0) throw new Error(`--http must be host:port, got ${String(text)}`);
  const host = text.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(text.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port in --http ${text}`);
  return { host, port };
}

/**
 * The real API's app factory (dist/protocols/http-common.js: fastify options, content-type
 * parsers, error handlers) when the build has it, so the baseline follows src; otherwise a
 * copy of the options of src/protocols/http.ts as they were when this file was written.
 */
async function createApp() {
  try {
    const { createHttpApp } = await import('../dist/protocols/http-common.js');
    if (typeof createHttpApp === 'function') return { app: createHttpApp({ bodyLimit: MAX_BODY_BYTES }), factory: 'dist/protocols/http-common.js createHttpApp' };
  } catch {
    // not built, or refactored away: use the copy below
  }
  const app = fastify({
    logger: false,
    bodyLimit: MAX_BODY_BYTES,
    routerOptions: { maxParamLength: 2048 },
    return503OnClosing: true,
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (_request, body, done) => done(null, body));
  return { app, factory: 'inline copy of the options' };
}

const address = parseAddress(process.argv.slice(2));
const { app, factory } = await createApp();
// The route of the real API, minus everything it does: no schema, no validation, no ticket.
app.post('/v1/sequences/:name/next', async (_request, reply) => reply.type('application/json; charset=utf-8').send(BODY));

let stopping = false;
const stop = (signal) => {
  if (stopping) return;
  stopping = true;
  app.close().then(
    () => process.exit(0),
    (error) => {
      process.stderr.write(`fastify-constant: close after ${signal} failed: ${error.message}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

await app.listen({ host: address.host, port: address.port });
const bound = app.server.address();
const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
const host = address.host.includes(':') ? `[${address.host}]` : address.host;
process.stdout.write(`${JSON.stringify({ level: 30, pid: process.pid, protocol: 'http', url: `http://${host}:${port}`, app: factory, msg: 'listening' })}\n`);
