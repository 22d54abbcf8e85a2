import { AbInstaller } from './ab/ab-installer.js';
import { DirectorySlots, type SimulatedBootState } from './ab/directory-slots.js';
import type { Slot } from './bootloader/bootloader.js';
import type { FileBootloader } from './bootloader/file.js';

export type { SimulatedBootState } from './ab/directory-slots.js';

/** Options of {@link SimulatedInstaller}. */
export interface SimulatedInstallerOptions {
  /** The device directory: `slot-a/`, `slot-b/`, `boot-env.json` and the fault hooks live here. */
  dir: string;
  /** Payload types this installer accepts (default `['rootfs-image']`; `'*'` accepts any). */
  payloadTypes?: readonly string[];
  /** Trial boots allowed before the simulated bootloader reverts (default 1, as Mender). */
  bootlimit?: number;
}

/**
 * A whole A/B device in one directory, for examples, tests and the demo: the {@link AbInstaller}
 * over {@link DirectorySlots} (two slot directories and a {@link FileBootloader} with U-Boot style
 * boot counting, the reboot simulated in-process). All state is on disk and every step is
 * idempotent, so a process killed mid-step and started again continues with a new instance.
 *
 * @example
 * ```ts
 * const sim = new SimulatedInstaller({ dir: '/tmp/device' });
 * // ... the agent drives download/install/reboot/verifyReboot/commit ...
 * console.log(await sim.activeSlot(), await sim.currentContent());
 * await sim.failNextBoot(); // the next update's image will not come up: the agent rolls back
 * ```
 */
export class SimulatedInstaller extends AbInstaller {
  readonly #device: DirectorySlots;

  constructor(options: SimulatedInstallerOptions) {
    const device = new DirectorySlots({
      dir: options.dir,
      ...(options.bootlimit !== undefined ? { bootlimit: options.bootlimit } : {}),
    });
    super({
      slots: device,
      ...(options.payloadTypes ? { payloadTypes: options.payloadTypes } : {}),
      recordName: 'simulated-installer',
    });
    this.#device = device;
  }

  /** The simulated bootloader (its environment is `dir/boot-env.json`). */
  override get bootloader(): FileBootloader {
    return this.#device.bootloader;
  }

  /** The directory of a slot. */
  slotDir(slot: Slot): string {
    return this.#device.slotDir(slot);
  }

  /** The simulated boot state: running slot, next boot slot, trial flag and boot count. */
  bootState(): Promise<SimulatedBootState> {
    return this.#device.bootState();
  }

  /** The files of a slot (name → content); empty when the slot was never written. */
  slotContent(slot: Slot): Promise<Record<string, Buffer>> {
    return this.#device.slotContent(slot);
  }

  /** The files of the running slot (name → content). */
  async currentContent(): Promise<Record<string, Buffer>> {
    return this.#device.slotContent(await this.activeSlot());
  }

  /** The artifact name whose payload is in the running slot, or undefined for the factory image. */
  async currentArtifactName(): Promise<string | undefined> {
    return this.#device.slotArtifactName(await this.activeSlot());
  }

  /**
   * Makes the next simulated boot of a new image fail (the image "crashes" on every trial boot, so
   * the boot limit reverts to the old slot and verifyReboot fails). Stored on disk, so it works
   * across processes.
   */
  failNextBoot(): Promise<void> {
    return this.#device.failNextBoot();
  }

  /** Makes the next verifyReboot fail even though the new slot came up (a failed self-check). */
  failNextVerify(): Promise<void> {
    return this.#device.failNextVerify();
  }
}
