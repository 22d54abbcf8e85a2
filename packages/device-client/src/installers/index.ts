/**
 * `@otakit/device-client/installers`: everything to build an installer. One {@link Installer}
 * interface mapped onto the Mender update module states; the {@link AbInstaller} over a
 * {@link SlotStrategy} ({@link DirectorySlots} for a simulated device, {@link PartitionSlots} for
 * block devices) with its presets {@link SimulatedInstaller} and {@link DualRootfsInstaller}; the
 * bootloaders (U-Boot, GRUB, a simulated file) and their A/B environment helpers; and a runner for
 * unmodified Mender update modules.
 *
 * @packageDocumentation
 */

export { AbInstaller, type AbInstallerOptions } from './ab/ab-installer.js';
export { DirectorySlots, type DirectorySlotsOptions, type SimulatedBootState } from './ab/directory-slots.js';
export { PartitionSlots, type PartitionSlotsOptions } from './ab/partition-slots.js';
export type { SlotStrategy, WrittenImage } from './ab/slots.js';
export {
  type ABBootState,
  assertEnvName,
  BootEnvKeys,
  type Bootloader,
  bootPartHex,
  commitBootPart,
  otherSlot,
  readABState,
  revertBootPart,
  type Slot,
  switchBootPart,
} from './bootloader/bootloader.js';
export { type BootResult, FileBootloader, type FileBootloaderOptions } from './bootloader/file.js';
export { GrubBootloader, type GrubBootloaderOptions } from './bootloader/grub.js';
export { GrubEnvBlock } from './bootloader/grubenv.js';
export { UBootBootloader, type UBootBootloaderOptions } from './bootloader/uboot.js';
export { DualRootfsInstaller, type DualRootfsInstallerOptions } from './dual-rootfs.js';
export { assertSafeFileName } from './durable-fs.js';
export { InstallerError, type InstallerErrorCode, InstallerErrorCodes } from './errors.js';
export {
  guardStream,
  type WritePayloadOptions,
  type WrittenFile,
  writePayloadFile,
  writeStreamToFile,
} from './payload-files.js';
export { SimulatedInstaller, type SimulatedInstallerOptions } from './simulated.js';
export type {
  InstallContext,
  Installer,
  PayloadFile,
  PayloadPlacement,
  PlacementTarget,
  RebootNeed,
} from './types.js';
export type { CurrentArtifact } from './update-module/file-tree.js';
export {
  type ModuleState,
  UpdateModuleInstaller,
  type UpdateModuleInstallerOptions,
} from './update-module/installer.js';
