/**
 * The package as a user installs it (SPEC §9): `npm pack` of the built
 * project, installed from the tarball into a throwaway consumer project, then
 * used from CommonJS (`require('ticket-server')`), from ESM
 * (`import ticketServer from 'ticket-server'`) and from TypeScript (both
 * module systems, type-checked with the project's `tsc`), against one real
 * server. Each consumer script runs as its own Node process and prints a
 * JSON summary that the tests assert on. The root must load only the client
 * (no server packages, zeromq only once a tcp:// client is made); the server
 * is the `ticket-server/server` subpath.
 *
 * Assumes `dist/` is built (`npm test` builds first). The pack runs with
 * `--ignore-scripts`: the `prepack` script would rebuild `dist/` while other
 * test files use it.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PROJECT_ROOT,
  cleanEnvironment,
  createTempDir,
  removeTempDirs,
  startServer,
  stopAllServers,
  type ServerProcess,
} from '../helpers/server-process.js';

/** `npm install` of the tarball; the npm cache is warm from `npm ci`, so this is normally a few seconds. */
const INSTALL_TIMEOUT_MS = 120_000;
/** `npm pack`, `npm init`. */
const NPM_TIMEOUT_MS = 60_000;
/** One consumer script or one `tsc` run. */
const CHILD_TIMEOUT_MS = 30_000;
/** The TypeScript compiler of the project (not installed in the consumer). */
const TSC = join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
/** How consumer scripts learn the server's endpoint. */
const ENDPOINT_VARIABLE = 'PACKAGE_TEST_ENDPOINT';

interface ChildResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion (SIGKILLed after `timeoutMs`); never throws. */
function run(file: string, args: readonly string[], cwd: string, timeoutMs: number, env: NodeJS.ProcessEnv): Promise<ChildResult> {
  return new Promise((resolveRun) => {
    execFile(
      file,
      args,
      { cwd, env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const failure = error as (Error & { code?: number | string; signal?: NodeJS.Signals | null; killed?: boolean }) | null;
        resolveRun({
          code: failure ? (typeof failure.code === 'number' ? failure.code : null) : 0,
          signal: failure?.signal ?? null,
          timedOut: failure?.killed === true && failure.signal === 'SIGKILL',
          stdout,
          stderr: failure && typeof failure.code === 'string' ? `${failure.message}\n${stderr}` : stderr,
        });
      },
    );
  });
}

function describeRun(what: string, result: ChildResult, timeoutMs: number): string {
  const how = result.timedOut ? `did not finish within ${timeoutMs / 1000} s` : `failed (exit code ${result.code}, signal ${result.signal})`;
  const tail = (text: string): string => (text.length > 6000 ? `…${text.slice(-6000)}` : text);
  return `${what} ${how}\n--- stdout ---\n${tail(result.stdout)}\n--- stderr ---\n${tail(result.stderr)}`;
}

/**
 * The environment for child `npm` runs: ours, minus what `npm test` sets for
 * this project's own run (package fields, lifecycle, local prefix), so the
 * child npm works on the directory it is started in.
 */
function npmEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    const lower = key.toLowerCase();
    if (lower.startsWith('npm_package_') || lower.startsWith('npm_lifecycle_')) continue;
    if (lower === 'npm_config_local_prefix' || lower === 'npm_command' || lower === 'init_cwd') continue;
    env[key] = value;
  }
  return env;
}

async function npm(args: readonly string[], cwd: string, timeoutMs: number): Promise<string> {
  const result = await run('npm', args, cwd, timeoutMs, npmEnvironment());
  if (result.code !== 0) throw new Error(describeRun(`npm ${args.join(' ')} (in ${cwd})`, result, timeoutMs));
  return result.stdout;
}

// ---- the consumer's files ------------------------------------------------------

/**
 * Defines \`serverPackagesLoaded()\` in a consumer script: which of the server's
 * packages are loaded (CommonJS ones are in require.cache, whether required or
 * imported; the native addons of zeromq and lmdb show in the process report).
 * Needs \`require\` in scope.
 */
const LOADED_PACKAGES = `
const SERVER_PACKAGES = ['fastify', 'pino', 'prom-client', 'zeromq', 'lmdb', 'pg', 'mysql2', 'etcd3'];
const serverPackagesLoaded = () => {
  const files = [...Object.keys(require.cache), ...process.report.getReport().sharedObjects];
  return SERVER_PACKAGES.filter((name) => files.some((file) => file.includes('/node_modules/' + name + '/')));
};
`;

