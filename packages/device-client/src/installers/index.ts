/**
 * The installers: one {@link Installer} interface, mapped onto the Mender update module states, with
 * a simulated A/B device, a dual-rootfs installer over a {@link Bootloader}, and a runner for
 * unmodified Mender update modules.
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
  readABState,
  revertBootPart,
  switchBootPart,
} from './bootloader/bootloader.js';
export { type BootResult, FileBootloader, type FileBootloaderOptions } from './bootloader/file.js';
export { assertSafeFileName } from './durable-fs.js';
export { InstallerError, type InstallerErrorCode, InstallerErrorCodes } from './errors.js';
export {
  type SimulatedBootState,
  SimulatedInstaller,
  type SimulatedInstallerOptions,
  type Slot,
} from './simulated.js';
export type { InstallContext, Installer, PayloadFile, RebootNeed } from './types.js';
