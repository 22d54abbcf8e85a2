/**
 * The store's read queries: one text for DuckDB and PostgreSQL both (`distinct on`,
 * `percentile_cont(...) within group`, `cast(... as timestamptz)`, `$n` parameters). Values are
 * always parameters; only placeholders are generated. One thing differs: where PostgreSQL reads the
 * samples of a device set (see `samplesOf`).
 */

import type { Dialect } from './migrations.js';

/** A query text and its parameters. */
export interface SqlQuery {
  text: string;
  params: unknown[];
}

/** Builds `$n` placeholders for a growing parameter list. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  list(values: readonly unknown[]): string {
    return values.map((v) => this.add(v)).join(', ');
  }
}

/** The columns read back for a message row (time as epoch ms, JSON as text). */
const MESSAGE_COLUMNS = `id, device_id, registry,
  cast(extract(epoch from received_at) * 1000 as double precision) as received_ms,
  kind, subfolder, artifact_name, software_version, deployment_id,
  cast(payload as varchar) as payload, payload_raw, payload_encoding, cast(metrics as varchar) as metrics`;

/** Filters shared by the queries. */
export interface FilterSpec {
  registry?: string | undefined;
  kind?: 'event' | 'state' | undefined;
  deviceIds?: readonly string[] | undefined;
  /** Inclusive lower bound, ISO 8601. */
  from?: string | undefined;
  /** Exclusive upper bound, ISO 8601. */
  to?: string | undefined;
}

function where(p: Params, f: FilterSpec, extra: string[] = []): string {
  const clauses = [...extra];
  if (f.registry !== undefined) clauses.push(`registry = ${p.add(f.registry)}`);
  if (f.kind !== undefined) clauses.push(`kind = ${p.add(f.kind)}`);
  if (f.deviceIds !== undefined) {
    // An empty device set matches nothing (not everything).
    clauses.push(f.deviceIds.length === 0 ? '1 = 0' : `device_id in (${p.list(f.deviceIds)})`);
  }
  if (f.from !== undefined) clauses.push(`received_at >= cast(${p.add(f.from)} as timestamptz)`);
  if (f.to !== undefined) clauses.push(`received_at < cast(${p.add(f.to)} as timestamptz)`);
  return clauses.length === 0 ? '' : `where ${clauses.join(' and ')}`;
}

/**
 * The samples of `metric` among the messages matching `f`, as a relation of `artifact_name` and
 * `value` (for `from`). The numeric fields table, but on PostgreSQL over a device set: there the
 * messages are found through their (device, time) index and the field read from their `metrics`
 * (the same numbers the fields table holds, written from it). The fields table has no index by
 * device on PostgreSQL: keeping one cost each message ~12 µs of PostgreSQL's CPU on ingest
 * (migration 7).
 */
function samplesOf(p: Params, metric: string, f: FilterSpec, dialect: Dialect): string {
  if (dialect === 'postgres' && f.deviceIds !== undefined) {
    const name = `cast(${p.add(metric)} as varchar)`;
    return `(select artifact_name, cast(metrics ->> ${name} as double precision) as value
      from telemetry_messages ${where(p, f, [`metrics ? ${name}`])}) samples`;
  }
  return `telemetry_metrics ${where(p, f, [`name = ${p.add(metric)}`])}`;
}

/** The newest message of each device matching `f`, by device id. */
export function latestPerDeviceQuery(f: FilterSpec, limit: number): SqlQuery {
  const p = new Params();
  const filter = where(p, f);
  const text = `select distinct on (device_id) ${MESSAGE_COLUMNS}
    from telemetry_messages ${filter}
    order by device_id, received_at desc, id desc
    limit ${p.add(limit)}`;
  return { text, params: p.values };
}

/** The newest messages of matching devices, newest first. */
export function messagesQuery(f: FilterSpec, limit: number): SqlQuery {
  const p = new Params();
  const filter = where(p, f);
  const text = `select ${MESSAGE_COLUMNS}
    from telemetry_messages ${filter}
    order by received_at desc, id desc
    limit ${p.add(limit)}`;
  return { text, params: p.values };
}

/**
 * Count, mean, p50, p95 and max of one numeric field per release (artifact name), over the
 * messages matching `f`. Messages without the field are not counted. Both percentiles come from one
 * ordered-set aggregate over an array (one sort per release, not two).
 */
