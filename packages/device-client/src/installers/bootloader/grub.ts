import { access, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@otakit/core';
import { InstallerError, InstallerErrorCodes } from '../errors.js';
import { runCommand } from '../run-command.js';
import { assertEnvName, type Bootloader } from './bootloader.js';
import { GrubEnvBlock } from './grubenv.js';

/** Options of {@link GrubBootloader}. */
export interface GrubBootloaderOptions {
  /** The environment block file, e.g. `/boot/grub/grubenv` (or Mender's `/boot/efi/grub-mender-grubenv/mender_grubenv1/env`). */
  envFile: string;
  /**
   * The `grub-editenv` command and leading arguments (default `['grub-editenv']`), or `false` to
   * always use the built-in block reader/writer. When the command does not exist the built-in one is
   * used too.
   */
  editenv?: readonly string[] | false;
  /** Timeout per tool invocation (default 30 s). */
  timeoutMs?: number;
}

/**
 * The GRUB environment: `grub-editenv FILE list` / `set` / `unset` when the tool is installed, else
 * a built-in reader and writer of the 1024-byte block ({@link GrubEnvBlock}) that replaces the file
 * atomically (temp, fsync, rename, fsync dir).
 *
 * `grub-editenv` rewrites the block in place, and a `setEnv` that both sets and unsets variables
 * takes two invocations; pass `editenv: false` to use the built-in writer, whose single
 * rename is atomic across a power cut.
 *
 * Mender's own GRUB integration (grub-mender-grubenv) ships `fw_printenv`/`fw_setenv` wrappers over
 * two redundant environment copies; on such devices use {@link UBootBootloader} with those commands.
 *
 * @example
 * ```ts
 * const bl = new GrubBootloader({ envFile: '/boot/grub/grubenv' });
 * await bl.setEnv({ mender_boot_part: '3', upgrade_available: '1', bootcount: '0' });
 * ```
 */
export class GrubBootloader implements Bootloader {
  readonly #file: string;
  #editenv: readonly string[] | false;
  readonly #timeoutMs: number;

  constructor(options: GrubBootloaderOptions) {
    this.#file = options.envFile;
    this.#editenv = options.editenv ?? ['grub-editenv'];
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Whether the last call used the external tool (false once it was found missing). */
  get usesTool(): boolean {
    return this.#editenv !== false;
  }

  /** @inheritDoc */
  async getEnv(keys: readonly string[]): Promise<Record<string, string | undefined>> {
    for (const key of keys) assertEnvName(key);
    const all = await this.#list();
    const out: Record<string, string | undefined> = {};
    for (const key of keys) out[key] = all.get(key);
    return out;
  }

  /** @inheritDoc */
  async setEnv(vars: Readonly<Record<string, string | null>>): Promise<void> {
    const sets: string[] = [];
    const unsets: string[] = [];
    for (const [key, value] of Object.entries(vars)) {
      assertEnvName(key);
      if (value === null) unsets.push(key);
      else sets.push(`${key}=${value}`);
    }
    if (this.#editenv !== false && !(await exists(this.#file))) await this.#tool(['create']);
    if (sets.length > 0 && (await this.#tool(['set', ...sets])) !== undefined) {
      if (unsets.length > 0) await this.#tool(['unset', ...unsets]);
      return;
    }
    if (sets.length === 0 && unsets.length > 0 && (await this.#tool(['unset', ...unsets])) !== undefined)
      return;
    if (sets.length === 0 && unsets.length === 0) return;
    const block = await this.#readBlock();
    for (const [key, value] of Object.entries(vars)) {
      if (value === null) block.unset(key);
      else block.set(key, value);
    }
    await writeFileAtomic(this.#file, block.toBuffer());
  }

  async #list(): Promise<Map<string, string>> {
    if (!(await exists(this.#file))) return new Map();
    const stdout = await this.#tool(['list']);
    if (stdout === undefined) return new Map((await this.#readBlock()).entries());
    // `list` prints values raw: a line without '=' continues the previous value (an escaped newline).
    const out = new Map<string, string>();
    let last: string | undefined;
    for (const line of stdout.replace(/\n$/, '').split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) {
        last = line.slice(0, eq);
        out.set(last, line.slice(eq + 1));
      } else if (last !== undefined) {
        out.set(last, `${out.get(last)}\n${line}`);
      }
    }
    return out;
  }

  async #readBlock(): Promise<GrubEnvBlock> {
    try {
      return GrubEnvBlock.parse(await readFile(this.#file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return GrubEnvBlock.create();
      throw err;
    }
  }

  /** Runs grub-editenv; undefined when it is not installed (then the built-in block code is used). */
  async #tool(args: readonly string[]): Promise<string | undefined> {
    if (this.#editenv === false) return undefined;
    let result: Awaited<ReturnType<typeof runCommand>>;
    try {
      result = await runCommand([...this.#editenv, this.#file, ...args], { timeoutMs: this.#timeoutMs });
    } catch (err) {
      if (err instanceof InstallerError && err.code === InstallerErrorCodes.UNSUPPORTED) {
        this.#editenv = false;
        return undefined;
      }
      throw err;
    }
    if (result.code !== 0) {
      throw new InstallerError(
        InstallerErrorCodes.BOOTLOADER,
        `grub-editenv ${args[0]} failed (exit ${result.code ?? result.signal}): ${result.stderr.trim()}`,
      );
    }
    return result.stdout;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
