/**
 * @otakit/sandbox: a local Mender-compatible server (useradm, deviceauth, inventory, deployments,
 * deviceconfig) for examples, integration tests and trying fleet scripts, with switchable faults.
 *
 * @packageDocumentation
 */

export { SandboxError, type SandboxErrorCode } from './errors.js';
export type { DownloadFaults, FaultConfig, FaultScope, RequestFaults } from './faults.js';
export { FAULTS_API_PREFIX, FaultController } from './faults.js';
export {
  DEFAULT_IOT_CORE_ADMIN_TOKEN,
  DEFAULT_IOT_CORE_REGISTRY,
  type IotCoreSandbox,
  type IotCoreSandboxEvents,
  type IotCoreSandboxOptions,
  type IotCoreSandboxRegistry,
  type IotCoreStateReport,
  type IotCoreTelemetry,
  startIotCoreSandbox,
} from './iot-core/index.js';
export type { Sandbox, SandboxOptions } from './sandbox.js';
export { BODY_LIMIT, DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD, startSandbox } from './sandbox.js';
