/**
 * Issuing tokens (`--issue-token-file`) through every protocol of a real
 * server process: no token, a wrong token, a token outside its prefixes, a
 * token in scope, and `last` from an untrusted token (ignored) and a trusted
 * one (honoured). Also: one-shot TCP refused beside tokens unless
 * `--tcp-trusted`, a bad token file (exit 2), and the client library and
 * `ticket-server next --token` on each transport.
 */
import { connect, type Socket } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/client.js';
import { createTempDir, removeTempDirs, runCli, startServer, stopAllServers, urlOf, type ServerProcess } from '../helpers/server-process.js';
import { request } from '../helpers/zmq-client.js';

const WAIT_MS = 5_000;
const ALL = 'all-sequences-token-0123456789';
const ORDERS = 'orders-only-token-0123456789';
const DEFAULT = 'default-only-token-0123456789';
const WRONG = 'not-a-known-token-0123456789';
/** Far above anything these servers issue: honoured, it moves the sequence past it (drift). */
const FAR_LAST = 5_000_000n;

const TOKEN_FILE = [
  '# issuing tokens for the tests',
  `${ALL} * trusted`,
  `${ORDERS} orders,inv-`,
  '',
  `${DEFAULT} default`,
].join('\n');

let dir: string;
let tokenFile: string;
let server: ServerProcess;

beforeAll(async () => {
  dir = await createTempDir();
  tokenFile = join(dir, 'tokens');
  await writeFile(tokenFile, TOKEN_FILE);
  server = await startServer(['--store', 'memory:', '--issue-token-file', tokenFile, '--line', '127.0.0.1:0']);
});

afterAll(async () => {
  await stopAllServers();
  await removeTempDirs();
});

// ---- HTTP ------------------------------------------------------------------------

