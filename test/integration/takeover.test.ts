/**
 * `ticket-server takeover SOURCE…` end to end (docs/takeover.md): for each
 * earlier system, its state is built as it would exist (a sequences.json, a
 * txnid.dat, a MariaDB ticket table, a PostgreSQL sequence and table), takeover
 * runs as the built CLI, and a real server started afterwards must issue
 * above everything the earlier system may have issued. Also: idempotence,
 * several sources, malformed sources changing nothing, the data-directory
 * lock, the numbering options, and a shared PostgreSQL store with a server running.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTempDir, removeTempDirs, runCli, startServer, stopAllServers, urlOf, type ServerProcess } from '../helpers/server-process.js';
import { dbAvailable, destroyAllDbServers, emptyStoreUri, startMariadb, startPostgres, type DbServer } from '../helpers/db-servers.js';

afterEach(async () => {
  await stopAllServers();
});

afterAll(async () => {
  await stopAllServers();
  await destroyAllDbServers();
  await removeTempDirs();
});

const REQUEST_TIMEOUT_MS = 10_000;
const DB_START_TIMEOUT_MS = 120_000;

/** First `count` values of `name` from a running server, over `POST /v1/sequences/{name}/next`. */
async function nextValues(server: ServerProcess, name: string, count = 1): Promise<bigint[]> {
  const response = await fetch(`${urlOf(server, 'http')}/v1/sequences/${encodeURIComponent(name)}/next`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ count }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return (JSON.parse(text) as { values: string[] }).values.map((value) => BigInt(value));
}

/** Starts a server on `dataDir` (plus `extra`), takes the first value of each sequence, stops it. */
async function firstValues(dataDir: string, names: readonly string[], extra: readonly string[] = []): Promise<Map<string, bigint>> {
  const server = await startServer([...extra], { dataDir });
  try {
    const result = new Map<string, bigint>();
    for (const name of names) result.set(name, (await nextValues(server, name))[0] as bigint);
    return result;
  } finally {
    await server.stop();
  }
}

/** `NAME: FLOOR (raised|unchanged)` lines as a map. */
function parseLines(stdout: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const line of stdout.split('\n').filter((text) => text !== '')) {
    const match = /^(.+): ([0-9]+) \((raised|unchanged)\)$/.exec(line);
    expect(match, `line ${JSON.stringify(line)}`).not.toBeNull();
    result.set(match?.[1] as string, `${match?.[2]} ${match?.[3]}`);
  }
  return result;
}

/** The store's state as `dump` reports it (the way to check that nothing changed). */
async function dumpState(args: readonly string[], dataDir?: string): Promise<string> {
  const result = await runCli(['dump', ...args], dataDir === undefined ? {} : { dataDir });
  if (result.code !== 0) return `exit ${result.code}: ${result.stderr}`;
  return JSON.stringify((JSON.parse(result.stdout) as { sequences: unknown }).sequences);
}

