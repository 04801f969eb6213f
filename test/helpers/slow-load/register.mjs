// Loaded with `node --import` by test/integration/startup-stop.test.ts: slows the loading of the
// CLI's server modules (dist/cli/run.js) so that a test can stop the process while they load.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
