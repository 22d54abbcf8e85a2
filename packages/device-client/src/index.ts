/**
 * @otakit/device-client: the device side of Mender OTA updates.
 *
 * @packageDocumentation
 */

export { VERSION as CORE_VERSION } from '@otakit/core';
export type { InstallContext, Installer, PayloadFile, RebootNeed } from './installers/types.js';