async function post(path: string, token?: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
  const response = await fetch(`${urlOf(server, 'http')}${path}`, {
    method: path.startsWith('/tickets') || path === '/status' ? 'GET' : 'POST',
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

const errorCode = (json: unknown): unknown => (json as { error?: { code?: unknown } } | undefined)?.error?.code;
const firstValue = (json: unknown): bigint => BigInt((json as { values: string[] }).values[0] as string);

describe('HTTP with issuing tokens', () => {
  it('refuses /v1 without a token or with a wrong one (401 EAUTH)', async () => {
    for (const token of [undefined, WRONG]) {
      const reply = await post('/v1/sequences/orders/next', token);
      expect(reply.status, String(token)).toBe(401);
      expect(errorCode(reply.json)).toBe('EAUTH');
    }
  });

  it('refuses a valid token outside its prefixes (403 EAUTH)', async () => {
    const reply = await post('/v1/sequences/payments/next', ORDERS);
    expect(reply.status).toBe(403);
    expect(errorCode(reply.json)).toBe('EAUTH');
    expect(JSON.stringify(reply.json)).toContain('payments');
  });

  it('issues within the prefixes: exact name and a prefix match', async () => {
    const orders = await post('/v1/sequences/orders/next', ORDERS);
    expect(orders.status).toBe(200);
    const inventory = await post('/v1/sequences/inv-eu/next?count=2', ORDERS);
    expect(inventory.status).toBe(200);
    expect((inventory.json as { values: string[] }).values).toHaveLength(2);
  });

  it('ignores last from an untrusted token and honours it from a trusted one', async () => {
    const untrusted = await post('/v1/sequences/orders/next', ORDERS, { last: FAR_LAST.toString() });
    expect(untrusted.status).toBe(200);
    expect(firstValue(untrusted.json)).toBeLessThan(FAR_LAST);
    const trusted = await post('/v1/sequences/orders/next', ALL, { last: FAR_LAST.toString() });
    expect(trusted.status).toBe(200);
    expect(firstValue(trusted.json)).toBeGreaterThan(FAR_LAST);
  });

  it('the ticketd and Tickr routes need a token covering default', async () => {
    for (const path of ['/', '/tickets/create', '/tickets/create/2', '/status']) {
      expect((await post(path)).status, path).toBe(401);
      expect((await post(path, ORDERS)).status, path).toBe(403);
      expect((await post(path, DEFAULT)).status, path).toBe(200);
    }
  });
});

// ---- ZeroMQ ----------------------------------------------------------------------

describe('ZeroMQ with issuing tokens', () => {
  it('refuses the tokenless forms and a wrong token', async () => {
    for (const body of ['["orders","0"]', '["orders","0",2]', `["orders","0",null,"${WRONG}"]`]) {
      const reply = (await request(server.endpoint, body)) as unknown[];
      expect(reply[0], body).toBe('EAUTH');
    }
  });

  it('refuses a token outside its prefixes, issues inside them', async () => {
    expect(((await request(server.endpoint, `["payments","0",null,"${ORDERS}"]`)) as unknown[])[0]).toBe('EAUTH');
    const single = (await request(server.endpoint, `["orders","0",null,"${ORDERS}"]`)) as unknown[];
    expect(single[0]).toBeNull();
    expect(typeof single[1]).toBe('string');
    const counted = (await request(server.endpoint, `["inv-x","0",3,"${ORDERS}"]`)) as unknown[];
    expect(counted[0]).toBeNull();
    expect(counted[1]).toHaveLength(3);
  });

  it('ignores last from an untrusted token, honours a trusted one', async () => {
    const fromOrders = (await request(server.endpoint, `["orders","${FAR_LAST * 2n}",null,"${ORDERS}"]`)) as unknown[];
    expect(BigInt(fromOrders[1] as string)).toBeLessThan(FAR_LAST * 2n);
    const fromAll = (await request(server.endpoint, `["zmq-all","${FAR_LAST}",null,"${ALL}"]`)) as unknown[];
    expect(BigInt(fromAll[1] as string)).toBeGreaterThan(FAR_LAST);
  });
});

// ---- long-lived TCP --------------------------------------------------------------

/** A line-protocol connection: `send` text, `reply` the next reply (a line, or a value before ETX). */
interface LineSession {
  send(text: string): void;
  reply(): Promise<string>;
  close(): void;
}

function lineAddress(): { host: string; port: number } {
  const address = server.endpoints.line as string;
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

async function lineSession(): Promise<LineSession> {
  const socket: Socket = connect(lineAddress());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let buffer = '';
  const replies: string[] = [];
  let wake: (() => void) | undefined;
  socket.setEncoding('latin1');
  socket.on('data', (text: string) => {
    buffer += text;
    // A reply ends in LF, or in ETX after a value asked for by STX.
    const replyEnd = (): number => {
      const lf = buffer.indexOf('\n');
      const etx = buffer.indexOf('\u0003');
      return lf < 0 ? etx : etx < 0 ? lf : Math.min(lf, etx);
    };
    for (let end = replyEnd(); end >= 0; end = replyEnd()) {
      replies.push(buffer.slice(0, end + 1));
      buffer = buffer.slice(end + 1);
    }
    wake?.();
  });
  return {
    send: (text) => socket.write(text),
    async reply() {
      const deadline = Date.now() + WAIT_MS;
      while (replies.length === 0) {
        if (Date.now() > deadline) throw new Error('no reply from the line server');
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
      return replies.shift() as string;
    },
    close: () => socket.destroy(),
  };
}

describe('long-lived TCP with issuing tokens', () => {
  it('refuses NEXT and STX before AUTH; BEL and PING need no token', async () => {
    const session = await lineSession();
    try {
      session.send('NEXT orders\n');
      expect(await session.reply()).toMatch(/^ERR EAUTH /);
      session.send('\u0002');
      expect(await session.reply()).toMatch(/^ERR EAUTH /);
      session.send('PING\n');
      expect(await session.reply()).toBe('PONG\n');
    } finally {
      session.close();
    }
  });

  it('refuses a wrong AUTH, then accepts a right one on the same connection', async () => {
    const session = await lineSession();
    try {
      session.send(`AUTH ${WRONG}\nNEXT orders\n`);
      expect(await session.reply()).toMatch(/^ERR EAUTH /);
      expect(await session.reply()).toMatch(/^ERR EAUTH /);
      session.send(`AUTH ${ORDERS}\nNEXT orders\nNEXT orders 2\nNEXT payments\n\u0002`);
      expect(await session.reply()).toBe('OK\n');
      expect(await session.reply()).toMatch(/^[1-9][0-9]*\n$/);
      expect(await session.reply()).toMatch(/^[1-9][0-9]* [1-9][0-9]*\n$/);
      expect(await session.reply()).toMatch(/^ERR EAUTH .*payments/);
      expect(await session.reply()).toMatch(/^ERR EAUTH .*default/); // STX is sequence default
    } finally {
      session.close();
    }
  });

  it('STX works with a token covering default', async () => {
    const session = await lineSession();
    try {
      session.send(`AUTH ${DEFAULT}\n\u0002\u0002`);
      expect(await session.reply()).toBe('OK\n');
      for (let index = 0; index < 2; index++) {
        const reply = await session.reply();
        expect(reply.endsWith('\u0003'), JSON.stringify(reply)).toBe(true);
        expect(reply.slice(0, -1)).toMatch(/^[1-9][0-9]*$/);
      }
    } finally {
      session.close();
    }
  });

  it('ignores last from an untrusted token, honours a trusted one', async () => {
    const session = await lineSession();
    try {
      session.send(`AUTH ${ORDERS}\nNEXT inv-line 1 ${FAR_LAST}\nAUTH ${ALL}\nNEXT line-all 1 ${FAR_LAST}\n`);
      expect(await session.reply()).toBe('OK\n');
      expect(BigInt((await session.reply()).trim())).toBeLessThan(FAR_LAST);
      expect(await session.reply()).toBe('OK\n');
      expect(BigInt((await session.reply()).trim())).toBeGreaterThan(FAR_LAST);
    } finally {
      session.close();
    }
  });
});

// ---- the client library and the CLI ------------------------------------------------

describe('clients with a token', () => {
  const uris = (): string[] => [server.endpoint, urlOf(server, 'http'), `line://${server.endpoints.line}`];

  it('gets values in scope over tcp://, http:// and line://; EAUTH with a wrong token or out of scope', async () => {
    for (const uri of uris()) {
      const good = createClient(uri, { token: ORDERS, timeout: WAIT_MS });
      const wrong = createClient(uri, { token: WRONG, timeout: WAIT_MS });
      try {
        expect(typeof (await good.next('orders')), uri).toBe('bigint');
        expect(await good.next('inv-client', { count: 3 }), uri).toHaveLength(3);
        await expect(good.next('payments'), uri).rejects.toMatchObject({ code: 'EAUTH' });
        await expect(wrong.next('orders'), uri).rejects.toMatchObject({ code: 'EAUTH' });
      } finally {
        await good.close();
        await wrong.close();
      }
    }
  });

  it('ticket-server next --token', async () => {
    const ok = await runCli(['next', 'orders', '--server', urlOf(server, 'http'), '--token', ORDERS]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^[1-9][0-9]*\n$/);
    const refused = await runCli(['next', 'orders', '--server', server.endpoint, '--token', WRONG]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('EAUTH');
  });
});

describe('proxy mode with --upstream-token', () => {
  it('forwards with its token: in scope issues, out of scope is EAUTH', async () => {
    const proxy = await startServer(['--host', server.endpoint, '--upstream-token', ORDERS]);
    try {
      const ask = async (name: string): Promise<{ status: number; body: string }> => {
        const response = await fetch(`${urlOf(proxy, 'http')}/v1/sequences/${name}/next`, { method: 'POST', signal: AbortSignal.timeout(WAIT_MS) });
        return { status: response.status, body: await response.text() };
      };
      expect((await ask('orders')).status).toBe(200);
      const refused = await ask('payments');
      expect(refused.status).toBe(401);
      expect(refused.body).toContain('EAUTH');
    } finally {
      await proxy.stop();
    }
  });
});

// ---- start-up rules ----------------------------------------------------------------

describe('starting with issuing tokens', () => {
  it('refuses one-shot TCP beside tokens unless --tcp-trusted (exit 2)', async () => {
    const refused = await runCli(['--store', 'memory:', '--issue-token-file', tokenFile, '--tcp', '127.0.0.1:0', '--bind', 'off', '--http', 'off', '--admin', 'off']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--tcp-trusted');
    const trusted = await startServer(['--store', 'memory:', '--issue-token-file', tokenFile, '--tcp', '127.0.0.1:0', '--tcp-trusted']);
    expect(trusted.endpoints.tcp).toBeDefined();
    await trusted.stop();
  });

  it('refuses an unreadable or malformed token file with exit 2, never echoing a token', async () => {
    const quiet = ['--bind', 'off', '--http', '127.0.0.1:0', '--admin', 'off'];
    const missing = await runCli(['--store', 'memory:', '--issue-token-file', join(dir, 'absent'), ...quiet]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--issue-token-file');
    const bad = join(dir, 'bad-tokens');
    await writeFile(bad, `${ALL} *\nshort-secret orders\n`);
    const malformed = await runCli(['--store', 'memory:', '--issue-token-file', bad, ...quiet]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('line 2');
    expect(malformed.stderr).not.toContain('short-secret');
  });
});
