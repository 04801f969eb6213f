/**
 * Every ticket-server option the deploy files pass (Dockerfile, compose file,
 * systemd unit, Kubernetes manifests) exists: each `--option` in a command
 * line and each `TICKET_SERVER_*` variable must appear in the real
 * `ticket-server --help` output (the built CLI), so a renamed option breaks
 * this test instead of a deployment. The entry point's own variables are the
 * only other `TICKET_SERVER_*` names allowed.
 */
import { readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/server-process.js';
import { DEPLOY_DIR, deployFile } from './deploy-files.js';

/** Variables read by deploy/docker-entrypoint.sh and deploy/healthcheck.mjs, not by ticket-server. */
const DEPLOY_VARIABLES = new Set([
  'TICKET_SERVER_INSTANCE_FROM_HOSTNAME',
  'TICKET_SERVER_ENTRYPOINT_DRY_RUN',
  'TICKET_SERVER_MAIN',
  'TICKET_SERVER_HEALTHCHECK_URL',
]);

let help = '';

beforeAll(async () => {
  const result = await runCli(['--help']);
  expect(result.code, result.stderr).toBe(0);
  help = result.stdout;
});

const optionsInHelp = (): Set<string> => new Set([...help.matchAll(/^\s+(--[a-z][a-z0-9-]*)/gm)].map((match) => match[1] as string));
const variablesInHelp = (): Set<string> => new Set([...help.matchAll(/env\s+(TICKET_SERVER_[A-Z0-9_]+)/g)].map((match) => match[1] as string));

const optionsIn = (args: readonly string[]): string[] =>
  args.filter((arg) => arg.startsWith('--')).map((arg) => arg.replace(/=.*$/, ''));

/**
 * The items of every `command:` and `args:` list in a YAML file (block
 * lists, one `- item` a line, or flow lists `[a, "b"]`). Enough for our own
 * manifests; comments are skipped.
 */
function yamlCommandItems(text: string): string[] {
  const items: string[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const match = /^(\s*)(?:command|args):\s*(.*)$/.exec(lines[index] as string);
    if (!match) continue;
    const indent = (match[1] as string).length;
    const inline = (match[2] as string).trim();
    if (inline.startsWith('[')) {
      items.push(...[...inline.matchAll(/"([^"]*)"|([^\s,[\]"]+)/g)].map((item) => item[1] ?? item[2] ?? ''));
      continue;
    }
    for (let next = index + 1; next < lines.length; next++) {
      const line = lines[next] as string;
      if (/^\s*(#.*)?$/.test(line)) continue;
      const item = /^(\s*)-\s+(.*)$/.exec(line);
      if (!item || (item[1] as string).length < indent) break;
      items.push((item[2] as string).trim().replace(/^"(.*)"$/, '$1'));
    }
  }
  return items;
}

/** `CMD` and `ENTRYPOINT` arguments of the Dockerfile (exec form). */
function dockerfileCommandItems(text: string): string[] {
  return [...text.matchAll(/^(?:CMD|ENTRYPOINT) (\[.*\])$/gm)].flatMap((match) => JSON.parse(match[1] as string) as string[]);
}

/** Arguments of ExecStart after the program and the script. */
function unitCommandItems(text: string): string[] {
  const execStart = /^ExecStart=(.*)$/m.exec(text)?.[1] ?? '';
  return execStart.split(/\s+/).slice(2);
}

const nonComment = (text: string): string =>
  text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n');

const variablesIn = (text: string): string[] => [...nonComment(text).matchAll(/TICKET_SERVER_[A-Z0-9_]+/g)].map((match) => match[0]);

const KUBERNETES = readdirSync(`${DEPLOY_DIR}/kubernetes`).filter((name) => name.endsWith('.yaml')).map((name) => `kubernetes/${name}`);

/** Each deploy file, the options its command lines pass, and options that must be among them (so the extraction cannot quietly find nothing). */
const FILES: Array<{ file: string; items: () => string[]; mustHave: string[] }> = [
  { file: 'Dockerfile', items: () => dockerfileCommandItems(deployFile('Dockerfile')), mustHave: [] },
  { file: 'compose.yaml', items: () => yamlCommandItems(deployFile('compose.yaml')), mustHave: ['--store', '--leader', '--advertise-http', '--advertise-zmq'] },
  { file: 'systemd/ticket-server.service', items: () => unitCommandItems(deployFile('systemd/ticket-server.service')), mustHave: ['--data'] },
  { file: 'kubernetes/statefulset.yaml', items: () => yamlCommandItems(deployFile('kubernetes/statefulset.yaml')), mustHave: ['--instances', '--data'] },
  {
    file: 'kubernetes/statefulset-etcd.yaml',
    items: () => yamlCommandItems(deployFile('kubernetes/statefulset-etcd.yaml')),
    mustHave: ['--store', '--leader', '--advertise-http', '--advertise-zmq'],
  },
];

describe('options used by the deploy files', () => {
  it('covers every Kubernetes manifest', () => {
    expect(FILES.map(({ file }) => file).filter((file) => file.startsWith('kubernetes/')).sort()).toEqual([...KUBERNETES].sort());
  });

  it('reads the option list from --help', () => {
    expect(optionsInHelp().size).toBeGreaterThan(20);
    expect(variablesInHelp()).toContain('TICKET_SERVER_DATA');
  });

  it.each(FILES)('$file passes only options ticket-server --help lists', ({ items, mustHave }) => {
    const used = optionsIn(items());
    for (const option of mustHave) expect(used).toContain(option);
    const known = optionsInHelp();
    expect(used.filter((option) => !known.has(option))).toEqual([]);
  });

  it.each(['Dockerfile', 'compose.yaml', 'systemd/ticket-server.service', ...KUBERNETES, 'docker-entrypoint.sh'])(
    '%s sets only TICKET_SERVER_* variables ticket-server or the entry point reads',
    (file) => {
      const known = variablesInHelp();
      expect(variablesIn(deployFile(file)).filter((name) => !known.has(name) && !DEPLOY_VARIABLES.has(name))).toEqual([]);
    },
  );

  it('finds a misspelt option (the check can fail)', () => {
    const known = optionsInHelp();
    const items = yamlCommandItems('command:\n  - --stor\n  - x\nargs: ["--leader", "--advertise-https", "u"]\n');
    expect(optionsIn(items).filter((option) => !known.has(option))).toEqual(['--stor', '--advertise-https']);
  });
});
