/**
 * Parsing of shared-store URIs (SPEC §5) and their safe-to-log descriptions.
 * Credentials never leave this module except into the driver's own options.
 */

/** A store URI that cannot be used, with a message naming what is wrong (never the password). */
export class StoreUriError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreUriError';
  }
}

/** Longest store URI accepted (a bound on configuration input). */
export const MAX_STORE_URI_LENGTH = 4096;

/** A SQL server URI (`postgres://` or `mysql://`), parsed. */
export interface SqlUri {
  readonly scheme: 'postgres' | 'mysql';
  readonly user: string;
  readonly password: string;
  readonly host: string;
  readonly port: number | undefined;
  readonly database: string;
  /** Query parameters, passed to the driver as they are (e.g. `sslmode`). */
  readonly params: URLSearchParams;
  /** MySQL: the TLS settings of the `ssl*` parameters; undefined: no TLS. */
  readonly mysqlTls?: MysqlTlsSettings | undefined;
  /** `scheme://user@host:port/database`: no password, no parameters. */
  readonly description: string;
  /** The URI as given, for the driver only; never log it. */
  readonly connectionString: string;
}

/**
 * TLS to MySQL/MariaDB, from `mysql://…?ssl=true&ssl-ca=FILE&ssl-cert=FILE&ssl-key=FILE&ssl-reject-unauthorized=false`.
 * Any `ssl-*` file parameter turns TLS on; files are read when the store is created.
 */
export interface MysqlTlsSettings {
  readonly caFile: string | undefined;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
  /** Check the server's certificate (against `caFile`, else the system CAs). Default true. */
  readonly rejectUnauthorized: boolean;
}

const TRUE_WORDS = ['true', '1', 'required', 'on'];
const FALSE_WORDS = ['false', '0', 'off'];

/** The `ssl*` parameters of a mysql:// URI. @throws StoreUriError for a value it cannot use */
function mysqlTls(params: URLSearchParams): MysqlTlsSettings | undefined {
  const flag = (name: string): boolean | undefined => {
    const value = params.get(name);
    if (value === null) return undefined;
    if (TRUE_WORDS.includes(value.toLowerCase())) return true;
    if (FALSE_WORDS.includes(value.toLowerCase())) return false;
    throw new StoreUriError(`mysql store URI parameter ${name} must be true or false`);
  };
  const file = (name: string): string | undefined => {
    const value = params.get(name);
    if (value === null) return undefined;
    if (value === '' || value.length > 4096) throw new StoreUriError(`mysql store URI parameter ${name} must be a file path`);
    return value;
  };
  const enabled = flag('ssl');
  const caFile = file('ssl-ca');
  const certFile = file('ssl-cert');
  const keyFile = file('ssl-key');
  const rejectUnauthorized = flag('ssl-reject-unauthorized') ?? true;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new StoreUriError('mysql store URI parameters ssl-cert and ssl-key go together');
  const files = caFile !== undefined || certFile !== undefined;
  if (enabled === false) {
    if (files) throw new StoreUriError('mysql store URI has ssl=false together with ssl-* files');
    return undefined;
  }
  if (enabled !== true && !files && params.get('ssl-reject-unauthorized') === null) return undefined;
  return { caFile, certFile, keyFile, rejectUnauthorized };
}

/** An etcd cluster URI, parsed. */
export interface EtcdUri {
  /** `http://host:port` for every member given. */
  readonly hosts: readonly string[];
  readonly user: string | undefined;
  readonly password: string | undefined;
  /** Key prefix, always starting and ending with `/` (default `/ticket-server/`). */
  readonly prefix: string;
  readonly description: string;
  /** TLS (`?cacert=FILE[&cert=FILE&key=FILE]`); undefined: plain gRPC. Members are then `https://host:port`. */
  readonly tls?: EtcdTlsSettings | undefined;
}

/** TLS to etcd: the CA that signed the members' certificates, and optionally a client certificate. */
export interface EtcdTlsSettings {
  readonly caFile: string;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
}

const ETCD_PARAMETERS = new Set(['cacert', 'cert', 'key']);

