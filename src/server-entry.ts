/**
 * `ticket-server/server`: the server for programs that embed it. The package
 * root is the client only, so that a client never loads server code; this
 * entry holds what an embedder needs:
 *
 * ```js
 * import { createServer, resolveConfig } from 'ticket-server/server';
 * ```
 *
 * ES module only (as the server is); from CommonJS use `await import('ticket-server/server')`.
 */
export { createServer, type TicketServer, type CreateServerOptions } from './server.js';
export { loadConfig, resolveConfig, ConfigError, type ServerConfig } from './config/options.js';
export { TicketService, type TicketServiceOptions, type SequenceSnapshot } from './service/ticket-service.js';
export { TicketError, ERROR_CATALOGUE, type ErrorCode } from './core/errors.js';
export { MAX_VALUE, SlotMap, type Numbering } from './core/numbering.js';
export type { TicketSource } from './core/ticket-source.js';
export type { Store, StoreOptions, Lease, StoredSequence, StoreHealth } from './store/store.js';
