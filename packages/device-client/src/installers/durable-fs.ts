/**
 * Small durable-file primitives shared by the installers: fsync'd directory creation, payload name
 * checks and abort checks. Atomic replace (`writeFileAtomic`, `writeJsonFileAtomic`, `fsyncDir`)
 * is in @otakit/core.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir } from '@otakit/core';
import { InstallerError, InstallerErrorCodes } from './errors.js';

/** Creates a directory (and parents) and fsyncs its parent so the entry is durable. */
export async function mkdirDurable(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await fsyncDir(dirname(dir));
}

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
