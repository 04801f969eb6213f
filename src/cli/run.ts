/**
 * `ticket-server [serve] [options]`, `dump`, `restore FILE…`, `takeover SOURCE…`, `--help`, `--version`
 * (SPEC §10). Wiring only: every rule lives in config/, service/ or store/.
 * Importing this module runs nothing: `dist/cli/main.js` (the `ticket-server`
 * bin) and the earlier systems' commands (`cli/legacy/`) call `runMain` or `main`.
 *
 * Exit codes: 0 success; 1 runtime failure (store locked or failing);
 * 2 invalid option, usage or input file, or a store used with another numbering.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, OPTIONS, loadConfig, type RawOptions, type ServerConfig } from '../config/options.js';
import { SlotMap } from '../core/numbering.js';
import { parseValue } from '../core/request.js';
import { validateSequenceName } from '../core/names.js';
import { PERIOD_SEPARATOR, decodeSettings, isPeriodCounter } from '../core/sequence-definitions.js';
import { TicketError } from '../core/errors.js';
import { createServer } from '../server.js';
import { handleStopSignals, releaseStopSignals } from './stop-signals.js';
import { createStore } from '../store/open-store.js';
import { StoreLockedError, type Store } from '../store/store.js';
import { StartupError, exitStatusOf } from '../core/startup-errors.js';
import { helpText } from './help-text.js';
import { commandHelpText, isHelpCommand } from './command-help.js';
import { next } from './next-command.js';
import { status } from './status-command.js';
import { ProgressReporter } from './progress.js';
import { completion } from './completion.js';
import { applyFloors, checkFloorsFit, formatResult, readSources, takeSequenceOption } from '../takeover/takeover.js';

const COMMANDS = ['serve', 'dump', 'restore', 'takeover'] as const;
type Command = (typeof COMMANDS)[number];

/** Largest restore file read, so a wrong path cannot exhaust memory. */
const MAX_RESTORE_FILE_BYTES = 256 * 1024 * 1024;

/** The package's version, as `--version` prints it. */
export function packageVersion(): string {
  const url = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

interface ParsedCommandLine {
  readonly command: Command | 'help' | 'version';
  readonly flags: RawOptions;
  readonly positionals: string[];
}

function parseCommandLine(argv: string[]): ParsedCommandLine {
  const optionTypes: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'V' },
  };
  for (const spec of OPTIONS) {
    optionTypes[spec.name] = { type: spec.kind === 'boolean' ? 'boolean' : 'string', ...(spec.kind === 'list' ? { multiple: true } : {}) };
  }
  // `--drift -1` would look like an option to parseArgs; join negative numbers to their flag.
  const valued = new Set(OPTIONS.filter((spec) => spec.kind !== 'boolean').map((spec) => `--${spec.name}`));
  const args: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    const following = argv[index + 1];
    if (valued.has(arg) && following !== undefined && /^-[0-9]+$/.test(following)) {
      args.push(`${arg}=${following}`);
      index++;
    } else {
      args.push(arg);
    }
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options: optionTypes, allowPositionals: true, strict: true });
  } catch (error) {
    const message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    const option = /'(-{1,2}[^' ]+)/.exec(message)?.[1] ?? 'option';
    throw new ConfigError(option.replace(/^-+/, ''), `invalid ${option}: ${message}`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return { command: 'help', flags: new Map(), positionals: [] };
  if (values.version) return { command: 'version', flags: new Map(), positionals: [] };
  const flags: RawOptions = new Map();
  for (const spec of OPTIONS) {
    const value = (parsed.values as Record<string, string | boolean | string[] | undefined>)[spec.name];
    if (value === undefined) continue;
    flags.set(spec.name, { value: Array.isArray(value) ? value.join(',') : value, source: `--${spec.name}` });
  }
  const positionals = [...parsed.positionals];
  let command: Command = 'serve';
  if (positionals.length > 0) {
    const first = positionals.shift() as string;
    if (!(COMMANDS as readonly string[]).includes(first)) {
      throw new ConfigError('command', `unknown command "${first}"; expected serve, next, dump, restore, takeover, status or completion (see --help)`);
    }
    command = first as Command;
  }
  if (command !== 'restore' && command !== 'takeover' && positionals.length > 0) {
    throw new ConfigError('command', `unexpected argument "${positionals[0]}" (see --help)`);
  }
  if (command === 'restore' && positionals.length === 0) {
    throw new ConfigError('command', 'restore needs at least one FILE written by `ticket-server dump`');
  }
  if (command === 'takeover' && positionals.length === 0) {
    throw new ConfigError('command', 'takeover needs at least one SOURCE (see --help)');
  }
  return { command, flags, positionals };
}

