/**
 * @otakit/dashboard: the fleet page, a single pane of glass over both planes. It reads Mender
 * through a `ManagementClient`, telemetry through a `TelemetryStore` or `TelemetryHttpClient` and,
 * optionally, the IoT Core registry, joins them per device and serves a live page (server-sent
 * events) with a JSON API beside it.
 *
 * @packageDocumentation
 */

export * from './errors.js';
export { CONTENT_SECURITY_POLICY } from './html.js';
export type { GateDecisionView, RollbackView, RolloutPhaseView, RolloutView } from './rollouts.js';
export { readRollouts, rolloutViewOf } from './rollouts.js';
export {
  bucketSeries,
  type ReleaseSeries,
  releaseSeries,
  SERIES_MESSAGE_LIMIT,
  type SeriesOptions,
} from './series.js';
export { type Dashboard, type DashboardOptions, startDashboard } from './server.js';
export {
  buildSnapshot,
  type DeploymentView,
  type FleetDevice,
  type FleetSnapshot,
  type ReleaseCount,
  type SnapshotSources,
  type SourceError,
} from './snapshot.js';
export type * from './sources.js';