/** Shared by the CommonJS and ESM scripts: the checks of SPEC §9, each recorded in `out`. */
const CHECKS = `
const describeError = (error) => ({
  isError: error instanceof Error,
  isTicketError: error instanceof TicketError,
  code: error && error.code,
  message: error && error.message,
});
const out = {};
try {
  const ticket = ticketServer([process.env.${ENDPOINT_VARIABLE}]);
  out.callback = await new Promise((resolve) => {
    ticket.next('x', (err, value) => resolve({ err: err === null ? null : String(err), type: typeof value, value: String(value) }));
  });
  const value = await ticket.next('x');
  out.promise = { type: typeof value, value: String(value) };
  const values = await ticket.next('x', { count: 5 });
  out.count = { isArray: Array.isArray(values), types: values.map((v) => typeof v), values: values.map(String) };
  try {
    const unexpected = await ticket.next('');
    out.badName = { rejected: false, value: String(unexpected) };
  } catch (error) {
    out.badName = { rejected: true, ...describeError(error) };
  }
  out.badNameCallback = await new Promise((resolve) => {
    ticket.next('', (err, v) => resolve(err ? { ...describeError(err), value: String(v) } : { isError: false, value: String(v) }));
  });
  await ticket.close();
  out.closed = true;
  const viaCreateClient = createClient(process.env.${ENDPOINT_VARIABLE});
  const other = await viaCreateClient.next('x');
  out.createClient = { type: typeof other, value: String(other) };
  await viaCreateClient.close();
} catch (error) {
  out.fatal = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.exitCode = 1;
}
`;

/** CommonJS, as SPEC §9 writes it. No process.exit: the process must end on its own after close(). */
const INDEX_CJS = `'use strict';
const ticketServer = require('ticket-server');
const { createClient, TicketError } = ticketServer;
${LOADED_PACKAGES}
const loadedByRoot = serverPackagesLoaded();
(async () => {
${CHECKS}
  out.loaded = { byRoot: loadedByRoot, afterTcpClient: serverPackagesLoaded() };
  out.module = {
    resolved: require.resolve('ticket-server'),
    factory: typeof ticketServer,
    createClient: typeof ticketServer.createClient,
    defaultIsFactory: ticketServer.default === ticketServer,
    TicketError: typeof TicketError,
    packageVersion: require('ticket-server/package.json').version,
  };
  console.log(JSON.stringify(out));
})();
`;

/** ESM: the default export plus the named exports. */
const INDEX_MJS = `import ticketServer, { createClient, TicketError } from 'ticket-server';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
${LOADED_PACKAGES}
const loadedByRoot = serverPackagesLoaded();
${CHECKS}
out.loaded = { byRoot: loadedByRoot, afterTcpClient: serverPackagesLoaded() };
out.module = {
  resolved: import.meta.resolve('ticket-server'),
  factory: typeof ticketServer,
  createClient: typeof createClient,
  defaultIsCreateClient: ticketServer === createClient,
  TicketError: typeof TicketError,
};
console.log(JSON.stringify(out));
`;

/** What the server subpath gives a script; \`server\` is its module namespace. */
const SERVER_CHECKS = `
out.exports = Object.fromEntries(
  ['createServer', 'loadConfig', 'resolveConfig', 'ConfigError', 'TicketService', 'TicketError', 'SlotMap', 'ERROR_CATALOGUE', 'MAX_VALUE'].map((name) => [name, typeof server[name]]),
);
out.sameTicketError = server.TicketError === rootTicketError;
out.loaded = serverPackagesLoaded();
`;

/** ESM: the server subpath. */
const SERVER_MJS = `import * as server from 'ticket-server/server';
import { TicketError as rootTicketError } from 'ticket-server';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
${LOADED_PACKAGES}
const out = { resolved: import.meta.resolve('ticket-server/server') };
${SERVER_CHECKS}
console.log(JSON.stringify(out));
`;

/** CommonJS: the server is an ES module, reached with import(). */
const SERVER_CJS = `'use strict';
${LOADED_PACKAGES}
(async () => {
  const server = await import('ticket-server/server');
  const { TicketError: rootTicketError } = await import('ticket-server');
  const out = {};
${SERVER_CHECKS}
  console.log(JSON.stringify(out));
})();
`;

