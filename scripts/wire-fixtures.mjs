// Small fixtures shared by the tests, the benchmarks and the torture script,
// so each is written once: a raw ZMTP handshake and a seeded PRNG.

import { Buffer } from 'node:buffer';

/**
 * A ZMTP 3.0 greeting (NULL mechanism) and READY as a DEALER: what a peer
 * sends to complete the handshake without a ZeroMQ library (hostile-client
 * tests and bench/hostile.mjs write it on a raw TCP socket).
 * @returns {Buffer}
 */
export function zmtpHandshake() {
  const greeting = Buffer.alloc(64);
  greeting[0] = 0xff;
  greeting[9] = 0x7f;
  greeting[10] = 3;
  greeting.write('NULL', 12, 'latin1');
  const property = Buffer.concat([Buffer.from([11]), Buffer.from('Socket-Type'), Buffer.from([0, 0, 0, 6]), Buffer.from('DEALER')]);
  const ready = Buffer.concat([Buffer.from([5]), Buffer.from('READY'), property]);
  return Buffer.concat([greeting, Buffer.from([0x04, ready.length]), ready]);
}

/**
 * A small deterministic PRNG (mulberry32): numbers in [0, 1), the same for
 * the same seed, so a failing randomized run can be replayed with its seed.
 * @param {number} seed
 * @returns {() => number}
 */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
