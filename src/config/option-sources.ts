/**
 * Where option values come from, as raw text keyed by option name, each with
 * its source for messages: the `--config` JSON file, the earlier systems'
 * environment variables (aliases) and `TICKET_SERVER_<OPTION>` variables.
 * Flags are read by the CLI. `resolveConfig` (options.ts) checks the values.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from './config-error.js';
import { OPTIONS, envName } from './option-table.js';

const SPEC_BY_NAME = new Map(OPTIONS.map((spec) => [spec.name, spec]));

/** Raw option values as strings/booleans, keyed by flag name, with their source for messages. */
export type RawOptions = Map<string, { value: string | boolean; source: string }>;

function camelToKebab(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** Reads `--config FILE`: a JSON object whose keys are option names. */
export function readConfigFile(path: string): RawOptions {
  const result: RawOptions = new Map();
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError('config', `cannot read --config ${path}: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('config', `--config ${path} must hold a JSON object`);
  }
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    const name = camelToKebab(key);
    if (!SPEC_BY_NAME.has(name) || name === 'config') {
      throw new ConfigError(name, `unknown option "${key}" in --config ${path}`);
    }
    const source = `"${key}" in ${path}`;
    if (name === 'sequences' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      // Sequence settings are an object in the file; the option reads it as JSON text.
      result.set(name, { value: JSON.stringify(value), source });
      continue;
    }
    if (Array.isArray(value) && SPEC_BY_NAME.get(name)?.kind === 'list' && value.every((item) => typeof item === 'string')) {
      result.set(name, { value: value.join(','), source });
      continue;
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new ConfigError(name, `invalid "${key}" in --config ${path}: expected a string, number or boolean`);
    }
    if (typeof value === 'number' && !Number.isSafeInteger(value)) {
      // JSON.parse has already rounded 9007199254740993 to …992: refuse rather than use a value nobody wrote.
      throw new ConfigError(
        name,
        `invalid "${key}" in --config ${path}: ${String(value)} is not a whole number JSON carries exactly ` +
          `(-${Number.MAX_SAFE_INTEGER} to ${Number.MAX_SAFE_INTEGER}); quote it as a string`,
      );
    }
    result.set(name, { value: typeof value === 'boolean' ? value : String(value), source });
  }
  return result;
}

/**
 * Maps the earlier systems' variables (SPEC §10) onto options. Tickr's node
 * number is 0-based, ours 1-based; txn-id-server's instance is already the
 * first value's offset from 1 (default 1), so it maps as it is.
 */
export function readAliasEnvironment(env: NodeJS.ProcessEnv): RawOptions {
  const result: RawOptions = new Map();
  const put = (option: string, variable: string, transform: (text: string) => string | boolean = (t) => t): void => {
    const text = env[variable];
    if (text !== undefined && text !== '') result.set(option, { value: transform(text), source: variable });
  };
  put('instances', 'TXNID_SERVER_INCREMENT');
  put('instance', 'TXNID_SERVER_INSTANCE');
  put('data', 'TXNID_SERVER_CONFDIR');
  put('log-level', 'TXNID_SERVER_VERBOSE', (t) => (t === '0' || t === 'false' ? 'info' : 'debug'));
  put('instances', 'TICKR_MAX_NODES');
  put('instance', 'TICKR_NODE_NUMBER', (text) => {
    if (!/^[0-9]{1,6}$/.test(text)) {
      throw new ConfigError('instance', `invalid TICKR_NODE_NUMBER (--instance): expected a 0-based integer, got "${text}"`);
    }
    return String(Number(text) + 1);
  });
  put('offset', 'TICKR_STARTING_OFFSET');
  const ip = env.TXNID_SERVER_IP;
  const port = env.TXNID_SERVER_PORT;
  if ((ip !== undefined && ip !== '') || (port !== undefined && port !== '')) {
    result.set('tcp', {
      value: `${ip || '0.0.0.0'}:${port || '8963'}`,
      source: ip ? (port ? 'TXNID_SERVER_IP/TXNID_SERVER_PORT' : 'TXNID_SERVER_IP') : 'TXNID_SERVER_PORT',
    });
  }
  const tickrStore = tickrDatabaseUri(env);
  if (tickrStore) result.set('store', tickrStore);
  put('pool-size', 'TICKR_DATABASE_POOL_SIZE');
  put('pool-timeout', 'TICKR_DATABASE_POOL_TIMEOUT', (text) => {
    // Tickr's pool timeout is in seconds (as in Ruby's connection pools); ours is in ms.
    if (!/^[0-9]{1,6}(\.[0-9]{1,3})?$/.test(text.trim())) {
      throw new ConfigError('pool-timeout', `invalid TICKR_DATABASE_POOL_TIMEOUT (--pool-timeout): expected seconds, got "${text.slice(0, 40)}"`);
    }
    return String(Math.round(Number(text) * 1000));
  });
  return result;
}

/**
 * Tickr's `TICKR_DATABASE_HOST/USERNAME/PASSWORD/NAME` select the MySQL store
 * (`mysql://USERNAME:PASSWORD@HOST/NAME`; HOST may carry `:PORT`).
 */
function tickrDatabaseUri(env: NodeJS.ProcessEnv): { value: string; source: string } | undefined {
  const host = env.TICKR_DATABASE_HOST;
  if (host === undefined || host === '') return undefined;
  const source = 'TICKR_DATABASE_HOST';
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]{1,253})(:[0-9]{1,5})?$/.test(host)) {
    throw new ConfigError('store', `invalid TICKR_DATABASE_HOST (--store): expected HOST or HOST:PORT, got "${host.slice(0, 80)}"`);
  }
  const name = env.TICKR_DATABASE_NAME;
  if (name === undefined || name === '') {
    throw new ConfigError('store', 'TICKR_DATABASE_HOST is set but TICKR_DATABASE_NAME is not: name the MySQL database');
  }
  const user = encodeURIComponent(env.TICKR_DATABASE_USERNAME ?? '');
  const password = env.TICKR_DATABASE_PASSWORD ? `:${encodeURIComponent(env.TICKR_DATABASE_PASSWORD)}` : '';
  const credentials = user === '' && password === '' ? '' : `${user}${password}@`;
  return { value: `mysql://${credentials}${host}/${encodeURIComponent(name)}`, source };
}

/** Reads `TICKET_SERVER_<OPTION>` variables. */
export function readNativeEnvironment(env: NodeJS.ProcessEnv): RawOptions {
  const result: RawOptions = new Map();
  for (const spec of OPTIONS) {
    const variable = envName(spec.name);
    const text = env[variable];
    if (text !== undefined && text !== '') result.set(spec.name, { value: text, source: variable });
  }
  return result;
}
