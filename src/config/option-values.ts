/**
 * Parsers of option values, one per shape (integer in a range, listen address,
 * endpoint, …). Each takes the raw value (text, or a boolean from a flag or a
 * JSON file) and returns the typed value or throws `OptionValueError` with the
 * reason; the option table adds which option and where the value came from.
 */
import { availableParallelism } from 'node:os';
import { OptionValueError } from './config-error.js';
import { validateStoreUri, StoreUriError } from '../store/open-store.js';
import { validateSequenceName } from '../core/names.js';
import { parseSettingsChange } from '../core/sequence-definitions.js';

/** A raw value: text from a flag, variable or file, or a boolean from a bare flag or a JSON `true`. */
export type RawValue = string | boolean;

/** A parser of one option's raw value. @throws OptionValueError */
export type ValueParser<T> = (value: RawValue) => T;

/** A TCP address to listen on. Port 0 picks a free port. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Log levels pino understands, plus `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Words that turn a listener off. */
export const OFF_WORDS: readonly string[] = ['off', 'false', 'none'];

/** An integer from `min` to `max` (at most 16 digits, so it is exact as a number). */
export function integerIn(min: number, max: number): ValueParser<number> {
  return (raw) => {
    const text = String(raw).trim();
    const value = /^-?[0-9]{1,16}$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new OptionValueError(`expected an integer from ${min} to ${max}, got "${text}"`);
    }
    return value;
  };
}

/** Most processes `--workers` may start. */
export const MAX_WORKERS = 256;

/** `--workers`: `auto` (one per core the OS lets this process use, at most 256) or an integer from 1 to 256. */
export const workerCount: ValueParser<number> = (raw) => {
  const text = String(raw).trim();
  if (text.toLowerCase() === 'auto') return Math.min(availableParallelism(), MAX_WORKERS);
  const value = /^[0-9]{1,4}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(value) || value < 1 || value > MAX_WORKERS) {
    throw new OptionValueError(`expected auto or an integer from 1 to ${MAX_WORKERS}, got "${text}"`);
  }
  return value;
};

/** A 64-bit integer from `min` to `max`. */
export function bigIntegerIn(min: bigint, max: bigint): ValueParser<bigint> {
  return (raw) => {
    const text = String(raw).trim();
    const value = /^-?[0-9]{1,19}$/.test(text) ? BigInt(text) : undefined;
    if (value === undefined || value < min || value > max) {
      throw new OptionValueError(`expected an integer from ${min} to ${max}, got "${text}"`);
    }
    return value;
  };
}

/** true/false, 1/0, yes/no, on/off (any case). */
export const booleanValue: ValueParser<boolean> = (raw) => {
  if (typeof raw === 'boolean') return raw;
  const text = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off'].includes(text)) return false;
  throw new OptionValueError(`expected on or off (true or false), got "${raw}"`);
};

/** A directory path: not empty, at most 4096 characters, no NUL. */
export const directoryPath: ValueParser<string> = (raw) => {
  const text = String(raw);
  if (text.length === 0 || text.length > 4096 || text.includes('\0')) throw new OptionValueError('expected a directory path');
  return text;
};

/** A store URI the store layer accepts. Errors other than a refused URI are bugs and pass unchanged. */
export const storeUri: ValueParser<string> = (raw) => {
  const text = String(raw);
  try {
    validateStoreUri(text);
  } catch (error) {
    if (error instanceof StoreUriError) throw new OptionValueError(error.message, { cause: error });
    throw error;
  }
  return text;
};

/** Checks a ZeroMQ endpoint: tcp://HOST:PORT (port 0 or * for a free port), ipc://PATH or inproc://NAME. */
export function validateZmqEndpoint(text: string): string {
  const tcp = /^tcp:\/\/(\*|\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253}):(\*|[0-9]{1,5})$/.exec(text);
  if (tcp) {
    const port = tcp[2] as string;
    if (port !== '*' && Number(port) > 65535) throw new Error('port must be 0..65535');
    return port === '0' ? text.replace(/:0$/, ':*') : text;
  }
  if (/^(ipc|inproc):\/\/.{1,200}$/.test(text)) return text;
  throw new Error('expected tcp://HOST:PORT, ipc://PATH or inproc://NAME');
}

/** A ZeroMQ endpoint to bind, or undefined for `off`. */
export const zmqEndpointOrOff: ValueParser<string | undefined> = (raw) => {
  const text = String(raw);
  if (OFF_WORDS.includes(text.trim())) return undefined;
  try {
    return validateZmqEndpoint(text);
  } catch (error) {
    throw new OptionValueError(`${(error as Error).message}, got "${text}"`, { cause: error });
  }
};

/** One of `LOG_LEVELS`. */
export const logLevel: ValueParser<LogLevel> = (raw) => {
  const text = String(raw);
  if (!(LOG_LEVELS as readonly string[]).includes(text)) throw new OptionValueError(`expected one of ${LOG_LEVELS.join(', ')}`);
  return text as LogLevel;
};

/** Most upstreams a proxy forwards to. */
const MAX_UPSTREAMS = 64;

