import { createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonFile, writeJsonFileAtomic } from '@otakit/core';
import { SandboxError } from '../errors.js';
import type { DeviceRecord, StoredCredential } from './store.js';
import type { IotCoreWorld } from './world.js';

/** The file the IoT Core registries and devices are kept in, inside the data directory. @internal */
export const IOT_CORE_STATE_FILE = 'iot-core.json';

interface SavedDevice extends Omit<DeviceRecord, 'credentials'> {
  credentials: Array<Omit<StoredCredential, 'parsed'>>;
}

interface SavedState {
  version: 1;
  lastNumId: string;
  registries: Array<{ project: string; location: string; id: string; devices: SavedDevice[] }>;
}

function credentialKey(format: string, key: string): KeyObject {
  return format.endsWith('_X509_PEM')
    ? new X509Certificate(key).publicKey
    : createPublicKey({ key, format: 'pem', type: 'spki' });
}

function snapshot(world: IotCoreWorld): SavedState {
  return {
    version: 1,
    lastNumId: world.lastNumId.toString(),
    registries: [...world.registries.values()].map((reg) => ({
      project: reg.project,
      location: reg.location,
      id: reg.id,
      devices: [...reg.devices.values()].map((d) => ({
        ...d,
        credentials: d.credentials.map(({ parsed: _parsed, ...c }) => c),
      })),
    })),
  };
}

/**
 * Keeps an {@link IotCoreWorld}'s registries and devices (credentials, metadata, blocked, config
 * versions, states, timestamps) in `<dataDir>/iot-core.json`, written atomically (core's
 * `writeJsonFileAtomic`: a restart sees the old file or the new one, never a torn one). Writes are
 * coalesced: changes made while a write runs go out in one following write.
 * @internal
 */
export class IotCoreStateFile {
  readonly path: string;
  readonly #dir: string;
  readonly #world: IotCoreWorld;
  #writing: Promise<void> | undefined;
  #dirty = false;
  #error: unknown;

  constructor(dataDir: string, world: IotCoreWorld) {
    this.#dir = dataDir;
    this.path = join(dataDir, IOT_CORE_STATE_FILE);
    this.#world = world;
  }

  /**
   * Loads the saved registries and devices into the world (registries not saved are kept).
   * @throws {@link SandboxError} `ERR_SANDBOX_STATE` when the file is not readable state.
   */
  async load(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    let saved: SavedState | undefined;
    try {
      saved = await readJsonFile<SavedState>(this.path);
      if (saved === undefined) return;
      if (saved.version !== 1 || !Array.isArray(saved.registries)) throw new Error('unknown layout');
      this.#world.lastNumId = BigInt(saved.lastNumId);
      for (const r of saved.registries) {
        const reg = this.#world.addRegistry(r.project, r.location, r.id);
        for (const d of r.devices) {
          const configVersions = Array.isArray(d.configVersions) ? d.configVersions : [d.config];
          reg.devices.set(d.id, {
            ...d,
            // `config` is the newest of `configVersions` (one object, as the world keeps it).
            config: configVersions[0] ?? d.config,
            configVersions,
            credentials: d.credentials.map((c) => ({
              ...c,
              parsed: credentialKey(c.publicKey.format, c.publicKey.key),
            })),
          });
        }
      }
    } catch (err) {
      throw new SandboxError('ERR_SANDBOX_STATE', `cannot load the IoT Core state from ${this.path}`, {
        cause: err,
      });
    }
  }

  /** Schedules a write of the current state (coalesced with writes already pending). */
  save(): void {
    this.#dirty = true;
    this.#writing ??= this.#drain();
  }

  /**
   * Resolves once every change made so far is on disk.
   * @throws the error of a failed write (the next change retries).
   */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
    if (this.#error !== undefined) {
      const err = this.#error;
      this.#error = undefined;
      throw err;
    }
  }

  async #drain(): Promise<void> {
    try {
      while (this.#dirty) {
        this.#dirty = false;
        try {
          await writeJsonFileAtomic(this.path, snapshot(this.#world), { mode: 0o600 });
        } catch (err) {
          this.#error = err;
        }
      }
    } finally {
      this.#writing = undefined;
    }
  }
}
