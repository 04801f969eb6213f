/**
 * Per-command --help (`ticket-server dump --help`): the command's usage, what it
 * does, its options and examples. The options of serve, dump, restore and
 * takeover come from the option table; `next` and `status` have their own.
 */
import { optionHelpLines, paragraph, twoColumns } from '../config/help.js';
import { OPTIONS } from '../config/option-table.js';
import { TAKEOVER_SOURCE_HELP } from './help-text.js';

/** Commands that have their own --help. */
export const HELP_COMMANDS = ['serve', 'dump', 'restore', 'takeover', 'next', 'status', 'completion'] as const;
export type HelpCommand = (typeof HELP_COMMANDS)[number];

interface CommandHelp {
  readonly usage: string;
  readonly summary: string;
  /** Extra paragraphs after the summary. */
  readonly notes?: readonly string[];
  /** The command's own options; undefined: the option table's. */
  readonly options?: ReadonlyArray<readonly [string, string]>;
  /** Options of this command listed before the option table's. */
  readonly ownOptions?: ReadonlyArray<readonly [string, string]>;
  readonly examples: readonly string[];
}


const HELP: Readonly<Record<HelpCommand, CommandHelp>> = {
  serve: {
    usage: 'ticket-server [serve] [options]',
    summary: 'Serve tickets over ZeroMQ (--bind), HTTP (--http), the admin port (--admin) and, when turned on, ' +
      'TCP (--tcp, --line). Logs are JSON lines on stdout; a "ready" line names every bound listener. ' +
      'Stop with SIGTERM or SIGINT: unissued numbers are handed back.',
    examples: [
      'ticket-server --data /var/lib/ticket-server',
      'ticket-server --instance 2 --instances 3 --http 127.0.0.1:6412 --bind off',
      'ticket-server --store postgres://tickets:secret@db:5432/tickets --admin-token "$TOKEN"',
    ],
  },
  dump: {
    usage: 'ticket-server dump [options]',
    summary: 'Print every sequence\'s state (next slot and the highest value it may have issued) as JSON on ' +
      'stdout. Reads the store given by --data or --store; the embedded store needs the server stopped.',
    examples: ['ticket-server dump --data /var/lib/ticket-server > tickets-dump.json'],
  },
  restore: {
    usage: 'ticket-server restore FILE… [options]',
    summary: 'Raise sequences above the floors in FILEs written by `ticket-server dump` (the highest floor of ' +
      'each sequence wins; never lowers). Prints {"restored": N, "raised": M}.',
    examples: [
      'ticket-server restore tickets-dump.json --data /var/lib/ticket-server',
      'ticket-server restore one.json two.json --instance 1 --instances 3 --data ./new',
    ],
  },
  takeover: {
    usage: 'ticket-server takeover SOURCE… [--sequence NAME] [options]',
    summary: 'Raise sequences above what an earlier system may have issued (never lowers). Reads every SOURCE ' +
      'first and writes nothing if one fails; prints NAME: FLOOR (raised|unchanged) per sequence. --sequence ' +
      'defaults to "default". The embedded store needs the server stopped; shared stores work with servers running.',
    ownOptions: [['--sequence NAME', 'the sequence a value or single-sequence SOURCE raises (default "default")']],
    notes: TAKEOVER_SOURCE_HELP.map((text) => `SOURCE: ${text}`),
    examples: [
      'ticket-server takeover seqgen:/var/lib/seqgen/sequences.json --data /var/lib/ticket-server',
      'ticket-server takeover 1500000 --sequence orders --store mysql://app:secret@db:3306/tickets',
    ],
  },
  next: {
    usage: 'ticket-server next NAME [--count N] [--server URI]… [--timeout MS] [--token TOKEN] [OPTIONS]',
    summary: 'Ask a running server for tickets of sequence NAME and print them, one per line. Exit 1 when no ' +
      'server answers in time.',
    options: [
      ['--count N', 'how many tickets, 1-1000 (default 1)'],
      ['--server URI', 'server to ask (tcp://HOST:PORT for ZeroMQ, http[s]://HOST:PORT or line://HOST:PORT); repeat to fail over ' +
        '(default tcp://127.0.0.1:6410)'],
      ['--timeout MS', 'give up on a server after this, 1-999999 (default 1000)'],
      ['--token TOKEN', 'issuing token, for servers started with --issue-token-file'],
      ['--ca FILE', 'PEM CA certificate(s) trusted for https:// servers'],
      ['--curve-server-key KEY', 'Z85 public key of a CurveZMQ server (tcp://)'],
      ['--curve-client-key FILE', 'Z85 secret key (and optionally public key) to present; default a fresh pair'],
    ],
    examples: ['ticket-server next orders', 'ticket-server next orders --count 5 --server tcp://10.0.0.7:6410'],
  },
  status: {
    usage: 'ticket-server status [--admin URL] [--json] [--timeout MS] [--ca FILE]',
    summary: 'Fetch /status from a running server\'s admin port and print a short summary (ready, mode, store, ' +
      'leader, runway, busiest sequences). Exit 1 when the server is not ready or cannot be reached.',
    options: [
      ['--admin URL', 'admin port of the server (default http://127.0.0.1:6411)'],
      ['--json', 'print the /status document as JSON instead'],
      ['--timeout MS', 'give up after this, 1-600000 (default 3000)'],
      ['--ca FILE', 'PEM CA certificate(s) trusted for an https:// admin port'],
    ],
    examples: ['ticket-server status', 'ticket-server status --admin http://10.0.0.7:6411 --json'],
  },
  completion: {
    usage: 'ticket-server completion bash|zsh',
    summary: 'Print a shell completion script for the commands and options.',
    options: [],
    examples: [
      'ticket-server completion bash > /etc/bash_completion.d/ticket-server',
      'source <(ticket-server completion zsh)',
    ],
  },
};

/** True when `word` is a command with its own --help. */
export function isHelpCommand(word: string | undefined): word is HelpCommand {
  return (HELP_COMMANDS as readonly string[]).includes(word ?? '');
}

/**
 * The flags a command accepts (`--count`, …), as completion offers them: the
 * option table's for serve, dump, restore and takeover, else the command's own.
 */
export function commandFlags(command: HelpCommand): string[] {
  const help = HELP[command];
  const terms = [...(help.ownOptions ?? []), ...(help.options ?? OPTIONS.map((spec) => [`--${spec.name}`, ''] as const))];
  return [...terms.map(([term]) => term.split(' ')[0] as string), '--help'];
}

/** `ticket-server COMMAND --help`, every line at most 100 columns. */
export function commandHelpText(command: HelpCommand): string {
  const help = HELP[command];
  const options = [
    ...twoColumns(help.ownOptions ?? [], 30),
    ...(help.options === undefined ? optionHelpLines() : twoColumns(help.options, 30)),
    ...twoColumns([['--help, -h', 'print this help']], 30),
  ];
  return [
    `Usage: ${help.usage}`,
    '',
    ...paragraph(help.summary, 0, 0),
    ...(help.notes ?? []).flatMap((note) => paragraph(note, 2, 4)),
    '',
    'Options:',
    ...options,
    '',
    'Examples:',
    ...help.examples.flatMap((example) => paragraph(example, 2, 4)),
    '',
  ].join('\n');
}
