/**
 * @otakit/telemetry: a store for what IoT devices publish, tagged with the release each device
 * runs. Embedded DuckDB by default, PostgreSQL beyond one machine, one set of queries for both.
 * Ingest with backpressure and exactly-once ids, a Pub/Sub push endpoint, per-release aggregates,
 * an HTTP read API and its typed client.
 *
 * @packageDocumentation
 */

export * from './errors.js';
export {
  type HealthQuery,
  type HealthStat,
  type ReleaseHealthSourceOptions,
  releaseHealthSource,
} from './health.js';
export {
  startTelemetryApi,
  TELEMETRY_API_PATHS,
  type TelemetryApiOptions,
  type TelemetryApiPluginOptions,
  telemetryApiPlugin,
} from './http/api.js';
export { TelemetryHttpClient, type TelemetryHttpClientOptions } from './http/client.js';
export {
  messageFromPush,
  type PubSubPushBody,
  type PushIngestOptions,
  type PushIngestPluginOptions,
  pushIngestPlugin,
  startPushIngest,
} from './http/push.js';
export type { ListenOptions, TelemetryServer } from './http/server.js';
export type { MessageLimits, Metrics, TelemetryKind, TelemetryMessage } from './message.js';
export { DEFAULT_MESSAGE_LIMITS } from './message.js';
export type { TelemetryStoreOptions } from './options.js';
export { type BridgeRecord, storeSink } from './sink.js';
export { DUCKDB_FILE_NAME, openTelemetryStore, TelemetryStore } from './store.js';
export type * from './types.js';
