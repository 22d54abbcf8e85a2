import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { type FileHandle, link, lstat, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** Options of {@link writeFileAtomic} and {@link writeJsonFileAtomic}. */
export interface WriteFileAtomicOptions {
  /**
   * The permission bits of the written file, applied exactly whatever the process umask (the file
   * never exists under `path` with other bits). `0o644` by default. A replaced file gets this mode,
   * not the mode it had.
   */
  mode?: number;
  /**
   * Replace an existing file (atomically). `true` by default. With `false` the write is
   * create-if-absent without a window (the new file is hard-linked into place, which fails instead of
   * replacing): an existing file is left untouched and an error with `code: 'EEXIST'` is thrown, and
   * of several concurrent writers exactly one succeeds. On file systems without hard links this falls
   * back to a check followed by a rename, where a narrow race remains.
   */
  overwrite?: boolean;
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err
    ? String((err as { code: unknown }).code)
    : undefined;
}

function existsError(path: string, cause?: unknown): Error {
  return Object.assign(new Error(`EEXIST: file already exists, ${path}`, { cause }), {
    code: 'EEXIST',
    path,
  });
}

/** The errors of opening or fsyncing a directory on platforms that cannot (Windows, some FUSE). */
const DIR_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EPERM', 'EINVAL', 'EACCES', 'ENOTSUP', 'EOPNOTSUPP']);

/**
 * Flushes the entries of a directory (a rename, create or remove inside it) to disk, so the change
 * survives a power cut.
 *
 * Platforms that cannot open or fsync a directory (Windows; some file systems answer `EINVAL`,
 * `EPERM`, `EACCES` or `ENOTSUP`) are tolerated: there the call does nothing, and a rename is still
 * atomic, only not yet durable. Any other error (e.g. `ENOENT`, or `ENOTDIR` for a regular file) is
 * thrown.
 */
export async function fsyncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    // O_DIRECTORY (where it exists) makes a path that is not a directory an ENOTDIR error.
    handle = await open(dir, fsConstants.O_RDONLY | (fsConstants.O_DIRECTORY ?? 0));
    await handle.sync();
  } catch (err) {
    if (!DIR_SYNC_UNSUPPORTED.has(errorCode(err) ?? '')) throw err;
  } finally {
    await handle?.close();
  }
}

/**
 * Creates a directory (and its missing parents) durably: the entry of every directory created is
 * flushed in its parent ({@link fsyncDir}), so a power cut cannot take away a directory, and with it
 * the files later made durable inside it. When `dir` already exists its own entry is flushed again
 * (a process killed inside an earlier call may have left it only in the page cache).
 *
 * @param options.mode - the permission bits of the directories created (subject to the umask).
 * @throws the system error (`ENOTDIR`, `EACCES`, ...).
 */
export async function mkdirDurable(dir: string, options: { mode?: number } = {}): Promise<void> {
  const target = resolve(dir);
  const first = await mkdir(target, {
    recursive: true,
    ...(options.mode === undefined ? {} : { mode: options.mode }),
  });
  const top = resolve(first ?? target);
  const parents: string[] = [];
  for (let d = target; ; d = dirname(d)) {
    parents.unshift(dirname(d));
    if (d === top || dirname(d) === d) break;
  }
  for (const parent of parents) await fsyncDir(parent);
}

async function publish(temp: string, path: string, overwrite: boolean): Promise<void> {
  if (overwrite) {
    await rename(temp, path);
    return;
  }
  try {
    // link() fails with EEXIST instead of replacing: create-if-absent without a window.
    await link(temp, path);
  } catch (err) {
    const code = errorCode(err);
    if (code === 'EEXIST') throw existsError(path, err);
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw err;
    // The file system has no hard links: check, then rename (a narrow race remains).
    const exists = await lstat(path).then(
      () => true,
      () => false,
    );
    if (exists) throw existsError(path);
    await rename(temp, path);
    return;
  }
  await rm(temp, { force: true });
}

/**
 * Writes `data` to `path` atomically and durably: a reader, or a restart after a crash or power cut,
 * sees either the old content or the new one, never a torn or empty file.
 *
 * The data goes to a temporary file beside `path` (`.<name>.<random>.tmp`, created exclusively with
 * `mode`, then set to exactly `mode`), is flushed with fsync, renamed over `path` (or hard-linked
 * when `overwrite: false`), and the directory is fsynced ({@link fsyncDir}). On failure the
 * temporary file is removed and `path` is left as it was. The directory must exist.
 *
 * @param data - a string (written as UTF-8) or bytes.
 * @throws the system error (`ENOENT` for a missing directory, ...); with `overwrite: false` an error
 *   with `code: 'EEXIST'` when `path` exists.
 *
 * @example
 * ```ts
 * await writeFileAtomic('/var/lib/app/state', 'ready\n', { mode: 0o600 })
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const mode = options.mode ?? 0o644;
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(8).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  let published = false;
  try {
    try {
      await handle.chmod(mode);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await publish(temp, path, options.overwrite ?? true);
    published = true;
  } finally {
    if (!published) await rm(temp, { force: true }).catch(() => undefined);
  }
  await fsyncDir(dir);
}

/**
 * Reads and parses a JSON file.
 *
 * @returns the parsed value (not validated: `T` is the caller's claim), or `undefined` when the file
 *   does not exist.
 * @throws the system error for any other read failure, or a `SyntaxError` for content that is not JSON.
 */
export async function readJsonFile<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as T;
}

/**
 * Writes `value` as JSON (two-space indented, with a final newline) with {@link writeFileAtomic}.
 *
 * @throws as {@link writeFileAtomic} does, or a `TypeError` for a value `JSON.stringify` rejects
 *   (before anything is written).
 */
export async function writeJsonFileAtomic(
  path: string,
  value: unknown,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, options);
}
