/** The native command's --help: the commands, the takeover sources, then the option table's rows. */
import { optionHelpLines, paragraph, twoColumns } from '../config/help.js';

/** The native commands, as --help lists them. */
const COMMAND_HELP: ReadonlyArray<readonly [string, string]> = [
  ['ticket-server [serve] [options]', 'serve tickets (ZeroMQ, HTTP, TCP; see docs/protocols.md)'],
  ['ticket-server dump [options]', 'print every sequence\'s state as JSON'],
  ['ticket-server restore FILE… [options]', 'raise sequences above the floors in dump FILEs (never lowers)'],
  [
    'ticket-server takeover SOURCE… [--sequence NAME] [options]',
    'raise sequences above what an earlier system may have issued (never lowers; prints NAME: FLOOR ' +
      '(raised|unchanged)); SOURCE is one of those below',
  ],
  [
    'ticket-server next NAME [--count N] [--server URI]… [--timeout MS]',
    'print tickets, one per line (default server tcp://127.0.0.1:6410)',
  ],
  ['ticket-server status [--admin URL] [--json]', 'summarise a running server\'s /status (exit 1 when not ready)'],
  ['ticket-server completion bash|zsh', 'print a shell completion script'],
  ['ticket-server --help | --version', ''],
  ['ticket-server COMMAND --help', 'that command\'s usage, options and examples'],
];

/** The takeover SOURCE forms, as --help and `takeover --help` list them. */
export const TAKEOVER_SOURCE_HELP: readonly string[] = [
  'a decimal value',
  'seqgen:FILE or ticket-server:FILE (sequences.json, every entry; only NAME with --sequence)',
  'txnid:FILE (txn-id-server progress file); ticketd',
  'mysql://USER:PASS@HOST:PORT/DB?table=T[&column=C][&nodes=N&offset=O] (Tickr: N = TICKR_MAX_NODES, ' +
    'O = TICKR_STARTING_OFFSET)',
  'postgres://USER:PASS@HOST:PORT/DB?sequence=S or ?table=T[&column=C]',
];

/** --help, every line at most `HELP_WIDTH` columns; the options come from the option table. */
export function helpText(): string {
  return [
    'ticket-server — short, unique, roughly increasing 64-bit numbers that never repeat',
    '',
    'Usage:',
    ...twoColumns(COMMAND_HELP, 41),
    '',
    'Takeover SOURCE:',
    ...TAKEOVER_SOURCE_HELP.flatMap((text) => paragraph(`- ${text}`, 2)),
    ...paragraph(
      '--sequence defaults to "default". The embedded store needs the server stopped; shared stores work with ' +
        'servers running.',
      2,
    ),
    '',
    'Options:',
    ...optionHelpLines(),
    '',
    ...paragraph('Precedence: defaults < --config FILE < TICKR_*/TXNID_SERVER_* aliases < TICKET_SERVER_* < flags.'),
    ...paragraph(
      'Aliases: TICKR_MAX_NODES → --instances, TICKR_NODE_NUMBER (0-based) → --instance, TICKR_STARTING_OFFSET → ' +
        '--offset, TXNID_SERVER_INCREMENT → --instances, TXNID_SERVER_INSTANCE → --instance, TXNID_SERVER_CONFDIR → ' +
        '--data, TXNID_SERVER_VERBOSE=1 → --log-level debug, TXNID_SERVER_IP/TXNID_SERVER_PORT → --tcp IP:PORT, ' +
        'TICKR_DATABASE_HOST/USERNAME/PASSWORD/NAME → --store mysql://…, TICKR_DATABASE_POOL_SIZE → --pool-size, ' +
        'TICKR_DATABASE_POOL_TIMEOUT (seconds) → --pool-timeout.',
    ),
    ...paragraph('Proxy mode: one or more --host URI make the process forward ticket requests (never last, never admin).'),
    ...paragraph(
      'Earlier command lines: seqgen, txn-id-server, ticketd and tickr run this server with their flags, ' +
        'variables and defaults (see each one\'s --help).',
    ),
    ...paragraph('Logs are JSON lines on stdout; a "ready" line names every bound listener once all are up.'),
    ...paragraph('Stop with SIGTERM or SIGINT: unissued numbers are handed back, none is lost.'),
    '',
  ].join('\n');
}