/** Comma-separated tcp://HOST:PORT upstreams (a repeated flag arrives joined by commas). */
export const upstreamList: ValueParser<readonly string[]> = (raw) => {
  const hosts = String(raw).split(',').map((host) => host.trim()).filter((host) => host !== '');
  if (hosts.length > MAX_UPSTREAMS) throw new OptionValueError(`at most ${MAX_UPSTREAMS} upstreams`);
  for (const host of hosts) {
    if (!/^tcp:\/\/[^\s/,]{1,253}:[0-9]{1,5}$/.test(host) || Number(host.slice(host.lastIndexOf(':') + 1)) > 65535) {
      throw new OptionValueError(`expected tcp://HOST:PORT, got "${host}"`);
    }
  }
  return hosts;
};

/**
 * HOST:PORT, [IPv6]:PORT, PORT or `off`; for the HTTP listeners
 * (`allowHttpUrl`) also `http://HOST:PORT[/]`, the form seqgen's `--admin` took.
 * `https://` is refused: TLS is turned on by `--tls-cert`/`--tls-key`, never by the address.
 */
export function listenAddressOrOff(allowHttpUrl: boolean): ValueParser<ListenAddress | undefined> {
  return (raw) => {
    let text = String(raw).trim();
    if (OFF_WORDS.includes(text)) return undefined;
    if (allowHttpUrl) {
      if (/^https:\/\//i.test(text)) {
        throw new OptionValueError(
          `give HOST:PORT and turn HTTPS on with --tls-cert FILE --tls-key FILE, got "${text.slice(0, 80)}"`,
        );
      }
      const url = /^http:\/\/([^/]*)\/?$/i.exec(text);
      if (url) text = url[1] as string;
    }
    const match = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253}):)?([0-9]{1,5})$/.exec(text);
    const port = match ? Number(match[2]) : NaN;
    if (!match || port > 65535) throw new OptionValueError(`expected HOST:PORT, PORT or off, got "${text}"`);
    const host = match[1] ?? '0.0.0.0';
    return { host: host.startsWith('[') ? host.slice(1, -1) : host, port };
  };
}

/** Bearer token: 16-256 printable characters without spaces. */
export const adminToken: ValueParser<string | undefined> = (raw) => {
  const text = String(raw);
  if (!/^[\x21-\x7e]{16,256}$/.test(text)) throw new OptionValueError('expected 16-256 printable characters without spaces');
  return text;
};

/** A valid sequence name. */
export const sequenceName: ValueParser<string> = (raw) => {
  const text = String(raw);
  try {
    validateSequenceName(text);
  } catch (error) {
    throw new OptionValueError((error as Error).message, { cause: error });
  }
  return text;
};

/** An http(s)://HOST:PORT[/PATH] URL to advertise, without trailing slashes. */
export const advertisedHttpUrl: ValueParser<string | undefined> = (raw) => {
  const text = String(raw).trim().replace(/\/+$/, '');
  if (!/^https?:\/\/[^\s/?#]{1,300}(\/[^\s?#]{0,500})?$/.test(text)) {
    throw new OptionValueError(`expected http://HOST:PORT[/PATH], got "${text.slice(0, 100)}"`);
  }
  return text;
};

/** A tcp://HOST:PORT ZeroMQ endpoint to advertise (no wildcard host). */
export const advertisedZmqEndpoint: ValueParser<string | undefined> = (raw) => {
  const text = String(raw).trim();
  if (!/^tcp:\/\/[^\s/,*]{1,253}:[0-9]{1,5}$/.test(text) || Number(text.slice(text.lastIndexOf(':') + 1)) > 65535) {
    throw new OptionValueError(`expected tcp://HOST:PORT, got "${text.slice(0, 100)}"`);
  }
  return text;
};

/** Most sequences the `sequences` option may define. */
export const MAX_CONFIGURED_SEQUENCES = 10_000;

/**
 * Sequence definitions: a JSON object of sequence name → settings (as the
 * admin API's PUT body). Checked here for shape; applied at start.
 */
export const sequenceDefinitions: ValueParser<Readonly<Record<string, unknown>> | undefined> = (raw) => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(String(raw));
  } catch {
    throw new OptionValueError('expected a JSON object of sequence name -> settings');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new OptionValueError('expected a JSON object of sequence name -> settings');
  }
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.length > MAX_CONFIGURED_SEQUENCES) throw new OptionValueError(`at most ${MAX_CONFIGURED_SEQUENCES} sequences`);
  for (const [name, settings] of entries) {
    try {
      validateSequenceName(name);
      parseSettingsChange(settings);
    } catch (error) {
      throw new OptionValueError(`sequence "${name.slice(0, 128)}": ${(error as Error).message}`, { cause: error });
    }
  }
  return parsed as Readonly<Record<string, unknown>>;
};

/** A file path: not empty, at most 4096 characters, no NUL (read when the server starts). */
export const filePath: ValueParser<string | undefined> = (raw) => {
  const text = String(raw);
  if (text.length === 0 || text.length > 4096 || text.includes('\0')) throw new OptionValueError('expected a file path');
  return text;
};

/** A CurveZMQ public key: 40 characters of Z85. */
export const z85Key: ValueParser<string | undefined> = (raw) => {
  const text = String(raw).trim();
  if (!/^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/.test(text)) throw new OptionValueError('expected a 40-character Z85 CurveZMQ key');
  return text;
};
