/**
 * Package root (ESM). The default export is the client factory of SPEC §9:
 *
 * ```js
 * import ticketServer from 'ticket-server';
 * const ticket = ticketServer(['tcp://10.0.0.11:6410', 'tcp://10.0.0.12:6410']);
 * const value = await ticket.next('orders');
 * ```
 *
 * Named exports add `createServer` and the types an embedder needs.
 * CommonJS (`require('ticket-server')`) gets the client factory from
 * `dist/cjs/client/require-entry.js`.
 */
import { createClient } from './client/client.js';

export default createClient;
export { createClient };
export type { ClientOptions, NextOptions, Callback, TicketClient } from './client/client.js';
export { createServer, type TicketServer, type CreateServerOptions } from './server.js';
export { loadConfig, resolveConfig, ConfigError, type ServerConfig } from './config/options.js';
export { TicketService, type TicketServiceOptions, type SequenceSnapshot } from './service/ticket-service.js';
export { TicketError, ERROR_CATALOGUE, type ErrorCode } from './core/errors.js';
export { MAX_VALUE, SlotMap, type Numbering } from './core/numbering.js';
export type { TicketSource } from './core/ticket-source.js';
export type { Store, Lease, StoredSequence, StoreHealth } from './store/store.js';
