#!/usr/bin/env node
/** The `ticket-server` bin: the native command line (see `run.ts`). */
import { installStopSignals } from './stop-signals.js';

// First, before the server's modules load (a few hundred ms): a stop sent meanwhile ends the process cleanly.
installStopSignals();
const { runMain } = await import('./run.js');
await runMain(process.argv.slice(2));
