/**
 * Small durable-file primitives shared by the installers: fsync'd directory creation (from core),
 * payload name checks and abort checks. Atomic replace (`writeFileAtomic`, `writeJsonFileAtomic`, `fsyncDir`)
 * is in @otakit/core.
 */
// Durable directory creation lives in core (one mechanism for the key store and the agent): it
// flushes the entry of every level it creates, not only the last one.
export { mkdirDurable } from '@otakit/core';

import { InstallerError, InstallerErrorCodes } from './errors.js';

/**
 * Checks that a payload file name is a plain base name, as the artifact format requires
 * (`data/0000/<name>`): no path separators, no `.`/`..`, no NUL, not empty. Throws
 * {@link InstallerError} `ERR_INSTALLER_UNSAFE_NAME` otherwise, so a hostile artifact cannot write
 * outside the directory it is given.
 */
export function assertSafeFileName(name: string): void {
  if (
    name.length === 0 ||
    name.length > 255 ||
    name === '.' ||
    name === '..' ||
    name.includes('/') ||
    name.includes('\\') ||
    name.includes('\0')
  ) {
    throw new InstallerError(
      InstallerErrorCodes.UNSAFE_NAME,
      `unsafe payload file name: ${JSON.stringify(name)}`,
    );
  }
}

/** Throws `ERR_INSTALLER_ABORTED` when the signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new InstallerError(InstallerErrorCodes.ABORTED, 'aborted', { cause: signal.reason });
  }
}