/** The `?cacert=&cert=&key=` of an etcd URI. @throws StoreUriError */
function etcdTls(query: string): EtcdTlsSettings | undefined {
  if (query === '') return undefined;
  const params = new URLSearchParams(query);
  for (const name of params.keys()) {
    if (!ETCD_PARAMETERS.has(name)) throw new StoreUriError(`etcd store URI parameter "${name.slice(0, 40)}" is unknown; expected cacert, cert, key`);
  }
  const file = (name: string): string | undefined => {
    const value = params.get(name);
    if (value === null) return undefined;
    if (value === '' || value.length > 4096) throw new StoreUriError(`etcd store URI parameter ${name} must be a file path`);
    return value;
  };
  const caFile = file('cacert');
  const certFile = file('cert');
  const keyFile = file('key');
  if (caFile === undefined) throw new StoreUriError('etcd store URI: TLS needs cacert=FILE (the CA of the members\' certificates)');
  if ((certFile === undefined) !== (keyFile === undefined)) throw new StoreUriError('etcd store URI parameters cert and key go together');
  return { caFile, certFile, keyFile };
}

function decode(part: string, what: string, scheme: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new StoreUriError(`the ${what} in the ${scheme} store URI is not valid percent-encoding`);
  }
}

/**
 * Parses `postgres://user:pass@host:port/db?params` or `mysql://…`.
 * @throws StoreUriError naming what is missing or wrong; the message never holds the password.
 */
export function parseSqlUri(uri: string): SqlUri {
  const scheme = uri.startsWith('mysql:') ? 'mysql' : 'postgres';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new StoreUriError(`${scheme} store URI is malformed; expected ${scheme}://user:password@host:port/database`);
  }
  if (url.hostname === '') throw new StoreUriError(`${scheme} store URI needs a host, as in ${scheme}://user:password@host:port/database`);
  const database = decode(url.pathname.replace(/^\//, ''), 'database name', scheme);
  if (database === '' || database.includes('/')) {
    throw new StoreUriError(`${scheme} store URI needs a database name after the host, as in ${scheme}://user:password@host:port/database`);
  }
  const port = url.port === '' ? undefined : Number(url.port);
  const user = decode(url.username, 'user name', scheme);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return {
    scheme,
    user,
    password: decode(url.password, 'password', scheme),
    host,
    port,
    database,
    params: url.searchParams,
    ...(scheme === 'mysql' ? { mysqlTls: mysqlTls(url.searchParams) } : {}),
    description: `${scheme}://${user === '' ? '' : `${encodeURIComponent(user)}@`}${url.host}/${encodeURIComponent(database)}`,
    connectionString: uri,
  };
}

/**
 * Parses `etcd://[user:pass@]host:port[,host:port…][/prefix][?cacert=FILE[&cert=FILE&key=FILE]]`.
 * @throws StoreUriError
 */
export function parseEtcdUri(uri: string): EtcdUri {
  const question = uri.indexOf('?');
  const tls = etcdTls(question === -1 ? '' : uri.slice(question + 1));
  const rest = uri.slice('etcd://'.length, question === -1 ? undefined : question);
  if (!uri.startsWith('etcd://') || rest === '') {
    throw new StoreUriError('etcd store URI is malformed; expected etcd://host:port[,host:port…][/prefix]');
  }
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
  const at = authority.lastIndexOf('@');
  let user: string | undefined;
  let password: string | undefined;
  if (at !== -1) {
    const credentials = authority.slice(0, at);
    const colon = credentials.indexOf(':');
    user = decode(colon === -1 ? credentials : credentials.slice(0, colon), 'user name', 'etcd');
    password = decode(colon === -1 ? '' : credentials.slice(colon + 1), 'password', 'etcd');
  }
  const members = authority.slice(at + 1).split(',');
  const hosts: string[] = [];
  for (const member of members) {
    const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(member);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65535) {
      throw new StoreUriError(`etcd store URI member "${member.slice(0, 100)}" is not host:port`);
    }
    hosts.push(`${tls === undefined ? 'http' : 'https'}://${member}`);
  }
  if (hosts.length > 64) throw new StoreUriError('etcd store URI lists more than 64 members');
  const prefixPath = path === '' ? 'ticket-server' : decode(path, 'prefix', 'etcd');
  const prefix = `/${prefixPath}/`;
  return {
    hosts,
    user,
    password,
    prefix,
    description: `etcd://${user === undefined ? '' : `${encodeURIComponent(user)}@`}${members.join(',')}${prefix.slice(0, -1)}${tls === undefined ? '' : ' (TLS)'}`,
    ...(tls === undefined ? {} : { tls }),
  };
}
