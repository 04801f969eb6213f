/**
 * Shared pieces of the deploy tests: where the deploy files are, finding the
 * external tools they are checked with (systemd-analyze, promtool,
 * prometheus), and the graceful-stop bound the stop timeouts must exceed.
 */
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { PROJECT_ROOT } from '../helpers/server-process.js';

/** `deploy/` of this repository. */
export const DEPLOY_DIR = join(PROJECT_ROOT, 'deploy');

/** The graceful stop's bound with the default --store-timeout (5000 ms) + 5 s, as src/cli/main.ts sets it. */
export const GRACEFUL_STOP_SECONDS = 10;

/** A file under deploy/ as text. */
export function deployFile(relative: string): string {
  return readFileSync(join(DEPLOY_DIR, relative), 'utf8');
}

function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

const warned = new Set<string>();

/**
 * The path of `program`, or undefined (with a warning naming the Debian
 * package to install) when it is missing. Under `CI=true` a missing program
 * throws instead: CI must run these tests, not skip them.
 */
export function requireTool(program: string, debianPackage: string): string | undefined {
  const found = findProgram(program);
  if (found !== undefined) return found;
  const message = `${program} not found in PATH, /usr/bin or /usr/sbin: install the Debian package ${debianPackage}`;
  if (process.env.CI === 'true') throw new Error(`deploy tests cannot run in CI: ${message}`);
  if (!warned.has(program)) {
    warned.add(program);
    console.warn(`skipping tests that need ${program}: ${message}`);
  }
  return undefined;
}

/** Seconds of a systemd time span such as `20s`, `1min 30s` or `90`. */
export function systemdSeconds(span: string): number {
  const units: Record<string, number> = { '': 1, s: 1, sec: 1, m: 60, min: 60, h: 3600 };
  let total = 0;
  for (const match of span.trim().matchAll(/(\d+)\s*([a-z]*)/g)) {
    const unit = units[match[2] ?? ''];
    if (unit === undefined) throw new Error(`unknown time unit in "${span}"`);
    total += Number(match[1]) * unit;
  }
  return total;
}
