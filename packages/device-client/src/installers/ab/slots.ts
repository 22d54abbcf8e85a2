import type { Bootloader, Slot } from '../bootloader/bootloader.js';
import type { InstallContext, PayloadFile } from '../types.js';

/** What a slot strategy wrote into the inactive slot, kept in the update's record. */
export interface WrittenImage {
  /** Each file written: name, size, SHA-256 (of the bytes written, hashed while streaming). */
  files: { name: string; size: number; sha256: string }[];
}

/**
 * Where the two images of an A/B device live and how the device boots between them; the
 * {@link AbInstaller} runs Mender's A/B flow (write the inactive slot, boot it on trial, commit or
 * roll back) over one. Two ship: {@link DirectorySlots} (two directories and a simulated
 * bootloader, for demos and tests) and {@link PartitionSlots} (two block devices or image files and
 * a real {@link Bootloader}: U-Boot, GRUB).
 *
 * A strategy must survive restarts: all its state is on disk, and `write` may be called again for
 * the same slot after a power cut.
 */
export interface SlotStrategy {
  /** A short name for log lines and error messages (`simulated`, `dual-rootfs`). */
  readonly label: string;
  /**
   * True when `write` answers each file's {@link PayloadFile.placement} before reading it (both
   * shipped strategies adopt it: the slot's written prefix is the download's staged copy).
   */
  readonly adoptsPlacement?: boolean;
  /** The environment with `mender_boot_part`, `upgrade_available` and `bootcount`. */
  readonly bootloader: Bootloader;
  /** The `mender_boot_part` value of a slot. */
  bootPart(slot: Slot): string;
  /** The slot the running system booted from. */
  activeSlot(): Promise<Slot>;
  /** Streams one payload's files into `slot` (never the booted or the boot target one) and makes them durable. */
  write(slot: Slot, files: AsyncIterable<PayloadFile>, ctx: InstallContext): Promise<WrittenImage>;
  /**
   * Reboots into what the bootloader environment says (`target` is the slot expected to come up).
   * A real device does not return; a simulated one boots in-process and returns.
   */
  reboot(target: Slot, ctx: InstallContext): Promise<void>;
  /**
   * Optional: a check of the new image after it came up (a simulated self-test). When the image is
   * bad it awaits `fail(reason)` (which persists the verdict with the update) before forgetting
   * whatever made it fail, so a power cut in between cannot turn the verdict into a pass.
   */
  checkImage?(slot: Slot, ctx: InstallContext, fail: (reason: string) => Promise<void>): Promise<void>;
}