/** Types of the server subpath, and proof that the root no longer offers the server. */
const CHECK_SERVER_TS = `import { createServer, resolveConfig, ConfigError, TicketService, type ServerConfig, type TicketServer, type Store, type StoreOptions } from 'ticket-server/server';
// @ts-expect-error the package root is the client only
import { createServer as fromRoot } from 'ticket-server';

type Starts = (config: ServerConfig) => Promise<TicketServer>;
const starts: Starts = createServer;
const options: StoreOptions = { poolSize: 4 };
const store: Store | undefined = undefined;
export { starts, options, store, resolveConfig, ConfigError, TicketService, fromRoot };
`;

/** Types through the "import" condition (dist/index.d.ts); the consumer is "type": "module". */
const CHECK_TS = `import ticketServer, { createClient, TicketError, type TicketClient, type ClientOptions } from 'ticket-server';

const options: ClientOptions = { timeout: 500, prefetch: 10 };
const t: TicketClient = ticketServer(['tcp://127.0.0.1:1']);
const v: bigint = await t.next('x');
const vs: bigint[] = await t.next('x', { count: 2 });
t.next('x', (err, value) => {
  const e: Error | null = err;
  const b: bigint | undefined = value;
  void e;
  void b;
});
t.next('x', { count: 3 }, (_err, values) => {
  const list: bigint[] | undefined = values;
  void list;
});
// @ts-expect-error next() yields a bigint, not a string
const wrong: string = await t.next('x');
const other = createClient('tcp://127.0.0.1:1', options);
const known: boolean = new Error('x') instanceof TicketError;
await t.close();
await other.close();
export { v, vs, wrong, known };
`;

/** Types through the "require" condition (dist/cjs/client/require-entry.d.ts, \`export =\`). */
const CHECK_CTS = `import ticketServer = require('ticket-server');

async function main(): Promise<void> {
  const t = ticketServer(['tcp://127.0.0.1:1']);
  const v: bigint = await t.next('x');
  const vs: bigint[] = await t.next('x', { count: 2 });
  t.next('x', (err, value) => {
    const e: Error | null = err;
    const b: bigint | undefined = value;
    void e;
    void b;
  });
  // @ts-expect-error next() yields a bigint, not a string
  const wrong: string = await t.next('x');
  const viaCreateClient = ticketServer.createClient('tcp://127.0.0.1:1', { prefetch: 10 });
  const viaDefault = ticketServer.default(['tcp://127.0.0.1:1']);
  const known: boolean = new Error('x') instanceof ticketServer.TicketError;
  void [v, vs, wrong, known];
  await Promise.all([t.close(), viaCreateClient.close(), viaDefault.close()]);
}

void main();
`;

// ---- setup ---------------------------------------------------------------------

let consumer = '';
let packedFiles: string[] = [];
let packageVersion = '';
let server: ServerProcess;

