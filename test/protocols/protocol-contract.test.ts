/**
 * The protocol contract suite (`test/protocol-contract.ts`) against each
 * protocol, in process: ZeroMQ (a DEALER client, so requests pipeline on one
 * connection), HTTP (`/v1`, and `POST /` / `/tickets/create/N` for the forms
 * without a name; raw pipelined HTTP/1.1 on one socket), the line protocol and
 * one-shot TCP, each with what its wire form cannot express skipped.
 */
import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import { Dealer } from 'zeromq';
import { isErrorCode, type ErrorCode } from '../../src/core/errors.js';
import { ERROR_CATALOGUE } from '../../src/core/errors.js';
import type { TicketSource } from '../../src/core/ticket-source.js';
import { createHttpApi, MAX_BODY_BYTES } from '../../src/protocols/http.js';
import { LineServer } from '../../src/protocols/line.js';
import { FastifyProtocolServer, type ProtocolServer } from '../../src/protocols/protocol-server.js';
import { OneShotServer } from '../../src/protocols/tcp-oneshot.js';
import { MAX_REQUEST_BYTES, ZmqServer } from '../../src/protocols/zmq.js';
import { runProtocolContract, type ContractConnection, type ContractReply, type ContractRequest, type ProtocolDriver } from '../protocol-contract.js';

const WAIT_MS = 5_000;
const logger = pino({ level: 'silent' });
const LOCAL = { host: '127.0.0.1', port: 0 };

/** Rejects after `WAIT_MS` so that no contract case can hang. */
function bounded<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no reply within ${WAIT_MS} ms`)), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function errorReply(code: unknown, message: unknown): ContractReply {
  if (!isErrorCode(code)) throw new Error(`not an error code: ${String(code)}`);
  return { error: true, code, message: String(message) };
}

/** A driver around a `ProtocolServer` listening on a host and port, with a socket-level client. */
function tcpDriver(
  create: (source: TicketSource) => ProtocolServer,
  connectTo: (address: string) => Promise<ContractConnection>,
): ProtocolDriver {
  let server: ProtocolServer | undefined;
  let address = '';
  return {
    async start(source) {
      server = create(source);
      address = await server.listen(LOCAL);
    },
    connect: () => connectTo(address),
    async stop() {
      await server?.close();
    },
  };
}

/** A socket that collects what it reads; `until(test)` waits (bounded) for the collected text to pass `test`. */
async function openSocket(address: string): Promise<{ socket: Socket; text: () => string; ended: () => boolean; until: (test: (text: string) => boolean) => Promise<string>; take: (length: number) => void }> {
  const url = new URL(address.startsWith('http') ? address : `tcp://${address}`);
  const socket = connect(Number(url.port), url.hostname.replace(/^\[|\]$/g, ''));
  await bounded(new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject)), 'connect');
  let buffer = '';
  let ended = false;
  const waiters = new Set<() => void>();
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (const wake of waiters) wake();
  });
  socket.on('end', () => {
    ended = true;
    for (const wake of waiters) wake();
  });
  socket.on('error', () => undefined);
  return {
    socket,
    text: () => buffer,
    ended: () => ended,
    take: (length) => {
      buffer = buffer.slice(length);
    },
    until: (test) =>
      bounded(
        new Promise<string>((resolve) => {
          const wake = (): void => {
            if (test(buffer) || ended) {
              waiters.delete(wake);
              resolve(buffer);
            }
          };
          waiters.add(wake);
          wake();
        }),
        'read',
      ),
  };
}

// ---- line ---------------------------------------------------------------------

function lineRequest(request: ContractRequest): string {
  if (request.name === undefined) return '\u0002';
  if (request.last !== undefined) return `NEXT ${request.name} ${request.count ?? 1} ${request.last}\n`;
  return request.count === undefined ? `NEXT ${request.name}\n` : `NEXT ${request.name} ${request.count}\n`;
}

