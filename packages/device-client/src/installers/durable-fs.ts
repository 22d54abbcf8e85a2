/**
 * Small durable-file primitives shared by the installers: atomic replace (temp, fsync, rename,
 * fsync dir), fsync'd directory creation, and payload name checks.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InstallerError, InstallerErrorCodes } from './errors.js';

/** fsyncs a directory so a rename or create inside it survives a power cut. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replaces `file` with `data` atomically: a reader (or a restart after a power cut) sees either the
 * old or the new content, never a torn one.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/** Writes `value` as JSON with {@link writeFileAtomic}. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Reads a JSON file, or returns undefined when it does not exist. */
export async function readJsonFile<T>(file: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as T;
}

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
