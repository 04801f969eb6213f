/**
 * The earlier systems' commands (`seqgen`, `txn-id-server`, `ticketd`,
 * `tickr`), each started as its README shows it (loopback addresses, free
 * ports) from the built bins, checked over its own protocol, restarted on the
 * same data without a repeat, and refused with exit 2 on bad command lines.
 * The mappings themselves are unit-tested in test/cli/legacy-commands.test.ts.
 */
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dbAvailable, destroyAllDbServers, emptyStoreUri, startMariadb, type DbServer } from '../helpers/db-servers.js';
import { createTempDir, removeTempDirs, runCli, startServer, stopAllServers, type CommandName, type ServerProcess } from '../helpers/server-process.js';
import { nextValue, nextValues } from '../helpers/zmq-client.js';

const WAIT_MS = 5_000;

afterEach(async () => {
  await stopAllServers();
});

afterAll(async () => {
  await removeTempDirs();
  await destroyAllDbServers();
});

/** The notice line a command prints on stderr at start. */
function notice(server: ServerProcess, command: CommandName): string {
  const line = server.stderr().split('\n').find((text) => text.startsWith(`${command}: serving as ticket-server`));
  if (line === undefined) throw new Error(`no notice line; stderr: ${server.stderr()}`);
  return line;
}

/** One connection of the one-shot TCP protocol: connect, read to EOF (bounded), the value. */
function oneShot(address: string): Promise<bigint> {
  const separator = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address.slice(0, separator), port: Number(address.slice(separator + 1)) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error(`no reply from ${address} within ${WAIT_MS} ms`)), WAIT_MS);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      if (!/^[1-9][0-9]*\n$/.test(text)) reject(new Error(`not a one-shot value: ${JSON.stringify(text)}`));
      else resolve(BigInt(text.trim()));
    });
  });
}

async function oneShots(address: string, count: number): Promise<bigint[]> {
  const values: bigint[] = [];
  for (let index = 0; index < count; index++) values.push(await oneShot(address));
  return values;
}

async function fetchText(url: string, init?: RequestInit): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(WAIT_MS) });
  return { status: response.status, body: await response.text() };
}

function expectNoRepeat(before: readonly bigint[], after: readonly bigint[]): void {
  const maximum = before.reduce((a, b) => (b > a ? b : a), 0n);
  for (const value of after) expect(value).toBeGreaterThan(maximum);
}