async function serve(config: ServerConfig, programName: string): Promise<void> {
  if (config.bind === undefined && !config.http && !config.admin && !config.tcp && !config.line) {
    throw new ConfigError('bind', 'nothing to serve: --bind, --http, --admin, --tcp and --line are all off; turn one on');
  }
  let server: { start(): Promise<void>; close(): Promise<void> } | undefined;
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      process.stderr.write(`${programName}: ${signal} again, exiting at once\n`);
      process.exit(1);
    }
    stopping = true;
    // If the store hangs, do not hang with it: exiting is a crash, which leases make safe.
    setTimeout(() => {
      process.stderr.write(`${programName}: graceful stop took too long, exiting\n`);
      process.exit(1);
    }, config.storeTimeoutMs + 5_000).unref();
    // A stop during start-up lets the start finish first, then closes all it opened: nothing stays half-open.
    // (Signals arrive as events, so `starting` is set by then.)
    const closing = starting.catch(() => undefined).then(() => server?.close());
    closing.then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`${programName}: graceful stop failed: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  handleStopSignals(stop);
  const starting = (async (): Promise<void> => {
    // --workers N: an owner process (store, ZeroMQ, admin) and N workers; loaded only then.
    server = config.workers > 1 ? await (await import('../workers/cluster-server.js')).createClusterServer(config) : await createServer(config);
    if (!stopping) await server.start();
  })();
  try {
    await starting;
  } catch (error) {
    if (stopping) return; // the stop closes what was opened and exits
    await server?.close().catch(() => undefined);
    throw error;
  }
}

async function withStore<T>(
  config: ServerConfig,
  mustExist: boolean,
  action: (store: Store, map: SlotMap) => Promise<T>,
): Promise<T> {
  const store = await createStore(config.store, {
    mustExist,
    poolSize: config.poolSize,
    poolTimeoutMs: config.poolTimeoutMs,
    operationTimeoutMs: Math.max(2 * config.storeTimeoutMs, 2_000),
    onWarning: (message) => process.stderr.write(`warning: ${message}\n`),
  });
  await store.open();
  try {
    const map = new SlotMap({ instance: config.instance, instances: config.instances, offset: config.offset });
    await store.fence(map.numbering);
    return await action(store, map);
  } finally {
    await store.close();
  }
}

/** The dump format `restore` reads. */
interface DumpFile {
  format: 'ticket-server-dump';
  version: 1;
  store: string;
  numbering: { instance: number; instances: number; offset: string };
  sequences: Array<{ name: string; next_slot: string; floor: string }>;
  /** Per-sequence settings (and tombstones of deleted sequences), as the store keeps them. Absent in older dumps. */
  settings?: Array<{ name: string; settings: unknown }>;
}

async function dump(config: ServerConfig): Promise<void> {
  const document = await withStore(config, true, async (store, map) => {
    const sequences: DumpFile['sequences'] = [];
    const progress = new ProgressReporter('dump: sequences read');
    for await (const { name, next } of store.list()) {
      sequences.push({ name, next_slot: next.toString(), floor: map.floorBelow(next).toString() });
      progress.tick();
    }
    const settings: NonNullable<DumpFile['settings']> = [];
    for await (const { name, settings: text } of store.listSettings()) settings.push({ name, settings: JSON.parse(text) as unknown });
    progress.done();
    const result: DumpFile = {
      format: 'ticket-server-dump',
      version: 1,
      store: store.description,
      numbering: { instance: config.instance, instances: config.instances, offset: config.offset.toString() },
      sequences,
      settings,
    };
    return result;
  });
  process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
}

/**
 * Reads dump files and keeps, per sequence (and period counter), the highest floor, and the
 * settings of each sequence (a later file's win). @throws StartupError (`INPUT_INVALID`) on a bad file.
 */
function readDumps(files: readonly string[]): { floors: Map<string, bigint>; settings: Map<string, string> } {
  const floors = new Map<string, bigint>();
  const settings = new Map<string, string>();
  for (const file of files) {
    const bad = (why: string): StartupError => new StartupError('INPUT_INVALID', `invalid restore FILE ${file}: ${why}`);
    let parsed: unknown;
    try {
      const buffer = readFileSync(file);
      if (buffer.length > MAX_RESTORE_FILE_BYTES) throw bad(`larger than ${MAX_RESTORE_FILE_BYTES} bytes`);
      parsed = JSON.parse(buffer.toString('utf8'));
    } catch (error) {
      if (error instanceof StartupError) throw error;
      throw bad((error as Error).message);
    }
    const document = parsed as Partial<DumpFile> | null;
    if (typeof document !== 'object' || document === null || document.format !== 'ticket-server-dump' || !Array.isArray(document.sequences)) {
      throw bad('not a file written by `ticket-server dump`');
    }
    for (const [index, entry] of document.sequences.entries()) {
      const item = entry as { name?: unknown; floor?: unknown } | null;
      try {
        validateStoreName(item?.name);
      } catch (error) {
        throw bad(`sequences[${index}].name: ${(error as Error).message}`);
      }
      let floor: bigint;
      try {
        floor = parseValue(item?.floor, `sequences[${index}].floor`);
      } catch (error) {
        throw bad((error as Error).message);
      }
      const name = item?.name as string;
      const known = floors.get(name);
      if (known === undefined || floor > known) floors.set(name, floor);
    }
    if (document.settings !== undefined && !Array.isArray(document.settings)) throw bad('settings must be an array');
    for (const [index, entry] of (document.settings ?? []).entries()) {
      const item = entry as { name?: unknown; settings?: unknown } | null;
      try {
        validateSequenceName(item?.name);
        const text = JSON.stringify(item?.settings ?? null);
        decodeSettings(text);
        settings.set(item?.name as string, text);
      } catch (error) {
        throw bad(`settings[${index}]: ${(error as Error).message}`);
      }
    }
  }
  return { floors, settings };
}

/** A sequence name, or a period counter's store name (a sequence name, the separator, a period key). */
function validateStoreName(name: unknown): void {
  if (typeof name === 'string' && isPeriodCounter(name)) {
    const [sequence, key, ...rest] = name.split(PERIOD_SEPARATOR);
    if (rest.length > 0 || !/^[0-9]{4}(-[0-9]{2}){0,2}$/.test(key ?? '')) throw new TicketError('EBADNAME', 'not a period counter name');
    validateSequenceName(sequence);
    return;
  }
  validateSequenceName(name);
}

async function restore(config: ServerConfig, files: readonly string[]): Promise<void> {
  const { floors, settings } = readDumps(files);
  const summary = await withStore(config, false, async (store, map) => {
    const before = new Map<string, bigint>();
    for await (const { name, next } of store.list()) before.set(name, next);
    let raised = 0;
    const progress = new ProgressReporter('restore: sequences', floors.size);
    for (const [name, floor] of floors) {
      const target = map.slotAbove(floor);
      await store.reserve(name, 0n, target);
      if ((before.get(name) ?? 0n) < target) raised++;
      progress.tick();
    }
    for (const [name, text] of settings) await store.writeSettings(name, text);
    progress.done();
    return { sequences: floors.size, raised };
  });
  process.stdout.write(`${JSON.stringify({ restored: summary.sequences, raised: summary.raised })}\n`);
}

/**
 * `takeover SOURCE… [--sequence NAME]`: reads every source first (exit 2 on any
 * failure, nothing written), then raises each sequence with the store's floor operation.
 */
async function takeover(config: ServerConfig, sources: readonly string[], sequence: string | undefined): Promise<void> {
  if (config.store === 'memory:') throw new StartupError('INPUT_INVALID', 'takeover on memory: would be forgotten at exit; give --data DIR or --store URI');
  const map = new SlotMap({ instance: config.instance, instances: config.instances, offset: config.offset });
  const floors = await readSources(sources, sequence);
  checkFloorsFit(floors, map);
  let results: Awaited<ReturnType<typeof applyFloors>>;
  try {
    const progress = new ProgressReporter('takeover: sequences', floors.length);
    results = await withStore(config, false, (store, fencedMap) => applyFloors(store, fencedMap, floors, () => progress.tick()));
    progress.done();
  } catch (error) {
    if (!(error instanceof StoreLockedError)) throw error;
    throw new StartupError(
      'STORE_LOCKED',
      `${error.message} takeover changed nothing. On the embedded store it needs the server stopped: stop it and run ` +
        'takeover again, or leave it running and raise each sequence through its admin API ' +
        '(POST /admin/sequences/NAME/floor with {"floor": "FLOOR"}).',
      { cause: error },
    );
  }
  if (results.length > 0) process.stdout.write(`${results.map(formatResult).join('\n')}\n`);
}

/** How a command that is not `ticket-server` itself runs the native CLI. */
export interface MainOptions {
  /** Prefix of error messages on stderr; default `ticket-server`. */
  readonly programName?: string;
  /** The command's own defaults, below `--config`, the environment and flags; default none. */
  readonly defaults?: RawOptions;
}

/**
 * Runs the CLI; resolves with the exit code for one-shot commands, and with -1
 * once `serve` is up (the process then exits on SIGTERM or SIGINT).
 * @param argv arguments after the program name
 * @param env environment to read `TICKET_SERVER_*` and the aliases from; default `process.env`
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, options: MainOptions = {}): Promise<number> {
  const programName = options.programName ?? 'ticket-server';
  try {
    // `COMMAND --help` anywhere on the line shows that command's help, whatever else is there.
    if (isHelpCommand(argv[0]) && argv.some((arg) => arg === '--help' || arg === '-h')) {
      process.stdout.write(commandHelpText(argv[0]));
      return 0;
    }
    const serving = argv[0] === undefined || argv[0] === 'serve' || argv[0].startsWith('-');
    // Only `serve` stops gracefully; the one-shot commands end on a stop as Node's default has it.
    if (!serving) releaseStopSignals();
    if (argv[0] === 'next') return await next(argv.slice(1));
    if (argv[0] === 'status') return await status(argv.slice(1));
    if (argv[0] === 'completion') return completion(argv.slice(1));
    const { sequence, rest } = argv.includes('takeover') ? takeSequenceOption(argv) : { sequence: undefined, rest: argv };
    const commandLine = parseCommandLine(rest);
    if (commandLine.command === 'help') {
      process.stdout.write(helpText());
      return 0;
    }
    if (commandLine.command === 'version') {
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    }
    const config = loadConfig(commandLine.flags, env, options.defaults);
    if (commandLine.command !== 'serve') releaseStopSignals();
    switch (commandLine.command) {
      case 'serve':
        await serve(config, programName);
        return -1;
      case 'dump':
        await dump(config);
        return 0;
      case 'restore':
        await restore(config, commandLine.positionals);
        return 0;
      case 'takeover':
        await takeover(config, commandLine.positionals, sequence);
        return 0;
    }
  } catch (error) {
    // The exit status follows the error's start-up code (core/startup-errors.ts); anything else is a runtime failure.
    process.stderr.write(`${programName}: ${error instanceof Error ? error.message : String(error)}\n`);
    return exitStatusOf(error);
  }
}

/**
 * Runs a command line as a bin does: exits with the code of a one-shot command,
 * stays up while serving. A thrown bug (never input) stops the process loudly.
 * @param argv arguments after the program name
 * @param command what runs them; default the native CLI (`main`)
 * @param programName prefix of the internal-error message; default `ticket-server`
 */
export async function runMain(
  argv: string[],
  command: (argv: string[]) => Promise<number> = (args) => main(args),
  programName = 'ticket-server',
): Promise<void> {
  process.on('uncaughtException', (error) => {
    // A bug, never input: leases make a crash safe, so stop loudly rather than run in an unknown state.
    process.stderr.write(`${programName}: internal error: ${error.stack ?? error.message}\n`);
    process.exit(1);
  });
  const code = await command(argv);
  // stdout and stderr are synchronous for files, pipes and terminals on Linux, so nothing written is lost.
  if (code >= 0) process.exit(code);
}
