#!/usr/bin/env node
// Hostile clients against the built CLI: for each attack kind, a fresh memory: server with every
// protocol on loopback, CONNECTIONS attackers, then the server's RSS (VmRSS of the child) and the
// p99 latency of a well-behaved prober on the line protocol and on HTTP while the attackers hold on.
//
// Attack kinds: line / HTTP / ZeroMQ clients that pipeline 1000-value requests and never read;
// HTTP connections that send headers announcing a body and then nothing; ZeroMQ peers that complete
// the handshake on raw TCP and go silent; ZeroMQ peers that send an unfinished multipart message
// (64 KiB frames, MORE set, never a last frame).
//
// Run after a build: `node bench/hostile.mjs`. Knobs (environment, bounded): BENCH_HOSTILE_CONNECTIONS
// (default 30), BENCH_HOSTILE_SECONDS (attack time before measuring, default 8), BENCH_HOSTILE_KINDS
// (comma-separated subset). Every child and socket is closed at the end, also on failure.
import { Buffer } from 'node:buffer';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Dealer } from 'zeromq';

const { fetch, AbortSignal } = globalThis;
import { envNumber, percentileSorted, renderTable } from './stats.mjs';
import { killAllChildren, startServer } from './zmq-load.mjs';
import { zmtpHandshake } from '../scripts/wire-fixtures.mjs';

const CONNECTIONS = envNumber('BENCH_HOSTILE_CONNECTIONS', 30, 1, 500);
const ATTACK_SECONDS = envNumber('BENCH_HOSTILE_SECONDS', 8, 1, 120);
const PROBES = 200;
const sockets = new Set();
const dealers = new Set();

function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

function hostPort(address) {
  const url = new URL(address.includes('://') ? address : `tcp://${address}`);
  return { host: url.hostname, port: Number(url.port) };
}

function open(address) {
  const { host, port } = hostPort(address);
  const socket = connect(port, host);
  socket.on('error', () => undefined);
  sockets.add(socket);
  return socket;
}

/** One ZMTP long frame with MORE set (flags 0x03), `size` bytes. */
function moreFrame(size) {
  const header = Buffer.alloc(9);
  header[0] = 0x03;
  header.writeBigUInt64BE(BigInt(size), 1);
  return Buffer.concat([header, Buffer.alloc(size, 0x61)]);
}

const ATTACKS = {
  'line-no-read': (server) => {
    for (let index = 0; index < CONNECTIONS; index++) {
      const socket = open(server.addresses.line);
      socket.pause();
      socket.write('NEXT x 1000\n'.repeat(20_000));
    }
  },
  'http-no-read': (server) => {
    for (let index = 0; index < CONNECTIONS; index++) {
      const socket = open(server.urls.http);
      socket.pause();
      socket.write('GET /tickets/create/1000 HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(5_000));
    }
  },
  'zmq-no-receive': async (server) => {
    for (let index = 0; index < CONNECTIONS; index++) {
      const dealer = new Dealer({ linger: 0, receiveHighWaterMark: 10, sendHighWaterMark: 0 });
      dealers.add(dealer);
      dealer.connect(server.endpoint);
      const body = JSON.stringify(['x', '0', 1000]);
      for (let sent = 0; sent < 5_000; sent++) await dealer.send(body);
    }
  },
  'http-body-never-sent': (server) => {
    for (let index = 0; index < CONNECTIONS; index++) {
      open(server.urls.http).write('POST /v1/sequences/x/next HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n');
    }
  },
  'zmq-silent-peer': (server) => {
    for (let index = 0; index < CONNECTIONS; index++) {
      const socket = open(server.endpoint);
      socket.on('data', () => undefined);
      socket.write(zmtpHandshake());
    }
  },
  'zmq-unfinished-multipart': (server) => {
    // Per peer, 8 MiB of 64 KiB frames with MORE set, written as the socket drains, once the server's
    // greeting arrived (frames sent before it get the peer dropped).
    const frame = moreFrame(64 * 1024);
    for (let index = 0; index < CONNECTIONS; index++) {
      const socket = open(server.endpoint);
      socket.on('data', () => undefined);
      socket.once('data', () => setTimeout(pump, 100));
      socket.write(zmtpHandshake());
      let left = 128;
      const pump = () => {
        while (left > 0 && !socket.destroyed) {
          left--;
          if (!socket.write(frame)) return;
        }
      };
      socket.on('drain', pump);
    }
  },
};

async function probeLine(address) {
  const socket = open(address);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const latencies = [];
  let pending;
  socket.on('data', () => pending?.());
  for (let index = 0; index < PROBES; index++) {
    const started = performance.now();
    await Promise.race([
      new Promise((resolve) => {
        pending = resolve;
        socket.write('NEXT probe\n');
      }),
      new Promise((resolve) => setTimeout(resolve, 5_000)),
    ]);
    latencies.push(performance.now() - started);
  }
  socket.destroy();
  return latencies;
}

async function probeHttp(url) {
  const latencies = [];
  for (let index = 0; index < PROBES; index++) {
    const started = performance.now();
    try {
      await fetch(`${url}/v1/sequences/probe/next`, { method: 'POST', signal: AbortSignal.timeout(5_000) }).then((response) => response.text());
    } catch {
      // a failed probe counts with its time (up to the timeout)
    }
    latencies.push(performance.now() - started);
  }
  return latencies;
}

function p99(latencies) {
  const sorted = [...latencies].sort((a, b) => a - b);
  return percentileSorted(sorted, sorted.length, 0.99);
}

async function runKind(kind) {
  const server = await startServer(kind, ['--store', 'memory:', '--line', '127.0.0.1:0', '--heartbeat-timeout', '5000', '--request-timeout', '10000']);
  try {
    const before = rssMb(server.pid);
    await ATTACKS[kind](server);
    await new Promise((resolve) => setTimeout(resolve, ATTACK_SECONDS * 1000));
    const during = rssMb(server.pid);
    const [line, http] = await Promise.all([probeLine(server.addresses.line), probeHttp(server.urls.http)]);
    const after = rssMb(server.pid);
    return { kind, connections: CONNECTIONS, rssBeforeMb: before, rssMb: Math.max(during, after), lineP99Ms: p99(line), httpP99Ms: p99(http), failure: server.failure?.reason };
  } finally {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    for (const dealer of dealers) dealer.close();
    dealers.clear();
    await server.stop();
  }
}

const kinds = (process.env.BENCH_HOSTILE_KINDS ?? Object.keys(ATTACKS).join(',')).split(',').filter((kind) => kind in ATTACKS);
const results = [];
try {
  for (const kind of kinds) {
    const result = await runKind(kind);
    results.push(result);
    console.log(JSON.stringify(result));
  }
} finally {
  killAllChildren();
}
console.log(
  renderTable(
    ['attack', 'conns', 'RSS before', 'RSS under attack', 'line p99', 'HTTP p99', 'server'],
    results.map((r) => [r.kind, String(r.connections), `${r.rssBeforeMb} MB`, `${r.rssMb} MB`, `${r.lineP99Ms.toFixed(1)} ms`, `${r.httpP99Ms.toFixed(1)} ms`, r.failure ?? 'up']),
  ),
);
process.exit(0);
