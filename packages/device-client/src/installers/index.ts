/**
 * The installers: one {@link Installer} interface, mapped onto the Mender update module states, with
 * a simulated A/B device, a dual-rootfs installer over a {@link Bootloader} (U-Boot, GRUB, or a
 * simulated file), and a runner for unmodified Mender update modules.
 *
 * @packageDocumentation
 */

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
export {
  GRUBENV_DEFAULT_SIZE,
  GRUBENV_MESSAGE,
  GRUBENV_SIGNATURE,
  GrubEnvBlock,
} from './bootloader/grubenv.js';
export { UBootBootloader, type UBootBootloaderOptions } from './bootloader/uboot.js';
export { DualRootfsInstaller, type DualRootfsInstallerOptions } from './dual-rootfs.js';
export { assertSafeFileName } from './durable-fs.js';
export { InstallerError, type InstallerErrorCode, InstallerErrorCodes } from './errors.js';
export { type SimulatedBootState, SimulatedInstaller, type SimulatedInstallerOptions } from './simulated.js';
export type { InstallContext, Installer, PayloadFile, RebootNeed } from './types.js';
export type { CurrentArtifact } from './update-module/file-tree.js';
export {
  type ModuleState,
  UpdateModuleInstaller,
  type UpdateModuleInstallerOptions,
} from './update-module/installer.js';
