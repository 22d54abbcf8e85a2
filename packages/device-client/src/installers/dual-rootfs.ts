import { createHash } from 'node:crypto';
import { type FileHandle, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonFile, writeJsonFileAtomic } from '@otakit/core';
import {
  BootEnvKeys,
  type Bootloader,
  commitBootPart,
  otherSlot,
  readABState,
  revertBootPart,
  type Slot,
  switchBootPart,
} from './bootloader/bootloader.js';
import { assertSafeFileName, mkdirDurable, throwIfAborted } from './durable-fs.js';
import { InstallerError, InstallerErrorCodes } from './errors.js';
import { guardStream } from './payload-files.js';
import { runCommand } from './run-command.js';
import type { InstallContext, Installer, PayloadFile, RebootNeed } from './types.js';

/** Options of {@link DualRootfsInstaller}. */
export interface DualRootfsInstallerOptions {
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
  currentSlot?: () => Promise<Slot>;
  /** Reboots the device (default: runs {@link DualRootfsInstallerOptions.rebootCommand}). */
  reboot?: () => Promise<void>;
  /** The reboot command when no `reboot` function is given (default `['reboot']`). */
  rebootCommand?: readonly string[];
  /** Payload types handled (default `['rootfs-image']`). */
  payloadTypes?: readonly string[];
  /** Read/write chunk size in bytes (default 1 MiB). */
  chunkSize?: number;
}

interface UpdateRecord {
  from: Slot;
  to: Slot;
  written: boolean;
  size?: number;
  sha256?: string;
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
 * Mender's dual-rootfs update (`rootfs-image`) over a {@link Bootloader}: Download streams the
 * image into the inactive partition (block device or file), fsyncs it and checks the bytes read back
 * against the streamed sha256 (the read goes through the page cache: it catches short and failed
 * writes, not a medium that lies about what it stored); install points the bootloader at it on trial
 * (`mender_boot_part`, `upgrade_available=1`, `bootcount=0`); after the reboot verify checks the
 * system runs the new partition; commit clears `upgrade_available`; rollback points back.
 *
 * @example
 * ```ts
 * const installer = new DualRootfsInstaller({
 *   partitions: { a: '/dev/mmcblk0p2', b: '/dev/mmcblk0p3' },
 *   bootloader: new UBootBootloader(),
 * });
 * ```
 */
export class DualRootfsInstaller implements Installer {
  readonly #partitions: { a: string; b: string };
  readonly #bootloader: Bootloader;
  readonly #bootPart: { a: string; b: string };
  readonly #currentSlot: (() => Promise<Slot>) | undefined;
  readonly #reboot: (() => Promise<void>) | undefined;
  readonly #rebootCommand: readonly string[];
  readonly #types: readonly string[];
  readonly #chunk: number;

  constructor(options: DualRootfsInstallerOptions) {
    if (options.partitions.a === options.partitions.b) {
      throw new InstallerError(InstallerErrorCodes.BAD_STATE, 'the two partitions must differ');
    }
    this.#partitions = options.partitions;
    this.#bootloader = options.bootloader;
    this.#bootPart = options.bootPart ?? defaultBootPart(options.partitions);
    this.#currentSlot = options.currentSlot;
    this.#reboot = options.reboot;
    this.#rebootCommand = options.rebootCommand ?? ['reboot'];
    this.#types = options.payloadTypes ?? ['rootfs-image'];
    this.#chunk = options.chunkSize ?? 1024 * 1024;
  }

  /** @inheritDoc */
  supports(payloadType: string): boolean {
    return this.#types.includes(payloadType);
  }