function lineReply(text: string): ContractReply {
  const error = /^ERR (\S+) (.*)$/.exec(text);
  if (error) return errorReply(error[1], error[2]);
  if (!/^\d+( \d+)*$/.test(text)) throw new Error(`not a line reply: ${JSON.stringify(text)}`);
  return { values: text.split(' ').map((word) => BigInt(word)) };
}

async function lineConnection(address: string): Promise<ContractConnection> {
  const client = await openSocket(address);
  /** Reads one reply: up to ETX for STX, else up to LF (an ERR line also answers STX). */
  const read = async (stx: boolean): Promise<ContractReply> => {
    const end = (text: string): number => {
      const lf = text.indexOf('\n');
      if (!stx) return lf;
      const etx = text.indexOf('\u0003');
      return text.startsWith('ERR') ? lf : etx;
    };
    const text = await client.until((buffered) => end(buffered) >= 0);
    const at = end(text);
    if (at < 0) throw new Error(`connection ended before a reply: ${JSON.stringify(text)}`);
    client.take(at + 1);
    return lineReply(text.slice(0, at));
  };
  return {
    async send(requests) {
      client.socket.write(requests.map(lineRequest).join(''));
      const replies: ContractReply[] = [];
      for (const request of requests) replies.push(await read(request.name === undefined));
      return replies;
    },
    async sendOversize() {
      client.socket.write(`NEXT ${'x'.repeat(5000)}\n`);
      return read(false);
    },
    async close() {
      client.socket.destroy();
    },
  };
}

// ---- one-shot TCP ---------------------------------------------------------------

async function oneShot(address: string): Promise<ContractReply> {
  const client = await openSocket(address);
  const text = await client.until(() => client.ended());
  client.socket.destroy();
  if (text === '-1\n') return { error: true, code: undefined, message: '' };
  if (!/^\d+\n$/.test(text)) throw new Error(`not a one-shot reply: ${JSON.stringify(text)}`);
  return { values: [BigInt(text.trim())] };
}

function oneShotConnection(address: string): Promise<ContractConnection> {
  return Promise.resolve({
    async send(requests) {
      const replies: ContractReply[] = [];
      for (const request of requests) {
        if (request.name !== undefined || request.count !== undefined || request.last !== undefined) throw new Error('one-shot TCP has no request');
        replies.push(await oneShot(address));
      }
      return replies;
    },
    sendOversize: () => Promise.reject(new Error('one-shot TCP reads no input')),
    close: () => Promise.resolve(),
  });
}

// ---- HTTP -----------------------------------------------------------------------

function httpRequest(request: ContractRequest): string {
  const head = (line: string, body = ''): string => `${line} HTTP/1.1\r\nHost: test\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  if (request.name === undefined) {
    return request.count === undefined ? head('POST /') : head(`GET /tickets/create/${request.count}`);
  }
  const query = new URLSearchParams();
  if (request.count !== undefined) query.set('count', String(request.count));
  if (request.last !== undefined) query.set('last', request.last.toString());
  const search = query.size > 0 ? `?${query.toString()}` : '';
  return head(`POST /v1/sequences/${encodeURIComponent(request.name)}/next${search}`);
}

/** One response at the start of `text`, or undefined while it is incomplete. */
function httpResponse(text: string): { status: number; body: string; length: number } | undefined {
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const head = text.slice(0, headEnd);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? Number.NaN);
  if (Number.isNaN(length)) throw new Error(`response without content-length: ${head}`);
  if (text.length < headEnd + 4 + length) return undefined;
  return { status, body: text.slice(headEnd + 4, headEnd + 4 + length), length: headEnd + 4 + length };
}

function httpReply(status: number, body: string): ContractReply {
  if (status >= 400) {
    const { error } = JSON.parse(body) as { error: { code: ErrorCode; message: string } };
    // The status is part of the wire form: it must be the code's.
    if (status !== 413 && ERROR_CATALOGUE[error.code].status !== status) throw new Error(`${error.code} answered with status ${status}`);
    return errorReply(error.code, error.message);
  }
  if (/^\d+$/.test(body)) return { values: [BigInt(body)] }; // POST /
  const digits = body.match(/\d+/g) ?? [];
  return { values: digits.map((word) => BigInt(word)) }; // JSON arrays of numbers or strings: exact digits either way
}

async function httpConnection(address: string): Promise<ContractConnection> {
  const client = await openSocket(address);
  const read = async (): Promise<ContractReply> => {
    const text = await client.until((buffered) => httpResponse(buffered) !== undefined);
    const response = httpResponse(text);
    if (response === undefined) throw new Error(`connection ended before a response: ${JSON.stringify(text)}`);
    client.take(response.length);
    return httpReply(response.status, response.body);
  };
  return {
    async send(requests) {
      client.socket.write(requests.map(httpRequest).join(''));
      const replies: ContractReply[] = [];
      for (let index = 0; index < requests.length; index++) replies.push(await read());
      return replies;
    },
    async sendOversize() {
      const body = JSON.stringify({ count: 1, padding: 'x'.repeat(MAX_BODY_BYTES) });
      client.socket.write(`POST /v1/sequences/orders/next HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      return read();
    },
    async close() {
      client.socket.destroy();
    },
  };
}

