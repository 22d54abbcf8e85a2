import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonFile, writeJsonFileAtomic } from '@otakit/core';
import {
  commitBootPart,
  otherSlot,
  readABState,
  revertBootPart,
  type Slot,
  switchBootPart,
} from '../bootloader/bootloader.js';
import { mkdirDurable } from '../durable-fs.js';
import { InstallerError, InstallerErrorCodes } from '../errors.js';
import type { InstallContext, Installer, PayloadFile, RebootNeed } from '../types.js';
import type { SlotStrategy, WrittenImage } from './slots.js';

/** Options of {@link AbInstaller}. */
export interface AbInstallerOptions {
  /** Where the two images live and how the device boots between them. */
  slots: SlotStrategy;
  /** Payload types handled (default `['rootfs-image']`; `'*'` accepts any). */
  payloadTypes?: readonly string[];
  /** The per-payload record file name prefix in the update's work directory (default `ab-installer`). */
  recordName?: string;
}

/** What the installer keeps per payload in `ctx.workDir`, so every step survives a restart. */
interface SlotRecord {
  artifactName: string;
  /** The slot that ran when the update started. */
  from: Slot;
  /** The slot the update is written to. */
  to: Slot;
  /** Whether the image is completely written and durable. */
  written: boolean;
  image?: WrittenImage;
  /** Set once a {@link SlotStrategy.checkImage} said the new image is bad (kept across restarts). */
  verifyFailed?: string;
}

/**
 * Mender's A/B update over a {@link SlotStrategy}: Download writes the inactive slot (after making
 * sure the bootloader does not point at it, so a power cut mid-write never boots a torn image);
 * install points the bootloader at it on trial (`mender_boot_part`, `upgrade_available=1`,
 * `bootcount=0`); after the reboot verify checks the system runs it; commit clears
 * `upgrade_available`; rollback points back. Every step is idempotent: an instance built after a
 * power cut continues from the records on disk.
 *
 * @example
 * ```ts
 * const installer = new AbInstaller({
 *   slots: new PartitionSlots({ partitions: { a: '/dev/mmcblk0p2', b: '/dev/mmcblk0p3' }, bootloader: new UBootBootloader() }),
 * })
 * ```
 */
export class AbInstaller implements Installer {
  /** The slot strategy. */
  readonly slots: SlotStrategy;
  readonly #types: readonly string[];
  readonly #recordName: string;

  constructor(options: AbInstallerOptions) {
    this.slots = options.slots;
    this.#types = options.payloadTypes ?? ['rootfs-image'];
    this.#recordName = options.recordName ?? 'ab-installer';
  }

  /** Whether the slot strategy adopts payload placements (see {@link Installer.adoptsPlacement}). */
  get adoptsPlacement(): boolean {
    return this.slots.adoptsPlacement === true;
  }

  /** The bootloader of the slot strategy. */
  get bootloader(): SlotStrategy['bootloader'] {
    return this.slots.bootloader;
  }

  /** The slot the running system booted from. */
  activeSlot(): Promise<Slot> {
    return this.slots.activeSlot();
  }

  /** @inheritDoc */
  supports(payloadType: string): boolean {
    return this.#types.includes('*') || this.#types.includes(payloadType);
  }

  /** @inheritDoc */
  async download(ctx: InstallContext, files: AsyncIterable<PayloadFile>): Promise<void> {
    const s = this.slots;
    const previous = await this.#readRecord(ctx);
    // A restarted Download keeps the slots it chose; a fresh one targets the inactive slot.
    const from = previous?.from ?? (await s.activeSlot());
    const record: SlotRecord = { artifactName: ctx.artifactName, from, to: otherSlot(from), written: false };
    await this.#writeRecord(ctx, record);
    // Never write a slot the bootloader would boot (left over from an update that was installed but
    // neither committed nor rolled back): a power cut mid-write would boot it torn.
    if ((await readABState(s.bootloader)).bootPart === s.bootPart(record.to)) {
      await revertBootPart(s.bootloader, s.bootPart(from));
      ctx.log(
        `${s.label}: the bootloader pointed at slot ${record.to}; pointed it back at ${from} before writing`,
      );
    }
    record.image = await s.write(record.to, files, ctx);
    record.written = true;
    await this.#writeRecord(ctx, record);
  }

  /** @inheritDoc */
  async install(ctx: InstallContext): Promise<void> {
    const record = await this.#requireRecord(ctx, 'install');
    if (!record.written) {
      throw new InstallerError(InstallerErrorCodes.BAD_STATE, 'install called before the image was written');
    }
    await switchBootPart(this.slots.bootloader, this.slots.bootPart(record.to));
    ctx.log(`${this.slots.label}: next boot from slot ${record.to} (upgrade_available=1)`);
  }

  /** @inheritDoc */
  async needsReboot(_ctx: InstallContext): Promise<RebootNeed> {
    return 'Yes';
  }

