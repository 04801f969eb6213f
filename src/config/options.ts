/**
 * The configuration of a server and its precedence:
 * built-in defaults < `--config FILE` (JSON) < the earlier systems' environment
 * variables (aliases) < `TICKET_SERVER_<OPTION>` < command-line flags.
 *
 * Every value is checked here, once, by its row of the option table
 * (`option-table.ts`); an invalid one raises `ConfigError`, which names the
 * option and where it came from, and the CLI exits with code 2.
 */
import { ConfigError, OptionValueError } from './config-error.js';
import { DerivedDefault, FIELD_OPTIONS, OPTIONS, type OptionRow, type ServerConfig } from './option-table.js';
import { readAliasEnvironment, readConfigFile, readNativeEnvironment, type RawOptions } from './option-sources.js';

export { ConfigError } from './config-error.js';
export { CONFIG_OPTION, FIELD_OPTIONS, OPTIONS, defaultText, envName } from './option-table.js';
export type { OptionKind, OptionRow, OptionSpec, OptionUnit, ServerConfig } from './option-table.js';
export { readAliasEnvironment, readConfigFile, readNativeEnvironment, type RawOptions } from './option-sources.js';
export { LOG_LEVELS, validateZmqEndpoint, type ListenAddress, type LogLevel } from './option-values.js';

const SPEC_BY_NAME = new Map(OPTIONS.map((spec) => [spec.name, spec]));

/** How a message names where a value came from: the flag itself, or `SOURCE (--option)`. */
function describe(option: string, source: string): string {
  return source.startsWith('--') ? source : `${source} (--${option})`;
}

/** A row's value: parsed from the highest layer that sets it, else its default. @throws ConfigError */
function resolveRow(row: OptionRow, raw: { value: string | boolean; source: string } | undefined, resolved: Record<string, unknown>): unknown {
  try {
    if (raw) return row.parse(raw.value);
    return row.default instanceof DerivedDefault ? row.default.derive(resolved) : row.default;
  } catch (error) {
    if (!(error instanceof OptionValueError)) throw error;
    throw new ConfigError(row.name, `invalid ${describe(row.name, raw?.source ?? `--${row.name}`)}: ${error.message}`, { cause: error });
  }
}

/**
 * Resolves the layers into a checked configuration: every row in table order,
 * then the rules that involve several options.
 * @param layers lowest precedence first
 * @throws ConfigError naming the first invalid option
 */
export function resolveConfig(layers: readonly RawOptions[]): ServerConfig {
  const merged: RawOptions = new Map();
  for (const layer of layers) for (const [key, value] of layer) merged.set(key, value);
  for (const [name, raw] of merged) {
    const spec = SPEC_BY_NAME.get(name);
    if (!spec) throw new ConfigError(name, `unknown option --${name}`);
    if (spec.kind !== 'boolean' && typeof raw.value === 'boolean') {
      throw new ConfigError(name, `invalid ${describe(name, raw.source)}: a value is required`);
    }
  }
  const resolved: Record<string, unknown> = {};
  for (const row of FIELD_OPTIONS as readonly OptionRow[]) resolved[row.field] = resolveRow(row, merged.get(row.name), resolved);
  const config = resolved as ServerConfig;
  checkAcrossOptions(config, (name) => describe(name, merged.get(name)?.source ?? `--${name}`));
  return config;
}

/** The rules no single row can check. @throws ConfigError */
function checkAcrossOptions(config: ServerConfig, where: (option: string) => string): void {
  if (config.instance > config.instances) {
    throw new ConfigError('instance', `invalid ${where('instance')}: instance ${config.instance} is above --instances ${config.instances}`);
  }
  if (config.leader && !config.store.startsWith('etcd:')) {
    throw new ConfigError(
      'leader',
      `invalid ${where('leader')}: leader mode elects its leader through etcd; add --store etcd://HOST:PORT[,HOST:PORT…]`,
    );
  }
  if (config.workers > 1 && config.hosts.length > 0) {
    throw new ConfigError('workers', `invalid ${where('workers')}: a proxy (--host) runs in one process; leave --workers at 1`);
  }
  if (config.workers > 1 && !config.http && !config.tcp && !config.line) {
    throw new ConfigError('workers', `invalid ${where('workers')}: workers serve --http, --tcp and --line, and all three are off`);
  }
  if (config.workers > 1 && config.leader) {
    throw new ConfigError('workers', `invalid ${where('workers')}: leader mode runs in one process; leave --workers at 1`);
  }
  if (config.leader && config.hosts.length > 0) {
    throw new ConfigError('leader', `invalid ${where('leader')}: a proxy (--host) cannot take part in leader mode`);
  }
}

/**
 * Loads the configuration from all sources.
 * @param flags options given on the command line (already parsed), keyed by flag name
 * @param env environment to read `TICKET_SERVER_*` and the aliases from; default `process.env`
 * @param defaults a command's own defaults (the earlier systems' commands), below every other layer;
 *   default none
 * @throws ConfigError naming the first invalid option
 */
export function loadConfig(flags: RawOptions, env: NodeJS.ProcessEnv = process.env, defaults: RawOptions = new Map()): ServerConfig {
  const nativeEnv = readNativeEnvironment(env);
  const configPath = flags.get('config') ?? nativeEnv.get('config');
  const fileLayer = configPath ? readConfigFile(String(configPath.value)) : new Map();
  const flagLayer: RawOptions = new Map(flags);
  nativeEnv.delete('config');
  flagLayer.delete('config');
  return resolveConfig([defaults, fileLayer, readAliasEnvironment(env), nativeEnv, flagLayer]);
}
