/**
 * Where the shared specs and vectors the tests read live: `../shared` beside the repository
 * (`OTAKIT_SHARED_DIR` overrides it), and the check that stops a test run at once when they are
 * missing.
 */

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The shared folder's path: `OTAKIT_SHARED_DIR`, else `../shared` beside the repository. */
export const SHARED_PATH: string = resolve(
  process.env.OTAKIT_SHARED_DIR ?? fileURLToPath(new URL('../../shared/', import.meta.url)),
);

/** {@link SHARED_PATH} as a folder URL (with a trailing slash, for `new URL(relative, SHARED_DIR)`). */
export const SHARED_DIR: URL = pathToFileURL(`${SHARED_PATH}/`);

/** What the tests read from the shared folder (relative paths). */
export const SHARED_CONTENTS: readonly string[] = [
  'specs/mender',
  'specs/iot-core',
  'vectors/artifacts/manifest.json',
  'vectors/keys',
];

/**
 * The one line to print when the shared folder, or part of it, is missing; undefined when all is
 * there.
 */
export function missingShared(sharedPath: string = SHARED_PATH): string | undefined {
  if (!existsSync(sharedPath)) {
    return `otakit tests: the shared specs and vectors folder is missing: expected at ${sharedPath} (../shared beside the repository, or set OTAKIT_SHARED_DIR)`;
  }
  const missing = SHARED_CONTENTS.filter((entry) => !existsSync(resolve(sharedPath, entry)));
  if (missing.length === 0) return undefined;
  return `otakit tests: ${missing.join(', ')} missing from the shared folder ${sharedPath} (../shared beside the repository, or set OTAKIT_SHARED_DIR)`;
}
