/**
 * @otakit/sandbox: a local Mender-compatible server (useradm, deviceauth, inventory, deployments,
 * deviceconfig) for examples, integration tests and trying fleet scripts, with switchable faults,
 * and a Cloud IoT Core-compatible one (device manager, HTTP and MQTT bridges) beside it.
 *
 * @packageDocumentation
 */

export { SandboxError, type SandboxErrorCode } from './errors.js';
export type { DownloadFaults, FaultConfig, FaultScope, RequestFaults } from './faults.js';
export { FAULTS_API_PREFIX, FaultController } from './faults.js';
export {
  DEFAULT_IOT_CORE_ADMIN_TOKEN,
  DEFAULT_IOT_CORE_REGISTRY,
  DEFAULT_MAX_IN_FLIGHT_WRITES,
  DEFAULT_RECENT_MESSAGES,
  type IotCoreSandbox,
  type IotCoreSandboxEvents,
  type IotCoreSandboxOptions,
  type IotCoreSandboxRegistry,
  type IotCoreStateReport,
  type IotCoreTelemetry,
  startIotCoreSandbox,
  type TelemetryRecord,
  type TelemetrySink,
} from './iot-core/index.js';
export type { Sandbox, SandboxIotCoreOptions, SandboxOptions } from './sandbox.js';
export { BODY_LIMIT, DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD, startSandbox } from './sandbox.js';
