/**
 * deploy/docker-entrypoint.sh, the image's entry point: the StatefulSet
 * ordinal → --instance mapping (TICKET_SERVER_INSTANCE_FROM_HOSTNAME=1), its
 * refusals (exit 2, clear message), and that it execs node, so a real server
 * started through it gets the instance and stops gracefully on SIGTERM sent
 * to the pid the container runtime knows; and deploy/healthcheck.mjs, the
 * image's HEALTHCHECK, against that server while it runs and once it stopped.
 *
 * Most cases use the dry-run mode (TICKET_SERVER_ENTRYPOINT_DRY_RUN=1: print
 * the command, one argument per line); TICKET_SERVER_MAIN points the script
 * at this repository's dist/cli/main.js instead of the image's /app.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CLI_PATH, PROJECT_ROOT, cleanEnvironment, createTempDir, parseLogLines, removeTempDirs } from '../helpers/server-process.js';
import { DEPLOY_DIR, deployFile } from './deploy-files.js';

const SCRIPT = `${DEPLOY_DIR}/docker-entrypoint.sh`;
const RUN_TIMEOUT_MS = 15_000;
const START_TIMEOUT_MS = 15_000;
const children = new Set<ChildProcess>();

afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});

afterAll(async () => {
  await removeTempDirs();
});

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the script with `sh` (as the image's /bin/sh would), with a clean environment plus `env`. */
function entrypoint(args: readonly string[], env: Record<string, string>): Promise<Result> {
  return new Promise((resolveRun) => {
    execFile(
      'sh',
      [SCRIPT, ...args],
      { env: cleanEnvironment({ TICKET_SERVER_MAIN: CLI_PATH, ...env }), timeout: RUN_TIMEOUT_MS },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolveRun({ code, stdout, stderr });
      },
    );
  });
}

/** The command a dry run prints, as arguments. */
async function dryRun(args: readonly string[], env: Record<string, string>): Promise<Result & { argv: string[] }> {
  const result = await entrypoint(args, { TICKET_SERVER_ENTRYPOINT_DRY_RUN: '1', ...env });
  return { ...result, argv: result.stdout.split('\n').filter((line) => line !== '') };
}

