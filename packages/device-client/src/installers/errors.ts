import { brandErrorClass, OtakitError, type OtakitErrorOptions } from '@otakit/core';

/**
 * The codes an {@link InstallerError} carries. Stable across versions; switch on them.
 */
export const InstallerErrorCodes = {
  /** A payload file name is not a plain base name (`../`, absolute path, separator, NUL). */
  UNSAFE_NAME: 'ERR_INSTALLER_UNSAFE_NAME',
  /** The payload does not have the files the installer needs (none, or too many). */
  BAD_PAYLOAD: 'ERR_INSTALLER_BAD_PAYLOAD',
  /** A step was called out of order (e.g. install before download). */
  BAD_STATE: 'ERR_INSTALLER_BAD_STATE',
  /** After the reboot the device is not running the expected slot (the bootloader reverted). */
  VERIFY_FAILED: 'ERR_INSTALLER_VERIFY_FAILED',
  /** The bytes read back from the written partition do not match what was streamed. */
  WRITE_MISMATCH: 'ERR_INSTALLER_WRITE_MISMATCH',
  /** The bootloader environment could not be read or written. */
  BOOTLOADER: 'ERR_INSTALLER_BOOTLOADER',
  /** An update module exited non-zero or broke the protocol. */
  MODULE_FAILED: 'ERR_INSTALLER_MODULE_FAILED',
  /** An update module did not finish a state in time and was killed. */
  MODULE_TIMEOUT: 'ERR_INSTALLER_MODULE_TIMEOUT',
  /** No installer (or update module) handles the payload type. */
  UNSUPPORTED: 'ERR_INSTALLER_UNSUPPORTED',
  /** The operation was aborted through the context's signal. */
  ABORTED: 'ERR_INSTALLER_ABORTED',
} as const;

/** A code of {@link InstallerErrorCodes}. */
export type InstallerErrorCode = (typeof InstallerErrorCodes)[keyof typeof InstallerErrorCodes];

/**
 * Thrown by installers and bootloaders when a step fails. The agent treats it like any failed
 * update-module state: it rolls back (when possible) and reports failure.
 *
 * @example
 * ```ts
 * try { await installer.verifyReboot(ctx) } catch (err) {
 *   if (err instanceof InstallerError && err.code === InstallerErrorCodes.VERIFY_FAILED) rollback()
 * }
 * ```
 */
export class InstallerError extends OtakitError {
  declare readonly code: InstallerErrorCode;

  constructor(code: InstallerErrorCode, message: string, options?: OtakitErrorOptions) {
    super(code, message, options);
  }
}
brandErrorClass(InstallerError, 'InstallerError');
