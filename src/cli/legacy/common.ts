/**
 * What the earlier systems' commands (`seqgen`, `txn-id-server`, `ticketd`,
 * `tickr`) share: scanning a command line that mixes the earlier system's
 * flags with native `--option` flags, the plan each command maps onto, the
 * one-line notice, and running the plan through the native serve path.
 *
 * Every command is a pure mapping (argv + environment → plan); only `runLegacy`
 * touches the process.
 */
import { ConfigError, OPTIONS, envName, type RawOptions } from '../../config/options.js';
import { main, packageVersion, runMain } from '../run.js';

/** Longest command line a command reads, in arguments; more is a mistake, not a configuration. */
const MAX_ARGS = 1000;
/** Longest single argument, in characters. */
const MAX_ARG_CHARS = 8192;

/** One native option set by a command: its flag name (no dashes) and value. */
export interface MappedOption {
  readonly name: string;
  readonly value: string;
}

/** What a command runs: the native serve path with these flags, defaults and environment. */
export interface LegacyPlan {
  /** Native arguments: `serve`, the flags mapped from the earlier system's flags, then native flags as given. */
  readonly argv: string[];
  /** The command's own defaults: below `--config`, `TICKET_SERVER_*` and every flag. */
  readonly defaults: RawOptions;
  /** Environment the native CLI reads (variables the mapping consumed are removed). */
  readonly env: NodeJS.ProcessEnv;
  /** The one line printed on stderr at start, saying what was mapped. */
  readonly notice: string;
}

/** What a command line asks for. */
export type LegacyOutcome =
  | { readonly kind: 'serve'; readonly plan: LegacyPlan }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' };

/** How a command's own flag is written and read. */
export interface LegacyFlagSpec {
  /** `string` takes a value (`--flag V` or `--flag=V`); `boolean` takes none (`--flag`, or `--flag=false`). */
  readonly kind: 'string' | 'boolean';
  /** May be repeated; every value is kept. Default: the last one wins. */
  readonly multiple?: boolean;
}

/** A scanned command line. */
export interface ScannedArgs {
  /** The command's own flags, by name, every value in order (`'true'`/`'false'` for booleans). */
  readonly legacy: Map<string, string[]>;
  /** Native flags as `--name=value` (or `--name` for booleans), in order. */
  readonly native: string[];
  /** Names of the native options given as flags. */
  readonly nativeNames: Set<string>;
  /** The last value of each native option given as a flag (`'true'` for a boolean). */
  readonly nativeValues: Map<string, string>;
  readonly positionals: string[];
  readonly help: boolean;
  readonly version: boolean;
}

const NATIVE_KIND = new Map(OPTIONS.map((spec) => [spec.name, spec.kind]));

/** Go's `strconv.ParseBool` spellings, which txn-id-server's flags took; plus yes/no/on/off. */
export function parseBooleanWord(text: string): boolean | undefined {
  const word = text.trim().toLowerCase();
  if (['1', 't', 'true', 'yes', 'on'].includes(word)) return true;
  if (['0', 'f', 'false', 'no', 'off', ''].includes(word)) return false;
  return undefined;
}

/**
 * Scans a command line: the command's own flags (`legacyFlags`), native flags
 * (`--name V`, `--name=V`), `--help`/`-h`, `--version`/`-V`, and positionals.
 *
 * @param singleDash accept the command's own flags with one dash too (Go's flag package)
 * @throws ConfigError naming an unknown flag, a flag without its value, or an oversized command line
 */
