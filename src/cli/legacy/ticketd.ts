/**
 * `ticketd`: ticketd's command line, `ticketd [PEERS] --peer_port P --http_port H`.
 * It serves `POST /` (and the rest of the public HTTP API) on H; ZeroMQ and the
 * admin port are off unless native options ask for them.
 *
 * ticketd kept its cluster consistent with its own Raft; here the consensus is
 * etcd's. So the peer list and `--peer_port` need `--store etcd://…` and then
 * mean leader mode (`--leader`, with `--advertise-http http://HOST:H`, HOST
 * being this node's entry in PEERS). Without etcd they stop the program with
 * exit 2 rather than run a "cluster" whose nodes would repeat each other's
 * numbers. A single node (no peers) runs on any store.
 */
import { ConfigError } from '../../config/options.js';
import {
  NATIVE_HELP_FOOTER,
  buildPlan,
  lastValue,
  nativeSetting,
  scanArgs,
  type LegacyFlagSpec,
  type LegacyOutcome,
  type MappedOption,
} from './common.js';

const FLAGS = new Map<string, LegacyFlagSpec>([
  ['peer_port', { kind: 'string' }],
  ['http_port', { kind: 'string' }],
]);

/** The HTTP port when `--http_port` is not given (the first node of ticketd's README). */
export const TICKETD_DEFAULT_HTTP_PORT = 8001;
/** Most peers in the list; ticketd clusters had 3 or 5. */
const MAX_PEERS = 64;

interface Peer {
  readonly host: string;
  readonly port: number;
}

function parsePort(text: string, flag: string): number {
  const value = /^[0-9]{1,5}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!(value >= 0 && value <= 65_535)) throw new ConfigError(flag, `invalid --${flag}: expected a port from 0 to 65535, got "${text.slice(0, 40)}"`);
  return value;
}

function parsePeers(text: string): Peer[] {
  const entries = text.split(',').filter((entry) => entry.trim() !== '');
  if (entries.length === 0 || entries.length > MAX_PEERS) {
    throw new ConfigError('PEERS', `invalid PEERS: expected 1 to ${MAX_PEERS} HOST:PORT entries separated by commas, got "${text.slice(0, 80)}"`);
  }
  return entries.map((entry) => {
    const match = /^([A-Za-z0-9.-]{1,253}|\[[0-9a-fA-F:.]+\]):([0-9]{1,5})$/.exec(entry.trim());
    if (!match || Number(match[2]) > 65_535) {
      throw new ConfigError('PEERS', `invalid PEERS entry "${entry.slice(0, 80)}": expected HOST:PORT`);
    }
    return { host: match[1] as string, port: Number(match[2]) };
  });
}

/**
 * `--http_port` as ticketd took it (PORT, on every interface), or HOST:PORT to
 * listen on one address only (an addition; e.g. 127.0.0.1:8001).
 */
function parseHttpPort(text: string): { host: string; port: number } {
  const match = /^(?:([A-Za-z0-9.-]{1,253}|\[[0-9a-fA-F:.]+\]):)?([0-9]{1,5})$/.exec(text.trim());
  if (!match || Number(match[2]) > 65_535) {
    throw new ConfigError('http_port', `invalid --http_port: expected a port from 0 to 65535 (or HOST:PORT), got "${text.slice(0, 40)}"`);
  }
  return { host: match[1] ?? '0.0.0.0', port: Number(match[2]) };
}

/**
 * Maps a ticketd command line onto the native serve path.
 * @throws ConfigError (exit 2): an unknown flag, a bad port or peer, more than one peer list, or
 *   peers / `--peer_port` without an etcd store
 */
