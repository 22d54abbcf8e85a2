/**
 * The SQL that keeps the rollups (migrations 4 and 5): time buckets and slices, value classes, the
 * watermarks, the write path's dirty-bucket record, and building a range of received time. The
 * two reads of an aggregate over them are in `rollup-reads.ts`. One text for DuckDB and
 * PostgreSQL, as in `queries.ts`.
 * How they fit together, and why the answers are exact: `../rollups.ts`.
 */

import { Params, type SqlQuery } from './queries.js';

/** Seconds of received time per bucket (the finer level; the coarser one is the hour). */
export const ROLLUP_BUCKET_SECONDS = 300;
/** Milliseconds per bucket. */
export const BUCKET_MS = ROLLUP_BUCKET_SECONDS * 1000;
/** Buckets per hour. */
export const HOUR_BUCKETS = 3600 / ROLLUP_BUCKET_SECONDS;
/**
 * Seconds of received time per slice: the unit of the watermarks. A roll-up adds the slices that
 * closed since the last one to the rollups of their bucket, so the open bucket is rolled up
 * too, all but its last slices (see `../rollups.ts`).
 */
export const SLICE_SECONDS = 10;
/** Milliseconds per slice. */
export const SLICE_MS = SLICE_SECONDS * 1000;
/** Slices per bucket (migration 5 multiplies the watermarks of migration 4 by it: keep them equal). */
export const BUCKET_SLICES = ROLLUP_BUCKET_SECONDS / SLICE_SECONDS;
/**
 * Slices a claim stays behind the current one: a row is stamped when it is accepted and written
 * a little later, and a row written into a claimed slice makes its whole bucket be built again
 * (see `markDirtyFrom`): the claim waits until the slice is at least this old.
 */
export const CLAIM_LAG_SLICES = 1;

/** Whole seconds since the epoch of a row's received time (see {@link BUCKET_OF_ROW}). */
const SECONDS_OF_ROW = `floor(date_part('epoch', received_at))`;

/**
 * A row's bucket: seconds since the epoch as a double (`date_part`, a double on both databases:
 * exact for whole seconds, and a time a microsecond before a whole second stays below it, doubles
 * near 2e9 being 2.4e-7 apart), whole seconds, then an integer division done in double precision
 * (exact: the quotient of two integers below 2^53 rounds to a double below the next integer when
 * the division is not whole). A row at a bucket's first microsecond is in it, one a microsecond
 * before is in the previous one, as the time ranges [start, next start) the reads use.
 */
export const BUCKET_OF_ROW = `cast(floor(${SECONDS_OF_ROW} / ${ROLLUP_BUCKET_SECONDS}) as bigint)`;

/** A row's slice, as {@link BUCKET_OF_ROW} computes its bucket. */
export const SLICE_OF_ROW = `cast(floor(${SECONDS_OF_ROW} / ${SLICE_SECONDS}) as bigint)`;

/**
 * A value's class: 0 for zero, else about 1 % of relative width on a log scale, signed with the
 * value (classes are ordered as their values are). Only speed depends on it: the reads check that
 * the classes they got hold disjoint, ordered value ranges, and answer from the samples otherwise.
 */
export const VALUE_CLASS = `cast(case when value > 0 then 200000 + floor(ln(value) * 100)
  when value < 0 then -200000 - floor(ln(-value) * 100) else 0 end as integer)`;

/** Whole seconds since the epoch of a row stored at `receivedAtMs` (stored to the microsecond, as the backends round it). */
function secondsOfMs(receivedAtMs: number): number {
  return Math.floor(Math.round(receivedAtMs * 1000) / 1e6);
}

/**
 * The bucket {@link BUCKET_OF_ROW} gives a row stored at `receivedAtMs`, computed here for a
 * writer that knows the claimed watermark.
 */
export function bucketOfMs(receivedAtMs: number): number {
  return Math.floor(secondsOfMs(receivedAtMs) / ROLLUP_BUCKET_SECONDS);
}

/** The slice {@link SLICE_OF_ROW} gives a row stored at `receivedAtMs`. */
export function sliceOfMs(receivedAtMs: number): number {
  return Math.floor(secondsOfMs(receivedAtMs) / SLICE_SECONDS);
}

/** The claimed watermark, a slice number (writers mark the buckets of rows below it dirty). */
export const CLAIMED_WATERMARK = 'select watermark from telemetry_rollup_state where id = 1';

/** The dirty record of the write path: the bucket of every row of `source` in a slice below the claimed watermark. */
export function markDirtyFrom(source: string): string {
  return `insert into telemetry_rollup_dirty (bucket)
    select distinct ${BUCKET_OF_ROW} from ${source}
    where ${SLICE_OF_ROW} < (${CLAIMED_WATERMARK})`;
}

