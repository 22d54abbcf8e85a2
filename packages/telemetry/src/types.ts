/** The shapes the store's queries return, shared by the library API, the HTTP API and its client. */

import type { TelemetryKind } from './message.js';

/** A stored message, as queries return it. */
export interface TelemetryRecord {
  id: string;
  deviceId: string;
  registry: string;
  /** When the cloud received it, ISO 8601 UTC. */
  receivedAt: string;
  kind: TelemetryKind;
  /** '' when the message had none. */
  subfolder: string;
  artifactName: string | null;
  softwareVersion: string | null;
  deploymentId: string | null;
  /** The payload parsed, when it was valid JSON; else null (see `payloadRaw`). */
  payload: unknown;
  /** The payload as received when it was not valid JSON: text (`utf8`) or base64 (`base64`). */
  payloadRaw: string | null;
  payloadEncoding: 'json' | 'utf8' | 'base64';
  /** Its numeric fields by dotted path. Keys such as `__proto__` are ordinary own keys. */
  metrics: Record<string, number>;
}

/** Which messages a query looks at. Every field is optional; they combine with "and". */
export interface TelemetryFilter {
  /** Only these devices (an empty list matches none). */
  deviceIds?: readonly string[] | undefined;
  /** Only this registry (full name). */
  registry?: string | undefined;
  /** Only events or only states. */
  kind?: TelemetryKind | undefined;
  /** Received at or after this time. */
  from?: Date | string | number | undefined;
  /** Received before this time. */
  to?: Date | string | number | undefined;
}

/** {@link TelemetryStore.latest}'s query. */
export interface LatestQuery extends TelemetryFilter {
  /** Most devices returned (default 1000, at most 100,000). */
  limit?: number | undefined;
}

/** {@link TelemetryStore.messages}'s query. */
export interface MessagesQuery extends TelemetryFilter {
  /** Most messages returned, newest first (default 100, at most 10,000). */
  limit?: number | undefined;
}

/** {@link TelemetryStore.releaseAggregates}'s query. */
export interface ReleaseAggregatesQuery extends TelemetryFilter {
  /** The numeric field (dotted path, e.g. `cpu` or `mem.free`). */
  metric: string;
}

/** One release's figures for a numeric field. */
export interface ReleaseAggregate {
  /** The artifact name; null for messages that named none. */
  release: string | null;
  /** Messages that carried the field. */
  count: number;
  mean: number;
  p50: number;
  p95: number;
  max: number;
}

/** What {@link TelemetryStore.append} resolves to once the message is durable. */
export interface AppendResult {
  id: string;
  /** True when a message with this id was already stored (this one was not stored again). */
  duplicate: boolean;
}
