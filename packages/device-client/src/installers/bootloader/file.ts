import { dirname } from 'node:path';
import { readJsonFile, writeJsonFileAtomic } from '@otakit/core';
import { mkdirDurable } from '../durable-fs.js';
import { InstallerError, InstallerErrorCodes } from '../errors.js';
import { assertEnvName, BootEnvKeys, type Bootloader, bootPartHex } from './bootloader.js';

/** Options of {@link FileBootloader}. */
export interface FileBootloaderOptions {
  /** The JSON file holding the environment and the simulated boot state. */
  file: string;
  /** The `mender_boot_part` values of the two slots (default `{ a: '2', b: '3' }`, Mender's layout). */
  bootPart?: { a: string; b: string };
  /** Trial boots allowed before reverting (default 1, as Mender's U-Boot integration sets). */
  bootlimit?: number;
}

/** What {@link FileBootloader.boot} did. */
export interface BootResult {
  /** The partition that came up. */
  part: string;
  /** Whether the boot limit was passed and the bootloader switched back (`altbootcmd`). */
  reverted: boolean;
  /** How many boot attempts were made (more than 1 when the image "crashed"). */
  attempts: number;
}

interface FileState {
  env: Record<string, string>;
  booted: string;
}

/**
 * A bootloader simulated in a JSON file: the environment, plus which partition the "running
 * system" was booted from. {@link FileBootloader.boot} plays U-Boot's boot-count logic: with
 * `upgrade_available=1` each boot increments `bootcount`, and past `bootlimit` the
 * `altbootcmd` boots the other partition and clears `upgrade_available`.
 *
 * Every change is one atomic file replace, so a process killed at any point leaves a consistent
 * environment.
 *
 * @example
 * ```ts
 * const bl = new FileBootloader({ file: '/tmp/dev/boot-env.json' });
 * await switchBootPart(bl, '3');
 * await bl.boot(); // comes up on 3 with bootcount=1
 * ```
 */
export class FileBootloader implements Bootloader {
  readonly #file: string;
  readonly #parts: { a: string; b: string };
  readonly #bootlimit: number;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: FileBootloaderOptions) {
    this.#file = options.file;
    this.#parts = options.bootPart ?? { a: '2', b: '3' };
    this.#bootlimit = options.bootlimit ?? 1;
    if (this.#parts.a === this.#parts.b) {
      throw new InstallerError(InstallerErrorCodes.BOOTLOADER, 'the two boot partitions must differ');
    }
  }

  /** @inheritDoc */
  getEnv(keys: readonly string[]): Promise<Record<string, string | undefined>> {
    return this.#serial(async () => {
      const { env } = await this.#load();
      const out: Record<string, string | undefined> = {};
      for (const key of keys) out[key] = env[key];
      return out;
    });
  }

  /** @inheritDoc */
  setEnv(vars: Readonly<Record<string, string | null>>): Promise<void> {
    for (const key of Object.keys(vars)) assertEnvName(key);
    return this.#serial(async () => {
      const state = await this.#load();
      for (const [key, value] of Object.entries(vars)) {
        if (value === null) delete state.env[key];
        else state.env[key] = value;
      }
      await this.#save(state);
    });
  }

  /** The partition the simulated system is running from. */
  bootedPart(): Promise<string> {
    return this.#serial(async () => (await this.#load()).booted);
  }

  /** The whole environment and the booted partition (for tests and demos). */
  snapshot(): Promise<{ env: Record<string, string>; booted: string }> {
    return this.#serial(async () => structuredClone(await this.#load()));
  }

  /**
   * Simulates a reboot: the bootloader picks the partition from the environment, counting trial
   * boots. `crashes(part)` says whether the image on `part` fails to come up (the watchdog then
   * resets the board, which boots again, until the boot limit reverts to the other partition).
   */
  boot(options: { crashes?: (part: string) => boolean } = {}): Promise<BootResult> {
    return this.#serial(async () => {
      const state = await this.#load();
      const env = state.env;
      let reverted = false;
      let attempts = 0;
      let part = env[BootEnvKeys.BOOT_PART] ?? this.#parts.a;
      const limit = Number.parseInt(env[BootEnvKeys.BOOTLIMIT] ?? String(this.#bootlimit), 10);
      // Bounded: at most limit + 1 trial boots, then one boot of the other partition.
      for (;;) {
        attempts++;
        if (env[BootEnvKeys.UPGRADE_AVAILABLE] === '1') {
          const count = Number.parseInt(env[BootEnvKeys.BOOTCOUNT] ?? '0', 10) + 1;
          env[BootEnvKeys.BOOTCOUNT] = String(count);
          if (count > limit) {
            // altbootcmd: boot the other partition, end the trial.
            part = this.#other(env[BootEnvKeys.BOOT_PART] ?? this.#parts.a);
            env[BootEnvKeys.BOOT_PART] = part;
            env[BootEnvKeys.BOOT_PART_HEX] = bootPartHex(part);
            env[BootEnvKeys.UPGRADE_AVAILABLE] = '0';
            reverted = true;
          }
        }
        part = env[BootEnvKeys.BOOT_PART] ?? this.#parts.a;
        const crashed = options.crashes?.(part) ?? false;
        if (!crashed || env[BootEnvKeys.UPGRADE_AVAILABLE] !== '1') break;
      }
      state.booted = part;
      await this.#save(state);
      return { part, reverted, attempts };
    });
  }

  #other(part: string): string {
    return part === this.#parts.a ? this.#parts.b : this.#parts.a;
  }

  async #load(): Promise<FileState> {
    const state = await readJsonFile<FileState>(this.#file);
    if (state !== undefined) return state;
    const fresh: FileState = {
      env: {
        [BootEnvKeys.BOOT_PART]: this.#parts.a,
        [BootEnvKeys.BOOT_PART_HEX]: bootPartHex(this.#parts.a),
        [BootEnvKeys.UPGRADE_AVAILABLE]: '0',
        [BootEnvKeys.BOOTCOUNT]: '0',
        [BootEnvKeys.BOOTLIMIT]: String(this.#bootlimit),
      },
      booted: this.#parts.a,
    };
    await mkdirDurable(dirname(this.#file));
    await this.#save(fresh);
    return fresh;
  }

  async #save(state: FileState): Promise<void> {
    await writeJsonFileAtomic(this.#file, state);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }
}
