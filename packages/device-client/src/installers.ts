/**
 * `@otakit/device-client/installers`: the tools to build an installer (the A/B flow over a slot
 * strategy, bootloader environment helpers, payload file helpers). The ready-made installers are
 * also exported from the package root.
 *
 * @packageDocumentation
 */
export * from './installers/index.js';