  /**
   * Reboots into the new slot. Does nothing when it already runs on trial (the agent restarted
   * after the reboot): rebooting again would spend another trial boot.
   */
  async reboot(ctx: InstallContext): Promise<void> {
    const record = await this.#requireRecord(ctx, 'reboot');
    const ab = await readABState(this.slots.bootloader);
    if (ab.upgradeAvailable && ab.bootcount >= 1 && (await this.slots.activeSlot()) === record.to) {
      ctx.log(`${this.slots.label}: already running slot ${record.to} on trial, not rebooting again`);
      return;
    }
    await this.slots.reboot(record.to, ctx);
  }

  /** @inheritDoc */
  async verifyReboot(ctx: InstallContext): Promise<void> {
    const label = this.slots.label;
    const record = await this.#requireRecord(ctx, 'verifyReboot');
    if (record.verifyFailed === undefined && this.slots.checkImage) {
      await this.slots.checkImage(record.to, ctx, async (reason) => {
        record.verifyFailed = reason;
        await this.#writeRecord(ctx, record);
      });
    }
    if (record.verifyFailed !== undefined) {
      throw new InstallerError(InstallerErrorCodes.VERIFY_FAILED, `${label}: ${record.verifyFailed}`);
    }
    const active = await this.slots.activeSlot();
    if (active !== record.to) {
      throw new InstallerError(
        InstallerErrorCodes.VERIFY_FAILED,
        `${label}: expected to boot slot ${record.to}, running slot ${active} (the bootloader reverted)`,
      );
    }
    const ab = await readABState(this.slots.bootloader);
    if (!ab.upgradeAvailable) {
      throw new InstallerError(
        InstallerErrorCodes.VERIFY_FAILED,
        `${label}: upgrade_available is not 1 after the reboot into the new image`,
      );
    }
    ctx.log(`${label}: running slot ${active} on trial (bootcount ${ab.bootcount})`);
  }

  /** @inheritDoc */
  async commit(ctx: InstallContext): Promise<void> {
    const record = await this.#requireRecord(ctx, 'commit');
    const active = await this.slots.activeSlot();
    if (active !== record.to) {
      throw new InstallerError(
        InstallerErrorCodes.BAD_STATE,
        `${this.slots.label}: cannot commit slot ${record.to}, running ${active}`,
      );
    }
    await commitBootPart(this.slots.bootloader);
    ctx.log(`${this.slots.label}: committed slot ${record.to}`);
  }

  /** @inheritDoc */
  async supportsRollback(_ctx: InstallContext): Promise<boolean> {
    return true;
  }

  /** @inheritDoc */
  async rollback(ctx: InstallContext): Promise<void> {
    const record = await this.#readRecord(ctx);
    const from = record?.from ?? (await this.slots.activeSlot());
    await revertBootPart(this.slots.bootloader, this.slots.bootPart(from));
    ctx.log(`${this.slots.label}: next boot from slot ${from} (rolled back, upgrade_available=0)`);
  }

  /** @inheritDoc */
  async rollbackReboot(ctx: InstallContext): Promise<void> {
    const record = await this.#readRecord(ctx);
    const from = record?.from ?? (await this.slots.activeSlot());
    if ((await this.slots.activeSlot()) === from) {
      ctx.log(`${this.slots.label}: already running slot ${from}, not rebooting`);
      return;
    }
    await this.slots.reboot(from, ctx);
  }

  /** @inheritDoc */
  async verifyRollbackReboot(ctx: InstallContext): Promise<void> {
    const record = await this.#readRecord(ctx);
    const active = await this.slots.activeSlot();
    if (record !== undefined && active !== record.from) {
      throw new InstallerError(
        InstallerErrorCodes.VERIFY_FAILED,
        `${this.slots.label}: expected to be back on slot ${record.from}, running ${active}`,
      );
    }
    ctx.log(`${this.slots.label}: back on slot ${active}`);
  }

  /** @inheritDoc */
  async failure(ctx: InstallContext): Promise<void> {
    ctx.log(`${this.slots.label}: update failed, running slot ${await this.slots.activeSlot()}`);
  }

  /** @inheritDoc */
  async cleanup(ctx: InstallContext): Promise<void> {
    await rm(this.#recordPath(ctx), { force: true });
  }

  #recordPath(ctx: InstallContext): string {
    return join(ctx.workDir, `${this.#recordName}-${ctx.payloadIndex}.json`);
  }

  #readRecord(ctx: InstallContext): Promise<SlotRecord | undefined> {
    return readJsonFile<SlotRecord>(this.#recordPath(ctx));
  }

  async #requireRecord(ctx: InstallContext, step: string): Promise<SlotRecord> {
    const record = await this.#readRecord(ctx);
    if (record === undefined) {
      throw new InstallerError(InstallerErrorCodes.BAD_STATE, `${step} called before download`);
    }
    return record;
  }

  async #writeRecord(ctx: InstallContext, record: SlotRecord): Promise<void> {
    await mkdirDurable(ctx.workDir);
    await writeJsonFileAtomic(this.#recordPath(ctx), record);
  }
}
