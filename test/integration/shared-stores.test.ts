/**
 * Several real ticket-server processes (`dist/cli/main.js`) sharing one real
 * store (SPEC §4, §5, §5.1; issue 6): PostgreSQL, MariaDB (`mysql://`) and
 * etcd, each started once per describe block by the harness in
 * test/helpers/db-servers.ts, with fresh tables (or a fresh etcd key prefix)
 * per test.
 *
 * Every scenario runs on every back end whose binaries are installed:
 * concurrent load on two servers, elastic membership (join and leave under
 * load), a database outage (leases carry on, then EUNAVAILABLE and /readyz
 * 503, then recovery), a crash and restart, graceful release only when
 * nobody reserved after it, the numbering fence, and credentials kept out of
 * logs and /status. Then what is specific to one back end: Tickr's
 * TICKR_DATABASE_* variables on MariaDB, and a three-node etcd cluster that
 * loses a member under load.
 *
 * Tickets go over the public HTTP API (`POST /v1/sequences/{name}/next`).
 * Servers use `--max-block 50` so leases turn over every few milliseconds.
 * Every loop is bounded in requests and time; no test asserts a timing.
 */
import mysql from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startServer, stopAllServers, urlOf, type ServerProcess } from '../helpers/server-process.js';
import {
  DB_BACKENDS,
  dbAvailable,
  destroyAllDbServers,
  emptyStoreUri,
  startEtcd,
  type DbServer,
  type EtcdCluster,
} from '../helpers/db-servers.js';
import { delay, waitUntil } from '../helpers/wait.js';

afterEach(async () => {
  await stopAllServers();
});

afterAll(async () => {
  await stopAllServers();
  await destroyAllDbServers();
});

/** Largest lease: small, so leases turn over often during the tests. */
const MAX_BLOCK = 50;
/** The sequence every test draws from. */
const SEQUENCE = 'orders';
/** Bound of one HTTP request (a request to a SIGKILLed server fails at once; this only guards against a hang). */
const REQUEST_TIMEOUT_MS = 10_000;
/** Starting a database (initdb / mariadb-install-db) takes a while on a small machine. */
const DB_START_TIMEOUT_MS = 120_000;

// ---------------------------------------------------------------------------
// Back ends
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Servers and requests
// ---------------------------------------------------------------------------

/** A ticket-server process with its addresses. */
interface Node {
  readonly label: string;
  readonly server: ServerProcess;
  readonly http: string;
  readonly admin: string;
  /** Set by the test before stopping or killing it: its load loops end. */
  retired: boolean;
}

async function serve(label: string, uri: string | undefined, extra: readonly string[] = [], env?: Record<string, string>): Promise<Node> {
  const args = [...(uri === undefined ? [] : ['--store', uri]), '--max-block', String(MAX_BLOCK), ...extra];
  const server = await startServer(args, env === undefined ? {} : { env });
  return { label, server, http: urlOf(server, 'http'), admin: urlOf(server, 'admin'), retired: false };
}

function alive(node: Node): boolean {
  return node.server.child.exitCode === null && node.server.child.signalCode === null;
}

type Answer =
  | { readonly ok: true; readonly values: bigint[] }
  | { readonly ok: false; readonly status: number | undefined; readonly code: string; readonly message: string };

/** `POST /v1/sequences/{SEQUENCE}/next` with `{"count": N}`; a failure to connect is code `NETWORK`. */
async function next(node: Node, count: number): Promise<Answer> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(`${node.http}/v1/sequences/${SEQUENCE}/next`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ count }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    text = await response.text();
  } catch (error) {
    return { ok: false, status: undefined, code: 'NETWORK', message: (error as Error).message };
  }
  let body: { values?: unknown; error?: { code?: unknown; message?: unknown } } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // reported below as a bad reply
  }
  if (response.status === 200) {
    const values = body.values;
    if (Array.isArray(values) && values.length === count && values.every((value) => typeof value === 'string' && /^[0-9]+$/.test(value))) {
      return { ok: true, values: values.map((value) => BigInt(value as string)) };
    }
    return { ok: false, status: 200, code: 'BADREPLY', message: text.slice(0, 200) };
  }
  const code = typeof body.error?.code === 'string' ? body.error.code : 'BADREPLY';
  const message = typeof body.error?.message === 'string' ? body.error.message : text.slice(0, 200);
  return { ok: false, status: response.status, code, message };
}

