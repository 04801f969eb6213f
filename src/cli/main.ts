#!/usr/bin/env node
/** The `ticket-server` bin: the native command line (see `run.ts`). */
import { runMain } from './run.js';

await runMain(process.argv.slice(2));
