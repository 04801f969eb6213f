/**
 * deploy/systemd/ticket-server.service: `systemd-analyze verify` accepts it
 * (any warning about the unit counts as a failure), and the settings that
 * keep a stop graceful and the service confined are there.
 *
 * verify needs ExecStart's program to exist, so it checks a copy in a temp
 * dir whose ExecStart is this machine's node and this repository's
 * dist/cli/main.js (build first); everything else is the file as shipped.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_PATH } from '../helpers/server-process.js';
import { GRACEFUL_STOP_SECONDS, deployFile, requireTool, systemdSeconds } from './deploy-files.js';

const run = promisify(execFile);
const UNIT = deployFile('systemd/ticket-server.service');
const systemdAnalyze = requireTool('systemd-analyze', 'systemd');
const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** `Key=value` settings of the unit, in order (a key may repeat). */
function settings(unit: string): Array<[string, string]> {
  return unit
    .split('\n')
    .filter((line) => /^[A-Za-z]+=/.test(line))
    .map((line) => {
      const at = line.indexOf('=');
      return [line.slice(0, at), line.slice(at + 1)];
    });
}

const setting = (key: string): string | undefined => settings(UNIT).find(([name]) => name === key)?.[1];

/** Runs `systemd-analyze verify` on `unit` saved as ticket-server.service; resolves with its exit code and output. */
async function verify(program: string, unit: string): Promise<{ code: number; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ticket-server-unit-'));
  dirs.push(dir);
  const path = join(dir, 'ticket-server.service');
  await writeFile(path, unit);
  try {
    const { stdout, stderr } = await run(program, ['verify', path], { timeout: 30_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

/** The shipped unit with ExecStart pointing at programs that exist here. */
function unitForThisMachine(): string {
  const execStart = setting('ExecStart') ?? '';
  const args = execStart.split(/\s+/).slice(2); // drop "/usr/bin/node /usr/local/bin/ticket-server"
  return UNIT.replace(/^ExecStart=.*$/m, `ExecStart=${process.execPath} ${CLI_PATH} ${args.join(' ')}`);
}

describe.skipIf(systemdAnalyze === undefined)('systemd unit: systemd-analyze verify', () => {
  const program = systemdAnalyze as string;

  it('accepts the unit without a single warning about it', async () => {
    const { code, output } = await verify(program, unitForThisMachine());
    expect(code, output).toBe(0);
    expect(output.split('\n').filter((line) => line.includes('ticket-server.service'))).toEqual([]);
  });

  it('would notice a mistake (an unknown key, a missing program)', async () => {
    const typo = await verify(program, unitForThisMachine().replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes'));
    expect(typo.output).toContain("Unknown key 'NoNewPrivilege'");
    const missing = await verify(program, unitForThisMachine().replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/node'));
    expect(missing.code, missing.output).not.toBe(0);
  });
});

describe('systemd unit: settings', () => {
  it('runs ticket-server on its state directory as a dynamic user', () => {
    expect(setting('ExecStart')).toMatch(/ticket-server --data \/var\/lib\/ticket-server$/);
    expect(setting('DynamicUser')).toBe('yes');
    expect(setting('StateDirectory')).toBe('ticket-server');
  });

  it('stops with SIGTERM and waits longer than the graceful stop before SIGKILL', () => {
    expect(setting('KillSignal')).toBe('SIGTERM');
    expect(systemdSeconds(setting('TimeoutStopSec') ?? '0')).toBeGreaterThan(GRACEFUL_STOP_SECONDS);
  });

  it('restarts on failure but not on bad configuration (exit 2)', () => {
    expect(setting('Restart')).toBe('on-failure');
    expect(setting('RestartPreventExitStatus')).toBe('2');
  });

  it('is confined: read-only system, no new privileges, no capabilities', () => {
    expect(setting('ProtectSystem')).toBe('strict');
    expect(setting('NoNewPrivileges')).toBe('yes');
    expect(setting('ProtectHome')).toBe('yes');
    expect(setting('PrivateTmp')).toBe('yes');
    expect(setting('CapabilityBoundingSet')).toBe('');
  });
});
