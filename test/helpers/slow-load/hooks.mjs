// Module hooks (run off the main thread): before dist/cli/run.js loads, writes the file named by
// SLOW_LOAD_MARKER and waits SLOW_LOAD_MS (bounded), so the test knows the process is mid-load.
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const marker = process.env.SLOW_LOAD_MARKER;
const delayMs = Math.min(Number(process.env.SLOW_LOAD_MS ?? 0) || 0, 30_000);

export async function load(url, context, nextLoad) {
  if (marker !== undefined && url.endsWith('/dist/cli/run.js')) {
    writeFileSync(marker, 'loading\n');
    await sleep(delayMs);
  }
  return nextLoad(url, context);
}