export function releaseAggregatesQuery(metric: string, f: FilterSpec, dialect: Dialect): SqlQuery {
  const p = new Params();
  const samples = samplesOf(p, metric, f, dialect);
  const text = `select artifact_name as release,
      cast(count(*) as integer) as count,
      avg(value) as mean,
      percentile_cont(array[0.5, 0.95]) within group (order by value) as percentiles,
      max(value) as max
    from ${samples}
    group by artifact_name
    order by artifact_name nulls last`;
  return { text, params: p.values };
}

/** Samples the cardinality probe reads (see {@link cardinalityProbeQuery}). */
export const PROBE_SAMPLES = 10_000;

/**
 * How many samples of `metric` the first {@link PROBE_SAMPLES} matching `f` hold (`n`), and how
 * many distinct values among them (`d`): a cheap look (a few ms) that decides how the per-release
 * percentiles are computed. Only speed depends on it: both ways give the exact percentiles.
 */
export function cardinalityProbeQuery(metric: string, f: FilterSpec, dialect: Dialect): SqlQuery {
  const p = new Params();
  const samples = samplesOf(p, metric, f, dialect);
  const text = `select cast(count(*) as integer) as n, cast(count(distinct value) as integer) as d
    from (select value from ${samples} limit ${PROBE_SAMPLES}) s`;
  return { text, params: p.values };
}

/**
 * The figures of {@link releaseAggregatesQuery} computed from each release's distinct values and
 * their counts, for a field with few distinct values (a percentage with two decimals, a
 * temperature in tenths of a degree): one hash aggregate over the samples and a running count
 * over the distinct values, instead of holding and sorting every sample per release (measured over
 * 1M samples with 50 distinct values: ~3x faster on DuckDB, ~3x on PostgreSQL; with a distinct
 * value per sample ~3x slower on DuckDB and ~6x on PostgreSQL, hence the probe).
 *
 * Exact, as `percentile_cont` is: for n samples and a fraction q, the position q*(n-1) (in double
 * precision, as both databases compute it) falls between the sorted samples `lo` = floor and
 * `hi` = ceil; each is the smallest value whose running count exceeds its index. The caller
 * interpolates `lo + (pos - floor(pos)) * (hi - lo)`. The mean is the sum of the samples over n.
 */
export function releaseAggregatesByValueQuery(metric: string, f: FilterSpec, dialect: Dialect): SqlQuery {
  const p = new Params();
  const samples = samplesOf(p, metric, f, dialect);
  const position = (q: string, round: 'floor' | 'ceil') =>
    `${round}(cast(${q} as double precision) * cast(n - 1 as double precision))`;
  const text = `with by_value as (
      select artifact_name, value, count(*) as c, sum(value) as s
      from ${samples}
      group by artifact_name, value
    ), running as (
      select artifact_name, value, s,
        cast(sum(c) over (partition by artifact_name order by value
          rows between unbounded preceding and current row) as bigint) as upto,
        cast(sum(c) over (partition by artifact_name) as bigint) as n
      from by_value
    )
    select artifact_name as release,
      cast(max(n) as integer) as count,
      sum(s) / max(n) as mean,
      min(value) filter (where upto > ${position('0.5', 'floor')}) as p50_lo,
      min(value) filter (where upto > ${position('0.5', 'ceil')}) as p50_hi,
      min(value) filter (where upto > ${position('0.95', 'floor')}) as p95_lo,
      min(value) filter (where upto > ${position('0.95', 'ceil')}) as p95_hi,
      max(value) as max
    from running
    group by artifact_name
    order by artifact_name nulls last`;
  return { text, params: p.values };
}

/**
 * Count, mean, p50, p95, max and rate (the share of samples above 0) of one numeric field over all
 * the messages matching `f`, whatever their release: the figures of a cohort of devices.
 */
export function metricAggregateQuery(metric: string, f: FilterSpec, dialect: Dialect): SqlQuery {
  const p = new Params();
  const samples = samplesOf(p, metric, f, dialect);
  const text = `select cast(count(*) as integer) as count,
      avg(value) as mean,
      percentile_cont(array[0.5, 0.95]) within group (order by value) as percentiles,
      max(value) as max,
      avg(case when value > 0 then 1.0 else 0.0 end) as rate
    from ${samples}`;
  return { text, params: p.values };
}

/** How many messages the store holds. */
export const COUNT_MESSAGES = 'select cast(count(*) as integer) as n from telemetry_messages';
