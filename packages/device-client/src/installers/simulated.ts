import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, readJsonFile, writeJsonFileAtomic } from '@otakit/core';
import {
  commitBootPart,
  otherSlot,
  readABState,
  revertBootPart,
  type Slot,
  switchBootPart,
} from './bootloader/bootloader.js';
import { type BootResult, FileBootloader } from './bootloader/file.js';
import { assertSafeFileName, mkdirDurable, throwIfAborted } from './durable-fs.js';
import { InstallerError, InstallerErrorCodes } from './errors.js';
import { guardStream, writeStreamToFile } from './payload-files.js';
import type { InstallContext, Installer, PayloadFile, RebootNeed } from './types.js';

/** Options of {@link SimulatedInstaller}. */
export interface SimulatedInstallerOptions {
  /** The device directory: `slot-a/`, `slot-b/`, `boot-env.json` and the fault hooks live here. */
  dir: string;
  /** Payload types this installer accepts (default `['rootfs-image']`; `'*'` accepts any). */
  payloadTypes?: readonly string[];
  /** Trial boots allowed before the simulated bootloader reverts (default 1, as Mender). */
  bootlimit?: number;
}

/** The simulated device's boot state, for tests and demos. */
export interface SimulatedBootState {
  /** The slot the simulated system is running. */
  booted: Slot;
  /** The slot the bootloader will boot next. */
  bootSlot: Slot;
  /** Whether a new image is on trial (`upgrade_available=1`). */
  upgradeAvailable: boolean;
  /** Trial boots so far. */
  bootcount: number;
}

/** The per-update record kept in `ctx.workDir` (one per payload). */
interface UpdateRecord {
  artifactName: string;
  from: Slot;
  to: Slot;
  downloaded: boolean;
  files: { name: string; size: number; sha256: string }[];
  verifyFailed?: boolean;
}

const SLOT_META = '.otakit-slot.json';
const FAIL_BOOT = 'fail-next-boot';
const FAIL_VERIFY = 'fail-next-verify';

function asSlot(value: string | undefined): Slot {
  return value === 'b' ? 'b' : 'a';
}

/**
 * A whole A/B device in one directory, for examples, tests and the demo: two slots
 * (`dir/slot-a`, `dir/slot-b`) and a {@link FileBootloader} environment (`dir/boot-env.json`) with
 * U-Boot style boot counting. Download writes the payload files into the inactive slot, install
 * switches the boot target on trial, {@link SimulatedInstaller.reboot} simulates the reboot inside
 * the process (the bootloader picks the slot from the environment and reverts once the boot limit
 * is passed), commit ends the trial, rollback switches back.
 *
 * All state is on disk and every step is idempotent, so a process killed mid-step and started
 * again continues consistently with a new instance on the same directories.
 *
 * @example
 * ```ts
 * const sim = new SimulatedInstaller({ dir: '/tmp/device' });
 * // ... the agent drives download/install/reboot/verifyReboot/commit ...
 * console.log(await sim.activeSlot(), await sim.currentContent());
 * await sim.failNextBoot(); // the next update's image will not come up: the agent rolls back
 * ```
 */
export class SimulatedInstaller implements Installer {
  readonly #dir: string;
  readonly #types: readonly string[];
  readonly #bootloader: FileBootloader;

