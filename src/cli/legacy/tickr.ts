/**
 * `tickr`: Tickr's configuration, which was environment only (`TICKR_*`, read
 * by the native aliases: database, pool, max nodes, node number, starting
 * offset). It serves the public HTTP API (`GET /tickets/create[/N]`,
 * `GET /status`) on 0.0.0.0:9292, rackup's port; ZeroMQ and the admin port are
 * off unless native options ask for them. The MySQL store is required, as Tickr
 * required its database.
 */
import { ConfigError } from '../../config/options.js';
import { NATIVE_HELP_FOOTER, buildPlan, nativeSetting, refusePositionals, scanArgs, type LegacyOutcome } from './common.js';

/** rackup's default port, where Tickr listened. */
export const TICKR_DEFAULT_HTTP = '0.0.0.0:9292';

/**
 * Maps Tickr's environment onto the native serve path (Tickr took no flags;
 * native flags are accepted).
 * @throws ConfigError (exit 2) when the database variables are missing (and no native
 *   --store or TICKET_SERVER_STORE replaces them), on an unknown flag or a stray argument
 */
export function mapTickr(argv: readonly string[], env: NodeJS.ProcessEnv): LegacyOutcome {
  const scanned = scanArgs(argv, new Map(), false);
  if (scanned.help) return { kind: 'help' };
  if (scanned.version) return { kind: 'version' };
  refusePositionals(scanned);
  const missing = ['TICKR_DATABASE_HOST', 'TICKR_DATABASE_NAME'].filter((name) => env[name] === undefined || env[name] === '');
  if (missing.length > 0 && nativeSetting(scanned, env, 'store') === undefined) {
    throw new ConfigError(
      'store',
      `Tickr's MySQL database is not configured: set ${missing.join(' and ')} ` +
        '(and TICKR_DATABASE_USERNAME, TICKR_DATABASE_PASSWORD, TICKR_DATABASE_POOL_SIZE, ' +
        'TICKR_DATABASE_POOL_TIMEOUT as needed), or give --store URI',
    );
  }
  const defaults = [
    { name: 'http', value: TICKR_DEFAULT_HTTP },
    { name: 'bind', value: 'off' },
    { name: 'admin', value: 'off' },
  ];
  const plan = buildPlan({ command: 'tickr', mapped: [], defaults, scanned, env });
  const tickrVariables = Object.keys(env)
    .filter((name) => name.startsWith('TICKR_') && env[name] !== '')
    .sort();
  const notice = tickrVariables.length > 0 ? `${plan.notice}; from the environment: ${tickrVariables.join(', ')}` : plan.notice;
  return { kind: 'serve', plan: { ...plan, notice } };
}

/** `tickr --help`. */
export const TICKR_HELP = [
  'tickr — Tickr\'s configuration, served by ticket-server (the same server)',
  '',
  'Usage:',
  '  TICKR_DATABASE_HOST=HOST[:PORT] TICKR_DATABASE_NAME=DB … tickr',
  '  tickr --help | --version',
  '',
  'Tickr took no flags; its variables:',
  '  TICKR_DATABASE_HOST, _USERNAME, _PASSWORD, _NAME  the MySQL store, required',
  '                                          → --store mysql://USERNAME:PASSWORD@HOST/NAME',
  '  TICKR_DATABASE_POOL_SIZE                → --pool-size',
  '  TICKR_DATABASE_POOL_TIMEOUT (seconds)   → --pool-timeout (milliseconds)',
  '  TICKR_MAX_NODES                         → --instances',
  '  TICKR_NODE_NUMBER (0-based)             → --instance (1-based): node 0 is instance 1',
  '  TICKR_STARTING_OFFSET                   → --offset',
  '',
  'Serves GET /tickets/create, GET /tickets/create/N and GET /status on 0.0.0.0:9292 (rackup\'s',
  'port; --http ADDR to change). ZeroMQ (--bind) and --admin default to off. Tickets come from',
  'the ticket-server tables, not Tickr\'s: take over first (ticket-server takeover',
  'mysql://…/DB?table=T) so that no number Tickr issued is issued again.',
  ...NATIVE_HELP_FOOTER,
].join('\n');