/** Runs deploy/healthcheck.mjs against `url`. */
function healthcheck(url: string): Promise<Result> {
  return new Promise((resolveRun) => {
    execFile(
      process.execPath,
      [`${DEPLOY_DIR}/healthcheck.mjs`],
      { env: cleanEnvironment({ TICKET_SERVER_HEALTHCHECK_URL: url }), timeout: RUN_TIMEOUT_MS },
      (error, stdout, stderr) => resolveRun({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

const FROM_HOSTNAME = { TICKET_SERVER_INSTANCE_FROM_HOSTNAME: '1' };

describe('entrypoint: instance from the pod ordinal', () => {
  it.each([
    ['ticket-server-0', '1'],
    ['ticket-server-2', '3'],
    ['tickets-41', '42'],
    ['tickets-7.tickets-headless.default.svc.cluster.local', '8'],
    ['t-65535', '65536'],
  ])('hostname %s runs --instance %s, after the given arguments', async (hostname, instance) => {
    const { code, argv, stderr } = await dryRun(['--instances', '3'], { ...FROM_HOSTNAME, HOSTNAME: hostname });
    expect(code, stderr).toBe(0);
    expect(argv).toEqual(['node', CLI_PATH, '--instances', '3', '--instance', instance]);
  });

  it.each(['ticket-server', 'tickets-', 'tickets-x', 'tickets-01', 'tickets-1a', 'tickets-65536', 'tickets-123456', '-'])(
    'refuses hostname "%s" with exit 2 and a message',
    async (hostname) => {
      const { code, stdout, stderr } = await dryRun(['--instances', '3'], { ...FROM_HOSTNAME, HOSTNAME: hostname });
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toMatch(/^ticket-server entrypoint: TICKET_SERVER_INSTANCE_FROM_HOSTNAME=1.*-ORDINAL|above 65535/);
    },
  );

  it('refuses a second source of the instance', async () => {
    const env = { ...FROM_HOSTNAME, HOSTNAME: 'tickets-1' };
    for (const args of [['--instance', '2'], ['--instance=2']]) {
      const { code, stderr } = await dryRun(args, env);
      expect(code).toBe(2);
      expect(stderr).toContain('both given');
    }
    const { code, stderr } = await dryRun([], { ...env, TICKET_SERVER_INSTANCE: '2' });
    expect(code).toBe(2);
    expect(stderr).toContain('both set');
  });

  it('refuses a value other than 0 or 1', async () => {
    const { code, stderr } = await dryRun([], { TICKET_SERVER_INSTANCE_FROM_HOSTNAME: 'yes', HOSTNAME: 'tickets-1' });
    expect(code).toBe(2);
    expect(stderr).toContain('must be 1 or 0');
  });

  it('leaves the command alone when it is off, for the client command, and for other programs', async () => {
    expect((await dryRun(['--instance', '2'], { HOSTNAME: 'no-ordinal-here' })).argv).toEqual(['node', CLI_PATH, '--instance', '2']);
    expect((await dryRun(['next', 'invoices'], { ...FROM_HOSTNAME, HOSTNAME: 'x' })).argv).toEqual(['node', CLI_PATH, 'next', 'invoices']);
    expect((await dryRun(['sh', '-c', 'true'], { ...FROM_HOSTNAME, HOSTNAME: 'x' })).argv).toEqual(['sh', '-c', 'true']);
    expect((await dryRun([], {})).argv).toEqual(['node', CLI_PATH]);
  });
});

describe('entrypoint: really running ticket-server', () => {
  it('execs the CLI (--help)', async () => {
    const { code, stdout } = await entrypoint(['--help'], {});
    expect(code).toBe(0);
    expect(stdout).toContain('--instance I');
  });

  it('starts a server as the ordinal\'s instance, and SIGTERM to its pid (node itself) stops it cleanly', async () => {
    const dataDir = await createTempDir('ticket-server-entrypoint-');
    const child = spawn(
      'sh',
      [SCRIPT, '--instances', '3', '--data', dataDir, '--bind', 'tcp://127.0.0.1:0', '--http', 'off', '--admin', '127.0.0.1:0'],
      { env: cleanEnvironment({ TICKET_SERVER_MAIN: CLI_PATH, ...FROM_HOSTNAME, HOSTNAME: 'tickets-1' }), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.add(child);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
      child.once('close', (code, signal) => resolveExit({ code, signal })),
    );
    const adminUrl = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line within ${START_TIMEOUT_MS} ms:\n${out}\n${err}`)), START_TIMEOUT_MS);
      const look = (): void => {
        const lines = parseLogLines(out);
        const admin = lines.find((line) => line.msg === 'listening' && line.protocol === 'admin');
        if (admin && lines.some((line) => line.msg === 'listening' && line.protocol === 'zmq')) {
          clearTimeout(timer);
          resolveUrl(String(admin.url));
        }
      };
      child.stdout.on('data', look);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`exited before listening:\n${out}\n${err}`));
      });
    });
    const status = (await (await fetch(`${adminUrl}/status`, { signal: AbortSignal.timeout(5_000) })).json()) as {
      numbering: { instance: number; instances: number };
    };
    expect(status.numbering).toEqual({ instance: 2, instances: 3, offset: '1' });
    // The image's HEALTHCHECK program: healthy while the admin port answers.
    expect((await healthcheck(`${adminUrl}/healthz`)).code).toBe(0);
    // The pid the runtime signals is the one `sh` was started as: exec made it node.
    child.kill('SIGTERM');
    const timeout = new Promise<'timeout'>((resolveTimeout) => setTimeout(() => resolveTimeout('timeout'), 15_000).unref());
    expect(await Promise.race([exited, timeout])).toEqual({ code: 0, signal: null });
    const gone = await healthcheck(`${adminUrl}/healthz`);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('healthcheck:');
  });
});

describe('Dockerfile', () => {
  const dockerfile = deployFile('Dockerfile');

  it('runs the entry point in exec form, as a non-root user, with /data and a node health check', () => {
    expect(dockerfile).toMatch(/^COPY --chmod=0755 deploy\/docker-entrypoint\.sh \/usr\/local\/bin\/docker-entrypoint\.sh$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["\/usr\/local\/bin\/docker-entrypoint\.sh"\]$/m);
    expect(deployFile('docker-entrypoint.sh')).toMatch(/^run\(\) \{[\s\S]*?^\s+exec "\$@"$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^VOLUME \["\/data"\]$/m);
    expect(dockerfile).toMatch(/^ENV TICKET_SERVER_DATA=\/data$/m);
    expect(dockerfile).toMatch(/^EXPOSE 6410 6411 6412$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\\\n\s+CMD \["node", "\/app\/healthcheck\.mjs"\]$/m);
    // Two stages: dev dependencies only in the build stage.
    expect(dockerfile).toMatch(/^FROM \S+ AS build$[\s\S]*^RUN npm ci --no-audit --no-fund$[\s\S]*^RUN npm run build$/m);
    expect(dockerfile).toMatch(/^FROM \S+ AS runtime$[\s\S]*^RUN npm ci --omit=dev/m);
    expect(dockerfile).toMatch(/^COPY --from=build \/src\/dist \.\/dist$/m);
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    const ignored = readFileSync(join(PROJECT_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'));
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) \S+$/gm)].flatMap((match) => (match[1] as string).split(' '));
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'src', 'deploy/docker-entrypoint.sh', 'deploy/healthcheck.mjs']));
    for (const source of sources) {
      expect(existsSync(join(PROJECT_ROOT, source)), source).toBe(true);
      const topLevel = source.split('/')[0] as string;
      expect(ignored.filter((pattern) => pattern === source || pattern === topLevel), source).toEqual([]);
    }
  });
});
