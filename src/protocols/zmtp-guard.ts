/**
 * A TCP front for the ZeroMQ listener that bounds what libzmq cannot.
 *
 * libzmq bounds each *frame* (`maxMessageSize`) and each peer's queue of
 * *complete* messages (the receive high-water mark), but a message whose last
 * frame never comes is kept whole, frame after frame, without limit: the
 * application sees nothing until the last frame, so it cannot drop the peer.
 * libzmq also has no limit on the number of peers (unbinding to refuse
 * newcomers drops everyone).
 *
 * So the public port is a Node TCP listener. Each connection is joined to its
 * own loopback connection to the ROUTER socket (one peer there per client, so
 * routing, heartbeats and handshake timeouts work as before), and the bytes the
 * client sends are read through a ZMTP frame meter on the way: a message with
 * more than `MAX_MESSAGE_FRAMES` frames or `MAX_MESSAGE_BYTES` bytes, or a
 * stream that is not ZMTP 2 or 3, ends the client's connection at once. The
 * listener's connection limit bounds the peers. Replies pass through untouched.
 *
 * Under CurveZMQ the MORE flag of each frame travels inside the encrypted box,
 * so message boundaries cannot be seen from outside: there the meter stands
 * aside after the greeting, and what bounds a peer is the connection limit,
 * libzmq's per-frame limit and the allow list (only holders of an allowed key
 * get past the handshake).
 */
import { connect, type Socket } from 'node:net';
import { TcpListener } from './tcp-listener.js';
import type { ProtocolLogger } from './zmq.js';

/** Most frames in one message a client may send (a request is 1 or 2; brokers add envelope frames). */
export const MAX_MESSAGE_FRAMES = 32;
/** Most bytes in one message a client may send, all frames together; requests are at most 4 KiB. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

const FLAG_MORE = 0x01;
const FLAG_LONG = 0x02;
const FLAG_COMMAND = 0x04;
const ZMTP3_GREETING_BYTES = 64;
/** ZMTP 2.0: the 10-byte signature, the revision and the socket type. */
const ZMTP2_GREETING_BYTES = 12;
const MECHANISM_OFFSET = 12;
const MECHANISM_BYTES = 20;

/** Where the meter is in the byte stream. */
const enum Stage {
  Signature,
  Greeting,
  Flags,
  Size,
  Body,
  Opaque,
  Refused,
}

/**
 * Follows the ZMTP frames of one client's byte stream, in any chunking, and
 * says when the stream passes the bounds. Pure: no sockets.
 */
export class ZmtpFrameMeter {
  private stage = Stage.Signature;
  /** Bytes still wanted by the current stage (greeting, size field or body). */
  private wanted = 10;
  private readonly header = Buffer.alloc(ZMTP3_GREETING_BYTES);
  private headerLength = 0;
  private flags = 0;
  private messageFrames = 0;
  private messageBytes = 0;
  /** Why the stream was refused; undefined while it is within bounds. */
  reason: string | undefined;
  /** True once the client chose an encrypting mechanism (CURVE): frames are counted no further. */
  get opaque(): boolean {
    return this.stage === Stage.Opaque;
  }

  /**
   * Takes the next bytes of the stream.
   * @returns false once the stream is out of bounds (then `reason` says why; later calls return false).
   */
  feed(chunk: Uint8Array): boolean {
    let offset = 0;
    while (offset < chunk.length) {
      switch (this.stage) {
        case Stage.Opaque:
          return true;
        case Stage.Refused:
          return false;
        case Stage.Body: {
          const take = Math.min(this.wanted, chunk.length - offset);
          offset += take;
          this.wanted -= take;
          if (this.wanted === 0) this.stage = Stage.Flags;
          break;
        }
        case Stage.Flags: {
          const flags = chunk[offset++] as number;
          if ((flags & ~(FLAG_MORE | FLAG_LONG | FLAG_COMMAND)) !== 0) return this.refuse('reserved frame flag bits set');
          this.flags = flags;
          this.stage = Stage.Size;
          this.wanted = (flags & FLAG_LONG) !== 0 ? 8 : 1;
          this.headerLength = 0;
          break;
        }
        default: {
          // Signature, Greeting and Size gather a few bytes before deciding.
          const take = Math.min(this.wanted, chunk.length - offset);
          this.header.set(chunk.subarray(offset, offset + take), this.headerLength);
          this.headerLength += take;
          offset += take;
          this.wanted -= take;
          if (this.wanted === 0 && !this.decide()) return false;
        }
      }
    }
    return this.stage !== Stage.Refused;
  }

