import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { mkdirDurable, writeFileAtomic } from '../fs/atomic.js';
import { KeyError, nodeErrorCode } from './errors.js';
import {
  type DeviceKey,
  type GenerateDeviceKeyOptions,
  generateDeviceKey,
  toDeviceKey,
  toPrivateKeyPem,
} from './generate.js';
import { loadPrivateKey } from './load.js';
import { PRIVATE_LABELS, pemBlocks } from './pem.js';

/** Options of {@link writePrivateKeyFile}. */
export interface WritePrivateKeyFileOptions {
  /** Replace an existing file (atomically). `true` by default; with `false` an existing file is an `ERR_KEY_EXISTS` error. */
  overwrite?: boolean;
}

function fileError(action: string, path: string, err: unknown): KeyError {
  const code = nodeErrorCode(err);
  return new KeyError('ERR_KEY_FILE', `cannot ${action} key file ${path}${code ? ` (${code})` : ''}`, {
    cause: err,
  });
}

function pemToWrite(key: KeyObject | string): string {
  if (typeof key !== 'string') return toPrivateKeyPem(key);
  const block = pemBlocks(key).find((b) => PRIVATE_LABELS.has(b.label));
  // Encrypted keys cannot be checked without their passphrase; anything else must load.
  if (block?.encrypted !== true) loadPrivateKey(key);
  return key;
}

/**
 * Writes a private key file atomically with mode 0600.
 *
 * Uses {@link writeFileAtomic}: the key goes to a temporary file in the same directory, created with
 * mode 0600 (then set to exactly 0600 whatever the umask), flushed with fsync, renamed over `path`
 * (hard-linked with `overwrite: false`), and the directory is fsynced. At no moment does `path`
 * exist with wider permissions or partial content; a crash leaves either the old file or the new
 * one. On failure the temporary file is removed.
 *
 * @param key - a private `KeyObject` (written as {@link toPrivateKeyPem} encodes it) or PEM text
 *   (written as given after checking it is a usable private key; encrypted PEM is written unchecked).
 * @throws {@link KeyError} `ERR_KEY_EXISTS` when `overwrite: false` and the file exists, `ERR_KEY_FILE`
 *   on I/O errors, or a key error for a key that is not a usable private key.
 */
export async function writePrivateKeyFile(
  path: string,
  key: KeyObject | string,
  options: WritePrivateKeyFileOptions = {},
): Promise<void> {
  const pem = pemToWrite(key);
  const overwrite = options.overwrite ?? true;
  try {
    await writeFileAtomic(path, pem, { mode: 0o600, overwrite });
  } catch (err) {
    if (!overwrite && nodeErrorCode(err) === 'EEXIST') {
      throw new KeyError('ERR_KEY_EXISTS', `key file ${path} already exists`, { cause: err });
    }
    throw fileError('write', path, err);
  }
}

/**
 * Reads and loads a private key file (any format {@link loadPrivateKey} accepts).
 *
 * @throws {@link KeyError} `ERR_KEY_FILE` when the file cannot be read (the `cause` has the system
 *   error, e.g. `ENOENT`), or a load error as {@link loadPrivateKey} throws.
 */
export async function readPrivateKeyFile(path: string, passphrase?: string): Promise<KeyObject> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    throw fileError('read', path, err);
  }
  return loadPrivateKey(data, passphrase);
}

/** What {@link loadOrCreateDeviceKey} returns: the key and whether this call created it. */
export interface LoadedDeviceKey extends DeviceKey {
  /** `true` when the file did not exist and a new key was generated and written. */
  readonly created: boolean;
}

/**
 * What a device agent does on first boot: load the device key from `path`, or, when the file does
 * not exist, generate one, create the directory (mode 0700) if needed and write the key (mode 0600).
 * Safe against two processes starting at once: only one key is ever written and both return it.
 * An existing file that does not load is an error, never silently replaced (it is the device's
 * identity).
 *
 * @throws {@link KeyError} as {@link readPrivateKeyFile}, {@link generateDeviceKey} and
 *   {@link writePrivateKeyFile} do.
 *
 * @example
 * ```ts
 * const key = await loadOrCreateDeviceKey('/var/lib/otakit/device.key', { type: 'ed25519' })
 * ```
 */
export async function loadOrCreateDeviceKey(
  path: string,
  options: GenerateDeviceKeyOptions = {},
): Promise<LoadedDeviceKey> {
  const existing = await readIfExists(path);
  if (existing !== undefined) return { ...toDeviceKey(loadPrivateKey(existing)), created: false };
  const key = await generateDeviceKey(options);
  try {
    // Durably: the key is the device's identity, and a directory lost to a power cut takes it along.
    await mkdirDurable(dirname(path), { mode: 0o700 });
  } catch (err) {
    throw fileError('create the directory of', path, err);
  }
  try {
    await writePrivateKeyFile(path, key.privateKey, { overwrite: false });
  } catch (err) {
    if (err instanceof KeyError && err.code === 'ERR_KEY_EXISTS') {
      return { ...toDeviceKey(await readPrivateKeyFile(path)), created: false };
    }
    throw err;
  }
  return { ...key, created: true };
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if (nodeErrorCode(err) === 'ENOENT') return undefined;
    throw fileError('read', path, err);
  }
}
