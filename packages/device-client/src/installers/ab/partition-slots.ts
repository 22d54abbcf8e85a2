import { createHash } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { BootEnvKeys, type Bootloader, type Slot } from '../bootloader/bootloader.js';
import { assertSafeFileName, throwIfAborted } from '../durable-fs.js';
import { InstallerError, InstallerErrorCodes } from '../errors.js';
import { guardStream, writePayloadFile } from '../payload-files.js';
import { runCommand } from '../run-command.js';
import type { InstallContext, PayloadFile } from '../types.js';
import type { SlotStrategy, WrittenImage } from './slots.js';

/** Options of {@link PartitionSlots}. */
export interface PartitionSlotsOptions {
  /** The two root filesystem partitions: block devices (`/dev/mmcblk0p2`) or regular files. */
  partitions: { a: string; b: string };
  /** Where `mender_boot_part`, `upgrade_available` and `bootcount` live. */
  bootloader: Bootloader;
  /**
   * The `mender_boot_part` values of the two partitions. Default: the trailing partition numbers of
   * the paths (`/dev/mmcblk0p2` → `2`) when both have distinct ones, else `{ a: '2', b: '3' }`.
   */
  bootPart?: { a: string; b: string };
  /**
   * The partition the running system booted from. Default: the bootloader's `bootedPart()` when it
   * has one, else the block device holding `/` when it is one of the partitions, else the
   * environment's `mender_boot_part` (only right after a completed boot).
   */
  activeSlot?: () => Promise<Slot>;
  /** Reboots the device (default: runs `rebootCommand`). */
  reboot?: () => Promise<void>;
  /** The reboot command when no `reboot` function is given (default `['reboot']`). */
  rebootCommand?: readonly string[];
  /** Read/write chunk size in bytes (default 1 MiB). */
  chunkSize?: number;
}

/** The size in bytes of a block device (Linux sysfs), or undefined when it cannot be read. */
async function blockDeviceSize(rdev: number): Promise<number | undefined> {
  // Linux dev_t: major in bits 8-19 (and 32+), minor in bits 0-7 and 20-31.
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | (Math.floor(rdev / 4096) & ~0xff);
  try {
    const sectors = Number.parseInt(await readFile(`/sys/dev/block/${major}:${minor}/size`, 'utf8'), 10);
    return Number.isFinite(sectors) ? sectors * 512 : undefined;
  } catch {
    return undefined;
  }
}

function defaultBootPart(partitions: { a: string; b: string }): { a: string; b: string } {
  const a = /(\d+)$/.exec(partitions.a)?.[1];
  const b = /(\d+)$/.exec(partitions.b)?.[1];
  if (a !== undefined && b !== undefined && a !== b) return { a, b };
  return { a: '2', b: '3' };
}

/**
 * Two root filesystem partitions (block devices, or image files for tests) and a real
 * {@link Bootloader}. A `rootfs-image` payload has exactly one file; it is streamed into the
 * partition, fsynced, and read back against the streamed SHA-256 (the read goes through the page
 * cache: it catches short and failed writes, not a medium that lies about what it stored). The
 * reboot is the system's.
 */
export class PartitionSlots implements SlotStrategy {
  readonly label = 'dual-rootfs';
  /** The image is written in order to the partition, so the agent keeps no copy of it. */
  readonly adoptsPlacement = true;
  readonly bootloader: Bootloader;
  readonly #partitions: { a: string; b: string };
  readonly #bootPart: { a: string; b: string };
  readonly #activeSlot: (() => Promise<Slot>) | undefined;
  readonly #reboot: (() => Promise<void>) | undefined;
  readonly #rebootCommand: readonly string[];
  readonly #chunk: number;

  constructor(options: PartitionSlotsOptions) {
    if (options.partitions.a === options.partitions.b) {
      throw new InstallerError(InstallerErrorCodes.BAD_STATE, 'the two partitions must differ');
    }
    this.#partitions = options.partitions;
    this.bootloader = options.bootloader;
    this.#bootPart = options.bootPart ?? defaultBootPart(options.partitions);
    this.#activeSlot = options.activeSlot;
    this.#reboot = options.reboot;
    this.#rebootCommand = options.rebootCommand ?? ['reboot'];
    this.#chunk = options.chunkSize ?? 1024 * 1024;
  }

  bootPart(slot: Slot): string {
    return this.#bootPart[slot];
  }

