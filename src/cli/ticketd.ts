#!/usr/bin/env node
/** The `ticketd` bin: ticketd's command line on the native server (see `legacy/ticketd.ts`). */
import { runLegacy } from './legacy/common.js';
import { TICKETD_HELP, mapTicketd } from './legacy/ticketd.js';

await runLegacy('ticketd', mapTicketd, TICKETD_HELP);
