/**
 * @otakit/management-client: a typed client of the Mender management APIs (devices, inventory,
 * artifacts, releases, deployments, device configuration) with page promises, bulk helpers and
 * health-gated rollouts.
 *
 * @packageDocumentation
 */

export {
  AbortError,
  ApiError,
  BadRequestError,
  ConflictError,
  ConnectionError,
  ForbiddenError,
  NotFoundError,
  OtakitError,
  type Page,
  PagePromise,
  RateLimitError,
  type RequestOptions,
  ServerError,
  TimeoutError,
  UnauthorizedError,
} from '@otakit/core';
export { type BulkItemResult, type BulkOptions, type BulkResult, runBulk } from './bulk.js';
export { ManagementClient, type ManagementClientOptions } from './client.js';
export {
  type DeploymentSnapshot,
  type DeploymentSource,
  DeploymentWait,
  type DeploymentWaitEvents,
  FINISHED_DEVICE_STATES,
  finishedCount,
  totalCount,
  type WaitForOptions,
} from './deployment-poller.js';
export type * as Generated from './generated/index.js';
export {
  type ArtifactListOptions,
  type ArtifactSource,
  ArtifactsResource,
  ArtifactUpload,
  type ArtifactUploadEvents,
  type ReleaseListOptions,
  ReleasesResource,
  type UploadedArtifact,
  type UploadOptions,
  type UploadProgress,
} from './resources/artifacts.js';
export {
  type CreateDeploymentInput,
  type DeploymentDevicesOptions,
  type DeploymentListOptions,
  DeploymentsResource,
} from './resources/deployments.js';
export { DeviceConfigResource } from './resources/deviceconfig.js';
export {
  type AuthSetOptions,
  type DeviceListOptions,
  DevicesResource,
  type PreauthorizeInput,
  type PreauthorizeOptions,
  type PreauthorizeResult,
} from './resources/devices.js';
export {
  GroupsResource,
  type InventoryListOptions,
  InventoryResource,
  type InventorySearch,
} from './resources/inventory.js';
export {
  type CohortQuery,
  type CohortValue,
  type GateDecision,
  type GateStat,
  gateLabel,
  judgeGate,
  parseGate,
  type ReleaseGate,
  type ReleaseHealthSource,
} from './rollout/gates.js';
export type {
  AbortCondition,
  RolloutEvents,
  RolloutOptions,
  RolloutPhase,
  RolloutResult,
} from './rollout/options.js';
export { planPhases } from './rollout/plan.js';
export { Rollout } from './rollout/rollout.js';
export {
  type PhaseState,
  type PhaseStatus,
  type RollbackDeployment,
  type RollbackState,
  type RolloutAbortReason,
  type RolloutState,
  readRolloutState,
  writeRolloutState,
} from './rollout/state.js';
export { login, type ManagementAuth, type PasswordAuth, type PersonalAccessTokenAuth } from './session.js';
export {
  type DeviceLookup,
  TELEMETRY_ID_ATTRIBUTE,
  type TelemetryDeviceIdsOptions,
  telemetryDeviceId,
  telemetryDeviceIds,
} from './telemetry-ids.js';
export { DEFAULT_PER_PAGE, type ListOptions } from './transport.js';
export type * from './types.js';

/** The version of @otakit/management-client. */
export const VERSION = '0.1.0';
