/**
 * The store's read side, around the SQL of `sql/queries.ts`: checks a query's filter and limit
 * (typed errors before any SQL runs), and turns the rows both databases return into records and
 * aggregates of one shape.
 */

import { TelemetryValidationError } from './errors.js';
import { toEpochMs } from './message.js';
import type { Dialect } from './sql/migrations.js';
import type { FilterSpec } from './sql/queries.js';
import type { MetricAggregate, ReleaseAggregate, TelemetryFilter, TelemetryRecord } from './types.js';

/** `value` as a limit from 1 to `max` (`fallback` when undefined), or a typed error. */
export function limitOf(value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new TelemetryValidationError(`limit must be an integer from 1 to ${max}`);
  }
  return value;
}

/** Checks `metric` of an aggregate query. */
export function metricOf(query: { metric?: unknown } | undefined): string {
  if (typeof query?.metric !== 'string' || query.metric === '') {
    throw new TelemetryValidationError('metric must be a non-empty string');
  }
  return query.metric;
}

function isoOf(value: Date | string | number | undefined, what: string): string | undefined {
  return value === undefined ? undefined : new Date(toEpochMs(value, what)).toISOString();
}

/** Checks a filter and turns it into the SQL builders' {@link FilterSpec}. */
export function filterSpec(f: TelemetryFilter): FilterSpec {
  if (f.kind !== undefined && f.kind !== 'event' && f.kind !== 'state') {
    throw new TelemetryValidationError(`kind must be 'event' or 'state'`);
  }
  if (
    f.deviceIds !== undefined &&
    (!Array.isArray(f.deviceIds) || f.deviceIds.some((d) => typeof d !== 'string'))
  ) {
    throw new TelemetryValidationError('deviceIds must be a list of strings');
  }
  return {
    registry: f.registry,
    kind: f.kind,
    deviceIds: f.deviceIds,
    from: isoOf(f.from, 'from'),
    to: isoOf(f.to, 'to'),
  };
}

function parseJsonText(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? JSON.parse(value) : value;
}

function nullableText(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

/** A row of the message queries as a {@link TelemetryRecord}. */
export function toRecord(r: Record<string, unknown>): TelemetryRecord {
  const encoding = String(r.payload_encoding) as TelemetryRecord['payloadEncoding'];
  return {
    id: String(r.id),
    deviceId: String(r.device_id),
    registry: String(r.registry),
    receivedAt: new Date(Math.round(Number(r.received_ms))).toISOString(),
    kind: String(r.kind) as TelemetryRecord['kind'],
    subfolder: String(r.subfolder ?? ''),
    artifactName: nullableText(r.artifact_name),
    softwareVersion: nullableText(r.software_version),
    deploymentId: nullableText(r.deployment_id),
    payload: encoding === 'json' ? parseJsonText(r.payload) : null,
    payloadRaw: nullableText(r.payload_raw),
    payloadEncoding: encoding,
    metrics: (parseJsonText(r.metrics) ?? {}) as Record<string, number>,
  };
}

/** A row of the per-release aggregate query as a {@link ReleaseAggregate}. */
export function toReleaseAggregate(r: Record<string, unknown>): ReleaseAggregate {
  const [p50, p95] = r.percentiles as [number, number];
  return {
    release: r.release === null || r.release === undefined ? null : String(r.release),
    count: Number(r.count),
    mean: Number(r.mean),
    p50: Number(p50),
    p95: Number(p95),
    max: Number(r.max),
  };
}

/**
 * `percentile_cont(q)` of `n` sorted samples whose values at floor and ceil of q*(n-1) are `lo`,
 * `hi`, to the last bit as each database computes it: PostgreSQL `lo + d * (hi - lo)`
 * (`float8_lerp`), DuckDB `lo * (1 - d) + hi * d`, d being the position's fraction.
 */
export function interpolate(q: number, n: number, lo: number, hi: number, dialect: Dialect): number {
  const position = q * (n - 1);
  const d = position - Math.floor(position);
  return dialect === 'duckdb' ? lo * (1 - d) + hi * d : lo + d * (hi - lo);
}

/** A row of the by-value per-release query (`releaseAggregatesByValueQuery`) as a {@link ReleaseAggregate}. */
export function toReleaseAggregateByValue(r: Record<string, unknown>, dialect: Dialect): ReleaseAggregate {
  const count = Number(r.count);
  return {
    release: r.release === null || r.release === undefined ? null : String(r.release),
    count,
    mean: Number(r.mean),
    p50: interpolate(0.5, count, Number(r.p50_lo), Number(r.p50_hi), dialect),
    p95: interpolate(0.95, count, Number(r.p95_lo), Number(r.p95_hi), dialect),
    max: Number(r.max),
  };
}

/** The row of the cohort aggregate query (or none) as a {@link MetricAggregate}. */
export function toMetricAggregate(r: Record<string, unknown> = {}): MetricAggregate {
  const count = Number(r.count ?? 0);
  const num = (v: unknown) => (count === 0 || v === null || v === undefined ? null : Number(v));
  const [p50, p95] = (Array.isArray(r.percentiles) ? r.percentiles : [null, null]) as [unknown, unknown];
  return { count, mean: num(r.mean), p50: num(p50), p95: num(p95), max: num(r.max), rate: num(r.rate) };
}
