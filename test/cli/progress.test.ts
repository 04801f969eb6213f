/** The progress reporter of long one-shot commands: silent off a terminal, throttled on one. */
import { describe, expect, it } from 'vitest';
import { ProgressReporter } from '../../src/cli/progress.js';

function recorder(isTTY: boolean): { stream: { isTTY: boolean; write: (text: string) => boolean }; written: string[] } {
  const written: string[] = [];
  return { stream: { isTTY, write: (text: string) => written.push(text) > 0 }, written };
}

describe('ProgressReporter', () => {
  it('writes nothing when the stream is not a terminal', () => {
    const { stream, written } = recorder(false);
    const progress = new ProgressReporter('dump: sequences read', undefined, stream, { everyItems: 2, everyMs: 1 });
    for (let index = 0; index < 10; index++) progress.tick();
    progress.done();
    expect(written).toEqual([]);
  });

  it('rewrites one line every N items on a terminal and ends it with the final count', () => {
    const { stream, written } = recorder(true);
    const progress = new ProgressReporter('restore: sequences', 2500, stream, { everyItems: 1000, everyMs: 60_000, now: () => 0 });
    for (let index = 0; index < 2500; index++) progress.tick();
    progress.done();
    expect(written).toEqual(['\rrestore: sequences: 1000/2500', '\rrestore: sequences: 2000/2500', '\rrestore: sequences: 2500/2500\n']);
  });

  it('reports after a second even when few items passed', () => {
    const { stream, written } = recorder(true);
    let clock = 0;
    const progress = new ProgressReporter('takeover: sequences', undefined, stream, { everyItems: 1000, everyMs: 1000, now: () => clock });
    progress.tick();
    expect(written).toEqual([]);
    clock = 1500;
    progress.tick();
    expect(written).toEqual(['\rtakeover: sequences: 2']);
  });

  it('prints no line at all for a command too short to have reported', () => {
    const { stream, written } = recorder(true);
    const progress = new ProgressReporter('dump: sequences read', undefined, stream, { now: () => 0 });
    progress.tick(5);
    progress.done();
    expect(written).toEqual([]);
  });
});
