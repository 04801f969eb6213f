#!/usr/bin/env node
/** The `seqgen` bin: seqgen's command line on the native server (see `legacy/seqgen.ts`). */
import { runLegacy } from './legacy/common.js';
import { SEQGEN_HELP, mapSeqgen } from './legacy/seqgen.js';

await runLegacy('seqgen', mapSeqgen, SEQGEN_HELP);
