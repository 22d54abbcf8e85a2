/**
 * @otakit/cli: the `otakit` command.
 *
 * @packageDocumentation
 */
export { main } from './main.js';
