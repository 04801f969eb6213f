/**
 * Package root (ESM): the client only. The default export is the client factory:
 *
 * ```js
 * import ticketServer from 'ticket-server';
 * const ticket = ticketServer(['tcp://10.0.0.11:6410', 'tcp://10.0.0.12:6410']);
 * const value = await ticket.next('orders');
 * ```
 *
 * Importing the root loads no server code (no fastify, pino, lmdb, database
 * drivers), and zeromq only once a client of a tcp:// server is made. The
 * server is the `ticket-server/server` subpath (`server-entry.ts`).
 * CommonJS (`require('ticket-server')`) gets the client factory from
 * `dist/cjs/client/require-entry.js`.
 */
import { createClient } from './client/client.js';

export default createClient;
export { createClient };
export type { ClientOptions, NextOptions, Callback, TicketClient, TicketOf } from './client/client.js';
export type { Ticket } from './core/ticket.js';
export type { TransportSecurity } from './client/transport.js';
export { TicketError, type ErrorCode } from './core/errors.js';
