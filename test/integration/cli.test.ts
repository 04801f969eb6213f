/**
 * The command line (SPEC §10): --help and --version, invalid options (exit
 * code 2, the option named), configuration precedence and the earlier
 * systems' environment variables, and the dump/restore commands.
 *
 * Numbering settings are observed the way a user sees them: through the
 * values a server issues.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CLI_PATH, PROJECT_ROOT, cleanEnvironment, createTempDir, removeTempDirs, runCli, startServer, stopAllServers, type ServerProcess } from '../helpers/server-process.js';
import { nextValue, nextValues, requestTicket } from '../helpers/zmq-client.js';

afterEach(async () => {
  await stopAllServers();
});

afterAll(async () => {
  await removeTempDirs();
});

/** Arguments that keep a server that should not have started harmless: loopback only, nothing on disk. */
function contained(args: readonly string[], env: Record<string, string> = {}): string[] {
  const result = [...args];
  const has = (flag: string): boolean => args.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
  if (!has('--bind') && env.TICKET_SERVER_BIND === undefined) result.push('--bind', 'tcp://127.0.0.1:0');
  if (!has('--http') && env.TICKET_SERVER_HTTP === undefined) result.push('--http', '127.0.0.1:0');
  if (!has('--admin') && env.TICKET_SERVER_ADMIN === undefined) result.push('--admin', '127.0.0.1:0');
  if (!has('--store') && !has('--data')) result.push('--store', 'memory:');
  return result;
}

/** Starts a server on the non-durable memory store (for tests about settings, not durability). */
async function startInMemory(args: readonly string[], env?: Record<string, string>): Promise<ServerProcess> {
  return startServer([...args, '--store', 'memory:'], env ? { env } : {});
}

/** The first three values a fresh sequence gets. */
async function firstThree(server: ServerProcess, name = 'probe'): Promise<bigint[]> {
  return nextValues(server.endpoint, name, 3);
}

const ALL_OPTIONS = [
  '--config',
  '--instance',
  '--instances',
  '--offset',
  '--drift',
  '--max-jump',
  '--max-block',
  '--max-sequences',
  '--strict-sequences',
  '--data',
  '--store',
  '--bind',
  '--store-timeout',
  '--log-level',
];