/** The watermarks and whether any bucket is marked dirty. */
export const ROLLUP_STATE = `select (${CLAIMED_WATERMARK}) as claimed,
  (select watermark from telemetry_rollup_state where id = 2) as rolled,
  (select count(*) from (select 1 from telemetry_rollup_dirty limit 1) d) as dirty`;

/** Raises the claimed watermark to `$1` (never lowers it). */
export const CLAIM = 'update telemetry_rollup_state set watermark = $1 where id = 1 and watermark < $1';

/** Sets the rolled watermark. */
export const SET_ROLLED = 'update telemetry_rollup_state set watermark = $1 where id = 2';

/** The distinct dirty buckets. */
export const DIRTY_BUCKETS = 'select distinct bucket from telemetry_rollup_dirty order by bucket';

/** The time of the start of bucket `b`, ISO 8601. */
export function bucketStart(b: number): string {
  return new Date(b * BUCKET_MS).toISOString();
}

/** Removes the rollups of one level whose bucket is in [from, to), before they are (re)built. */
export function deleteRollups(from: number, to: number, hourly: boolean): SqlQuery {
  return {
    text: `delete from telemetry_rollups where ${hourly ? '' : 'not '}hourly and bucket >= $1 and bucket < $2`,
    params: [from, to],
  };
}

/**
 * PostgreSQL: the field names of the samples, one index probe each (the (name, time) index walked
 * name by name: PostgreSQL has no skip scan), so that a build of a short time range reads that
 * range of each field from the index instead of scanning the whole table (no index leads with
 * the time: each would slow every write).
 */
const FIELD_NAMES = `with recursive field_names(field) as (
    select min(name) from telemetry_metrics
    union all
    select (select min(m.name) from telemetry_metrics m where m.name > f.field) from field_names f
    where f.field is not null
  )`;

/**
 * Adds to the 5-minute rollups the samples received in [from, to) (ISO 8601), keeping the values
 * (for the refinement): one row per field, release, registry, kind, bucket and class of the range.
 * A bucket that already has rollups keeps them: the new rows count the samples of the range only,
 * and the reads sum every row of a bucket and class. `byField`: field by field (a lateral join on
 * {@link FIELD_NAMES}: each an index range scan; `offset 0` keeps PostgreSQL from flattening it
 * into a join it may answer with a scan of the whole table), for a short range on PostgreSQL.
 */
export function buildRollups(from: string, to: string, byField: boolean): SqlQuery {
  const range = 'received_at >= cast($1 as timestamptz) and received_at < cast($2 as timestamptz)';
  const source = byField
    ? `field_names f cross join lateral (
        select name, artifact_name, registry, kind, received_at, value from telemetry_metrics
        where name = f.field and ${range} offset 0) m
      where f.field is not null`
    : `telemetry_metrics where ${range}`;
  const text = `${byField ? FIELD_NAMES : ''}
    insert into telemetry_rollups (name, artifact_name, registry, kind, hourly, bucket, value_class, n, s, mn, mx, vals)
    select name, artifact_name, registry, kind, false, ${BUCKET_OF_ROW}, ${VALUE_CLASS},
      count(*), sum(value), min(value), max(value), array_agg(value)
    from ${source}
    group by name, artifact_name, registry, kind, ${BUCKET_OF_ROW}, ${VALUE_CLASS}
    order by ${BUCKET_OF_ROW}`;
  return { text, params: [from, to] };
}

/**
 * Builds the hourly rollups of the hours in buckets [from, to) (hour-aligned) from their 5-minute
 * rollups, which must be exact in the same snapshot (without the values: the refinement reads
 * those from the 5-minute rows).
 */
export function buildHourRollups(from: number, to: number): SqlQuery {
  const hour = `cast(floor(cast(bucket as double precision) / ${HOUR_BUCKETS}) as bigint) * ${HOUR_BUCKETS}`;
  const text = `insert into telemetry_rollups (name, artifact_name, registry, kind, hourly, bucket, value_class, n, s, mn, mx, vals)
    select name, artifact_name, registry, kind, true, ${hour}, value_class,
      sum(n), sum(s), min(mn), max(mx), cast(null as double precision[])
    from telemetry_rollups
    where not hourly and bucket >= $1 and bucket < $2
    group by name, artifact_name, registry, kind, ${hour}, value_class
    order by ${hour}`;
  return { text, params: [from, to] };
}

/** Removes the dirty records of `buckets` that this transaction's snapshot sees (and no later one). */
export function clearDirty(buckets: readonly number[]): SqlQuery {
  const p = new Params();
  return {
    text: `delete from telemetry_rollup_dirty where bucket in (${p.list(buckets)})`,
    params: p.values,
  };
}