  async activeSlot(): Promise<Slot> {
    if (this.#activeSlot !== undefined) return this.#activeSlot();
    if (this.bootloader.bootedPart !== undefined) {
      const part = await this.bootloader.bootedPart();
      if (part !== undefined) return this.#slotOf(part);
    }
    const root = await stat('/');
    for (const slot of ['a', 'b'] as const) {
      const st = await stat(this.#partitions[slot]).catch(() => undefined);
      if (st?.isBlockDevice() && st.rdev === root.dev) return slot;
    }
    const env = await this.bootloader.getEnv([BootEnvKeys.BOOT_PART]);
    return this.#slotOf(env[BootEnvKeys.BOOT_PART] ?? this.#bootPart.a);
  }

  async write(slot: Slot, files: AsyncIterable<PayloadFile>, ctx: InstallContext): Promise<WrittenImage> {
    const image: WrittenImage = { files: [] };
    for await (const file of files) {
      guardStream(file.stream);
      try {
        assertSafeFileName(file.name);
        if (image.files.length > 0) {
          throw new InstallerError(
            InstallerErrorCodes.BAD_PAYLOAD,
            'a rootfs-image payload has exactly one file',
          );
        }
      } catch (err) {
        file.stream.destroy();
        throw err;
      }
      const target = this.#partitions[slot];
      ctx.log(`dual-rootfs: writing ${file.name} (${file.size} bytes) to ${target} (slot ${slot})`);
      const written = await this.#writePartition(target, file, ctx.signal);
      if (written.size !== file.size) {
        throw new InstallerError(
          InstallerErrorCodes.BAD_PAYLOAD,
          `${file.name}: streamed ${written.size} bytes, the artifact declares ${file.size}`,
        );
      }
      const readBack = await this.#hashPartition(target, written.size, ctx.signal);
      if (readBack !== written.sha256) {
        throw new InstallerError(
          InstallerErrorCodes.WRITE_MISMATCH,
          `${target}: read back sha256 ${readBack}, wrote ${written.sha256}`,
        );
      }
      ctx.log(`dual-rootfs: wrote and read back ${written.size} bytes, sha256 ${written.sha256}`);
      image.files.push({ name: file.name, ...written });
    }
    if (image.files.length === 0) {
      throw new InstallerError(InstallerErrorCodes.BAD_PAYLOAD, 'the rootfs-image payload has no file');
    }
    return image;
  }

  async reboot(_target: Slot, ctx: InstallContext): Promise<void> {
    if (this.#reboot !== undefined) {
      await this.#reboot();
      return;
    }
    ctx.log(`dual-rootfs: running ${this.#rebootCommand.join(' ')}`);
    const result = await runCommand(this.#rebootCommand, { timeoutMs: 60_000 });
    if (result.code !== 0) {
      throw new InstallerError(
        InstallerErrorCodes.BAD_STATE,
        `reboot command failed (exit ${result.code ?? result.signal}): ${result.stderr.trim()}`,
      );
    }
    // The system is going down; wait to be killed, but give up (and fail the step) eventually.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10 * 60_000);
      ctx.signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    throw new InstallerError(InstallerErrorCodes.BAD_STATE, 'the reboot did not happen');
  }

  #slotOf(part: string): Slot {
    if (part === this.#bootPart.a) return 'a';
    if (part === this.#bootPart.b) return 'b';
    throw new InstallerError(
      InstallerErrorCodes.BOOTLOADER,
      `unknown boot partition ${JSON.stringify(part)}`,
    );
  }

  async #writePartition(
    target: string,
    file: PayloadFile,
    signal: AbortSignal | undefined,
  ): Promise<{ size: number; sha256: string }> {
    const st = await stat(target).catch(() => undefined);
    if (st?.isBlockDevice()) {
      const capacity = await blockDeviceSize(st.rdev);
      if (capacity !== undefined && file.size > capacity) {
        file.stream.destroy();
        throw new InstallerError(
          InstallerErrorCodes.BAD_PAYLOAD,
          `${file.name} (${file.size} bytes) does not fit ${target} (${capacity} bytes)`,
        );
      }
    }
    // A block device cannot be truncated or created; a regular file is replaced by the image.
    try {
      return await writePayloadFile(target, file, {
        flags: st?.isBlockDevice() ? 'r+' : 'w',
        signal,
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
        throw new InstallerError(InstallerErrorCodes.BAD_PAYLOAD, `${file.name} does not fit ${target}`, {
          cause: err,
        });
      }
      throw err;
    }
  }

  async #hashPartition(target: string, size: number, signal: AbortSignal | undefined): Promise<string> {
    const fh = await open(target, 'r');
    const hash = createHash('sha256');
    const buf = Buffer.alloc(Math.min(this.#chunk, Math.max(size, 1)));
    try {
      let pos = 0;
      while (pos < size) {
        throwIfAborted(signal);
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
        if (bytesRead === 0) break;
        hash.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
      }
    } finally {
      await fh.close();
    }
    return hash.digest('hex');
  }
}
