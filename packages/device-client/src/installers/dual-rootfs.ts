import { AbInstaller } from './ab/ab-installer.js';
import { PartitionSlots } from './ab/partition-slots.js';
import type { Bootloader, Slot } from './bootloader/bootloader.js';

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
  activeSlot?: () => Promise<Slot>;
  /** @deprecated The former name of {@link DualRootfsInstallerOptions.activeSlot}. */
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

/**
 * Mender's dual-rootfs update (`rootfs-image`): the {@link AbInstaller} over {@link PartitionSlots}.
 * Download streams the image into the inactive partition (block device or file), fsyncs it and
 * checks the bytes read back; install points the bootloader at it on trial; after the reboot
 * verify checks the system runs the new partition; commit clears `upgrade_available`; rollback
 * points back.
 *
 * @example
 * ```ts
 * const installer = new DualRootfsInstaller({
 *   partitions: { a: '/dev/mmcblk0p2', b: '/dev/mmcblk0p3' },
 *   bootloader: new UBootBootloader(),
 * });
 * ```
 */
export class DualRootfsInstaller extends AbInstaller {
  constructor(options: DualRootfsInstallerOptions) {
    const { payloadTypes, currentSlot, activeSlot, ...slots } = options;
    const active = activeSlot ?? currentSlot;
    super({
      slots: new PartitionSlots({ ...slots, ...(active ? { activeSlot: active } : {}) }),
      ...(payloadTypes ? { payloadTypes } : {}),
      recordName: 'dual-rootfs',
    });
  }

  /** @deprecated The former name of {@link AbInstaller.activeSlot}. */
  currentSlot(): Promise<Slot> {
    return this.activeSlot();
  }
}