  /** The slot the running system booted from. */
  async currentSlot(): Promise<Slot> {
    if (this.#currentSlot !== undefined) return this.#currentSlot();
    if (this.#bootloader.bootedPart !== undefined) {
      const part = await this.#bootloader.bootedPart();
      if (part !== undefined) return this.#slotOf(part);
    }
    const root = await stat('/');
    for (const slot of ['a', 'b'] as const) {
      const st = await stat(this.#partitions[slot]).catch(() => undefined);
      if (st?.isBlockDevice() && st.rdev === root.dev) return slot;
    }
    const env = await this.#bootloader.getEnv([BootEnvKeys.BOOT_PART]);
    return this.#slotOf(env[BootEnvKeys.BOOT_PART] ?? this.#bootPart.a);
  }

  /** @inheritDoc */
  async download(ctx: InstallContext, files: AsyncIterable<PayloadFile>): Promise<void> {
    const previous = await this.#readRecord(ctx);
    const from = previous?.from ?? (await this.currentSlot());
    const record: UpdateRecord = { from, to: otherSlot(from), written: false };
    await mkdirDurable(ctx.workDir);
    await writeJsonFileAtomic(this.#recordPath(ctx), record);
    // Never write a partition the bootloader would boot (left over from an update that was
    // installed but neither committed nor rolled back): a power cut mid-write would boot it torn.
    if ((await readABState(this.#bootloader)).bootPart === this.#bootPart[record.to]) {
      await revertBootPart(this.#bootloader, this.#bootPart[from]);
      ctx.log(
        `dual-rootfs: the bootloader pointed at slot ${record.to}; pointed it back at ${from} before writing`,
      );
    }
    let seen = 0;
    for await (const file of files) {
      guardStream(file.stream);
      seen++;
      try {
        assertSafeFileName(file.name);
        if (seen > 1) {
          throw new InstallerError(
            InstallerErrorCodes.BAD_PAYLOAD,
            'a rootfs-image payload has exactly one file',
          );
        }
      } catch (err) {
        file.stream.destroy();
        throw err;
      }
      const target = this.#partitions[record.to];
      ctx.log(`dual-rootfs: writing ${file.name} (${file.size} bytes) to ${target} (slot ${record.to})`);
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
      Object.assign(record, written, { written: true });
    }
    if (seen === 0)
      throw new InstallerError(InstallerErrorCodes.BAD_PAYLOAD, 'the rootfs-image payload has no file');
    await writeJsonFileAtomic(this.#recordPath(ctx), record);
  }

  /** @inheritDoc */
  async install(ctx: InstallContext): Promise<void> {
    const record = await this.#requireRecord(ctx, 'install');
    if (!record.written)
      throw new InstallerError(InstallerErrorCodes.BAD_STATE, 'install called before the image was written');
    await switchBootPart(this.#bootloader, this.#bootPart[record.to]);
    ctx.log(`dual-rootfs: ${BootEnvKeys.BOOT_PART}=${this.#bootPart[record.to]} upgrade_available=1`);
  }

  /** @inheritDoc */
  async needsReboot(_ctx: InstallContext): Promise<RebootNeed> {
    return 'Yes';
  }

  /**
   * Reboots into the new partition. Does nothing when the new partition already runs on trial (the
   * agent restarted after the reboot): rebooting again would spend another trial boot.
   */
  async reboot(ctx: InstallContext): Promise<void> {
    const record = await this.#requireRecord(ctx, 'reboot');
    const ab = await readABState(this.#bootloader);
    if (ab.upgradeAvailable && ab.bootcount >= 1 && (await this.currentSlot()) === record.to) {
      ctx.log(`dual-rootfs: already running slot ${record.to} on trial, not rebooting again`);
      return;
    }
    await this.#doReboot(ctx);
  }

  /** @inheritDoc */
  async verifyReboot(ctx: InstallContext): Promise<void> {
    const record = await this.#requireRecord(ctx, 'verifyReboot');
    const current = await this.currentSlot();
    const ab = await readABState(this.#bootloader);
    if (current !== record.to) {
      throw new InstallerError(
        InstallerErrorCodes.VERIFY_FAILED,
        `dual-rootfs: expected to boot slot ${record.to}, running slot ${current} (the bootloader reverted)`,
      );
    }
    if (!ab.upgradeAvailable) {
      throw new InstallerError(
        InstallerErrorCodes.VERIFY_FAILED,
        'dual-rootfs: upgrade_available is not 1 after the reboot into the new image',
      );
    }
    ctx.log(`dual-rootfs: running slot ${current} on trial (bootcount ${ab.bootcount})`);
  }

  /** @inheritDoc */
  async commit(ctx: InstallContext): Promise<void> {
    const record = await this.#requireRecord(ctx, 'commit');
    const current = await this.currentSlot();
    if (current !== record.to) {
      throw new InstallerError(
        InstallerErrorCodes.BAD_STATE,
        `dual-rootfs: cannot commit slot ${record.to}, running ${current}`,
      );
    }
    await commitBootPart(this.#bootloader);
    ctx.log(`dual-rootfs: committed slot ${record.to}`);
  }

  /** @inheritDoc */
  async supportsRollback(_ctx: InstallContext): Promise<boolean> {
    return true;
  }

  /** @inheritDoc */
  async rollback(ctx: InstallContext): Promise<void> {
    const record = await this.#readRecord(ctx);
    const from = record?.from ?? (await this.currentSlot());
    await revertBootPart(this.#bootloader, this.#bootPart[from]);
    ctx.log(
      `dual-rootfs: ${BootEnvKeys.BOOT_PART}=${this.#bootPart[from]} upgrade_available=0 (rolled back)`,
    );
  }

  /** @inheritDoc */
  async rollbackReboot(ctx: InstallContext): Promise<void> {
    const record = await this.#readRecord(ctx);
    if (record !== undefined && (await this.currentSlot()) === record.from) {
      ctx.log(`dual-rootfs: already running slot ${record.from}, not rebooting`);
      return;
    }
    await this.#doReboot(ctx);
  }

  /** @inheritDoc */
  async verifyRollbackReboot(ctx: InstallContext): Promise<void> {
    const record = await this.#readRecord(ctx);
    const current = await this.currentSlot();
    if (record !== undefined && current !== record.from) {
      throw new InstallerError(
        InstallerErrorCodes.VERIFY_FAILED,
        `dual-rootfs: expected to be back on slot ${record.from}, running ${current}`,
      );
    }
  }

  /** @inheritDoc */
  async failure(ctx: InstallContext): Promise<void> {
    ctx.log(`dual-rootfs: update failed, running slot ${await this.currentSlot()}`);
  }

  /** @inheritDoc */
  async cleanup(ctx: InstallContext): Promise<void> {
    await rm(this.#recordPath(ctx), { force: true });
  }

  // -------------------------------------------------------------------------------------------------

  #slotOf(part: string): Slot {
    if (part === this.#bootPart.a) return 'a';
    if (part === this.#bootPart.b) return 'b';
    throw new InstallerError(
      InstallerErrorCodes.BOOTLOADER,
      `unknown boot partition ${JSON.stringify(part)}`,
    );
  }

  async #doReboot(ctx: InstallContext): Promise<void> {
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
    const fh: FileHandle = await open(target, st?.isBlockDevice() ? 'r+' : 'w');
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of file.stream) {
        throwIfAborted(signal);
        const buf = chunk as Buffer;
        hash.update(buf);
        let off = 0;
        while (off < buf.length) {
          const { bytesWritten } = await fh.write(buf, off, buf.length - off, size + off);
          off += bytesWritten;
        }
        size += buf.length;
      }
      await fh.sync();
    } catch (err) {
      file.stream.destroy();
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
        throw new InstallerError(InstallerErrorCodes.BAD_PAYLOAD, `${file.name} does not fit ${target}`, {
          cause: err,
        });
      }
      throw err;
    } finally {
      await fh.close();
    }
    return { size, sha256: hash.digest('hex') };
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

  #recordPath(ctx: InstallContext): string {
    return join(ctx.workDir, `dual-rootfs-${ctx.payloadIndex}.json`);
  }

  async #readRecord(ctx: InstallContext): Promise<UpdateRecord | undefined> {
    return readJsonFile<UpdateRecord>(this.#recordPath(ctx));
  }

  async #requireRecord(ctx: InstallContext, step: string): Promise<UpdateRecord> {
    const record = await this.#readRecord(ctx);
    if (record === undefined)
      throw new InstallerError(InstallerErrorCodes.BAD_STATE, `${step} called before download`);
    return record;
  }
}
