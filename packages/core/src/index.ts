/**
 * @otakit/core: what every otakit package shares.
 *
 * @packageDocumentation
 */

/** The version of @otakit/core. */
export const VERSION = '0.1.0';