describe('takeover from files on the embedded store', () => {
  let files: string;

  beforeAll(async () => {
    files = await createTempDir('ticket-server-takeover-files-');
    // seqgen wrote numbers; values above 2^53 as strings, and one bare number above 2^53 (a hand-edited file).
    await writeFile(
      join(files, 'sequences.json'),
      '{\n  "orders": 1500,\n  "invoices": "9007199254740993",\n  "big": 18014398509481985,\n  "default": "7"\n}\n',
    );
    await writeFile(join(files, 'txnid.dat'), '3|1234|1|\n');
    await writeFile(join(files, 'broken.json'), '{"orders": 1500,');
    await writeFile(join(files, 'broken.dat'), '3|1234|\n');
  });

  it('raises every sequence above what seqgen, txn-id-server and ticketd issued, once', async () => {
    const dataDir = await createTempDir();
    const seqgen = `seqgen:${join(files, 'sequences.json')}`;
    const first = await runCli(['takeover', seqgen], { dataDir });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(parseLines(first.stdout)).toEqual(
      new Map([
        ['orders', '1500 raised'],
        ['invoices', '9007199254740993 raised'],
        ['big', '18014398509481985 raised'],
        ['default', '7 raised'],
      ]),
    );
    const txnid = await runCli(['takeover', `txnid:${join(files, 'txnid.dat')}`, '--sequence', 'txn'], { dataDir });
    expect(txnid.code, txnid.stderr).toBe(0);
    expect(txnid.stdout).toBe(`txn: ${4n * 65_536n - 1n} (raised)\n`);
    const ticketd = await runCli(['takeover', 'ticketd', '--sequence=ids'], { dataDir });
    expect(ticketd.stdout).toBe('ids: 2147483647 (raised)\n');

    const values = await firstValues(dataDir, ['orders', 'invoices', 'big', 'default', 'txn', 'ids']);
    expect(values).toEqual(
      new Map([
        ['orders', 1501n],
        ['invoices', 9007199254740994n],
        ['big', 18014398509481986n],
        ['default', 8n],
        ['txn', 4n * 65_536n],
        ['ids', 2147483648n],
      ]),
    );

    // Again: only what a new, higher source says moves; the same sources a second time change nothing.
    const again = await runCli(['takeover', seqgen, `txnid:${join(files, 'txnid.dat')}`, '--sequence', 'orders'], { dataDir });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe(`orders: ${4n * 65_536n - 1n} (raised)\n`);
    const third = await runCli(['takeover', seqgen, `txnid:${join(files, 'txnid.dat')}`, '--sequence', 'orders'], { dataDir });
    expect(third.stdout).toBe(`orders: ${4n * 65_536n - 1n} (unchanged)\n`);
    const all = await runCli(['takeover', seqgen, 'ticketd'], { dataDir });
    expect(parseLines(all.stdout).get('invoices')).toBe('9007199254740993 unchanged');
    expect(parseLines(all.stdout).get('default')).toBe('2147483647 raised');
    const sameAgain = await runCli(['takeover', seqgen, 'ticketd'], { dataDir });
    expect(sameAgain.code).toBe(0);
    expect([...parseLines(sameAgain.stdout).values()].every((text) => text.endsWith('unchanged'))).toBe(true);
  });

  it('keeps the highest floor of several sources, for this numbering', async () => {
    const dataDir = await createTempDir();
    const numbering = ['--instance', '2', '--instances', '3', '--offset', '10'];
    const result = await runCli(['takeover', '500', `txnid:${join(files, 'txnid.dat')}`, '1000', ...numbering], { dataDir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`default: ${4n * 65_536n - 1n} (raised)\n`);
    // Instance 2 of 3 from 10 issues 11, 14, 17, …: the first of those above 262143.
    const values = await firstValues(dataDir, ['default'], numbering);
    const first = values.get('default') as bigint;
    expect(first).toBeGreaterThan(4n * 65_536n - 1n);
    expect((first - 11n) % 3n).toBe(0n);
    expect(first - 3n).toBeLessThanOrEqual(4n * 65_536n - 1n);
    // The store's numbering fence applies as for restore.
    const other = await runCli(['takeover', '5'], { dataDir });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('--instances 3');
  });

  it.each([
    ['a file that is not JSON', () => `seqgen:${join(files, 'broken.json')}`, 'broken.json'],
    ['a missing file', () => `ticket-server:${join(files, 'missing.json')}`, 'no such file'],
    ['a bad progress file', () => `txnid:${join(files, 'broken.dat')}`, 'not a txn-id-server progress file'],
    ['an unknown source', () => 'redis://h/0', 'unknown SOURCE'],
    ['a value above 2^63 - 1', () => '9223372036854775808', '2^63 - 1'],
    ['an unreachable database', () => 'mysql://u:hunter2@127.0.0.1:1/db?table=tickets', 'mysql://u@127.0.0.1:1/db?table=tickets'],
  ])('refuses %s with exit 2 and changes nothing', async (_what, source, message) => {
    const dataDir = await createTempDir();
    const seeded = await runCli(['takeover', '10', '--sequence', 'orders'], { dataDir });
    expect(seeded.code).toBe(0);
    const before = await dumpState([], dataDir);
    // A good source first: it must not be applied either.
    const result = await runCli(['takeover', `seqgen:${join(files, 'sequences.json')}`, source()], { dataDir });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toContain('hunter2');
    expect(await dumpState([], dataDir)).toBe(before);
  });

  it('refuses while a server holds the data directory (exit 1), telling what to do, and changes nothing', async () => {
    const dataDir = await createTempDir();
    const server = await startServer([], { dataDir });
    await nextValues(server, 'orders');
    const result = await runCli(['takeover', '1000000', '--sequence', 'orders'], { dataDir });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('in use');
    expect(result.stderr).toContain('stop it');
    expect(result.stderr).toContain('/admin/sequences/NAME/floor');
    // The running server was not moved: its next values continue from its lease.
    expect((await nextValues(server, 'orders'))[0]).toBeLessThan(1000n);
    await server.stop();
    const after = await firstValues(dataDir, ['orders']);
    expect(after.get('orders')).toBeLessThan(1_000_000n);
  });
});

describe.skipIf(!dbAvailable('mariadb'))('takeover from a MySQL/MariaDB ticket table (Flickr, Tickr)', () => {
  let db: DbServer;

  beforeAll(async () => {
    db = await startMariadb();
    const connection = await mysql.createConnection({ uri: db.uri });
    try {
      await connection.query('DROP TABLE IF EXISTS tickets, tickr_tickets, tickets64');
      // Flickr style, with the counter at 1,000,000 as Tickr's README suggests for a move from auto_increment ids.
      await connection.query('CREATE TABLE tickets (id BIGINT AUTO_INCREMENT PRIMARY KEY, stub CHAR(1) UNIQUE) AUTO_INCREMENT = 1000000');
      // A Flickr server that has issued ids: REPLACE INTO keeps one row, AUTO_INCREMENT moves on.
      await connection.query('CREATE TABLE tickets64 (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, stub CHAR(1) NOT NULL UNIQUE)');
      for (let index = 0; index < 5; index++) await connection.query("REPLACE INTO tickets64 (stub) VALUES ('a')");
      await connection.query('ALTER TABLE tickets64 AUTO_INCREMENT = 9007199254740995');
      // Tickr's own table: one row whose id it bumps with UPDATE (no AUTO_INCREMENT involved).
      await connection.query('CREATE TABLE tickr_tickets (id BIGINT UNSIGNED NOT NULL, stub CHAR(1) NOT NULL UNIQUE PRIMARY KEY)');
      await connection.query("INSERT INTO tickr_tickets (id, stub) VALUES (5, 'a')");
    } finally {
      await connection.end();
    }
  }, DB_START_TIMEOUT_MS);

  it('sets the floor from AUTO_INCREMENT − 1 and MAX(id), and the server issues above it', async () => {
    const dataDir = await createTempDir();
    const result = await runCli(
      ['takeover', `${db.uri}?table=tickets`, '--sequence', 'flickr', `${db.uri}?table=tickets64&column=id`],
      { dataDir },
    );
    expect(result.code, result.stderr).toBe(0);
    // Both sources target "flickr": the larger floor wins.
    expect(result.stdout).toBe('flickr: 9007199254740994 (raised)\n');
    const only = await runCli(['takeover', `${db.uri}?table=tickets`, '--sequence', 'auto'], { dataDir });
    expect(only.stdout).toBe('auto: 999999 (raised)\n');
    const values = await firstValues(dataDir, ['flickr', 'auto']);
    expect(values.get('flickr')).toBe(9007199254740995n);
    expect(values.get('auto')).toBe(1_000_000n);
  });

  it("applies Tickr's arithmetic with nodes and offset", async () => {
    const dataDir = await createTempDir();
    // The new servers keep Tickr's numbering: node 0 of 4 from 1,000,001 is instance 1.
    const numbering = ['--instances', '4', '--instance', '1', '--offset', '1000001'];
    // Tickr with 4 nodes from 1,000,001 issued (id − 2) × 4 + node + 1,000,001: at most 1,000,016 from id 5.
    const result = await runCli(['takeover', `${db.uri}?table=tickr_tickets&nodes=4&offset=1000001`, '--sequence', 'tickr', ...numbering], {
      dataDir,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('tickr: 1000016 (raised)\n');
    const plain = await runCli(['takeover', `${db.uri}?table=tickr_tickets`, '--sequence', 'plain', ...numbering], { dataDir });
    // Without nodes/offset the floor is the raw id, already below the first value of this numbering.
    expect(plain.stdout).toBe('plain: 5 (unchanged)\n');
    const values = await firstValues(dataDir, ['tickr'], numbering);
    expect(values.get('tickr')).toBe(1_000_017n);
  });

  it.each([
    ['a missing table', '?table=nope', 'table nope does not exist'],
    ['a missing column', '?table=tickets&column=nope', 'has no column nope'],
    ['an unsafe identifier', '?table=tickets%60%3B', 'plain identifier'],
  ])('refuses %s with exit 2, naming the source without its password', async (_what, query, message) => {
    const dataDir = await createTempDir();
    const password = new URL(db.uri).password;
    const result = await runCli(['takeover', `${db.uri}${query}`], { dataDir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain('mysql://');
    expect(result.stderr).not.toContain(password);
    // Nothing was written: not even an empty store was created.
    expect(await dumpState([], dataDir)).toMatch(/^exit 1: /);
  });
});

describe.skipIf(!dbAvailable('postgres'))('takeover from PostgreSQL, and onto a shared PostgreSQL store', () => {
  let db: DbServer;

  beforeAll(async () => {
    db = await startPostgres();
    const client = new pg.Client({ connectionString: db.uri });
    await client.connect();
    try {
      await client.query('DROP SEQUENCE IF EXISTS order_numbers, "Reset_Numbers"; DROP TABLE IF EXISTS invoices');
      await client.query('CREATE SEQUENCE order_numbers');
      await client.query("SELECT setval('order_numbers', 777)");
      // Reset so that nextval() returns 50 next: 49 is the highest it may have issued. Quoted: mixed case.
      await client.query('CREATE SEQUENCE "Reset_Numbers"');
      await client.query(`SELECT setval('"Reset_Numbers"', 50, false)`);
      await client.query('CREATE TABLE invoices (id BIGINT PRIMARY KEY, number BIGINT)');
      await client.query('INSERT INTO invoices VALUES (1, 4242), (2, 17)');
    } finally {
      await client.end();
    }
  }, DB_START_TIMEOUT_MS);

  it("sets the floor from a sequence's last_value and a table's MAX(column)", async () => {
    const dataDir = await createTempDir();
    const sequence = await runCli(['takeover', `${db.uri}?sequence=public.order_numbers`, '--sequence', 'orders'], { dataDir });
    expect(sequence.code, sequence.stderr).toBe(0);
    expect(sequence.stdout).toBe('orders: 777 (raised)\n');
    const table = await runCli(['takeover', `${db.uri}?table=invoices&column=number`, '--sequence', 'invoices'], { dataDir });
    expect(table.stdout, table.stderr).toBe('invoices: 4242 (raised)\n');
    const values = await firstValues(dataDir, ['orders', 'invoices']);
    expect(values).toEqual(new Map([['orders', 778n], ['invoices', 4243n]]));
    // A mixed-case (quoted) name is found as written; an unquoted one is folded as PostgreSQL does.
    const reset = await runCli(['takeover', `${db.uri}?sequence=Reset_Numbers`, '--sequence', 'reset'], { dataDir });
    expect(reset.stdout).toBe('reset: 49 (raised)\n');
    const folded = await runCli(['takeover', `${db.uri}?sequence=ORDER_NUMBERS`, '--sequence', 'folded'], { dataDir });
    expect(folded.stdout).toBe('folded: 777 (raised)\n');
    const column = await runCli(['takeover', `${db.uri}?table=Invoices&column=NUMBER`, '--sequence', 'folded2'], { dataDir });
    expect(column.stdout).toBe('folded2: 4242 (raised)\n');
    const after = await firstValues(dataDir, ['reset']);
    expect(after.get('reset')).toBe(50n);
    const missing = await runCli(['takeover', `${db.uri}?sequence=nope`], { dataDir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no sequence nope');
  });

  it('raises a shared store atomically while a server runs; its held leases end below the floor', async () => {
    const store = await emptyStoreUri(db);
    const storeArgs = ['--store', store, '--max-block', '50'];
    const server = await startServer(storeArgs);
    const early = await nextValues(server, 'orders', 5);
    expect(early[0]).toBe(1n);
    const result = await runCli(['takeover', `${db.uri}?sequence=order_numbers`, '--sequence', 'orders', ...storeArgs]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('orders: 777 (raised)\n');
    // A server started now issues above the floor at once.
    const second = await startServer(storeArgs);
    expect((await nextValues(second, 'orders'))[0]).toBeGreaterThan(777n);
    // The running one may finish what it holds (at most 2 × max-block), then issues above the floor.
    const later = await nextValues(server, 'orders', 200);
    const below = later.filter((value) => value <= 777n);
    console.log(`values the running server issued below the floor after takeover: ${below.length}`);
    expect(below.length).toBeLessThanOrEqual(100);
    expect(later.at(-1)).toBeGreaterThan(777n);
    const again = await runCli(['takeover', `${db.uri}?sequence=order_numbers`, '--sequence', 'orders', ...storeArgs]);
    expect(again.stdout).toBe('orders: 777 (unchanged)\n');
  });
});
