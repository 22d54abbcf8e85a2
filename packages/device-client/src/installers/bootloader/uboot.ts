import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InstallerError, InstallerErrorCodes } from '../errors.js';
import { runCommand } from '../run-command.js';
import { assertEnvName, type Bootloader } from './bootloader.js';

/** Options of {@link UBootBootloader}. */
export interface UBootBootloaderOptions {
  /** The `fw_printenv` command and leading arguments (default `['fw_printenv']`; e.g. add `-c`, config). */
  printenv?: readonly string[];
  /** The `fw_setenv` command and leading arguments (default `['fw_setenv']`). */
  setenv?: readonly string[];
  /** Where the `-s` script file is written (default the OS temp dir). */
  tmpDir?: string;
  /** Timeout for each tool invocation (default 30 s). */
  timeoutMs?: number;
  /**
   * The `-s` script syntax: `'equals'` (`name=value`, `name=` to unset; libubootenv, which Mender
   * uses, and the default) or `'space'` (`name value`, a lone `name` to unset; U-Boot's own
   * u-boot-fw-utils).
   */
  scriptFormat?: 'equals' | 'space';
}

/**
 * The U-Boot environment through libubootenv's tools, as the Mender client does it:
 * `fw_printenv NAME...` to read, and `fw_setenv -s SCRIPT` (`name=value` lines) to write several
 * variables in one update (the tools write the redundant environment copy, so the update is
 * atomic). Mender's GRUB integration ships tools with the same interface
 * (`grub-mender-grubenv-print` / `grub-mender-grubenv-set`): pass them as `printenv`/`setenv`.
 *
 * @example
 * ```ts
 * const bl = new UBootBootloader({ printenv: ['fw_printenv', '-c', '/etc/fw_env.config'] });
 * await switchBootPart(bl, '3');
 * ```
 */
export class UBootBootloader implements Bootloader {
  readonly #printenv: readonly string[];
  readonly #setenv: readonly string[];
  readonly #tmpDir: string | undefined;
  readonly #timeoutMs: number;
  readonly #format: 'equals' | 'space';

  constructor(options: UBootBootloaderOptions = {}) {
    this.#format = options.scriptFormat ?? 'equals';
    this.#printenv = options.printenv ?? ['fw_printenv'];
    this.#setenv = options.setenv ?? ['fw_setenv'];
    this.#tmpDir = options.tmpDir;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** @inheritDoc */
  async getEnv(keys: readonly string[]): Promise<Record<string, string | undefined>> {
    for (const key of keys) assertEnvName(key);
    const out: Record<string, string | undefined> = {};
    for (const key of keys) out[key] = undefined;
    if (keys.length === 0) return out;
    const result = await runCommand([...this.#printenv, ...keys], { timeoutMs: this.#timeoutMs });
    if (result.code !== 0) {
      // fw_printenv exits 1 when a variable is not defined, after printing the defined ones.
      const errors = result.stderr.split('\n').filter((l) => l.trim() !== '');
      if (result.code === null || errors.length === 0 || !errors.every((l) => /not defined/i.test(l))) {
        throw new InstallerError(
          InstallerErrorCodes.BOOTLOADER,
          `fw_printenv failed (exit ${result.code ?? result.signal}): ${result.stderr.trim()}`,
        );
      }
    }
    for (const line of result.stdout.split('\n')) {
      const eq = line.indexOf('=');
      if (eq <= 0) continue;
      const key = line.slice(0, eq);
      // libubootenv's fw_printenv (0.3.2, Debian 12) prints `NAME=` and exits 0 for a variable that
      // is not defined. U-Boot has no empty variables (setting one to "" deletes it): read as unset.
      const value = line.slice(eq + 1);
      if (key in out) out[key] = value === '' ? undefined : value;
    }
    return out;
  }

  /** @inheritDoc */
  async setEnv(vars: Readonly<Record<string, string | null>>): Promise<void> {
    const lines: string[] = [];
    for (const [key, value] of Object.entries(vars)) {
      assertEnvName(key);
      if (value !== null && /[\n\r\0]/.test(value)) {
        throw new InstallerError(
          InstallerErrorCodes.BOOTLOADER,
          `value of ${key} contains a line break or NUL`,
        );
      }
      const sep = this.#format === 'equals' ? '=' : ' ';
      lines.push(value === null ? (this.#format === 'equals' ? `${key}=` : key) : `${key}${sep}${value}`);
    }
    if (lines.length === 0) return;
    const dir = await mkdtemp(join(this.#tmpDir ?? tmpdir(), 'otakit-fw-'));
    try {
      const script = join(dir, 'script');
      await writeFile(script, `${lines.join('\n')}\n`, { mode: 0o600 });
      const result = await runCommand([...this.#setenv, '-s', script], { timeoutMs: this.#timeoutMs });
      if (result.code !== 0) {
        throw new InstallerError(
          InstallerErrorCodes.BOOTLOADER,
          `fw_setenv failed (exit ${result.code ?? result.signal}): ${result.stderr.trim()}`,
        );
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
