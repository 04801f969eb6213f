/**
 * CommonJS entry (compiled by tsconfig.cjs.json only): `require('ticket-server')`
 * is the client factory itself, as the seeds' users wrote it:
 *
 * ```js
 * const ticket = require('ticket-server')(['tcp://10.0.0.11:6410']);
 * ticket.next('orders', (err, value) => {});
 * ```
 */
import { createClient, type ClientOptions, type TicketClient } from './client.js';
import { TicketError } from '../core/errors.js';

/** `require('ticket-server')(servers, options)`: the client factory. */
function ticketServer(servers: string | readonly string[], options?: ClientOptions): TicketClient {
  return createClient(servers, options);
}

const factory = Object.assign(ticketServer, { createClient, default: ticketServer, TicketError });

export = factory;
