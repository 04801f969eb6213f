/** `ticket-server next`: a client command, with its own flags (not the option table's). */
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/options.js';
import { validateSequenceName } from '../core/names.js';
import { createClient, type TicketClient } from '../client/client.js';
import { curveKeyFile, readCaFile } from './client-security.js';

/** The client's security options from `next`'s flags. @throws ConfigError */
function securityOptions(values: { token?: string; ca?: string; 'curve-server-key'?: string; 'curve-client-key'?: string }): Record<string, string> {
  const options: Record<string, string> = {};
  if (values.token !== undefined) {
    if (!/^[\x21-\x7e]{1,256}$/.test(values.token)) throw new ConfigError('token', 'invalid --token: expected 1-256 printable characters without spaces');
    options.token = values.token;
  }
  if (values.ca !== undefined) options.ca = readCaFile(values.ca);
  const serverKey = values['curve-server-key'];
  if (serverKey !== undefined) {
    if (!/^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/.test(serverKey)) {
      throw new ConfigError('curve-server-key', 'invalid --curve-server-key: expected the server\'s 40-character Z85 public key');
    }
    options.curveServerKey = serverKey;
    if (values['curve-client-key'] !== undefined) Object.assign(options, curveKeyFile(values['curve-client-key']));
  } else if (values['curve-client-key'] !== undefined) {
    throw new ConfigError('curve-client-key', 'invalid --curve-client-key: it is used only with --curve-server-key');
  }
  return options;
}

/**
 * `ticket-server next NAME [--count N] [--server URI]… [--timeout MS] [--token TOKEN] [--ca FILE]
 * [--curve-server-key KEY [--curve-client-key FILE]]`: prints values, one per line.
 * @returns the exit code: 0, or 1 when no server answered
 * @throws ConfigError for invalid arguments
 */
export async function next(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        count: { type: 'string' },
        server: { type: 'string', multiple: true },
        timeout: { type: 'string' },
        token: { type: 'string' },
        ca: { type: 'string' },
        'curve-server-key': { type: 'string' },
        'curve-client-key': { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new ConfigError('next', `invalid next arguments: ${(error as Error).message}`);
  }
  const values = parsed.values as {
    count?: string;
    server?: string[];
    timeout?: string;
    token?: string;
    ca?: string;
    'curve-server-key'?: string;
    'curve-client-key'?: string;
  };
  if (parsed.positionals.length !== 1) throw new ConfigError('next', 'next needs exactly one sequence NAME (see --help)');
  const name = parsed.positionals[0] as string;
  try {
    validateSequenceName(name);
  } catch (error) {
    throw new ConfigError('next', `invalid NAME: ${(error as Error).message}`);
  }
  let count: number | undefined;
  if (values.count !== undefined) {
    if (!/^[0-9]{1,4}$/.test(values.count) || Number(values.count) < 1 || Number(values.count) > 1000) {
      throw new ConfigError('count', `invalid --count: expected an integer from 1 to 1000, got "${values.count}"`);
    }
    count = Number(values.count);
  }
  let timeout = 1000;
  if (values.timeout !== undefined) {
    if (!/^[0-9]{1,6}$/.test(values.timeout) || Number(values.timeout) < 1) {
      throw new ConfigError('timeout', `invalid --timeout: expected milliseconds from 1 to 999999, got "${values.timeout}"`);
    }
    timeout = Number(values.timeout);
  }
  const servers = values.server && values.server.length > 0 ? values.server : ['tcp://127.0.0.1:6410'];
  let client: TicketClient;
  try {
    client = createClient(servers, { timeout, ...securityOptions(values) });
  } catch (error) {
    throw new ConfigError('server', `invalid --server: ${(error as Error).message}`);
  }
  try {
    const result = count === undefined ? [await client.next(name)] : await client.next(name, { count });
    process.stdout.write(`${result.join('\n')}\n`);
    return 0;
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'EINTERNAL';
    // The client's own message says only that nobody answered; a user needs to know whom it asked.
    const message = code === 'ETIMEOUT' || code === 'EUNAVAILABLE'
      ? `no answer from ${servers.join(', ')} within ${timeout} ms per server (${(error as Error).message}); ` +
        'is the server running there? Choose another with --server URI'
      : (error as Error).message;
    process.stderr.write(`ticket-server: ${code}: ${message}\n`);
    return 1;
  } finally {
    await client.close();
  }
}