beforeAll(async () => {
  packageVersion = (JSON.parse(await readFile(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  // The real path: require.resolve() answers with one, whatever symlinks lead to the temp dir.
  const root = await realpath(await createTempDir('ticket-server-package-'));
  const packDir = join(root, 'pack');
  consumer = join(root, 'consumer');
  await mkdir(packDir);
  await mkdir(consumer);

  const packed = JSON.parse(await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], PROJECT_ROOT, NPM_TIMEOUT_MS)) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  const tarball = join(packDir, packed[0]?.filename ?? 'missing.tgz');
  packedFiles = packed[0]?.files.map((file) => file.path) ?? [];

  await npm(['init', '-y'], consumer, NPM_TIMEOUT_MS);
  // "type": "module", so that check.ts is an ES module (top-level await, the "import" types).
  const manifestPath = join(consumer, 'package.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>;
  await writeFile(manifestPath, `${JSON.stringify({ ...manifest, type: 'module' }, null, 2)}\n`);
  // @types/node for `tsc --types node` (and the Node types the dependencies' .d.ts files use).
  await npm(['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, '@types/node@20'], consumer, INSTALL_TIMEOUT_MS);

  await writeFile(join(consumer, 'index.cjs'), INDEX_CJS);
  await writeFile(join(consumer, 'index.mjs'), INDEX_MJS);
  await writeFile(join(consumer, 'check.ts'), CHECK_TS);
  await writeFile(join(consumer, 'check.cts'), CHECK_CTS);
  await writeFile(join(consumer, 'server.mjs'), SERVER_MJS);
  await writeFile(join(consumer, 'server.cjs'), SERVER_CJS);
  await writeFile(join(consumer, 'check-server.ts'), CHECK_SERVER_TS);

  server = await startServer(['--store', 'memory:']);
}, INSTALL_TIMEOUT_MS + 2 * NPM_TIMEOUT_MS);

afterAll(async () => {
  await stopAllServers();
  await removeTempDirs();
});

// ---- helpers for the tests -------------------------------------------------------

interface ErrorSummary {
  readonly isError: boolean;
  readonly isTicketError?: boolean;
  readonly code?: string;
  readonly message?: string;
  readonly rejected?: boolean;
}

interface Summary {
  readonly fatal?: string;
  readonly callback: { err: string | null; type: string; value: string };
  readonly promise: { type: string; value: string };
  readonly count: { isArray: boolean; types: string[]; values: string[] };
  readonly badName: ErrorSummary;
  readonly badNameCallback: ErrorSummary;
  readonly closed: boolean;
  readonly createClient: { type: string; value: string };
  readonly module: Record<string, unknown>;
  readonly loaded: { byRoot: string[]; afterTcpClient: string[] };
}

/** Runs a consumer script with `node` and parses the JSON line it prints. */
async function runConsumer<T = Summary>(script: string): Promise<T> {
  const result = await run(process.execPath, [script], consumer, CHILD_TIMEOUT_MS, cleanEnvironment({ [ENDPOINT_VARIABLE]: server.endpoint }));
  const what = `node ${script} (in the consumer project)`;
  if (result.timedOut) {
    const note = result.stdout.includes('"closed":true') ? ' (it printed its summary, so it did not exit after close())' : '';
    throw new Error(describeRun(`${what}${note}`, result, CHILD_TIMEOUT_MS));
  }
  const line = result.stdout.trim().split('\n').pop() ?? '';
  let summary: T & { fatal?: string };
  try {
    summary = JSON.parse(line) as T & { fatal?: string };
  } catch {
    throw new Error(describeRun(`${what} printed no JSON summary;`, result, CHILD_TIMEOUT_MS));
  }
  expect(summary.fatal, describeRun(what, result, CHILD_TIMEOUT_MS)).toBeUndefined();
  expect(result.code, describeRun(what, result, CHILD_TIMEOUT_MS)).toBe(0);
  return summary;
}

/** The checks of SPEC §9, the same for both module systems. */
function expectClientBehaviour(summary: Summary): void {
  expect(summary.callback).toMatchObject({ err: null, type: 'bigint' });
  expect(summary.promise.type).toBe('bigint');
  expect(BigInt(summary.promise.value)).toBeGreaterThan(BigInt(summary.callback.value));

  expect(summary.count.isArray).toBe(true);
  expect(summary.count.types).toEqual(['bigint', 'bigint', 'bigint', 'bigint', 'bigint']);
  const values = summary.count.values.map((value) => BigInt(value));
  expect(values[0]).toBeGreaterThan(BigInt(summary.promise.value));
  for (let index = 1; index < values.length; index++) expect(values[index]).toBeGreaterThan(values[index - 1] as bigint);

  expect(summary.badName).toMatchObject({ rejected: true, isError: true, isTicketError: true, code: 'EBADNAME' });
  expect(summary.badNameCallback).toMatchObject({ isError: true, isTicketError: true, code: 'EBADNAME', value: 'undefined' });
  expect(summary.closed).toBe(true);

  expect(summary.createClient.type).toBe('bigint');
  expect(BigInt(summary.createClient.value)).toBeGreaterThan(values[values.length - 1] as bigint);
}

/** Type-checks one consumer file with the project's TypeScript, as a user's strict nodenext project would. */
async function typeCheck(file: string): Promise<ChildResult> {
  return run(
    process.execPath,
    [TSC, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', file],
    consumer,
    CHILD_TIMEOUT_MS,
    cleanEnvironment(),
  );
}

const installedDir = (): string => join(consumer, 'node_modules', 'ticket-server') + sep;

// ---- tests -------------------------------------------------------------------------

describe('the packed tarball', () => {
  it('holds both builds, their types and the CLI, and no sources or tests', () => {
    for (const path of [
      'package.json',
      'README.md',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cli/main.js',
      'dist/cli/seqgen.js',
      'dist/cli/txn-id-server.js',
      'dist/cli/ticketd.js',
      'dist/cli/tickr.js',
      'dist/cjs/package.json',
      'dist/cjs/client/require-entry.js',
      'dist/cjs/client/require-entry.d.ts',
      'dist/server-entry.js',
      'dist/server-entry.d.ts',
    ]) {
      expect(packedFiles, path).toContain(path);
    }
    expect(packedFiles.filter((path) => /^(src|test|bench|scripts)\//.test(path) || /\.test\./.test(path))).toEqual([]);
  });

  it('installs the ticket-server command', async () => {
    const result = await run(join(consumer, 'node_modules', '.bin', 'ticket-server'), ['--version'], consumer, CHILD_TIMEOUT_MS, cleanEnvironment());
    expect(result.code, describeRun('node_modules/.bin/ticket-server --version', result, CHILD_TIMEOUT_MS)).toBe(0);
    expect(result.stdout.trim()).toBe(packageVersion);
  });

  it.each(['seqgen', 'txn-id-server', 'ticketd', 'tickr'])('installs the %s command (an earlier system\'s command line)', async (command) => {
    const result = await run(join(consumer, 'node_modules', '.bin', command), ['--version'], consumer, CHILD_TIMEOUT_MS, cleanEnvironment());
    expect(result.code, describeRun(`node_modules/.bin/${command} --version`, result, CHILD_TIMEOUT_MS)).toBe(0);
    expect(result.stdout.trim()).toBe(packageVersion);
  });
});

describe('CommonJS: require("ticket-server")', () => {
  it('is the client factory: callback, promise, count, errors with .code, close', async () => {
    const summary = await runConsumer('index.cjs');
    expectClientBehaviour(summary);
    expect(summary.module).toMatchObject({
      factory: 'function',
      createClient: 'function',
      defaultIsFactory: true,
      TicketError: 'function',
      packageVersion,
    });
    // Nothing of the server until a client is made; zeromq once a tcp:// client was used (the probe works).
    expect(summary.loaded.byRoot).toEqual([]);
    expect(summary.loaded.afterTcpClient).toEqual(['zeromq']);
    // The installed copy, through the "require" condition.
    expect(summary.module.resolved).toBe(join(installedDir(), 'dist', 'cjs', 'client', 'require-entry.js'));
  });
});

describe('ESM: import ticketServer from "ticket-server"', () => {
  it('is the client factory, with createClient and TicketError as named exports', async () => {
    const summary = await runConsumer('index.mjs');
    expectClientBehaviour(summary);
    expect(summary.module).toMatchObject({ factory: 'function', createClient: 'function', defaultIsCreateClient: true, TicketError: 'function' });
    expect(summary.loaded.byRoot).toEqual([]);
    expect(summary.loaded.afterTcpClient).toEqual(['zeromq']);
    expect(summary.module.resolved).toBe(`file://${join(installedDir(), 'dist', 'index.js')}`);
  });
});

interface ServerSummary {
  readonly resolved?: string;
  readonly exports: Record<string, string>;
  readonly sameTicketError: boolean;
  readonly loaded: string[];
}

const SERVER_EXPORTS = {
  createServer: 'function',
  loadConfig: 'function',
  resolveConfig: 'function',
  ConfigError: 'function',
  TicketService: 'function',
  TicketError: 'function',
  SlotMap: 'function',
  ERROR_CATALOGUE: 'object',
  MAX_VALUE: 'bigint',
};

describe('the server: "ticket-server/server"', () => {
  it('ESM: import gives the server and its parts, and loads the server packages', async () => {
    const summary = await runConsumer<ServerSummary>('server.mjs');
    expect(summary.exports).toEqual(SERVER_EXPORTS);
    expect(summary.sameTicketError).toBe(true);
    expect(summary.loaded).toEqual(expect.arrayContaining(['fastify', 'pino']));
    expect(summary.resolved).toBe(`file://${join(installedDir(), 'dist', 'server-entry.js')}`);
  });

  it('CommonJS: import() gives the same', async () => {
    const summary = await runConsumer<ServerSummary>('server.cjs');
    expect(summary.exports).toEqual(SERVER_EXPORTS);
    expect(summary.sameTicketError).toBe(true);
  });
});

describe('TypeScript types', () => {
  it('type-check a server embedder (check-server.ts, "ticket-server/server"; the root has no createServer)', async () => {
    const result = await typeCheck('check-server.ts');
    expect(result.code, describeRun('tsc check-server.ts', result, CHILD_TIMEOUT_MS)).toBe(0);
  });

  it('type-check an ES module consumer (check.ts, "import" condition)', async () => {
    const result = await typeCheck('check.ts');
    expect(result.code, describeRun('tsc check.ts', result, CHILD_TIMEOUT_MS)).toBe(0);
  });

  it('type-check a CommonJS consumer (check.cts, "require" condition, export =)', async () => {
    const result = await typeCheck('check.cts');
    expect(result.code, describeRun('tsc check.cts', result, CHILD_TIMEOUT_MS)).toBe(0);
  });
});