export function scanArgs(argv: readonly string[], legacyFlags: ReadonlyMap<string, LegacyFlagSpec>, singleDash: boolean): ScannedArgs {
  if (argv.length > MAX_ARGS) throw new ConfigError('command', `too many arguments (${argv.length}; at most ${MAX_ARGS})`);
  const legacy = new Map<string, string[]>();
  const native: string[] = [];
  const nativeNames = new Set<string>();
  const nativeValues = new Map<string, string>();
  const positionals: string[] = [];
  let help = false;
  let version = false;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    if (arg.length > MAX_ARG_CHARS) throw new ConfigError('command', `argument ${index + 1} is longer than ${MAX_ARG_CHARS} characters`);
    if (arg === '--') {
      positionals.push(...argv.slice(index + 1));
      break;
    }
    if (arg === '--help' || arg === '-h' || (singleDash && arg === '-help')) {
      help = true;
      continue;
    }
    if (arg === '--version' || arg === '-V') {
      version = true;
      continue;
    }
    const match = /^(-{1,2})([A-Za-z][A-Za-z0-9_-]*)(?:=(.*))?$/s.exec(arg);
    if (!match) {
      positionals.push(arg);
      continue;
    }
    const dashes = match[1] as string;
    const name = match[2] as string;
    const inline = match[3];
    const written = `${dashes}${name}`;
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const following = argv[index + 1];
      if (following === undefined) throw new ConfigError(name, `${written} needs a value (see --help)`);
      index++;
      return following;
    };
    const legacySpec = legacyFlags.get(name);
    if (legacySpec && (dashes === '--' || singleDash)) {
      let value: string;
      if (legacySpec.kind === 'boolean') {
        const parsed = inline === undefined ? true : parseBooleanWord(inline);
        if (parsed === undefined) throw new ConfigError(name, `invalid ${written}: expected true or false, got "${inline}"`);
        value = String(parsed);
      } else {
        value = takeValue();
      }
      const values = legacy.get(name) ?? [];
      if (legacySpec.multiple) values.push(value);
      else values.splice(0, values.length, value);
      legacy.set(name, values);
      continue;
    }
    const nativeKind = NATIVE_KIND.get(name);
    if (nativeKind !== undefined && dashes === '--' && name !== 'help' && name !== 'version') {
      nativeNames.add(name);
      const value = nativeKind === 'boolean' ? (inline ?? 'true') : takeValue();
      nativeValues.set(name, value);
      native.push(nativeKind === 'boolean' ? arg : `--${name}=${value}`);
      continue;
    }
    throw new ConfigError(name, `unknown option ${written} (see --help)`);
  }
  return { legacy, native, nativeNames, nativeValues, positionals, help, version };
}

/** The last value of a command's own flag, if given. */
export function lastValue(scanned: ScannedArgs, name: string): string | undefined {
  const values = scanned.legacy.get(name);
  return values && values.length > 0 ? values[values.length - 1] : undefined;
}

/** A native option as the user set it: flag first, then its `TICKET_SERVER_*` variable. */
export function nativeSetting(scanned: ScannedArgs, env: NodeJS.ProcessEnv, name: string): string | undefined {
  const flag = scanned.nativeValues.get(name);
  if (flag !== undefined) return flag;
  const variable = env[envName(name)];
  return variable === undefined || variable === '' ? undefined : variable;
}

/** Hides secrets in a line printed for operators: passwords in URIs and the admin token. */
export function redact(text: string): string {
  return text
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]*@/gi, '$1***@')
    .replace(/(--admin-token[= ])\S+/g, '$1***');
}

function quote(value: string): string {
  return /^[A-Za-z0-9_./:@,*=+-]*$/.test(value) && value !== '' ? value : JSON.stringify(value);
}

/** Writes options as flags for the notice: `--drift 100 --http off`. */
export function renderOptions(options: readonly MappedOption[]): string {
  return options.map((option) => `--${option.name} ${quote(option.value)}`).join(' ');
}

/** Inputs to `buildPlan`. */
export interface PlanInput {
  /** The command's name, for the notice. */
  readonly command: string;
  /** Native options mapped from flags the user gave (these are flags: above the environment). */
  readonly mapped: readonly MappedOption[];
  /** The command's defaults, and options derived from the earlier system's environment. */
  readonly defaults: ReadonlyArray<MappedOption & { readonly source?: string }>;
  readonly scanned: ScannedArgs;
  readonly env: NodeJS.ProcessEnv;
  /** Prefixes of variables the mapping consumed; removed from the environment the native CLI reads. */
  readonly consumedEnvPrefixes?: readonly string[];
  /** Extra remarks for the notice (`-daemon ignored: …`). */
  readonly remarks?: readonly string[];
}

