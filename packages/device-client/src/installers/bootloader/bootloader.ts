/**
 * The bootloader seam of the A/B installers, and the Mender conventions for A/B switching on top of
 * it: `mender_boot_part` (the partition to boot), `mender_boot_part_hex`, `upgrade_available` (1
 * while a new image is on trial) and `bootcount` (incremented by the bootloader on each trial boot;
 * past `bootlimit` it runs `altbootcmd`, which boots the other partition and clears
 * `upgrade_available`).
 */
import { InstallerError, InstallerErrorCodes } from '../errors.js';

/** A slot of an A/B pair. */
export type Slot = 'a' | 'b';

/** The other slot of the pair. */
export function otherSlot(slot: Slot): Slot {
  return slot === 'a' ? 'b' : 'a';
}

/**
 * A bootloader environment: a flat set of string variables that survives reboots.
 *
 * @example
 * ```ts
 * const env = await bootloader.getEnv(['mender_boot_part', 'upgrade_available']);
 * await bootloader.setEnv({ mender_boot_part: '3', upgrade_available: '1', bootcount: '0' });
 * ```
 */
export interface Bootloader {
  /** Reads variables; a variable that is not set is `undefined` in the result. */
  getEnv(keys: readonly string[]): Promise<Record<string, string | undefined>>;
  /**
   * Sets several variables in one atomic update (all or none survive a power cut). A `null` value
   * unsets the variable.
   */
  setEnv(vars: Readonly<Record<string, string | null>>): Promise<void>;
  /**
   * The partition (a `mender_boot_part` value) the running system was booted from, when the
   * bootloader can tell. Simulations implement it; real systems usually find it from the root
   * device instead.
   */
  bootedPart?(): Promise<string | undefined>;
}

/** The variable names of Mender's U-Boot and GRUB integrations. */
export const BootEnvKeys = {
  /** The partition to boot: its number (`2`, `3`) on real boards, any string in simulations. */
  BOOT_PART: 'mender_boot_part',
  /** The same in hexadecimal, as U-Boot's `load` commands want it. */
  BOOT_PART_HEX: 'mender_boot_part_hex',
  /** `1` while a new image is on trial (not yet committed). */
  UPGRADE_AVAILABLE: 'upgrade_available',
  /** Trial boots so far; the bootloader reverts once it passes `bootlimit`. */
  BOOTCOUNT: 'bootcount',
  /** How many trial boots are allowed before reverting (Mender sets 1). */
  BOOTLIMIT: 'bootlimit',
} as const;

/** The A/B state read from a bootloader environment. */
export interface ABBootState {
  /** `mender_boot_part`, or undefined when unset. */
  bootPart: string | undefined;
  /** Whether `upgrade_available` is `1`. */
  upgradeAvailable: boolean;
  /** `bootcount` as a number (0 when unset or not a number). */
  bootcount: number;
}

/** Reads the A/B variables of {@link BootEnvKeys}. */
export async function readABState(bootloader: Bootloader): Promise<ABBootState> {
  const env = await bootloader.getEnv([
    BootEnvKeys.BOOT_PART,
    BootEnvKeys.UPGRADE_AVAILABLE,
    BootEnvKeys.BOOTCOUNT,
  ]);
  const count = Number.parseInt(env[BootEnvKeys.BOOTCOUNT] ?? '0', 10);
  return {
    bootPart: env[BootEnvKeys.BOOT_PART],
    upgradeAvailable: env[BootEnvKeys.UPGRADE_AVAILABLE] === '1',
    bootcount: Number.isFinite(count) ? count : 0,
  };
}

/** `mender_boot_part_hex` for a partition value: the number in hex, or the value itself. */
export function bootPartHex(part: string): string {
  return /^\d+$/.test(part) ? Number.parseInt(part, 10).toString(16) : part;
}

/**
 * ArtifactInstall on an A/B system: boot `part` next, on trial (`upgrade_available=1`,
 * `bootcount=0`), in one atomic environment update.
 */
export async function switchBootPart(bootloader: Bootloader, part: string): Promise<void> {
  await bootloader.setEnv(bootPartEnv(part, true));
}

/** ArtifactCommit on an A/B system: the trial is over, keep booting the current partition. */
export async function commitBootPart(bootloader: Bootloader): Promise<void> {
  await bootloader.setEnv({ [BootEnvKeys.UPGRADE_AVAILABLE]: '0', [BootEnvKeys.BOOTCOUNT]: '0' });
}

/** ArtifactRollback on an A/B system: boot `part` (the previous one) again, no trial. */
export async function revertBootPart(bootloader: Bootloader, part: string): Promise<void> {
  await bootloader.setEnv(bootPartEnv(part, false));
}

/** The environment that boots `part` next, on trial or not, with the boot counter reset. */
function bootPartEnv(part: string, trial: boolean): Record<string, string> {
  return {
    [BootEnvKeys.BOOT_PART]: part,
    [BootEnvKeys.BOOT_PART_HEX]: bootPartHex(part),
    [BootEnvKeys.UPGRADE_AVAILABLE]: trial ? '1' : '0',
    [BootEnvKeys.BOOTCOUNT]: '0',
  };
}

/** Checks a variable name for the bootloader tools: no `=`, whitespace or control characters. */
export function assertEnvName(name: string): void {
  if (!/^[A-Za-z0-9_.:-]+$/.test(name)) {
    throw new InstallerError(
      InstallerErrorCodes.BOOTLOADER,
      `invalid bootloader variable name: ${JSON.stringify(name)}`,
    );
  }
}