export function mapTicketd(argv: readonly string[], env: NodeJS.ProcessEnv): LegacyOutcome {
  const scanned = scanArgs(argv, FLAGS, false);
  if (scanned.help) return { kind: 'help' };
  if (scanned.version) return { kind: 'version' };
  if (scanned.positionals.length > 1) {
    throw new ConfigError('PEERS', `unexpected argument "${(scanned.positionals[1] as string).slice(0, 80)}": give the peers as one comma-separated list`);
  }
  const peersText = scanned.positionals[0];
  const peers = peersText === undefined ? undefined : parsePeers(peersText);
  const peerPortText = lastValue(scanned, 'peer_port');
  const peerPort = peerPortText === undefined ? undefined : parsePort(peerPortText, 'peer_port');
  const httpPortText = lastValue(scanned, 'http_port');
  const http = httpPortText === undefined ? undefined : parseHttpPort(httpPortText);

  const mapped: MappedOption[] = [];
  const defaults: MappedOption[] = [];
  if (http) mapped.push({ name: 'http', value: `${http.host.includes(':') && !http.host.startsWith('[') ? `[${http.host}]` : http.host}:${http.port}` });
  else defaults.push({ name: 'http', value: `0.0.0.0:${TICKETD_DEFAULT_HTTP_PORT}` });
  const remarks: string[] = [];

  if (peers !== undefined || peerPort !== undefined) {
    const store = nativeSetting(scanned, env, 'store');
    if (store === undefined || !store.startsWith('etcd://')) {
      throw new ConfigError(
        peers !== undefined ? 'PEERS' : 'peer_port',
        'a ticketd cluster (PEERS, --peer_port) needs a consensus store: ticket-server keeps the cluster ' +
          'consistent through etcd, not through its own peer protocol. Add --store etcd://HOST:PORT,… --leader ' +
          '(one node issues, the others redirect to it), or run a single node without PEERS and --peer_port.',
      );
    }
    mapped.push({ name: 'leader', value: 'true' });
    if (nativeSetting(scanned, env, 'advertise-http') === undefined) {
      const self = peers?.find((peer) => peer.port === peerPort);
      const host = self?.host ?? (http && http.host !== '0.0.0.0' ? http.host : undefined);
      if (host === undefined) {
        throw new ConfigError(
          'peer_port',
          'cannot tell this node\'s address for the leader redirect: give --peer_port matching this node\'s ' +
            'entry in PEERS, or --advertise-http http://HOST:PORT',
        );
      }
      const port = http?.port ?? TICKETD_DEFAULT_HTTP_PORT;
      if (port === 0) {
        // A free port is only known once bound; followers would redirect to :0.
        throw new ConfigError('http_port', '--http_port 0 cannot be advertised to followers: give a port, or --advertise-http http://HOST:PORT');
      }
      defaults.push({ name: 'advertise-http', value: `http://${host}:${port}` });
    }
    remarks.push('PEERS and --peer_port: etcd is the consensus, no peer port is opened');
  }
  defaults.push({ name: 'bind', value: 'off' }, { name: 'admin', value: 'off' });
  // `--leader` is a boolean flag: written without a value.
  const plan = buildPlan({ command: 'ticketd', mapped, defaults, scanned, env, remarks });
  return {
    kind: 'serve',
    plan: {
      ...plan,
      argv: plan.argv.map((arg) => (arg === '--leader=true' ? '--leader' : arg)),
      notice: plan.notice.replace('--leader true', '--leader'),
    },
  };
}

/** `ticketd --help`. */
export const TICKETD_HELP = [
  'ticketd — ticketd\'s command line, served by ticket-server (the same server)',
  '',
  'Usage:',
  '  ticketd [--http_port H]                                   a single node, any store',
  '  ticketd PEERS --peer_port P --http_port H --store etcd://HOST:PORT,…   a cluster on etcd',
  '  ticketd --help | --version',
  '',
  '  --http_port H   public HTTP API on 0.0.0.0:H (default 8001): POST / answers a ticket as text;',
  '                  HOST:PORT listens on one address only                       → --http 0.0.0.0:H',
  '  PEERS           HOST:PORT,HOST:PORT,… (ticketd\'s Raft peers)',
  '  --peer_port P   this node\'s port in PEERS',
  '',
  'ticketd ran its own Raft; here the cluster\'s consensus is etcd. PEERS and --peer_port therefore',
  'need --store etcd://HOST:PORT,… and map to leader mode: --leader, and --advertise-http',
  'http://HOST:H where HOST is this node\'s entry in PEERS (the one whose port is P). Followers',
  'answer 307 to the leader (ticketd answered 301). No peer port is opened. Without an etcd store,',
  'PEERS and --peer_port stop the program (exit 2). ZeroMQ (--bind) and --admin default to off.',
  'Numbers are not those ticketd issued (random values below 2^31): take over first',
  '(ticket-server takeover ticketd) so that none is issued again.',
  ...NATIVE_HELP_FOOTER,
].join('\n');