/**
 * Assembles a plan. A default is dropped when a flag (mapped or native) or a
 * `TICKET_SERVER_*` variable sets the same option, so the notice shows only
 * what takes effect (a `--config` file still wins over the defaults that remain).
 */
export function buildPlan(input: PlanInput): LegacyPlan {
  const setByFlag = new Set([...input.mapped.map((option) => option.name), ...input.scanned.nativeNames]);
  const defaults: RawOptions = new Map();
  const shownDefaults: MappedOption[] = [];
  for (const option of input.defaults) {
    const variable = input.env[envName(option.name)];
    if (setByFlag.has(option.name) || (variable !== undefined && variable !== '')) continue;
    defaults.set(option.name, { value: option.value, source: option.source ?? `${input.command}'s default` });
    shownDefaults.push(option);
  }
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(input.env)) {
    if (!(input.consumedEnvPrefixes ?? []).some((prefix) => key.startsWith(prefix))) env[key] = value;
  }
  const mappedArgs = input.mapped.map((option) => `--${option.name}=${option.value}`);
  const explicit = [renderOptions(input.mapped), ...input.scanned.native.map((arg) => arg.replace(/^(--[a-z-]+)=(.*)$/s, (_, flag: string, value: string) => `${flag} ${quote(value)}`))]
    .filter((part) => part !== '')
    .join(' ');
  let notice = `${input.command}: serving as ticket-server${explicit === '' ? '' : ` ${explicit}`}`;
  if (shownDefaults.length > 0) notice += ` (${input.command} defaults: ${renderOptions(shownDefaults)})`;
  for (const remark of input.remarks ?? []) notice += `; ${remark}`;
  return {
    // Native flags after the mapped ones: for an option given both ways, the native flag wins.
    argv: ['serve', ...mappedArgs, ...input.scanned.native],
    defaults,
    env,
    notice: redact(notice),
  };
}

/** Refuses positionals for the commands that take none. @throws ConfigError */
export function refusePositionals(scanned: ScannedArgs): void {
  const first = scanned.positionals[0];
  if (first !== undefined) throw new ConfigError('command', `unexpected argument "${first.slice(0, 80)}" (see --help)`);
}

/**
 * The bin of an earlier system's command: maps the command line, prints the
 * notice on stderr and runs the native serve path (or prints help/version).
 * An invalid command line exits with code 2 and a message naming the flag.
 */
export async function runLegacy(
  command: string,
  map: (argv: readonly string[], env: NodeJS.ProcessEnv) => LegacyOutcome,
  helpText: string,
): Promise<void> {
  await runMain(
    process.argv.slice(2),
    async (argv) => {
      let outcome: LegacyOutcome;
      try {
        outcome = map(argv, process.env);
      } catch (error) {
        if (error instanceof ConfigError) {
          process.stderr.write(`${command}: ${error.message}\n`);
          return 2;
        }
        throw error;
      }
      if (outcome.kind === 'help') {
        process.stdout.write(helpText);
        return 0;
      }
      if (outcome.kind === 'version') {
        process.stdout.write(`${packageVersion()}\n`);
        return 0;
      }
      process.stderr.write(`${outcome.plan.notice}\n`);
      return main(outcome.plan.argv, outcome.plan.env, { programName: command, defaults: outcome.plan.defaults });
    },
    command,
  );
}

/** The lines every command's --help ends with. */
export const NATIVE_HELP_FOOTER = [
  'Native options (see `ticket-server --help`: --data, --store, --http, --admin, --bind, --tcp, …)',
  'and TICKET_SERVER_* variables are accepted too and win over this command\'s defaults; a native',
  'flag also wins over the same setting made by this command\'s own flags.',
  'Logs are JSON lines on stdout. Stop with SIGTERM or SIGINT: no number is lost or repeated.',
  '',
];
