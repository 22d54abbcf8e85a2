/**
 * @otakit/iot-core-adapter: one keypair per device for Mender and Cloud IoT Core-compatible
 * registries. Preauthorize registry devices in Mender (following key rotation, blocked and deleted
 * devices), mint IoT Core JWTs with the Mender client's key, publish telemetry and state over MQTT
 * or HTTP.
 *
 * @packageDocumentation
 */

export {
  type AdmissionCallOptions,
  type ManagementClientLike,
  type ManagementDeviceLike,
  type MenderAdmission,
  type MenderAuthSet,
  type MenderDevice,
  menderAdmission,
} from './admission.js';
export {
  type AgentEvent,
  CHECK_UPDATE_COMMAND,
  DeviceTelemetry,
  type DeviceTelemetryEvents,
  type DeviceTelemetryOptions,
  type MetricValue,
  TELEMETRY_KEYS,
  type TelemetryAgent,
} from './agent-telemetry.js';
export {
  credentialPublicKey,
  credentialSpkiPem,
  isCredentialActive,
  toDeviceCredential,
  UNSET_EXPIRATION_TIME,
} from './credentials.js';
export {
  type CommandMessage,
  type ConfigMessage,
  DEFAULT_MQTT_URL,
  IotCoreDevice,
  type IotCoreDeviceEvents,
  type IotCoreDeviceOptions,
  type PublishOptions,
} from './device.js';
export { IotCoreError, type IotCoreErrorCode, rpcMessageOf, rpcStatusOf } from './errors.js';
export { DEFAULT_HTTP_BRIDGE_URL } from './http-bridge.js';
export {
  type IotCoreJwt,
  type IotCoreJwtAlgorithm,
  iotCoreJwtAlgorithm,
  MAX_IOT_CORE_JWT_TTL_SECONDS,
  type MintIotCoreJwtOptions,
  mintIotCoreJwt,
  mintIotCoreJwtDetailed,
} from './jwt.js';
export {
  DEFAULT_IOT_CORE_API_URL,
  type DevicePatch,
  type ListDevicesOptions,
  type NewDevice,
  RegistryClient,
  type RegistryClientOptions,
  RegistryDevices,
  SYNC_FIELD_MASK,
} from './registry.js';
export {
  type ServiceAccountAuthOptions,
  type ServiceAccountKey,
  serviceAccountAuth,
} from './service-account.js';
export {
  identityKey,
  type PreauthorizeFromRegistryOptions,
  preauthorizeFromRegistry,
  type RegistrySource,
  type RemovalPolicy,
} from './sync.js';
export {
  type DeviceSyncResult,
  type SyncChange,
  type SyncEvents,
  type SyncOutcome,
  type SyncReport,
  SyncRun,
} from './sync-report.js';
export { type DeviceAddress, devicePath, isValidSubfolder, topics } from './topics.js';
export type * from './types.js';
