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
  if (config.workers > 1 && !config.http && !config.line) {
    throw new ConfigError(
      'workers',
      `invalid ${where('workers')}: workers serve --http and --line (one-shot --tcp is served by the owner process), and both are off`,
    );
  }
  if (config.workers > 1 && config.leader) {
    throw new ConfigError('workers', `invalid ${where('workers')}: leader mode runs in one process; leave --workers at 1`);
  }
  if (config.leader && config.hosts.length > 0) {
    throw new ConfigError('leader', `invalid ${where('leader')}: a proxy (--host) cannot take part in leader mode`);
  }
  checkSecurityOptions(config, where);
}

/** Options that only make sense together. @throws ConfigError */
function checkSecurityOptions(config: ServerConfig, where: (option: string) => string): void {
  const needs = (option: string, set: boolean, other: string, otherSet: boolean, why: string): void => {
    if (set && !otherSet) throw new ConfigError(option, `invalid ${where(option)}: ${why}; add --${other}`);
  };
  needs('tls-cert', config.tlsCert !== undefined, 'tls-key', config.tlsKey !== undefined, 'a certificate needs its private key');
  needs('tls-key', config.tlsKey !== undefined, 'tls-cert', config.tlsCert !== undefined, 'a private key needs its certificate');
  needs('tls-ca', config.tlsCa !== undefined, 'tls-cert', config.tlsCert !== undefined, 'client certificates are only asked for over HTTPS');
  needs('curve-allow', config.curveAllow !== undefined, 'curve-secret-key', config.curveSecretKey !== undefined, 'an allow-list needs CurveZMQ on');
  needs('curve-client-key', config.curveClientKey !== undefined, 'curve-server-key', config.curveServerKey !== undefined, 'a client key is used only with the upstream\'s key');
  if (config.leader && config.issueTokenFile !== undefined && config.upstreamToken === undefined) {
    throw new ConfigError(
      'issue-token-file',
      `invalid ${where('issue-token-file')}: in leader mode followers forward to the leader, which asks them for a token too; ` +
        'add --upstream-token with a trusted token covering * (the same on every server)',
    );
  }
  if (config.leader && config.curveSecretKey !== undefined && config.curveServerKey === undefined) {
    throw new ConfigError(
      'curve-secret-key',
      `invalid ${where('curve-secret-key')}: in leader mode followers forward to the leader over CurveZMQ; ` +
        'add --curve-server-key (the servers\' shared public key) and --curve-client-key',
    );
  }
  if (config.issueTokenFile !== undefined && config.tcp !== undefined && !config.tcpTrusted) {
    throw new ConfigError(
      'tcp',
      `invalid ${where('tcp')}: one-shot TCP cannot carry an issuing token; with --issue-token-file turn --tcp off, ` +
        'or add --tcp-trusted if everyone who can reach it may take values',
    );
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
