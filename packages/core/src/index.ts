/**
 * @otakit/core: what every otakit package shares: the HTTP transport, typed errors, device keys and
 * Mender request signatures, the Mender Artifact v3 reader, verifier and writer, atomic durable
 * file writes, and the Cloud IoT Core v1 REST types generated from Google's discovery document.
 *
 * @packageDocumentation
 */

/** The version of @otakit/core. */
export const VERSION = '0.1.0';

export * from './artifact/index.js';
export type * from './cloudiot.js';
export * from './errors.js';
export * from './fs/index.js';
export * from './http/index.js';
export * from './keys/index.js';
export * from './util/index.js';
