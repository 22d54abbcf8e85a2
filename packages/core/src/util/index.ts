export { Backoff, type BackoffOptions, backoffCeiling, backoffDelay } from './backoff.js';
export { type ItemResult, type MapConcurrentOptions, mapConcurrent } from './concurrency.js';
export { type SleepOptions, sleep } from './sleep.js';
export { TELEMETRY_ID_ATTRIBUTE, telemetryDeviceId } from './telemetry-id.js';
