import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readJsonFile, writeJsonFileAtomic } from '@otakit/core';
import { DeviceError, DeviceErrorCodes } from '../errors.js';
import type { UpdateRecord } from '../update/states.js';

/**
 * Persists the {@link UpdateRecord} of the update in progress in `dataDir/update-state.json`,
 * atomically (temp file, fsync, rename, fsync of the directory), so a power cut leaves the old or
 * the new record, never a torn one.
 */
export class StateStore {
  /** Path of the state file. */
  readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'update-state.json');
  }

  /** The stored record, or undefined when no update is in progress. */
  async load(): Promise<UpdateRecord | undefined> {
    let record: UpdateRecord | undefined;
    try {
      record = await readJsonFile<UpdateRecord>(this.path);
    } catch (err) {
      throw new DeviceError(DeviceErrorCodes.CORRUPT_STATE, `${this.path} cannot be read`, { cause: err });
    }
    if (record === undefined) return undefined;
    if (record.version !== 1 || typeof record.id !== 'string' || typeof record.state !== 'string') {
      throw new DeviceError(DeviceErrorCodes.CORRUPT_STATE, `${this.path} is not an update state record`);
    }
    return record;
  }

  /** Stores the record (incrementing nothing: the caller owns `storeCount`). */
  async save(record: UpdateRecord): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await writeJsonFileAtomic(this.path, record);
  }

  /** Removes the record: no update in progress. */
  async clear(): Promise<void> {
    await rm(this.path, { force: true });
  }
}