/** One value, which must be issued. */
async function nextOne(node: Node, ledger: Ledger): Promise<bigint> {
  const answer = await next(node, 1);
  if (!answer.ok) throw new Error(`${node.label} did not issue: ${answer.status} ${answer.code} ${answer.message}`);
  ledger.add(node.label, answer.values);
  return answer.values[0] as bigint;
}

/** `n` values one request at a time, each of which must be issued. */
async function nextSeveral(node: Node, ledger: Ledger, n: number): Promise<bigint[]> {
  const values: bigint[] = [];
  for (let index = 0; index < n; index++) values.push(await nextOne(node, ledger));
  return values;
}

async function getJson(url: string): Promise<{ status: number; text: string; body: Record<string, unknown> }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as Record<string, unknown> };
}

async function readyStatus(node: Node): Promise<number> {
  return (await getJson(`${node.admin}/readyz`)).status;
}

/** Slots the server holds for SEQUENCE (admin `/status`), or undefined when it has not used it. */
async function leaseRemaining(node: Node): Promise<bigint | undefined> {
  const { body } = await getJson(`${node.admin}/status`);
  const sequences = body.sequences as Array<{ name: string; lease_remaining: string }>;
  const entry = sequences.find((sequence) => sequence.name === SEQUENCE);
  return entry === undefined ? undefined : BigInt(entry.lease_remaining);
}

/**
 * Waits until the server holds at least one unissued slot and no
 * reservation is on its way (the figure stays put across two reads), and
 * returns how many slots it holds. Nothing may be asking it for values.
 */
async function settledLease(node: Node): Promise<bigint> {
  let previous: bigint | undefined;
  let settled: bigint | undefined;
  await waitUntil(
    async () => {
      const now = await leaseRemaining(node);
      if (now !== undefined && now >= 1n && now === previous) settled = now;
      previous = now;
      return settled !== undefined;
    },
    `${node.label} holds a settled lease`,
    10_000,
    200,
  );
  return settled as bigint;
}

/** `releasedSlots` of the server's `leases handed back` log line (written by a graceful stop). */
function releasedSlots(node: Node): string | undefined {
  const line = node.server.logLines().find((entry) => entry.msg === 'leases handed back');
  return line === undefined ? undefined : String(line.releasedSlots);
}

function passwordOf(uri: string): string {
  return decodeURIComponent(new URL(uri).password);
}

// ---------------------------------------------------------------------------
// Values seen and load
// ---------------------------------------------------------------------------

/** Every value received from any server, with who issued it; duplicates are recorded, not thrown. */
class Ledger {
  private readonly owners = new Map<bigint, string>();
  private readonly perServer = new Map<string, bigint[]>();
  readonly duplicates: string[] = [];

  add(label: string, values: readonly bigint[]): void {
    let list = this.perServer.get(label);
    if (list === undefined) {
      list = [];
      this.perServer.set(label, list);
    }
    for (const value of values) {
      const owner = this.owners.get(value);
      if (owner !== undefined) this.duplicates.push(`${value} from ${owner} and ${label}`);
      else this.owners.set(value, label);
      list.push(value);
    }
  }

  get size(): number {
    return this.owners.size;
  }

  countOf(label: string): number {
    return this.perServer.get(label)?.length ?? 0;
  }

  valuesOf(label: string): bigint[] {
    return [...(this.perServer.get(label) ?? [])];
  }

  all(): bigint[] {
    return [...this.owners.keys()];
  }

  min(): bigint {
    return this.all().reduce((low, value) => (value < low ? value : low));
  }

  max(): bigint {
    return this.all().reduce((high, value) => (value > high ? value : high), 0n);
  }
}

