#!/usr/bin/env node
// The floor of a Node line server, for benchmark (f): accept, and answer every `\n`-terminated line
// with an in-memory counter and `\n`, one write per read — what any Node server on `node:net` pays
// per read and per write, with no parsing, no issuing and no bounds. ticket-server's line protocol ÷
// this shows how much of the distance to Redis is the project's own code and how much is Node's.
//
//   node bench/baselines/node-line.mjs PORT     (listens on 127.0.0.1:PORT)
import { createServer } from 'node:net';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node bench/baselines/node-line.mjs PORT');
  process.exit(2);
}
let counter = 0;
createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk) => {
    let reply = '';
    for (let index = chunk.indexOf(10); index !== -1; index = chunk.indexOf(10, index + 1)) reply += `${++counter}\n`;
    if (reply !== '') socket.write(reply);
  });
}).listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
