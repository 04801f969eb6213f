/**
 * `ticket-server status [--admin URL] [--json] [--timeout MS]`: a running
 * server's `/status`, summarised for a person (or as JSON for scripts).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/options.js';
import { readCaFile } from './client-security.js';

/** Where `status` looks when no --admin is given: the admin port's default. */
export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:6411';

/** Largest /status body read, so a wrong URL cannot exhaust memory (1000 sequences fit well within it). */
const MAX_STATUS_BYTES = 8 * 1024 * 1024;

/** Sequences the summary lists. */
const SUMMARY_SEQUENCES = 5;

interface StatusDocument {
  mode?: string;
  version?: string;
  ready?: boolean;
  uptime_seconds?: number;
  numbering?: { instance: number; instances: number; offset: string } | null;
  store?: { kind: string; description: string; durable: boolean; ok: boolean; detail: string | null } | null;
  runway_seconds?: number | null;
  sequence_count?: number;
  sequences?: Array<{ name: string; last_value: string | null; rate: number; runway_seconds: number | null }>;
  upstreams?: Array<{ uri?: string; up?: boolean }> | null;
  leader?: { role: string; issuing: boolean; id: string | null; http: string | null } | null;
}

/**
 * GETs `url` (http or https, trusting `ca` for https when given), bounded in time and size.
 * @throws Error with the socket's code (ECONNREFUSED), `TimeoutError`, or an HTTP status
 */
function getText(url: URL, ca: string | undefined, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(url, { method: 'GET', headers: { accept: 'application/json' }, ...(ca === undefined ? {} : { ca }) }, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_STATUS_BYTES) request.destroy(new Error(`answer larger than ${MAX_STATUS_BYTES} bytes`));
        else chunks.push(chunk);
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    const timer = setTimeout(() => {
      const error = new Error(`no answer within ${timeoutMs} ms`);
      error.name = 'TimeoutError';
      request.destroy(error);
    }, timeoutMs);
    request.on('error', reject);
    request.on('close', () => clearTimeout(timer));
    request.end();
  });
}

/** `--admin` as a base URL: `http://HOST:PORT`, or `HOST:PORT` / `PORT` for short. @throws ConfigError */
function adminBaseUrl(text: string): URL {
  const withScheme = /^[0-9]{1,5}$/.test(text) ? `http://127.0.0.1:${text}` : /^[a-z]+:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConfigError('admin', `invalid --admin: expected http://HOST:PORT, got "${text.slice(0, 200)}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError('admin', `invalid --admin: expected http://HOST:PORT, got "${text.slice(0, 200)}"`);
  }
  return url;
}

function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return 'unknown (no recent traffic)';
  return value >= 3600 ? `${(value / 3600).toFixed(1)} h` : value >= 60 ? `${(value / 60).toFixed(1)} min` : `${value.toFixed(1)} s`;
}

/** The human summary of a /status document. */
export function formatStatus(status: StatusDocument, url: string): string {
  const lines = [`${url}`];
  const row = (label: string, text: string): void => {
    lines.push(`  ${label.padEnd(11)}${text}`);
  };
  row('ready', status.ready ? 'yes' : 'NO');
  const numbering = status.numbering ? `, instance ${status.numbering.instance} of ${status.numbering.instances}` : '';
  row('mode', `${status.mode ?? 'unknown'} (version ${status.version ?? '?'}${numbering}, up ${status.uptime_seconds ?? '?'} s)`);
  if (status.store) {
    const store = status.store;
    row('store', `${store.description} (${store.durable ? 'durable' : 'NOT durable'}, ${store.ok ? 'ok' : `failing: ${store.detail ?? 'unknown'}`})`);
  }
  if (status.upstreams) {
    const up = status.upstreams.filter((upstream) => upstream.up).length;
    row('upstreams', `${up} of ${status.upstreams.length} up`);
  }
  if (status.leader) {
    const leader = status.leader;
    const who = leader.role === 'leader' ? (leader.issuing ? 'this server, issuing' : 'this server, NOT issuing') : leader.id ?? 'none';
    row('leader', `${who} (role ${leader.role}${leader.http ? `, ${leader.http}` : ''})`);
  }
  if (status.mode !== 'proxy') {
    row('runway', seconds(status.runway_seconds));
    row('sequences', String(status.sequence_count ?? 0));
    for (const sequence of (status.sequences ?? []).slice(0, SUMMARY_SEQUENCES)) {
      lines.push(
        `    ${sequence.name}: last ${sequence.last_value ?? 'none'}, ${sequence.rate}/s, runway ${seconds(sequence.runway_seconds)}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Runs `status`.
 * @returns 0 when the server is ready; 1 when it is not, or cannot be reached (the URL named on stderr)
 * @throws ConfigError for invalid arguments
 */
export async function status(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: { admin: { type: 'string' }, json: { type: 'boolean' }, timeout: { type: 'string' }, ca: { type: 'string' } },
      allowPositionals: false,
      strict: true,
    });
  } catch (error) {
    throw new ConfigError('status', `invalid status arguments: ${(error as Error).message.replace(/\. To specify a positional argument.*$/s, '')}`);
  }
  const values = parsed.values as { admin?: string; json?: boolean; timeout?: string; ca?: string };
  const ca = values.ca === undefined ? undefined : readCaFile(values.ca);
  let timeout = 3000;
  if (values.timeout !== undefined) {
    if (!/^[0-9]{1,6}$/.test(values.timeout) || Number(values.timeout) < 1 || Number(values.timeout) > 600_000) {
      throw new ConfigError('timeout', `invalid --timeout: expected milliseconds from 1 to 600000, got "${values.timeout.slice(0, 40)}"`);
    }
    timeout = Number(values.timeout);
  }
  const base = adminBaseUrl(values.admin ?? DEFAULT_ADMIN_URL);
  const shown = base.origin + base.pathname.replace(/\/$/, '');
  const url = new URL(`${base.pathname.replace(/\/$/, '')}/status`, base);
  let document: StatusDocument;
  try {
    const { status: httpStatus, text } = await getText(url, ca, timeout);
    if (httpStatus < 200 || httpStatus > 299) throw new Error(`HTTP ${httpStatus}; is that a ticket-server admin port?`);
    document = JSON.parse(text) as StatusDocument;
    if (typeof document !== 'object' || document === null || typeof document.ready !== 'boolean') {
      throw new Error('the answer is not a ticket-server /status document');
    }
  } catch (error) {
    // The socket's code (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT) says more than its message.
    const code = (error as { code?: string }).code;
    const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${timeout} ms` : code ?? (error as Error).message;
    process.stderr.write(`ticket-server: cannot get the status from ${shown} (${reason}); is the server running? Choose another with --admin URL\n`);
    return 1;
  }
  process.stdout.write(values.json ? `${JSON.stringify(document, null, 2)}\n` : formatStatus(document, shown));
  if (!document.ready) {
    process.stderr.write(`ticket-server: ${shown} is not ready (see its /readyz for why)\n`);
    return 1;
  }
  return 0;
}