  constructor(options: SimulatedInstallerOptions) {
    this.#dir = options.dir;
    this.#types = options.payloadTypes ?? ['rootfs-image'];
    this.#bootloader = new FileBootloader({
      file: join(options.dir, 'boot-env.json'),
      bootPart: { a: 'a', b: 'b' },
      bootlimit: options.bootlimit ?? 1,
    });
  }

  /** The simulated bootloader (its environment is `dir/boot-env.json`). */
  get bootloader(): FileBootloader {
    return this.#bootloader;
  }

  /** @inheritDoc */
  supports(payloadType: string): boolean {
    return this.#types.includes('*') || this.#types.includes(payloadType);
  }

  /** @inheritDoc */
  async download(ctx: InstallContext, files: AsyncIterable<PayloadFile>): Promise<void> {
    const previous = await this.#readRecord(ctx);
    const booted = await this.activeSlot();
    // A restarted Download keeps the slots it chose; a fresh one targets the inactive slot.
    const from = previous?.from ?? booted;
    const record: UpdateRecord = {
      artifactName: ctx.artifactName,
      from,
      to: otherSlot(from),
      downloaded: false,
      files: [],
    };
    await this.#writeRecord(ctx, record);
    // Never write a slot the bootloader would boot (see DualRootfsInstaller.download).
    if ((await readABState(this.#bootloader)).bootPart === record.to) {
      await revertBootPart(this.#bootloader, from);
      ctx.log(
        `simulated: the bootloader pointed at slot ${record.to}; pointed it back at ${from} before writing`,
      );
    }
    const slotDir = this.slotDir(record.to);
    await rm(slotDir, { recursive: true, force: true });
    await mkdirDurable(slotDir);
    ctx.log(`simulated: writing payload into slot ${record.to}`);
    for await (const file of files) {
      guardStream(file.stream);
      try {
        throwIfAborted(ctx.signal);
        assertSafeFileName(file.name);
      } catch (err) {
        file.stream.destroy();
        throw err;
      }
      const written = await writeStreamToFile(join(slotDir, file.name), file.stream, ctx.signal);
      record.files.push({ name: file.name, ...written });
      ctx.log(`simulated: wrote ${file.name} (${written.size} bytes, sha256 ${written.sha256})`);
    }
    await writeJsonFileAtomic(join(slotDir, SLOT_META), {
      artifactName: ctx.artifactName,
      files: record.files,
    });
    await fsyncDir(slotDir);
    record.downloaded = true;
    await this.#writeRecord(ctx, record);
  }

  /** @inheritDoc */
  async install(ctx: InstallContext): Promise<void> {
    const record = await this.#requireRecord(ctx, 'install');
    if (!record.downloaded) {
      throw new InstallerError(InstallerErrorCodes.BAD_STATE, 'install called before the download completed');
    }
    await switchBootPart(this.#bootloader, record.to);
    ctx.log(`simulated: next boot from slot ${record.to} (upgrade_available=1)`);
  }

  /** @inheritDoc */
  async needsReboot(_ctx: InstallContext): Promise<RebootNeed> {
    return 'Yes';
  }

  /**
   * Simulates the reboot: the bootloader boots from the environment. Idempotent: when the new slot
   * is already up on trial (a restart after the reboot happened), it does not boot again (which
   * would count another trial boot).
   */
  async reboot(ctx: InstallContext): Promise<void> {
    const record = await this.#requireRecord(ctx, 'reboot');
    const state = await this.bootState();
    if (state.upgradeAvailable && state.booted === record.to && state.bootcount >= 1) {
      ctx.log(`simulated: already running slot ${record.to}, not rebooting again`);
      return;
    }
    const failBoot = await this.#hasMarker(FAIL_BOOT);
    const result: BootResult = await this.#bootloader.boot({
      crashes: (part) => failBoot && part === record.to,
    });
    if (failBoot) await this.#clearMarker(FAIL_BOOT);
    ctx.log(
      `simulated: rebooted into slot ${result.part} after ${result.attempts} attempt(s)${result.reverted ? ' (boot limit passed, bootloader reverted)' : ''}`,
    );
  }

  /** @inheritDoc */
  async verifyReboot(ctx: InstallContext): Promise<void> {
    const record = await this.#requireRecord(ctx, 'verifyReboot');
    if (!record.verifyFailed && (await this.#hasMarker(FAIL_VERIFY))) {
      record.verifyFailed = true;
      await this.#writeRecord(ctx, record);
      await this.#clearMarker(FAIL_VERIFY);
    }
    if (record.verifyFailed) {
      throw new InstallerError(
        InstallerErrorCodes.VERIFY_FAILED,
        'simulated: the new image failed its check',
      );
    }
    const state = await this.bootState();
    if (state.booted !== record.to || !state.upgradeAvailable) {
      throw new InstallerError(
        InstallerErrorCodes.VERIFY_FAILED,
        `simulated: expected to run slot ${record.to} on trial, running ${state.booted} (upgrade_available=${state.upgradeAvailable ? 1 : 0})`,
      );
    }
    ctx.log(`simulated: running slot ${record.to} as expected`);
  }

  /** @inheritDoc */
  async commit(ctx: InstallContext): Promise<void> {
    const record = await this.#requireRecord(ctx, 'commit');
    const state = await this.bootState();
    if (state.booted !== record.to) {
      throw new InstallerError(
        InstallerErrorCodes.BAD_STATE,
        `simulated: cannot commit, slot ${record.to} is not active`,
      );
    }
    await commitBootPart(this.#bootloader);
    ctx.log(`simulated: committed slot ${record.to}`);
  }

  /** @inheritDoc */
  async supportsRollback(_ctx: InstallContext): Promise<boolean> {
    return true;
  }

  /** @inheritDoc */
  async rollback(ctx: InstallContext): Promise<void> {
    const record = await this.#readRecord(ctx);
    const from = record?.from ?? (await this.activeSlot());
    await revertBootPart(this.#bootloader, from);
    ctx.log(`simulated: next boot from slot ${from} (rolled back)`);
  }

  /** @inheritDoc */
  async rollbackReboot(ctx: InstallContext): Promise<void> {
    const result = await this.#bootloader.boot();
    ctx.log(`simulated: rebooted into slot ${result.part}`);
  }

  /** @inheritDoc */
  async verifyRollbackReboot(ctx: InstallContext): Promise<void> {
    const record = await this.#readRecord(ctx);
    const booted = await this.activeSlot();
    if (record !== undefined && booted !== record.from) {
      throw new InstallerError(
        InstallerErrorCodes.VERIFY_FAILED,
        `simulated: expected to be back on slot ${record.from}, running ${booted}`,
      );
    }
    ctx.log(`simulated: back on slot ${booted}`);
  }

  /** @inheritDoc */
  async failure(ctx: InstallContext): Promise<void> {
    ctx.log(`simulated: update failed, running slot ${await this.activeSlot()}`);
  }

  /** @inheritDoc */
  async cleanup(ctx: InstallContext): Promise<void> {
    await rm(this.#recordPath(ctx), { force: true });
  }

  // -------------------------------------------------------------------------------------------------
  // Inspection and fault hooks
  // -------------------------------------------------------------------------------------------------

  /** The directory of a slot. */
  slotDir(slot: Slot): string {
    return join(this.#dir, `slot-${slot}`);
  }

  /** The slot the simulated system is running. */
  async activeSlot(): Promise<Slot> {
    return asSlot(await this.#bootloader.bootedPart());
  }

  /** The simulated boot state: running slot, next boot slot, trial flag and boot count. */
  async bootState(): Promise<SimulatedBootState> {
    const ab = await readABState(this.#bootloader);
    return {
      booted: await this.activeSlot(),
      bootSlot: asSlot(ab.bootPart),
      upgradeAvailable: ab.upgradeAvailable,
      bootcount: ab.bootcount,
    };
  }

  /** The files of a slot (name → content); empty when the slot was never written. */
  async slotContent(slot: Slot): Promise<Record<string, Buffer>> {
    const dir = this.slotDir(slot);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
    const out: Record<string, Buffer> = {};
    for (const name of names.sort()) {
      if (name === SLOT_META) continue;
      out[name] = await readFile(join(dir, name));
    }
    return out;
  }

  /** The files of the running slot (name → content). */
  async currentContent(): Promise<Record<string, Buffer>> {
    return this.slotContent(await this.activeSlot());
  }

  /** The artifact name whose payload is in the running slot, or undefined for the factory image. */
  async currentArtifactName(): Promise<string | undefined> {
    const meta = await readJsonFile<{ artifactName: string }>(
      join(this.slotDir(await this.activeSlot()), SLOT_META),
    );
    return meta?.artifactName;
  }

  /**
   * Makes the next simulated boot of a new image fail (the image "crashes" on every trial boot, so
   * the boot limit reverts to the old slot and verifyReboot fails). Stored on disk, so it works
   * across processes.
   */
  async failNextBoot(): Promise<void> {
    await this.#setMarker(FAIL_BOOT);
  }

  /** Makes the next verifyReboot fail even though the new slot came up (a failed self-check). */
  async failNextVerify(): Promise<void> {
    await this.#setMarker(FAIL_VERIFY);
  }

  // -------------------------------------------------------------------------------------------------

  #recordPath(ctx: InstallContext): string {
    return join(ctx.workDir, `simulated-installer-${ctx.payloadIndex}.json`);
  }

  async #readRecord(ctx: InstallContext): Promise<UpdateRecord | undefined> {
    return readJsonFile<UpdateRecord>(this.#recordPath(ctx));
  }

  async #requireRecord(ctx: InstallContext, step: string): Promise<UpdateRecord> {
    const record = await this.#readRecord(ctx);
    if (record === undefined) {
      throw new InstallerError(InstallerErrorCodes.BAD_STATE, `${step} called before download`);
    }
    return record;
  }

  async #writeRecord(ctx: InstallContext, record: UpdateRecord): Promise<void> {
    await mkdirDurable(ctx.workDir);
    await writeJsonFileAtomic(this.#recordPath(ctx), record);
  }

  async #hasMarker(name: string): Promise<boolean> {
    return (await readJsonFile<unknown>(join(this.#dir, name))) !== undefined;
  }

  async #setMarker(name: string): Promise<void> {
    await mkdirDurable(this.#dir);
    await writeJsonFileAtomic(join(this.#dir, name), { set: true });
  }

  async #clearMarker(name: string): Promise<void> {
    await rm(join(this.#dir, name), { force: true });
    await fsyncDir(this.#dir);
  }
}
