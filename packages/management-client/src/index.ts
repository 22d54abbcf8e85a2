/**
 * @otakit/management-client
 *
 * @packageDocumentation
 */

export { VERSION as CORE_VERSION } from '@otakit/core';
