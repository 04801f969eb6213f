#!/usr/bin/env node
/** The `txn-id-server` bin: txn-id-server's command line on the native server (see `legacy/txn-id-server.ts`). */
import { runLegacy } from './legacy/common.js';
import { TXNID_HELP, mapTxnIdServer } from './legacy/txn-id-server.js';

await runLegacy('txn-id-server', mapTxnIdServer, TXNID_HELP);
