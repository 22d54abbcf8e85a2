/**
 * Every error core defines, by family: the base class, its brand and codes (`errors/base.ts`), the
 * HTTP status errors (`errors/http-status.ts`) and the transport errors (`errors/transport.ts`).
 */

export * from './errors/base.js';
export * from './errors/http-status.js';
export * from './errors/transport.js';
