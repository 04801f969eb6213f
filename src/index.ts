/**
 * Package root: the server factory, the issuing service and the types a user
 * needs. The client factory (SPEC §9) joins here when it lands.
 */
export { createServer, type TicketServer, type CreateServerOptions } from './server.js';
export { loadConfig, resolveConfig, ConfigError, type ServerConfig } from './config/options.js';
export { TicketService, type TicketServiceOptions, type SequenceSnapshot } from './service/ticket-service.js';
export { TicketError, ERROR_CATALOGUE, type ErrorCode } from './core/errors.js';
export { MAX_VALUE, SlotMap, type Numbering } from './core/numbering.js';
export type { TicketSource } from './core/ticket-source.js';
export type { Store, Lease, StoredSequence, StoreHealth } from './store/store.js';
