/** Per-command --help: fits 100 columns, stands alone (no contract section numbers), shows an example. */
import { describe, expect, it } from 'vitest';
import { HELP_COMMANDS, commandFlags, commandHelpText } from '../../src/cli/command-help.js';
import { HELP_WIDTH } from '../../src/config/help.js';
import { OPTIONS } from '../../src/config/option-table.js';

describe.each(HELP_COMMANDS)('%s --help', (command) => {
  const text = commandHelpText(command);

  it('keeps every line within the help width', () => {
    expect(text.split('\n').filter((line) => [...line].length > HELP_WIDTH)).toEqual([]);
  });

  it('cites no contract section and shows at least one example of the command', () => {
    expect(text).not.toMatch(/SPEC|§|\.\.\/shared/);
    expect(text).toMatch(/\nExamples:\n {2}ticket-server /);
  });

  it('lists every flag completion offers for it', () => {
    for (const flag of commandFlags(command)) expect(text).toContain(flag);
  });
});

it('gives serve, dump, restore and takeover every option of the option table', () => {
  for (const command of ['serve', 'dump', 'restore', 'takeover'] as const) {
    for (const spec of OPTIONS) expect(commandFlags(command)).toContain(`--${spec.name}`);
  }
});