interface LoadError {
  readonly label: string;
  readonly status: number | undefined;
  readonly code: string;
  readonly message: string;
}

/**
 * Concurrent request loops against servers, each bounded in requests and by
 * a deadline; loops against a retired server end at their next turn.
 * Counts cycle through 1..5.
 */
class Load {
  private stopped = false;
  private readonly loops: Array<Promise<void>> = [];
  private readonly deadline: number;
  readonly errors: LoadError[] = [];

  constructor(
    private readonly ledger: Ledger,
    private readonly options: { readonly requestsPerLoop: number; readonly maxMs: number; readonly pauseMs?: number },
  ) {
    this.deadline = Date.now() + options.maxMs;
  }

  add(node: Node, loops: number): void {
    for (let index = 0; index < loops; index++) this.loops.push(this.run(node, index));
  }

  private async run(node: Node, index: number): Promise<void> {
    for (let request = 0; request < this.options.requestsPerLoop; request++) {
      if (this.stopped || node.retired || Date.now() >= this.deadline) return;
      const answer = await next(node, 1 + ((request + index) % 5));
      if (answer.ok) {
        this.ledger.add(node.label, answer.values);
      } else {
        this.errors.push({ label: node.label, status: answer.status, code: answer.code, message: answer.message });
        // Do not spin on a server that is going away.
        await delay(20);
      }
      if (this.options.pauseMs !== undefined) await delay(this.options.pauseMs);
    }
  }

  errorsOf(label: string): LoadError[] {
    return this.errors.filter((error) => error.label === label);
  }

  /** Waits until every loop has run out of requests or time. */
  async done(): Promise<void> {
    await Promise.all(this.loops);
  }

  /** Ends every loop at its next turn and waits for them. */
  async finish(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }
}

function describeErrors(errors: readonly LoadError[]): string {
  return errors
    .slice(0, 10)
    .map((error) => `${error.label}: ${error.status ?? '-'} ${error.code} ${error.message}`)
    .join('\n');
}

// ---------------------------------------------------------------------------
// Every scenario on every back end
// ---------------------------------------------------------------------------

