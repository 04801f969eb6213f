/** Shell completion: the bash function offers commands and each command's options, from the option table. */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { bashCompletion, zshCompletion } from '../../src/cli/completion.js';
import { OPTIONS } from '../../src/config/option-table.js';

/** What bash completes for `words` (the last one being completed), with the generated script loaded. */
function complete(words: readonly string[]): string[] {
  const quoted = words.map((word) => `'${word}'`).join(' ');
  const script = `${bashCompletion()}\nCOMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _ticket_server; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const output = execFileSync('bash', ['--noprofile', '--norc', '-c', script], { encoding: 'utf8', timeout: 10_000 });
  return output.split('\n').filter((line) => line !== '');
}

describe('bash completion', () => {
  it('offers the commands for the first word', () => {
    expect(complete(['ticket-server', ''])).toEqual(expect.arrayContaining(['serve', 'dump', 'restore', 'takeover', 'next', 'status', 'completion']));
    expect(complete(['ticket-server', 'st'])).toEqual(['status']);
  });

  it('offers every option of the option table after dump', () => {
    const offered = complete(['ticket-server', 'dump', '--']);
    for (const spec of OPTIONS) expect(offered).toContain(`--${spec.name}`);
    expect(complete(['ticket-server', 'dump', '--max-b'])).toEqual(['--max-block']);
  });

  it("offers next's own options after next, not the server's", () => {
    expect(complete(['ticket-server', 'next', 'orders', '--']).sort()).toEqual([
      '--ca', '--count', '--curve-client-key', '--curve-server-key', '--help', '--server', '--timeout', '--token',
    ]);
  });

  it('offers the shells after completion and takeover\'s --sequence after takeover', () => {
    expect(complete(['ticket-server', 'completion', '']).sort()).toEqual(['bash', 'zsh']);
    expect(complete(['ticket-server', 'takeover', '--seq'])).toEqual(['--sequence', '--sequences']);
  });
});

describe('zsh completion', () => {
  it('loads the same function through bashcompinit', () => {
    const script = zshCompletion();
    expect(script).toContain('bashcompinit');
    expect(script).toContain('complete -o default -F _ticket_server ticket-server');
  });
});
