/**
 * `seqgen`: seqgen's command line. Its flags are the native ones
 * (`--bind --admin --host --instance --instances --drift --data`, `--admin`
 * written `http://HOST:PORT`); only its defaults differ: `--drift 100`,
 * `--data /var/lib/seqgen/`, and no public HTTP API (seqgen served ZeroMQ and
 * the admin port only). One or more `--host` make it a proxy, as in seqgen.
 */
import { NATIVE_HELP_FOOTER, buildPlan, refusePositionals, scanArgs, type LegacyFlagSpec, type LegacyOutcome, type MappedOption } from './common.js';

const FLAGS = new Map<string, LegacyFlagSpec>([
  ['bind', { kind: 'string' }],
  ['admin', { kind: 'string' }],
  ['host', { kind: 'string', multiple: true }],
  ['instance', { kind: 'string' }],
  ['instances', { kind: 'string' }],
  ['drift', { kind: 'string' }],
  ['data', { kind: 'string' }],
]);

/** seqgen's defaults where they differ from ticket-server's. */
export const SEQGEN_DEFAULTS: readonly MappedOption[] = [
  { name: 'drift', value: '100' },
  { name: 'data', value: '/var/lib/seqgen/' },
  { name: 'http', value: 'off' },
];

/**
 * Maps a seqgen command line onto the native serve path.
 * @throws ConfigError (exit 2) naming an unknown flag or a stray argument
 */
export function mapSeqgen(argv: readonly string[], env: NodeJS.ProcessEnv): LegacyOutcome {
  const scanned = scanArgs(argv, FLAGS, false);
  if (scanned.help) return { kind: 'help' };
  if (scanned.version) return { kind: 'version' };
  refusePositionals(scanned);
  const mapped: MappedOption[] = [];
  for (const [name, values] of scanned.legacy) for (const value of values) mapped.push({ name, value });
  return { kind: 'serve', plan: buildPlan({ command: 'seqgen', mapped, defaults: SEQGEN_DEFAULTS, scanned, env }) };
}

/** `seqgen --help`. */
export const SEQGEN_HELP = [
  'seqgen — seqgen\'s command line, served by ticket-server (the same server, other defaults)',
  '',
  'Usage:',
  '  seqgen [--instance I --instances N] [--drift D] [--data DIR] [--bind ENDPOINT] [--admin URL]',
  '  seqgen --host tcp://HOST:PORT [--host …]      proxy mode: forward to these servers',
  '  seqgen --help | --version',
  '',
  'seqgen\'s flags are ticket-server\'s flags of the same name:',
  '  --bind ENDPOINT     ZeroMQ REQ/REP endpoint (default tcp://0.0.0.0:6410)',
  '  --admin URL         admin/status HTTP, http://HOST:PORT or HOST:PORT (default http://0.0.0.0:6411)',
  '  --host URI          proxy mode; repeat for several upstreams',
  '  --instance I        this server\'s instance, 1..N (default 1)',
  '  --instances N       servers sharing the number space (default 1)',
  '  --drift D           jump ahead when a client\'s last value is D above ours (default 100)',
  '  --data DIR          data directory (default /var/lib/seqgen/)',
  '',
  'Differences from ticket-server: --drift 100, --data /var/lib/seqgen/, --http off (seqgen had no',
  'public HTTP API; give --http ADDR to turn it on).',
  ...NATIVE_HELP_FOOTER,
].join('\n');