for (const backend of DB_BACKENDS) {
  describe.skipIf(!dbAvailable(backend.kind))(`servers sharing a ${backend.label} store`, () => {
    let db: DbServer;
    /** True while a test has the database stopped; afterEach starts it again. */
    let dbDown = false;

    beforeAll(async () => {
      db = await backend.start();
    }, DB_START_TIMEOUT_MS);

    afterEach(async () => {
      await stopAllServers();
      if (dbDown) {
        await db.start();
        dbDown = false;
      }
    }, DB_START_TIMEOUT_MS);

    afterAll(async () => {
      await stopAllServers();
      await db?.destroy();
    });

    it('two servers under concurrent load issue disjoint values', async () => {
      const uri = await emptyStoreUri(db);
      const [a, b] = await Promise.all([serve('A', uri), serve('B', uri)]);
      const ledger = new Ledger();
      const load = new Load(ledger, { requestsPerLoop: 150, maxMs: 20_000 });
      load.add(a, 4);
      load.add(b, 4);
      await load.done();

      expect(load.errors, describeErrors(load.errors)).toEqual([]);
      expect(ledger.duplicates).toEqual([]);
      expect(ledger.min()).toBeGreaterThanOrEqual(1n);
      // Each server issued many leases' worth (at most 50 slots each), so leases turned over.
      expect(ledger.countOf('A')).toBeGreaterThan(10 * MAX_BLOCK);
      expect(ledger.countOf('B')).toBeGreaterThan(10 * MAX_BLOCK);
    });

    it('is elastic: a third server joins mid-load and one leaves gracefully, with no repeat', async () => {
      const uri = await emptyStoreUri(db);
      const [a, b] = await Promise.all([serve('A', uri), serve('B', uri)]);
      const ledger = new Ledger();
      const load = new Load(ledger, { requestsPerLoop: 3_000, maxMs: 60_000 });
      try {
        load.add(a, 3);
        load.add(b, 3);
        await waitUntil(() => ledger.countOf('A') >= 200 && ledger.countOf('B') >= 200, 'A and B issue under load');

        const c = await serve('C', uri);
        load.add(c, 3);
        await waitUntil(() => ledger.countOf('C') >= 200, 'C, joined mid-load, issues');

        a.retired = true;
        const stopped = await a.server.stop('SIGTERM');
        expect(stopped).toEqual({ code: 0, signal: null });
        const [bBefore, cBefore] = [ledger.countOf('B'), ledger.countOf('C')];
        await waitUntil(
          () => ledger.countOf('B') >= bBefore + 200 && ledger.countOf('C') >= cBefore + 200,
          'B and C keep issuing after A left',
        );
      } finally {
        await load.finish();
      }

      expect(ledger.duplicates).toEqual([]);
      expect(ledger.min()).toBeGreaterThanOrEqual(1n);
      // Only the server that left may have refused or dropped requests (while it stopped).
      expect(load.errorsOf('B'), describeErrors(load.errorsOf('B'))).toEqual([]);
      expect(load.errorsOf('C'), describeErrors(load.errorsOf('C'))).toEqual([]);
      for (const error of load.errorsOf('A')) expect(['EUNAVAILABLE', 'NETWORK']).toContain(error.code);
    });

    it('rides out a store outage: leases, then EUNAVAILABLE and /readyz 503, then recovery, never a repeat', async () => {
      const uri = await emptyStoreUri(db);
      const password = backend.kind === 'etcd' ? '' : passwordOf(uri);
      const node = await serve('S', uri, ['--store-timeout', '1000', '--pool-timeout', '2000']);
      const ledger = new Ledger();

      // Light load while the store is up.
      const light = new Load(ledger, { requestsPerLoop: 60, maxMs: 20_000, pauseMs: 10 });
      light.add(node, 1);
      await light.done();
      expect(light.errors, describeErrors(light.errors)).toEqual([]);
      const before = ledger.max();
      expect(await readyStatus(node)).toBe(200);
      await settledLease(node);

      dbDown = true;
      await db.stop();

      // What the server holds now is all it can issue until the store is back.
      const held = await leaseRemaining(node);
      expect(held).toBeDefined();
      expect(held as bigint).toBeGreaterThanOrEqual(1n);

      let ready503: { status: number; text: string; body: Record<string, unknown> } | undefined;
      await waitUntil(
        async () => {
          const reply = await getJson(`${node.admin}/readyz`);
          if (reply.status === 503) ready503 = reply;
          return ready503 !== undefined;
        },
        '/readyz answers 503 while the store is down',
      );
      expect(ready503?.body.ready).toBe(false);
      expect(String(ready503?.body.reason)).toMatch(/store unreachable/);

      // Exactly the held slots are issued, then EUNAVAILABLE (503).
      let fromLeases = 0n;
      let refusal: Answer | undefined;
      for (let request = 0n; request < (held as bigint) + 10n; request++) {
        const answer = await next(node, 1);
        if (!answer.ok) {
          refusal = answer;
          break;
        }
        ledger.add(node.label, answer.values);
        fromLeases++;
      }
      expect(fromLeases).toBe(held);
      expect(refusal).toMatchObject({ ok: false, status: 503, code: 'EUNAVAILABLE' });

      // It keeps refusing, and stays up, while the store is down.
      for (let request = 0; request < 5; request++) {
        const answer = await next(node, 1 + (request % 3));
        expect(answer).toMatchObject({ ok: false, status: 503, code: 'EUNAVAILABLE' });
        await delay(100);
      }
      expect(alive(node)).toBe(true);
      const outageStatus = await getJson(`${node.admin}/status`);
      expect(outageStatus.body.ready).toBe(false);
      expect((outageStatus.body.store as { ok: boolean }).ok).toBe(false);
      if (password !== '') expect(outageStatus.text).not.toContain(password);

      await db.start();
      dbDown = false;
      const highestBeforeRecovery = ledger.max();
      const issuedBeforeRecovery = ledger.countOf('S');

      const recoveryErrors: Answer[] = [];
      await waitUntil(
        async () => {
          const answer = await next(node, 1);
          if (answer.ok) ledger.add(node.label, answer.values);
          else recoveryErrors.push(answer);
          return answer.ok;
        },
        'the server issues again after the store is back',
        60_000,
        100,
      );
      for (const error of recoveryErrors) expect(error).toMatchObject({ ok: false, status: 503, code: 'EUNAVAILABLE' });
      await waitUntil(async () => (await readyStatus(node)) === 200, '/readyz answers 200 again');

      const after = new Load(ledger, { requestsPerLoop: 100, maxMs: 20_000 });
      after.add(node, 2);
      await after.done();
      expect(after.errors, describeErrors(after.errors)).toEqual([]);

      expect(ledger.duplicates).toEqual([]);
      expect(ledger.min()).toBeGreaterThanOrEqual(1n);
      // Leases after the outage come from the store's counter, above everything issued before it.
      const afterOutage = ledger.valuesOf('S').slice(issuedBeforeRecovery);
      expect(afterOutage.length).toBeGreaterThan(0);
      for (const value of afterOutage) expect(value).toBeGreaterThan(highestBeforeRecovery);
      expect(highestBeforeRecovery).toBeGreaterThan(before);
      if (password !== '') {
        expect(node.server.stdout()).not.toContain(password);
        expect(node.server.stderr()).not.toContain(password);
      }
    }, 120_000);

    it('survives kill -9 of one of two servers mid-load and its restart, with no repeat', async () => {
      const uri = await emptyStoreUri(db);
      const [a, b] = await Promise.all([serve('A', uri), serve('B', uri)]);
      const ledger = new Ledger();
      const load = new Load(ledger, { requestsPerLoop: 3_000, maxMs: 60_000 });
      let highestBeforeRestart = 0n;
      try {
        load.add(a, 3);
        load.add(b, 3);
        await waitUntil(() => ledger.countOf('A') >= 300 && ledger.countOf('B') >= 300, 'A and B issue under load');

        a.retired = true;
        const killed = await a.server.kill();
        expect(killed.signal).toBe('SIGKILL');
        const bBefore = ledger.countOf('B');
        await waitUntil(() => ledger.countOf('B') >= bBefore + 200, 'B keeps issuing after A crashed');

        highestBeforeRestart = ledger.max();
        const restarted = await serve('A2', uri);
        load.add(restarted, 3);
        await waitUntil(() => ledger.countOf('A2') >= 300, 'the restarted server issues under load');
      } finally {
        await load.finish();
      }

      expect(ledger.duplicates).toEqual([]);
      expect(ledger.min()).toBeGreaterThanOrEqual(1n);
      expect(load.errorsOf('B'), describeErrors(load.errorsOf('B'))).toEqual([]);
      expect(load.errorsOf('A2'), describeErrors(load.errorsOf('A2'))).toEqual([]);
      // A server starting on the store reserves above every lease handed out before it started.
      for (const value of ledger.valuesOf('A2')) expect(value).toBeGreaterThan(highestBeforeRestart);
    });

    it('hands its tail back on a graceful stop when nobody reserved after it: no gap', async () => {
      const uri = await emptyStoreUri(db);
      // B runs on the same store the whole time but never reserves this sequence until A has stopped.
      const [a, b] = await Promise.all([serve('A', uri), serve('B', uri)]);
      const ledger = new Ledger();

      const fromA = await nextSeveral(a, ledger, 5);
      expect(fromA).toEqual([1n, 2n, 3n, 4n, 5n]);
      const heldByA = await settledLease(a);
      a.retired = true;
      expect(await a.server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      expect(releasedSlots(a)).toBe(heldByA.toString());

      const fromB = await nextSeveral(b, ledger, 4);
      expect(fromB).toEqual([6n, 7n, 8n, 9n]);
      const heldByB = await settledLease(b);
      expect(await b.server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      expect(releasedSlots(b)).toBe(heldByB.toString());

      const c = await serve('C', uri);
      expect(await nextOne(c, ledger)).toBe(10n);
      expect(ledger.duplicates).toEqual([]);
    });

    it('keeps its tail on a graceful stop when another server reserved after it: never reused', async () => {
      const uri = await emptyStoreUri(db);
      const [a, b] = await Promise.all([serve('A', uri), serve('B', uri)]);
      const ledger = new Ledger();

      const fromA = await nextSeveral(a, ledger, 5);
      expect(fromA).toEqual([1n, 2n, 3n, 4n, 5n]);
      const heldByA = await settledLease(a);
      // A holds [6, 6 + heldByA); B's first lease starts where A's ends.
      const tailStart = 6n;
      const tailEnd = tailStart + heldByA;

      const fromB = await nextSeveral(b, ledger, 5);
      expect(fromB[0]).toBe(tailEnd);
      const heldByB = await settledLease(b);
      const endOfB = (fromB[4] as bigint) + 1n + heldByB;

      a.retired = true;
      expect(await a.server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      // The store refused: B reserved after A, so A's tail stays a gap.
      expect(releasedSlots(a)).toBe('0');

      await nextSeveral(b, ledger, 5);
      const c = await serve('C', uri);
      const fromC = await nextSeveral(c, ledger, 5);
      expect(fromC[0]).toBeGreaterThanOrEqual(endOfB);
      await nextSeveral(b, ledger, 5);

      expect(ledger.duplicates).toEqual([]);
      const inTail = ledger.all().filter((value) => value >= tailStart && value < tailEnd);
      expect(inTail).toEqual([]);
    });

    it('refuses a second server with another numbering (exit code 2, message names it)', async () => {
      const uri = await emptyStoreUri(db);
      const a = await serve('A', uri);
      const ledger = new Ledger();
      await nextOne(a, ledger);

      const result = await runCli([
        '--store', uri,
        '--instances', '2',
        '--instance', '1',
        '--bind', 'tcp://127.0.0.1:0',
        '--http', '127.0.0.1:0',
        '--admin', '127.0.0.1:0',
      ]);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(/numbering/);
      expect(result.stderr).toContain('--instances 1');
      expect(result.stderr).toContain('--instances 2');
      if (backend.kind !== 'etcd') expect(result.stderr).not.toContain(passwordOf(uri));

      // The first server is unaffected.
      await nextSeveral(a, ledger, 3);
      expect(ledger.duplicates).toEqual([]);
    });

    // The harness's etcd runs without authentication, so only the SQL URIs carry a password.
    it.runIf(backend.kind !== 'etcd')('never shows the database password in logs or /status', async () => {
      const uri = await emptyStoreUri(db);
      const password = passwordOf(uri);
      expect(password.length).toBeGreaterThan(0);
      const node = await serve('S', uri);
      const ledger = new Ledger();
      await nextSeveral(node, ledger, 3);
      const status = await getJson(`${node.admin}/status`);
      const storeOpen = node.server.logLines().find((line) => line.msg === 'store open');
      expect(storeOpen?.store).toBe(uri.replace(`:${password}@`, '@'));
      expect((status.body.store as { description: string }).description).toBe(uri.replace(`:${password}@`, '@'));
      expect(await node.server.stop('SIGTERM')).toEqual({ code: 0, signal: null });

      expect(status.text).not.toContain(password);
      expect(node.server.stdout()).not.toContain(password);
      expect(node.server.stderr()).not.toContain(password);
    });

    it.runIf(backend.kind === 'mariadb')('starts on the MariaDB store from TICKR_DATABASE_* variables alone', async () => {
      const uri = await emptyStoreUri(db);
      const url = new URL(uri);
      const env = {
        TICKR_DATABASE_HOST: url.host,
        TICKR_DATABASE_USERNAME: decodeURIComponent(url.username),
        TICKR_DATABASE_PASSWORD: decodeURIComponent(url.password),
        TICKR_DATABASE_NAME: decodeURIComponent(url.pathname.slice(1)),
      };
      const tickr = await serve('T', undefined, [], env);
      const status = await getJson(`${tickr.admin}/status`);
      expect(status.body.store).toMatchObject({ kind: 'mysql', description: `mysql://${env.TICKR_DATABASE_USERNAME}@${url.host}/${env.TICKR_DATABASE_NAME}` });

      // Tickr's own route, on the default sequence.
      const reply = await fetch(`${tickr.http}/tickets/create/5`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      expect(reply.status).toBe(200);
      const values = (JSON.parse(await reply.text()) as number[]).map((value) => BigInt(value));
      expect(values).toEqual([1n, 2n, 3n, 4n, 5n]);

      // The counter lives in that database: a server given the same store by URI continues above.
      const connection = await mysql.createConnection(uri);
      try {
        const [rows] = await connection.query<mysql.RowDataPacket[]>(
          'SELECT CAST(next_slot AS CHAR) AS next_slot FROM ticket_server_sequences WHERE name = ?',
          ['default'],
        );
        expect(BigInt((rows[0] as { next_slot: string }).next_slot)).toBeGreaterThan(5n);
      } finally {
        await connection.end();
      }
      const byUri = await serve('U', uri);
      const more = await fetch(`${byUri.http}/tickets/create/3`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      const moreValues = (JSON.parse(await more.text()) as number[]).map((value) => BigInt(value));
      for (const value of moreValues) expect(value).toBeGreaterThan(5n);
      expect(tickr.server.stdout()).not.toContain(env.TICKR_DATABASE_PASSWORD);
    });
  });
}

// ---------------------------------------------------------------------------
// A three-node etcd cluster that loses a member
// ---------------------------------------------------------------------------

/** Index of the member that leads the cluster (etcd's JSON gateway), or 0 if none says so. */
async function etcdLeader(cluster: EtcdCluster): Promise<number> {
  for (const [index, member] of cluster.members.entries()) {
    try {
      const response = await fetch(`${member.uri.replace('etcd://', 'http://')}/v3/maintenance/status`, {
        method: 'POST',
        body: '{}',
        signal: AbortSignal.timeout(2_000),
      });
      const body = (await response.json()) as { header?: { member_id?: string }; leader?: string };
      if (body.header?.member_id !== undefined && body.header.member_id === body.leader) return index;
    } catch {
      // ask the next member
    }
  }
  return 0;
}

describe.skipIf(!dbAvailable('etcd'))('a server on a three-node etcd cluster', () => {
  let cluster: EtcdCluster;

  beforeAll(async () => {
    cluster = await startEtcd({ nodes: 3 });
  }, DB_START_TIMEOUT_MS);

  afterAll(async () => {
    await stopAllServers();
    await cluster?.destroy();
  });

  it('keeps issuing when one member (the leader) is killed and after it rejoins, with no repeat', async () => {
    const uri = await emptyStoreUri(cluster);
    const node = await serve('S', uri);
    const ledger = new Ledger();
    const load = new Load(ledger, { requestsPerLoop: 5_000, maxMs: 90_000 });
    const leader = await etcdLeader(cluster);
    const member = cluster.members[leader] as DbServer;
    try {
      load.add(node, 3);
      await waitUntil(() => ledger.size >= 300, 'the server issues under load');

      await member.kill();
      const atKill = ledger.size;
      await waitUntil(() => ledger.size >= atKill + 500, 'the server issues again with one member down', 60_000);

      await member.start();
      const atRejoin = ledger.size;
      await waitUntil(() => ledger.size >= atRejoin + 300, 'the server issues after the member rejoined', 60_000);
    } finally {
      await load.finish();
    }

    expect(alive(node)).toBe(true);
    expect(ledger.duplicates).toEqual([]);
    expect(ledger.min()).toBeGreaterThanOrEqual(1n);
    // At most a brief refusal while the client moved to another member or a new leader was elected.
    for (const error of load.errors) expect(error.code, describeErrors(load.errors)).toBe('EUNAVAILABLE');
  }, 180_000);
});
