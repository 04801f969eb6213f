#!/usr/bin/env node
/** The `tickr` bin: Tickr's environment on the native server (see `legacy/tickr.ts`). */
import { runLegacy } from './legacy/common.js';
import { TICKR_HELP, mapTickr } from './legacy/tickr.js';

await runLegacy('tickr', mapTickr, TICKR_HELP);
