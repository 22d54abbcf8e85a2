/**
 * @otakit/iot-core-adapter
 *
 * @packageDocumentation
 */

export { VERSION as CORE_VERSION } from '@otakit/core';
