/**
 * @otakit/device-client: the device side of Mender OTA updates. An app builds a
 * {@link DeviceClient} with installers and runs it; tools for writing installers (slot strategies,
 * the A/B flow, bootloader environment helpers) are in `@otakit/device-client/installers`.
 *
 * @packageDocumentation
 */

export type { DeploymentInstructions, DeploymentLogEntry, InventoryValue } from './api/device-api.js';
export type { DeviceIdentity, IdentitySource } from './api/identity.js';
export { DEVICE_CLIENT_VERSION, DeviceClient } from './device-client.js';
export {
  type DownloadProgress,
  type DownloadRetry,
  type ResumableDownloadOptions,
  resumableDownload,
} from './download/resumable-download.js';
export { DownloadStaging, type PlacedSpan, type StagingMeta } from './download/staging.js';
export { DeviceError, type DeviceErrorCode, DeviceErrorCodes } from './errors.js';
export type { DeviceClientEvents } from './events.js';
export type { HealthCheck, HealthCheckResult } from './health/health-checks.js';
export {
  type Bootloader,
  DualRootfsInstaller,
  type DualRootfsInstallerOptions,
  FileBootloader,
  type FileBootloaderOptions,
  GrubBootloader,
  type GrubBootloaderOptions,
  type InstallContext,
  type Installer,
  InstallerError,
  type InstallerErrorCode,
  InstallerErrorCodes,
  type PayloadFile,
  type PayloadPlacement,
  type PlacementTarget,
  type RebootNeed,
  type SimulatedBootState,
  SimulatedInstaller,
  type SimulatedInstallerOptions,
  type Slot,
  UBootBootloader,
  type UBootBootloaderOptions,
  UpdateModuleInstaller,
  type UpdateModuleInstallerOptions,
} from './installers/index.js';
export {
  DEFAULT_POLL_RETRY,
  type DeviceClientOptions,
  type DeviceTransportOptions,
  type PollOptions,
  type RunOptions,
} from './options.js';
export type { StateScriptOptions } from './scripts/state-scripts.js';
export { type InstalledArtifact, ProvidesStore } from './state/provides-store.js';
export { StateStore } from './state/state-store.js';
export type { DeploymentChannel } from './update/channel.js';
export type { DownloadOptions } from './update/download-step.js';
export type { UpdateResult } from './update/machine.js';
export {
  inMaintenanceWindow,
  type MaintenanceWindow,
  type PauseDecision,
  type PauseHook,
  type PauseOptions,
  type PausePoint,
} from './update/pause.js';
export type { UpdatePolicy } from './update/policy.js';
export type {
  ArtifactRecord,
  DeploymentStatus,
  PayloadRecord,
  UpdateOutcome,
  UpdateRecord,
  UpdateSource,
  UpdateStateName,
} from './update/states.js';
export { DEFAULT_STATUS_RETRY, type StatusReportOptions } from './update/status-reporter.js';