  /** Acts on a complete signature, greeting or size field. */
  private decide(): boolean {
    const header = this.header;
    if (this.stage === Stage.Signature) {
      // ZMTP 2 and 3 start 0xFF, 8 padding bytes, 0x7F (bit 0 set); ZMTP 1.0 (libzmq 2.x) is not served.
      if (header[0] !== 0xff || ((header[9] as number) & 1) !== 1) return this.refuse('not a ZMTP 2 or 3 greeting');
      this.stage = Stage.Greeting;
      this.wanted = 1;
      return true;
    }
    if (this.stage === Stage.Greeting) {
      if (this.headerLength === 11) {
        const major = header[10] as number;
        if (major === 1) this.wanted = ZMTP2_GREETING_BYTES - 11;
        else if (major >= 3) this.wanted = ZMTP3_GREETING_BYTES - 11;
        else return this.refuse(`ZMTP revision ${major} is not served`);
        return true;
      }
      if (this.headerLength === ZMTP3_GREETING_BYTES) {
        const mechanism = header.toString('latin1', MECHANISM_OFFSET, MECHANISM_OFFSET + MECHANISM_BYTES).replace(/\0+$/, '');
        if (mechanism !== 'NULL' && mechanism !== 'PLAIN') {
          this.stage = Stage.Opaque;
          return true;
        }
      }
      this.stage = Stage.Flags;
      return true;
    }
    // Stage.Size: a frame's length is known before its body arrives, so an oversize message is refused at once.
    const size = this.headerLength === 1 ? (header[0] as number) : Number(header.readBigUInt64BE(0));
    if ((this.flags & FLAG_COMMAND) !== 0) {
      if (size > MAX_MESSAGE_BYTES) return this.refuse(`a command frame of ${size} bytes`);
    } else {
      this.messageFrames++;
      this.messageBytes += size;
      if (this.messageFrames > MAX_MESSAGE_FRAMES) return this.refuse(`a message of more than ${MAX_MESSAGE_FRAMES} frames`);
      if (this.messageBytes > MAX_MESSAGE_BYTES) return this.refuse(`a message of more than ${MAX_MESSAGE_BYTES} bytes`);
      if ((this.flags & FLAG_MORE) === 0) {
        this.messageFrames = 0;
        this.messageBytes = 0;
      }
    }
    this.wanted = size;
    this.stage = size === 0 ? Stage.Flags : Stage.Body;
    return true;
  }

  private refuse(reason: string): false {
    this.stage = Stage.Refused;
    this.reason = reason;
    return false;
  }
}

/** Called when a client's connection is ended for passing the bounds. */
export type GuardRefusal = (reason: string) => void;

/**
 * The listener in front of a ZeroMQ socket bound on loopback: every client
 * connection is metered and joined to one connection to `inner`.
 */
export class ZmtpGuard {
  private readonly listener: TcpListener;

  /**
   * @param inner where the ROUTER listens (loopback host and port)
   * @param maxConnections most clients at once; Node closes any beyond at once
   * @param refused told each time a client is cut off for passing the bounds
   */
  constructor(inner: { host: string; port: number }, logger: ProtocolLogger, maxConnections: number, refused: GuardRefusal) {
    this.listener = new TcpListener('zmq', logger, maxConnections, (client) => joinClient(client, inner, refused));
  }

  /** Listens; returns `host:port` actually bound. */
  listen(host: string, port: number): Promise<string> {
    return this.listener.listen(host, port);
  }

  /** Stops accepting; lets joined connections finish within `graceMs` (the ROUTER's last replies), then drops them. */
  close(graceMs: number): Promise<void> {
    return this.listener.close(graceMs);
  }
}

/** Joins a client to its own connection to the ROUTER, with backpressure both ways. */
function joinClient(client: Socket, inner: { host: string; port: number }, refused: GuardRefusal): void {
  const meter = new ZmtpFrameMeter();
  const router = connect({ host: inner.host, port: inner.port, noDelay: true });
  const dropBoth = (): void => {
    client.destroy();
    router.destroy();
  };
  router.on('error', dropBoth);
  client.on('error', dropBoth);
  client.on('data', (chunk: Buffer) => {
    if (!meter.feed(chunk)) {
      refused(meter.reason ?? 'out of bounds');
      dropBoth();
      return;
    }
    if (!router.write(chunk)) client.pause();
  });
  router.on('drain', () => client.resume());
  router.on('data', (chunk: Buffer) => {
    if (!client.write(chunk)) router.pause();
  });
  client.on('drain', () => router.resume());
  // A graceful close of the ROUTER flushes its last replies, then ends: pass them on, then end.
  router.on('end', () => client.end());
  client.on('end', () => router.end());
  router.on('close', () => {
    if (!client.writableEnded) client.destroy();
  });
  client.on('close', () => router.destroy());
}