// ---- ZeroMQ ---------------------------------------------------------------------

function zmqReply(frame: Buffer | undefined): ContractReply {
  const [error, value] = JSON.parse(String(frame)) as [string | null, string | string[]];
  if (error !== null) return errorReply(error, value);
  return { values: (Array.isArray(value) ? value : [value]).map((word) => BigInt(word)) };
}

function zmqDriver(): ProtocolDriver {
  let server: ZmqServer | undefined;
  let endpoint = '';
  return {
    async start(source) {
      server = new ZmqServer(source, logger);
      endpoint = await server.listen('tcp://127.0.0.1:*');
    },
    connect() {
      const socket = new Dealer({ receiveTimeout: WAIT_MS, sendTimeout: WAIT_MS, linger: 0 });
      socket.connect(endpoint);
      const exchange = async (bodies: string[]): Promise<ContractReply[]> => {
        for (const body of bodies) await socket.send([Buffer.alloc(0), body]);
        const replies: ContractReply[] = [];
        for (let index = 0; index < bodies.length; index++) {
          const frames = await socket.receive();
          replies.push(zmqReply(frames[frames.length - 1]));
        }
        return replies;
      };
      return Promise.resolve({
        send: (requests) =>
          exchange(
            requests.map((request) => {
              const last = request.last === undefined ? null : request.last.toString();
              return JSON.stringify(request.count === undefined ? [request.name, last] : [request.name, last, request.count]);
            }),
          ),
        sendOversize: async () => (await exchange([JSON.stringify(['orders', null, 1, 'x'.repeat(MAX_REQUEST_BYTES)])]))[0] as ContractReply,
        close: () => {
          socket.close();
          return Promise.resolve();
        },
      });
    },
    async stop() {
      await server?.close();
    },
  };
}

// ---- the runs -------------------------------------------------------------------

runProtocolContract('zmq', {
  driver: zmqDriver(),
  skip: { 'default sequence': 'every ZeroMQ request names its sequence' },
});

runProtocolContract('http', {
  driver: tcpDriver((source) => new FastifyProtocolServer('http', createHttpApi(source)), httpConnection),
});

runProtocolContract('line', {
  driver: tcpDriver((source) => new LineServer(source, logger, { idleTimeoutMs: WAIT_MS, maxConnections: 16 }), lineConnection),
});

runProtocolContract('tcp', {
  driver: tcpDriver((source) => new OneShotServer(source, logger, { sequence: 'default', idleTimeoutMs: WAIT_MS, maxConnections: 16 }), oneShotConnection),
  skip: {
    counted: 'one connection, one value',
    last: 'the client sends nothing',
    named: 'the sequence is fixed by --tcp-sequence',
    'pipelined order': 'one request per connection',
    'error codes': 'every failure is "-1"',
    oversize: 'input is never read',
  },
});
