import { brandErrorClass, OtakitError } from '@otakit/core';

/** The codes of the errors @otakit/device-client throws. */
export const DeviceErrorCodes = {
  /** The device is not accepted by the server yet (auth request answered 401). */
  DEVICE_PENDING: 'ERR_DEVICE_PENDING',
  /** The server aborted the deployment (409 on a status report). */
  DEPLOYMENT_ABORTED: 'ERR_DEPLOYMENT_ABORTED',
  /** No installer supports a payload type of the artifact. */
  NO_INSTALLER: 'ERR_NO_INSTALLER',
  /** The artifact was refused by policy (unsigned, untrusted, below the version floor). */
  POLICY: 'ERR_UPDATE_POLICY',
  /** The download failed for good (404, too many attempts, the link could not be renewed). */
  DOWNLOAD: 'ERR_DOWNLOAD',
  /** The download made no progress within the stall timeout. */
  DOWNLOAD_STALLED: 'ERR_DOWNLOAD_STALLED',
  /** A health check failed or timed out after the reboot. */
  HEALTH_CHECK: 'ERR_HEALTH_CHECK',
  /** The state was stored too many times for one update (a reboot or crash loop). */
  STATE_LOOP: 'ERR_STATE_LOOP',
  /** A pause hook or state script failed the update. */
  HOOK_FAILED: 'ERR_HOOK_FAILED',
  /** A state file or data file has an unexpected content. */
  CORRUPT_STATE: 'ERR_CORRUPT_STATE',
} as const;

/** A code of {@link DeviceErrorCodes}. */
export type DeviceErrorCode = (typeof DeviceErrorCodes)[keyof typeof DeviceErrorCodes];

/**
 * An error of the device agent. Switch on `code` ({@link DeviceErrorCodes}).
 *
 * @example
 * ```ts
 * try { await client.authenticate() } catch (err) {
 *   if (err instanceof DeviceError && err.code === DeviceErrorCodes.DEVICE_PENDING) console.log('waiting for acceptance')
 * }
 * ```
 */
export class DeviceError extends OtakitError {
  constructor(code: DeviceErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
brandErrorClass(DeviceError, 'DeviceError');
