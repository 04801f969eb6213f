/** The error of an invalid option, shared by the option table, its sources and the CLI. */

/** An invalid option, command or argument: the CLI prints the message and exits with code 2 (`CONFIG_INVALID`). */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID' as const;
  /** The option (flag name without dashes), or `command`/`next` for the command line itself. */
  readonly option: string;

  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
    this.option = option;
  }
}

/**
 * A value an option's parser refuses; the table wraps it into a `ConfigError`
 * that names the option and where the value came from (`invalid SOURCE: reason`).
 */
export class OptionValueError extends Error {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'OptionValueError';
  }
}