describe('--help and --version', () => {
  it.each([['--help'], ['-h']])('prints usage naming every option and command with %s, exit code 0', async (flag) => {
    const result = await runCli([flag]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    for (const option of ALL_OPTIONS) {
      expect(result.stdout).toMatch(new RegExp(`${option}\\b`));
    }
    for (const command of ['serve', 'dump', 'restore']) expect(result.stdout).toContain(command);
    expect(result.stdout).toContain('TICKET_SERVER_MAX_BLOCK');
    expect(result.stdout.split('\n').filter((line) => [...line].length > 100)).toEqual([]);
  });

  it.each([['--version'], ['-V']])('prints the version of package.json with %s, exit code 0', async (flag) => {
    const { version } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
    const result = await runCli([flag]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });
});

describe('per-command --help', () => {
  it.each([
    ['serve', '--help'],
    ['dump', '-h'],
    ['restore', '--help'],
    ['takeover', '-h'],
    ['next', '--help'],
    ['status', '-h'],
    ['completion', '--help'],
  ])('prints the usage, options and an example of %s with %s, exit code 0', async (command, flag) => {
    const result = await runCli([command, flag]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const usage = result.stdout.split('\n')[0] ?? '';
    expect(usage).toMatch(/^Usage: ticket-server /);
    expect(usage).toContain(command);
    expect(result.stdout).toContain('Options:');
    expect(result.stdout).toMatch(new RegExp(`Examples:\n  ticket-server ${command === 'serve' ? '' : command}`));
    expect(result.stdout.split('\n').filter((line) => [...line].length > 100)).toEqual([]);
  });

  it('lists the option table under dump --help and only its own options under next --help', async () => {
    const dump = await runCli(['dump', '--help']);
    expect(dump.stdout).toContain('--data DIR');
    expect(dump.stdout).toContain('TICKET_SERVER_STORE');
    const next = await runCli(['next', '--help']);
    expect(next.stdout).toContain('--count N');
    expect(next.stdout).not.toContain('--data');
  });
});

describe('a listener whose port is taken', () => {
  let holder: Server | undefined;

  afterEach(async () => {
    await new Promise<void>((resolve) => (holder ? holder.close(() => resolve()) : resolve()));
    holder = undefined;
  });

  /** Holds a loopback port with a plain TCP listener, so any protocol's bind on it fails. */
  async function takenPort(): Promise<number> {
    const server = createNetServer();
    holder = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  it.each([
    ['--http', (port: number) => `127.0.0.1:${port}`],
    ['--admin', (port: number) => `127.0.0.1:${port}`],
    ['--tcp', (port: number) => `127.0.0.1:${port}`],
    ['--line', (port: number) => `127.0.0.1:${port}`],
    ['--bind', (port: number) => `tcp://127.0.0.1:${port}`],
  ])('exits 1 naming the address and %s', async (option, value) => {
    const port = await takenPort();
    const result = await runCli(contained(['serve', option, value(port)]));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`ticket-server: cannot listen on ${value(port)} for ${option} (address already in use)`);
  });
});

describe('invalid options', () => {
  it.each<[string, string[], string]>([
    ['--instances 0', ['--instances', '0'], '--instances'],
    ['--instances 65537', ['--instances', '65537'], '--instances'],
    ['--instance 3 with --instances 2', ['--instance', '3', '--instances', '2'], '--instance'],
    ['--instance 0', ['--instance', '0'], '--instance'],
    ['--offset -1', ['--offset', '-1'], '--offset'],
    ['--offset=-1', ['--offset=-1'], '--offset'],
    ['--offset 0', ['--offset', '0'], '--offset'],
    ['--offset above 2^63 − 1', ['--offset', '9223372036854775808'], '--offset'],
    ['--max-block abc', ['--max-block', 'abc'], '--max-block'],
    ['--max-block 0', ['--max-block', '0'], '--max-block'],
    ['--max-block 1.5', ['--max-block', '1.5'], '--max-block'],
    ['--drift abc', ['--drift', 'abc'], '--drift'],
    ['--max-jump=-5', ['--max-jump=-5'], '--max-jump'],
    ['--max-sequences 0', ['--max-sequences', '0'], '--max-sequences'],
    ['--store-timeout 0', ['--store-timeout', '0'], '--store-timeout'],
    ['--strict-sequences=maybe', ['--strict-sequences=maybe'], '--strict-sequences'],
    ['--bind garbage', ['--bind', 'garbage'], '--bind'],
    ['--bind with a port above 65535', ['--bind', 'tcp://127.0.0.1:70000'], '--bind'],
    ['--store redis://x', ['--store', 'redis://localhost'], '--store'],
    ['--log-level loud', ['--log-level', 'loud'], '--log-level'],
    ['--config of a missing file', ['--config', '/nonexistent/ticket-server.json'], '--config'],
    ['a flag without its value', ['--instances'], '--instances'],
    ['an unknown flag', ['--frobnicate'], '--frobnicate'],
    ['an unknown command', ['frobnicate'], 'frobnicate'],
    ['an extra argument after serve', ['serve', 'extra'], 'extra'],
    ['restore without a FILE', ['restore'], 'restore'],
  ])('exits with code 2 and names the culprit for %s', async (_label, args, named) => {
    const result = await runCli(contained(args));
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(named);
    expect(result.stdout).not.toContain('"listening"');
  });

  it.each<[string, Record<string, string>, string]>([
    ['TICKET_SERVER_INSTANCES=abc', { TICKET_SERVER_INSTANCES: 'abc' }, 'TICKET_SERVER_INSTANCES'],
    ['TICKET_SERVER_BIND=garbage', { TICKET_SERVER_BIND: 'garbage' }, 'TICKET_SERVER_BIND'],
    ['TICKET_SERVER_MAX_BLOCK=-3', { TICKET_SERVER_MAX_BLOCK: '-3' }, 'TICKET_SERVER_MAX_BLOCK'],
    ['TICKR_NODE_NUMBER=first', { TICKR_NODE_NUMBER: 'first' }, 'TICKR_NODE_NUMBER'],
    ['TICKR_MAX_NODES=0', { TICKR_MAX_NODES: '0' }, 'TICKR_MAX_NODES'],
    ['TXNID_SERVER_INCREMENT=x', { TXNID_SERVER_INCREMENT: 'x' }, 'TXNID_SERVER_INCREMENT'],
  ])('exits with code 2 and names the variable for %s', async (_label, env, named) => {
    const result = await runCli(contained([], env), { env });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(named);
  });

  it('exits with code 2 and names the key and the file for an invalid value in --config', async () => {
    const config = join(await createTempDir(), 'config.json');
    await writeFile(config, JSON.stringify({ maxBlock: 'lots' }));
    const result = await runCli(contained(['--config', config]));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('maxBlock');
    expect(result.stderr).toContain(config);
  });

  it('exits with code 2 for a number in --config that JSON cannot carry exactly, and says to quote it', async () => {
    const config = join(await createTempDir(), 'config.json');
    await writeFile(config, '{"offset": 9007199254740993}');
    const result = await runCli(contained(['--config', config]));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('"offset"');
    expect(result.stderr).toContain('quote it as a string');
  });

  it('exits with code 2 for an unknown key in --config', async () => {
    const config = join(await createTempDir(), 'config.json');
    await writeFile(config, JSON.stringify({ instancez: 2 }));
    const result = await runCli(contained(['--config', config]));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('instancez');
  });

  // KNOWN BUG (reported; remove `.fails` once fixed): --help documents "0 or -1 disables" for
  // --drift, but node:util parseArgs takes `-1` for a flag and the CLI exits 2 with "argument is
  // ambiguous"; only `--drift=-1` works.
  it('accepts --drift -1, which --help documents as a way to disable jumping', async () => {
    const server = await startInMemory(['--drift', '-1']);
    expect(await nextValue(server.endpoint, 'probe')).toBe(1n);
  });
});

describe('configuration precedence: defaults < --config < aliases < TICKET_SERVER_* < flags', () => {
  const writeConfig = async (content: Record<string, unknown>): Promise<string> => {
    const config = join(await createTempDir(), 'ticket-server.json');
    await writeFile(config, JSON.stringify(content));
    return config;
  };

  it('takes the number of instances from --config when nothing else sets it', async () => {
    const server = await startInMemory(['--config', await writeConfig({ instances: 4 })]);
    expect(await firstThree(server)).toEqual([1n, 5n, 9n]);
  });

  it('lets TICKET_SERVER_INSTANCES override --config', async () => {
    const server = await startInMemory(['--config', await writeConfig({ instances: 4 })], { TICKET_SERVER_INSTANCES: '3' });
    expect(await firstThree(server)).toEqual([1n, 4n, 7n]);
  });

  it('lets a flag override both TICKET_SERVER_INSTANCES and --config', async () => {
    const server = await startInMemory(['--config', await writeConfig({ instances: 4 }), '--instances', '2'], {
      TICKET_SERVER_INSTANCES: '3',
    });
    expect(await firstThree(server)).toEqual([1n, 3n, 5n]);
  });

  it('lets an alias (TICKR_MAX_NODES) override --config', async () => {
    const server = await startInMemory(['--config', await writeConfig({ instances: 4 })], { TICKR_MAX_NODES: '5' });
    expect(await firstThree(server)).toEqual([1n, 6n, 11n]);
  });

  it('lets TICKET_SERVER_INSTANCES override an alias (TICKR_MAX_NODES)', async () => {
    const server = await startInMemory([], { TICKR_MAX_NODES: '5', TICKET_SERVER_INSTANCES: '3' });
    expect(await firstThree(server)).toEqual([1n, 4n, 7n]);
  });

  it('reads camelCase keys in --config', async () => {
    const server = await startInMemory(['--config', await writeConfig({ offset: '500', maxJump: 10 })]);
    const name = 'camel';
    expect(await nextValue(server.endpoint, name)).toBe(500n);
    expect(await requestTicket(server.endpoint, name, '100000')).toEqual(['EJUMP', expect.any(String)]);
  });

  it('takes the config file path from TICKET_SERVER_CONFIG', async () => {
    const server = await startInMemory([], { TICKET_SERVER_CONFIG: await writeConfig({ instances: 4 }) });
    expect(await firstThree(server)).toEqual([1n, 5n, 9n]);
  });
});

describe("the earlier systems' environment variables", () => {
  it('maps TICKR_NODE_NUMBER=1 (0-based) with TICKR_MAX_NODES=2 to instance 2, which issues even values', async () => {
    const server = await startInMemory([], { TICKR_NODE_NUMBER: '1', TICKR_MAX_NODES: '2' });
    expect(await firstThree(server)).toEqual([2n, 4n, 6n]);
  });

  it('maps TICKR_NODE_NUMBER=0 to instance 1', async () => {
    const server = await startInMemory([], { TICKR_NODE_NUMBER: '0', TICKR_MAX_NODES: '2' });
    expect(await firstThree(server)).toEqual([1n, 3n, 5n]);
  });

  it('maps TICKR_STARTING_OFFSET to the offset', async () => {
    const server = await startInMemory([], { TICKR_STARTING_OFFSET: '100', TICKR_MAX_NODES: '2', TICKR_NODE_NUMBER: '1' });
    expect(await firstThree(server)).toEqual([101n, 103n, 105n]);
  });

  it('maps TXNID_SERVER_INCREMENT and TXNID_SERVER_INSTANCE to instances and instance', async () => {
    const server = await startInMemory([], { TXNID_SERVER_INCREMENT: '3', TXNID_SERVER_INSTANCE: '2' });
    expect(await firstThree(server)).toEqual([2n, 5n, 8n]);
  });

  it('takes the data directory from TXNID_SERVER_CONFDIR', async () => {
    const dataDir = join(await createTempDir(), 'confdir');
    const first = await startServer([], { env: { TXNID_SERVER_CONFDIR: dataDir } });
    expect(first.logLines().find((line) => line.msg === 'store open')?.store).toBe(`lmdb:${dataDir}`);
    expect(await nextValues(first.endpoint, 'txn', 3)).toEqual([1n, 2n, 3n]);
    expect((await first.stop()).code).toBe(0);
    expect(existsSync(join(dataDir, 'data.mdb'))).toBe(true);

    // The same directory named by --data holds the same sequence.
    const second = await startServer([], { dataDir });
    expect(await nextValue(second.endpoint, 'txn')).toBe(4n);
  });
});

interface DumpDocument {
  format: string;
  version: number;
  numbering: { instance: number; instances: number; offset: string };
  sequences: Array<{ name: string; next_slot: string; floor: string }>;
}

async function dumpOf(dataDir: string, numbering: readonly string[] = []): Promise<DumpDocument> {
  const result = await runCli(['dump', ...numbering, '--data', dataDir]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as DumpDocument;
}

async function writeDump(document: unknown): Promise<string> {
  const file = join(await createTempDir(), 'dump.json');
  await writeFile(file, typeof document === 'string' ? document : JSON.stringify(document));
  return file;
}

async function restoreInto(dataDir: string, files: readonly string[], numbering: readonly string[] = []): Promise<{ restored: number; raised: number }> {
  const result = await runCli(['restore', ...files, ...numbering, '--data', dataDir]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as { restored: number; raised: number };
}

describe('dump and restore', () => {
  it('refuses to dump a directory that holds no store, and creates nothing there', async () => {
    const missing = join(await createTempDir(), 'not-a-store');
    const result = await runCli(['dump', '--data', missing]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no ticket-server data');
    expect(existsSync(missing)).toBe(false);
  });

  it('dumps every sequence with its next slot and the highest value it may have issued', async () => {
    const dataDir = await createTempDir();
    const numbering = ['--instances', '2', '--instance', '2'];
    const server = await startServer(numbering, { dataDir });
    for (let index = 0; index < 3; index++) await nextValue(server.endpoint, 'orders');
    expect(await nextValues(server.endpoint, 'invoices', 10)).toHaveLength(10);
    expect((await server.stop()).code).toBe(0);

    const document = await dumpOf(dataDir, numbering);
    expect(document).toMatchObject({
      format: 'ticket-server-dump',
      version: 1,
      numbering: { instance: 2, instances: 2, offset: '1' },
    });
    // After a graceful stop nothing is reserved beyond what was issued: orders issued 2, 4, 6.
    expect(document.sequences).toEqual([
      { name: 'invoices', next_slot: '11', floor: '20' },
      { name: 'orders', next_slot: '4', floor: '6' },
    ]);
  });

  it('restores into a fresh data directory so that the next values are above the floors', async () => {
    const source = await createTempDir();
    const server = await startServer([], { dataDir: source });
    await nextValues(server.endpoint, 'orders', 5);
    await nextValues(server.endpoint, 'invoices', 12);
    await server.stop();
    const file = await writeDump(await dumpOf(source));

    const target = await createTempDir();
    expect(await restoreInto(target, [file])).toEqual({ restored: 2, raised: 2 });
    const restored = await startServer([], { dataDir: target });
    expect(await nextValue(restored.endpoint, 'orders')).toBe(6n);
    expect(await nextValue(restored.endpoint, 'invoices')).toBe(13n);
    expect(await nextValue(restored.endpoint, 'new-one')).toBe(1n);
  });

  it('renumbers two instances into three by restoring both dumps above the highest floor', async () => {
    const odd = await createTempDir();
    const even = await createTempDir();
    const oddServer = await startServer(['--instances', '2', '--instance', '1'], { dataDir: odd });
    const evenServer = await startServer(['--instances', '2', '--instance', '2'], { dataDir: even });
    await nextValues(oddServer.endpoint, 'orders', 10); // 1 … 19
    await nextValues(evenServer.endpoint, 'orders', 4); // 2 … 8
    await Promise.all([oddServer.stop(), evenServer.stop()]);
    const files = [
      await writeDump(await dumpOf(odd, ['--instances', '2', '--instance', '1'])),
      await writeDump(await dumpOf(even, ['--instances', '2', '--instance', '2'])),
    ];

    const renumbered = ['--instances', '3', '--instance', '1'];
    const target = await createTempDir();
    expect(await restoreInto(target, files, renumbered)).toEqual({ restored: 1, raised: 1 });
    const server = await startServer(renumbered, { dataDir: target });
    // Instance 1 of 3 issues 1, 4, 7, …: the smallest above 19 is 22.
    expect(await nextValues(server.endpoint, 'orders', 2)).toEqual([22n, 25n]);
  });

  it('never lowers a sequence: an old dump restored after more values were issued changes nothing', async () => {
    const dataDir = await createTempDir();
    const first = await startServer([], { dataDir });
    await nextValues(first.endpoint, 'orders', 5);
    await first.stop();
    const oldDump = await writeDump(await dumpOf(dataDir));

    const second = await startServer([], { dataDir });
    expect(await nextValues(second.endpoint, 'orders', 10)).toEqual([6n, 7n, 8n, 9n, 10n, 11n, 12n, 13n, 14n, 15n]);
    await second.stop();

    expect(await restoreInto(dataDir, [oldDump])).toEqual({ restored: 1, raised: 0 });
    const third = await startServer([], { dataDir });
    expect(await nextValue(third.endpoint, 'orders')).toBe(16n);
  });

  // KNOWN BUG (reported; remove `.fails` once fixed): restore counts a sequence as raised when its
  // position already equals the target slot (src/cli/main.ts: `lease.start === target`), so
  // restoring the dump just taken reports {"raised": 1} although nothing moved.
  it('reports raised 0 when a dump is restored onto the position it was taken from', async () => {
    const dataDir = await createTempDir();
    const server = await startServer([], { dataDir });
    await nextValues(server.endpoint, 'orders', 5);
    await server.stop();
    const file = await writeDump(await dumpOf(dataDir));
    expect(await restoreInto(dataDir, [file])).toEqual({ restored: 1, raised: 0 });
  });

  const MALFORMED: Array<[string, unknown]> = [
    ['text that is not JSON', '{"format": "ticket-server-dump", '],
    ['JSON of another format', { format: 'something-else', version: 1, sequences: [] }],
    ['a dump without sequences', { format: 'ticket-server-dump', version: 1 }],
    ['a floor that is negative', { format: 'ticket-server-dump', version: 1, sequences: [{ name: 'orders', next_slot: '1', floor: '-1' }] }],
    ['a floor that is not a number', { format: 'ticket-server-dump', version: 1, sequences: [{ name: 'orders', next_slot: '1', floor: 'lots' }] }],
    ['a floor above 2^63 − 1', { format: 'ticket-server-dump', version: 1, sequences: [{ name: 'orders', next_slot: '1', floor: '9223372036854775808' }] }],
    ['an empty sequence name', { format: 'ticket-server-dump', version: 1, sequences: [{ name: '', next_slot: '1', floor: '5' }] }],
  ];

  it.each(MALFORMED)('refuses %s with exit code 2, naming the file, and changes nothing', async (_label, content) => {
    const dataDir = await createTempDir();
    const server = await startServer([], { dataDir });
    await nextValues(server.endpoint, 'orders', 3);
    await server.stop();
    const before = await dumpOf(dataDir);

    // A valid dump listed first must not be applied either: the files are checked before anything is written.
    const valid = await writeDump({ format: 'ticket-server-dump', version: 1, sequences: [{ name: 'orders', next_slot: '1001', floor: '1000' }] });
    const bad = await writeDump(content);
    const result = await runCli(['restore', valid, bad, '--data', dataDir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(bad);

    expect(await dumpOf(dataDir)).toEqual(before);
    const again = await startServer([], { dataDir });
    expect(await nextValue(again.endpoint, 'orders')).toBe(4n);
  });

  it('refuses a restore FILE that does not exist with exit code 2', async () => {
    const result = await runCli(['restore', '/nonexistent/dump.json', '--data', await createTempDir()]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('/nonexistent/dump.json');
  });
});

describe('progress of a long restore', () => {
  /** A dump file of `count` sequences, each with floor 9. */
  async function bigDump(dir: string, count: number): Promise<string> {
    const sequences = Array.from({ length: count }, (_unused, index) => ({ name: `p${index}`, next_slot: '10', floor: '9' }));
    const file = join(dir, 'big-dump.json');
    await writeFile(file, JSON.stringify({ format: 'ticket-server-dump', version: 1, store: 'x', numbering: { instance: 1, instances: 1, offset: '1' }, sequences }));
    return file;
  }

  it('writes nothing on stderr when stderr is not a terminal', async () => {
    const dir = await createTempDir();
    const result = await runCli(['restore', await bigDump(dir, 2500), '--data', join(dir, 'data')]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ restored: 2500, raised: 2500 });
  });

  it.skipIf(!existsSync('/usr/bin/script'))('counts sequences on stderr when it is a terminal (script gives it one)', async () => {
    const dir = await createTempDir();
    const file = await bigDump(dir, 2500);
    const command = [process.execPath, CLI_PATH, 'restore', file, '--data', join(dir, 'data')].map((part) => `'${part}'`).join(' ');
    const { stdout: output } = await promisify(execFile)('/usr/bin/script', ['-qec', command, '/dev/null'], {
      env: cleanEnvironment(),
      timeout: 60_000,
      cwd: dir,
    });
    // Reports come every 1000 sequences or every second, whichever is first: which counts appear depends on speed.
    expect(output).toMatch(/\rrestore: sequences: [0-9]+\/2500/);
    expect(output).toContain('\rrestore: sequences: 2500/2500');
  });
});

describe('sequence limits', () => {
  it('serves restored sequences under --strict-sequences and answers ENOSEQ for any other name', async () => {
    const dataDir = await createTempDir();
    const file = await writeDump({ format: 'ticket-server-dump', version: 1, sequences: [{ name: 'orders', next_slot: '41', floor: '40' }] });
    expect(await restoreInto(dataDir, [file])).toEqual({ restored: 1, raised: 1 });

    const server = await startServer(['--strict-sequences'], { dataDir });
    expect(await nextValue(server.endpoint, 'orders')).toBe(41n);
    expect(await requestTicket(server.endpoint, 'invoices')).toEqual(['ENOSEQ', expect.any(String)]);
    expect(await requestTicket(server.endpoint, 'invoices', '0', 5)).toEqual(['ENOSEQ', expect.any(String)]);
    expect(await requestTicket(server.endpoint, 'Orders')).toEqual(['ENOSEQ', expect.any(String)]);
    expect(await nextValue(server.endpoint, 'orders')).toBe(42n);
  });

  it('answers ENOSEQ for every name on an empty store under --strict-sequences', async () => {
    const server = await startInMemory(['--strict-sequences']);
    expect(await requestTicket(server.endpoint, 'anything')).toEqual(['ENOSEQ', expect.any(String)]);
  });

  it('answers ELIMIT for a third name under --max-sequences 2 and keeps serving the first two', async () => {
    const dataDir = await createTempDir();
    const server = await startServer(['--max-sequences', '2'], { dataDir });
    expect(await nextValue(server.endpoint, 'first')).toBe(1n);
    expect(await nextValue(server.endpoint, 'second')).toBe(1n);
    expect(await requestTicket(server.endpoint, 'third')).toEqual(['ELIMIT', expect.any(String)]);
    expect(await requestTicket(server.endpoint, 'third', '0', 3)).toEqual(['ELIMIT', expect.any(String)]);
    expect(await nextValue(server.endpoint, 'first')).toBe(2n);
    expect(await nextValue(server.endpoint, 'second')).toBe(2n);
    await server.stop();

    // The limit counts the sequences already in the store after a restart.
    const restarted = await startServer(['--max-sequences', '2'], { dataDir });
    expect(await requestTicket(restarted.endpoint, 'third')).toEqual(['ELIMIT', expect.any(String)]);
    expect(await nextValue(restarted.endpoint, 'first')).toBe(3n);
  });
});

describe('the LMDB data directory', () => {
  // KNOWN BUG (reported; remove `.fails` once fixed): lmdb-js opens a path with an extension as a
  // file (noSubdir) unless told otherwise, and src/store/lmdb-store.ts does not pass
  // `noSubdir: false`, so a directory such as `data.v2` or `/tmp/tmp.Ab12` makes the server exit
  // with "Is a directory: Attempting to open main database file".
  it('serves from a data directory whose name contains a dot', async () => {
    const dataDir = join(await createTempDir(), 'tickets.v2');
    const server = await startServer([], { dataDir });
    expect(await nextValue(server.endpoint, 'dotted')).toBe(1n);
  });
});
