/**
 * `ticket-server completion bash|zsh`: a shell completion script for the
 * commands and their options, generated from the option table and each
 * command's help, so it cannot miss an option added later.
 */
import { ConfigError } from '../config/options.js';
import { HELP_COMMANDS, commandFlags } from './command-help.js';

/** Shells `completion` writes a script for. */
export const COMPLETION_SHELLS = ['bash', 'zsh'] as const;

/** The bash script: the function `_ticket_server`, registered for `ticket-server`. */
export function bashCompletion(): string {
  const cases = HELP_COMMANDS.filter((command) => command !== 'completion' && command !== 'serve').map(
    (command) => `    ${command}) options="${commandFlags(command).join(' ')}" ;;`,
  );
  // Without a command the line is serve's: its options and the command names.
  const topLevel = [...HELP_COMMANDS, ...commandFlags('serve'), '--version'].join(' ');
  return [
    '# ticket-server completion for bash: source this file, or put it in /etc/bash_completion.d/',
    '_ticket_server() {',
    '  local cur="${COMP_WORDS[COMP_CWORD]}" command="" word options',
    '  for word in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do',
    '    case "$word" in',
    `      ${HELP_COMMANDS.join('|')}) command="$word"; break ;;`,
    '    esac',
    '  done',
    '  case "$command" in',
    ...cases,
    `    completion) options="${COMPLETION_SHELLS.join(' ')}" ;;`,
    `    serve) options="${commandFlags('serve').join(' ')}" ;;`,
    `    *) options="${topLevel}" ;;`,
    '  esac',
    // Words that are not options (restore FILE, takeover SOURCE, option values) fall back to file names (-o default).
    '  COMPREPLY=($(compgen -W "$options" -- "$cur"))',
    '}',
    'complete -o default -F _ticket_server ticket-server',
    '',
  ].join('\n');
}

/** The zsh script: zsh's bash-completion layer running the bash function, so both shells offer the same words. */
export function zshCompletion(): string {
  return [
    '# ticket-server completion for zsh: source this file (e.g. `source <(ticket-server completion zsh)` in ~/.zshrc)',
    'autoload -U +X compinit && compinit',
    'autoload -U +X bashcompinit && bashcompinit',
    bashCompletion().split('\n').slice(1).join('\n'),
  ].join('\n');
}

/**
 * Runs `completion SHELL`.
 * @returns 0
 * @throws ConfigError when SHELL is missing or not bash or zsh
 */
export function completion(argv: readonly string[]): number {
  const shell = argv[0];
  if (argv.length !== 1 || (shell !== 'bash' && shell !== 'zsh')) {
    throw new ConfigError('completion', `completion needs one SHELL, bash or zsh${shell === undefined ? '' : `, got "${argv.join(' ').slice(0, 40)}"`}`);
  }
  process.stdout.write(shell === 'bash' ? bashCompletion() : zshCompletion());
  return 0;
}