describe('seqgen', () => {
  it('serves ZeroMQ and the admin port (http://HOST:PORT) with drift 100, no public HTTP; a restart repeats nothing', async () => {
    const data = await createTempDir('legacy-seqgen-');
    const args = ['--instance', '2', '--instances', '3', '--bind', 'tcp://127.0.0.1:0', '--admin', 'http://127.0.0.1:0', '--data', data];
    const first = await startServer(args, { command: 'seqgen' });
    expect(notice(first, 'seqgen')).toContain('--instance 2 --instances 3');
    expect(notice(first, 'seqgen')).toContain('(seqgen defaults: --drift 100 --http off)');
    expect(Object.keys(first.endpoints).sort()).toEqual(['admin', 'zmq']);
    const status = await fetchText(`${first.endpoints.admin}/status`);
    expect(status.status).toBe(200);

    const issued = await nextValues(first.endpoint, 'orders', 3);
    expect(issued).toEqual([2n, 5n, 8n]);
    // 49 behind the client's last value: within seqgen's drift of 100 (ticket-server's default, 30, would jump).
    issued.push(await nextValue(first.endpoint, 'orders', '60'));
    expect(issued[3]).toBe(11n);
    // 486 behind: beyond 100, so it jumps to the first value of its class above 500.
    issued.push(await nextValue(first.endpoint, 'orders', '500'));
    expect(issued[4]).toBe(503n);
    expect((await first.stop()).code).toBe(0);

    const second = await startServer(args, { command: 'seqgen' });
    const after = await nextValues(second.endpoint, 'orders', 3);
    expectNoRepeat(issued, after);
    for (const value of after) expect(value % 3n).toBe(2n);
  });

  it('proxy mode: --host forwards to a seqgen server', async () => {
    const data = await createTempDir('legacy-seqgen-');
    const upstream = await startServer(['--bind', 'tcp://127.0.0.1:0', '--admin', 'off', '--data', data], { command: 'seqgen' });
    const proxy = await startServer(['--host', upstream.endpoint, '--bind', 'tcp://127.0.0.1:0', '--admin', 'off'], { command: 'seqgen' });
    expect(await nextValues(proxy.endpoint, 'via-proxy', 2)).toEqual([1n, 2n]);
    expect(proxy.logLines().some((line) => typeof line.msg === 'string' && line.msg.startsWith('proxy mode'))).toBe(true);
  });

  it('a bad flag stops it with exit 2 naming the flag', async () => {
    const result = await runCli(['--instnce', '2'], { command: 'seqgen' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('seqgen: unknown option --instnce');
    const https = await runCli(['--admin', 'https://127.0.0.1:0', '--bind', 'tcp://127.0.0.1:0', '--store', 'memory:'], { command: 'seqgen' });
    expect(https.code).toBe(2);
    expect(https.stderr).toContain('--admin');
    expect(https.stderr).toContain('--tls-cert');
  });
});

describe('txn-id-server', () => {
  it('-instance 2 -increment 3 over one-shot TCP gives 2, 5, 8; only TCP listens; a restart repeats nothing', async () => {
    const data = await createTempDir('legacy-txnid-');
    const args = ['-ip', '127.0.0.1', '-port', '0', '-instance', '2', '-increment', '3', '-confdir', data];
    const first = await startServer(args, { command: 'txn-id-server' });
    expect(notice(first, 'txn-id-server')).toContain('--instance 2 --instances 3 --offset 1');
    expect(Object.keys(first.endpoints)).toEqual(['tcp']);
    const issued = await oneShots(first.endpoints.tcp as string, 3);
    expect(issued).toEqual([2n, 5n, 8n]);
    expect((await first.stop()).code).toBe(0);

    // Two dashes and -flag=value, as Go's flag package takes them.
    const second = await startServer(['--ip=127.0.0.1', '--port=0', '--instance=2', '--increment=3', `--confdir=${data}`], { command: 'txn-id-server' });
    const after = await oneShots(second.endpoints.tcp as string, 3);
    expectNoRepeat(issued, after);
    for (const value of after) expect(value % 3n).toBe(2n);
  });

  it('reads TXNID_SERVER_* first and lets flags override them; -daemon is ignored with a notice', async () => {
    const data = await createTempDir('legacy-txnid-');
    const env = { TXNID_SERVER_IP: '127.0.0.1', TXNID_SERVER_INSTANCE: '1', TXNID_SERVER_INCREMENT: '3', TXNID_SERVER_CONFDIR: data };
    const server = await startServer(['-port', '0', '-instance', '2', '-daemon'], { command: 'txn-id-server', env });
    expect(server.endpoints.tcp).toMatch(/^127\.0\.0\.1:[0-9]+$/);
    expect(await oneShots(server.endpoints.tcp as string, 2)).toEqual([2n, 5n]);
    expect(notice(server, 'txn-id-server')).toContain('-daemon ignored');
    expect(server.logLines().find((line) => line.msg === 'store open')?.store).toBe(`lmdb:${data}`);
  });

  it.each([
    [['-instance', '40000'], '-instance'],
    [['-increment', '0'], '-increment'],
    [['-port', 'x'], '-port'],
    [['--verbose'], '--verbose'],
  ])('%j stops it with exit 2 naming %s', async (argv, named) => {
    const result = await runCli(argv, { command: 'txn-id-server' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^txn-id-server: .*${named}`));
    expect(result.stdout).not.toContain('"ready"');
  });
});

describe('ticketd', () => {
  it('POST / on --http_port answers a ticket as text; no ZeroMQ, no admin; a restart repeats nothing', async () => {
    const data = await createTempDir('legacy-ticketd-');
    const args = ['--http_port', '127.0.0.1:0', '--data', data];
    const first = await startServer(args, { command: 'ticketd' });
    expect(notice(first, 'ticketd')).toContain('--http 127.0.0.1:0');
    expect(Object.keys(first.endpoints)).toEqual(['http']);
    const issued: bigint[] = [];
    for (let index = 0; index < 3; index++) {
      const reply = await fetchText(`${first.endpoints.http}/`, { method: 'POST' });
      expect(reply.status).toBe(200);
      expect(reply.body).toMatch(/^[1-9][0-9]*$/);
      issued.push(BigInt(reply.body));
    }
    expect(issued).toEqual([1n, 2n, 3n]);
    expect((await first.stop()).code).toBe(0);

    const second = await startServer(args, { command: 'ticketd' });
    const reply = await fetchText(`${second.endpoints.http}/`, { method: 'POST' });
    expectNoRepeat(issued, [BigInt(reply.body)]);
  });

  it('the README\'s peer list without an etcd store stops it with exit 2 pointing at --store etcd:// --leader', async () => {
    const result = await runCli(['127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003', '--peer_port', '9001', '--http_port', '8001'], { command: 'ticketd' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ticketd: a ticketd cluster (PEERS, --peer_port) needs a consensus store');
    expect(result.stderr).toContain('--store etcd://HOST:PORT,… --leader');
  });

  it('a bad flag stops it with exit 2 naming the flag', async () => {
    const result = await runCli(['--http-port', '8001'], { command: 'ticketd' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--http-port');
  });
});

describe.skipIf(!dbAvailable('mariadb'))('tickr on MariaDB', () => {
  let db: DbServer;

  beforeAll(async () => {
    db = await startMariadb();
  }, 120_000);

  /** Tickr's variables for the test database. */
  async function tickrEnvironment(): Promise<Record<string, string>> {
    const url = new URL(await emptyStoreUri(db));
    return {
      TICKR_DATABASE_HOST: url.host,
      TICKR_DATABASE_USERNAME: decodeURIComponent(url.username),
      TICKR_DATABASE_PASSWORD: decodeURIComponent(url.password),
      TICKR_DATABASE_NAME: url.pathname.slice(1),
      TICKR_MAX_NODES: '4',
      TICKR_NODE_NUMBER: '0',
      // Native variables win over tickr's 0.0.0.0:9292: loopback, a free port.
      TICKET_SERVER_HTTP: '127.0.0.1:0',
    };
  }

  it('GET /tickets/create/3 and /status from TICKR_* only; a restart repeats nothing', async () => {
    const env = await tickrEnvironment();
    const first = await startServer([], { command: 'tickr', env });
    expect(notice(first, 'tickr')).toContain('TICKR_DATABASE_HOST');
    expect(notice(first, 'tickr')).not.toContain(env.TICKR_DATABASE_PASSWORD as string);
    expect(Object.keys(first.endpoints)).toEqual(['http']);
    expect(first.logLines().find((line) => line.msg === 'store open')?.store).toMatch(/^mysql:/);

    const created = await fetchText(`${first.endpoints.http}/tickets/create/3`);
    expect(created.status).toBe(200);
    expect(created.body).toBe('[1,5,9]');
    const status = await fetchText(`${first.endpoints.http}/status`);
    expect(JSON.parse(status.body)).toMatchObject({ last_ticket: 9 });
    expect((await first.stop()).code).toBe(0);

    const second = await startServer([], { command: 'tickr', env });
    const again = JSON.parse((await fetchText(`${second.endpoints.http}/tickets/create`)).body) as number[];
    expect(again).toHaveLength(1);
    expectNoRepeat([1n, 5n, 9n], again.map((value) => BigInt(value)));
    expect(BigInt(again[0] as number) % 4n).toBe(1n);
  });
});

describe('tickr without a database', () => {
  it('without its database variables it stops with exit 2 saying which Tickr needs', async () => {
    const result = await runCli([], { command: 'tickr', env: { TICKR_MAX_NODES: '4' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('TICKR_DATABASE_HOST and TICKR_DATABASE_NAME');
  });
});

describe('every command', () => {
  it('refuses a start with every listener off (exit 2), as ticket-server does', async () => {
    const legacy = await runCli(['--tcp', 'off', '--store', 'memory:'], { command: 'txn-id-server' });
    expect(legacy.code).toBe(2);
    expect(legacy.stderr).toContain('txn-id-server: nothing to serve');
    const native = await runCli(['--bind', 'off', '--http', 'off', '--admin', 'off', '--store', 'memory:']);
    expect(native.code).toBe(2);
    expect(native.stderr).toContain('ticket-server: nothing to serve');
  });

  it.each(['seqgen', 'txn-id-server', 'ticketd', 'tickr'] as const)('%s --help and --version', async (command) => {
    const help = await runCli(['--help'], { command });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain(`${command} —`);
    const version = await runCli(['--version'], { command });
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^[0-9]+\.[0-9]+\.[0-9]+/);
  });
});
