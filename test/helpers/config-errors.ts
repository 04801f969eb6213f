/** The ConfigError a configuration call raises, shared by the option and command-line tests. */
import { ConfigError } from '../../src/config/options.js';

/** Runs `action` and returns the ConfigError it threw; fails the test when it throws nothing or something else. */
export function configError(action: () => unknown): ConfigError {
  try {
    action();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}
