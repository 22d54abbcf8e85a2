/**
 * @otakit/device-client: the device side of Mender OTA updates.
 *
 * @packageDocumentation
 */

// The atomic file writes live in @otakit/core; re-exported so existing imports keep working.
export {
  readJsonFile,
  VERSION as CORE_VERSION,
  type WriteFileAtomicOptions,
  writeFileAtomic,
  writeJsonFileAtomic,
} from '@otakit/core';
export { PollBackoff, type PollBackoffOptions } from './agent/backoff.js';
export {
  boundLog,
  type DeploymentInstructions,
  type DeploymentLogEntry,
  DeviceApi,
  type DeviceApiOptions,
  type InventoryValue,
  MAX_LOG_BYTES,
} from './api/device-api.js';
export { type DeviceIdentity, type IdentitySource, jwtExpiry, serializeIdentity } from './api/identity.js';
export {
  DEVICE_CLIENT_VERSION,
  DeviceClient,
  type DeviceClientOptions,
  type RunOptions,
} from './device-client.js';
export {
  type DownloadProgress,
  type DownloadRetry,
  parseContentRange,
  type ResumableDownloadOptions,
  resumableDownload,
} from './download/resumable-download.js';
export { DownloadStaging, type StagingMeta } from './download/staging.js';
export { DeviceError, type DeviceErrorCode, DeviceErrorCodes } from './errors.js';
export type { DeviceClientEvents } from './events.js';
export { type HealthCheck, type HealthCheckResult, runHealthChecks } from './health/health-checks.js';
export * from './installers/index.js';
export {
  isStateScript,
  SCRIPT_RETRY_EXIT_CODE,
  type ScriptAction,
  type ScriptState,
  type StateScriptOptions,
  StateScriptRunner,
} from './scripts/state-scripts.js';
export {
  applyCommittedArtifact,
  type CommittedArtifact,
  globToRegExp,
  type InstalledArtifact,
  ProvidesStore,
} from './state/provides-store.js';
export { StateStore } from './state/state-store.js';
export type { DownloadTuning, PauseOptions, UpdatePolicy, UpdateResult } from './update/machine.js';
export {
  inMaintenanceWindow,
  type MaintenanceWindow,
  type PauseDecision,
  type PauseHook,
  type PausePoint,
} from './update/pause.js';
export type {
  ArtifactRecord,
  DeploymentStatus,
  PayloadRecord,
  UpdateOutcome,
  UpdateRecord,
  UpdateSource,
  UpdateStateName,
} from './update/states.js';
export { compareVersions } from './update/version.js';
