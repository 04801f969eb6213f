/**
 * The ZAP handler (ZeroMQ RFC 27) that enforces `--curve-allow`: libzmq asks
 * it, over `inproc://zeromq.zap.01` in the same context, whether a client
 * that completed the CurveZMQ handshake may connect, handing over the client's
 * public key. One handler serves every socket of the process (libzmq allows
 * one per context); each socket uses its own ZAP domain, registered here
 * with its allow-list. A refused client's connection is closed before any
 * message of it reaches the socket.
 */
import { Reply } from 'zeromq';

const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';
const ZAP_VERSION = '1.0';

/** Allowed client keys by domain (hex of the 32-byte key); undefined: any client. */
const policies = new Map<string, ReadonlySet<string> | undefined>();
let handler: Promise<Reply> | undefined;
let domains = 0;

/** Decides one ZAP request: [version, request id, domain, address, identity, mechanism, credentials…]. */
export function zapDecision(frames: readonly Buffer[]): { status: '200' | '400'; text: string } {
  const [version, , domainFrame, , , mechanism, clientKey] = frames;
  if (version?.toString() !== ZAP_VERSION) return { status: '400', text: 'unsupported ZAP version' };
  const domain = domainFrame?.toString() ?? '';
  if (!policies.has(domain)) return { status: '400', text: 'unknown domain' };
  if (mechanism?.toString() !== 'CURVE' || clientKey === undefined || clientKey.length !== 32) {
    return { status: '400', text: 'CURVE required' };
  }
  const allowed = policies.get(domain);
  if (allowed !== undefined && !allowed.has(clientKey.toString('hex'))) return { status: '400', text: 'client key not allowed' };
  return { status: '200', text: 'OK' };
}

async function serve(socket: Reply): Promise<void> {
  try {
    for await (const frames of socket) {
      const decision = zapDecision(frames);
      // Reply: version, request id, status code, status text, user id, metadata.
      await socket.send([ZAP_VERSION, frames[1] ?? '', decision.status, decision.text, '', '']);
    }
  } catch {
    // Closed: the last domain was released.
  }
}

/**
 * Registers a domain and its allow-list, starting the handler on first use.
 * @returns the domain to set as the socket's `zapDomain`, and its release
 */
export async function registerZapDomain(allowed: ReadonlySet<string> | undefined): Promise<{ domain: string; release: () => void }> {
  if (handler === undefined) {
    const socket = new Reply({ linger: 0 });
    handler = socket.bind(ZAP_ENDPOINT).then(() => {
      void serve(socket);
      return socket;
    });
    handler.catch(() => undefined);
  }
  const started = handler;
  try {
    await started;
  } catch (error) {
    if (handler === started) handler = undefined;
    throw error;
  }
  const domain = `ticket-server-${++domains}`;
  policies.set(domain, allowed);
  let released = false;
  return {
    domain,
    release: () => {
      if (released) return;
      released = true;
      policies.delete(domain);
      if (policies.size === 0 && handler !== undefined) {
        const closing = handler;
        handler = undefined;
        void closing.then((socket) => socket.close(), () => undefined);
      }
    },
  };
}
