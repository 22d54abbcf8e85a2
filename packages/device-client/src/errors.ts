import { brandErrorClass, OtakitError } from '@otakit/core';

/**
 * The codes of the errors @otakit/device-client throws, in core's `ERR_<AREA>_<FAILURE>` style
 * (installers and bootloaders throw {@link InstallerError} with `ERR_INSTALLER_*` codes).
 */
export const DeviceErrorCodes = {
  /** The device is not accepted by the server yet (auth request answered 401). */
  DEVICE_PENDING: 'ERR_DEVICE_PENDING',
  /** The server aborted the deployment (409 on a status report). */
  DEPLOYMENT_ABORTED: 'ERR_DEVICE_DEPLOYMENT_ABORTED',
  /** No installer supports a payload type of the artifact. */
  NO_INSTALLER: 'ERR_DEVICE_NO_INSTALLER',
  /** The artifact was refused by policy (unsigned, untrusted, below the version floor). */
  POLICY: 'ERR_DEVICE_POLICY',
  /** The download failed for good (404, too many attempts, the link could not be renewed). */
  DOWNLOAD: 'ERR_DEVICE_DOWNLOAD',
  /** The download made no progress within the stall timeout. */
  DOWNLOAD_STALLED: 'ERR_DEVICE_DOWNLOAD_STALLED',
  /** A health check failed or timed out after the reboot. */
  HEALTH_CHECK: 'ERR_DEVICE_HEALTH_CHECK',
  /** The state was stored too many times for one update (a reboot or crash loop). */
  STATE_LOOP: 'ERR_DEVICE_STATE_LOOP',
  /** A pause hook or state script failed the update. */
  HOOK_FAILED: 'ERR_DEVICE_HOOK_FAILED',
  /** An update is already in progress (running, or stored and waiting for `resume()`). */
  UPDATE_IN_PROGRESS: 'ERR_DEVICE_UPDATE_IN_PROGRESS',
  /** The server answered something the device cannot use (a deployment without id or link). */
  BAD_RESPONSE: 'ERR_DEVICE_BAD_RESPONSE',
  /** The artifact is well-formed but unusable by the device (a payload the header does not list). */
  BAD_ARTIFACT: 'ERR_DEVICE_BAD_ARTIFACT',
  /** A state file (update record, provides store, `device_type`) cannot be read or has an unexpected content. */
  CORRUPT_STATE: 'ERR_DEVICE_CORRUPT_STATE',
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
  /** Which device failure this is. */
  declare readonly code: DeviceErrorCode;

  constructor(code: DeviceErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
brandErrorClass(DeviceError, 'DeviceError');
