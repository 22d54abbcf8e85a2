/**
 * The SQL of the rollups (migrations 4 and 5): time buckets and slices, value classes, the write
 * path's dirty-bucket record, building a range of received time, and the two reads of an aggregate over rollups (the class
 * histogram, the exact refinement). One text for DuckDB and PostgreSQL, as in `queries.ts`.
 * How they fit together, and why the answers are exact: `../rollups.ts`.
 */

import { type FilterSpec, Params, type SqlQuery } from './queries.js';

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

/** The time of the start of slice `s`, ISO 8601. */
export function sliceStart(s: number): string {
  return new Date(s * SLICE_MS).toISOString();
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

/** A half-open interval of received time, ISO 8601 (undefined: unbounded). */
export interface TimeRange {
  from: string | undefined;
  to: string | undefined;
}

/** How an aggregate reads the window: rollups of clean buckets plus samples of the rest. */
export interface RollupPlan {
  /** Whole clean hours [from, to) (first buckets, hour-aligned) read from the hourly rollups, but `hoursExcept`. */
  hours: { from: number; to: number } | undefined;
  hoursExcept: readonly number[];
  /** Runs of clean buckets [from, to) read from the 5-minute rollups. */
  buckets: ReadonlyArray<readonly [number, number]>;
  /** Runs of every clean bucket of the window (those of `hours` too): where the refinement reads the values. */
  valueBuckets: ReadonlyArray<readonly [number, number]>;
  /** Time ranges read from the samples. */
  raw: readonly TimeRange[];
}

/** The rollup rows a plan reads, as conditions (one per range: each an index range scan on PostgreSQL). */
function rollupRows(add: (v: unknown) => string, plan: RollupPlan): string[] {
  const any: string[] = [];
  if (plan.hours !== undefined) {
    const c = ['hourly', `bucket >= ${add(plan.hours.from)}`, `bucket < ${add(plan.hours.to)}`];
    if (plan.hoursExcept.length > 0)
      c.push(`bucket not in (${plan.hoursExcept.map((b) => add(b)).join(', ')})`);
    any.push(c.join(' and '));
  }
  for (const [from, to] of plan.buckets)
    any.push(`not hourly and bucket >= ${add(from)} and bucket < ${add(to)}`);
  return any;
}

function filterClauses(add: (v: unknown) => string, f: FilterSpec, metric: string, alias = ''): string[] {
  const c = [`${alias}name = ${add(metric)}`];
  if (f.registry !== undefined) c.push(`${alias}registry = ${add(f.registry)}`);
  if (f.kind !== undefined) c.push(`${alias}kind = ${add(f.kind)}`);
  return c;
}

function timeClauses(add: (v: unknown) => string, r: TimeRange, alias = ''): string[] {
  const c: string[] = [];
  if (r.from !== undefined) c.push(`${alias}received_at >= cast(${add(r.from)} as timestamptz)`);
  if (r.to !== undefined) c.push(`${alias}received_at < cast(${add(r.to)} as timestamptz)`);
  return c;
}

/** The time conditions of the plan's raw ranges, one per range (each an index range scan on PostgreSQL). */
function rawScans(add: (v: unknown) => string, plan: RollupPlan): string[] {
  return plan.raw.map((r) => {
    const c = timeClauses(add, r);
    return c.length === 0 ? '1 = 1' : c.join(' and ');
  });
}

/** The temporary table {@link stageRawQuery} fills. */
const STAGED_RAW = 'rollup_window_raw';

/**
 * DuckDB: the window's samples outside the rollups (the plan's raw ranges, in one scan: DuckDB has
 * no index to range over and would scan the table once per range and per query), with their
 * class, into a temporary table of the read's own connection, which the histogram and the
 * refinement then read.
 */
export function stageRawQuery(metric: string, f: FilterSpec, plan: RollupPlan): SqlQuery {
  const { params, add } = paramsOf();
  const ranges = rawScans(add, plan);
  const text = `create temp table ${STAGED_RAW} as
    select artifact_name, value, ${VALUE_CLASS} as value_class from telemetry_metrics
    where ${[...filterClauses(add, f, metric), `((${ranges.join(') or (')}))`].join(' and ')}`;
  return { text, params };
}

/** A parameter list and its `add` (see {@link Params}), for the clause builders above. */
function paramsOf(): { params: unknown[]; add: (v: unknown) => string } {
  const p = new Params();
  return { params: p.values, add: (v) => p.add(v) };
}

/**
 * Per release (or over all releases when `byRelease` is false) and value class: samples, sum,
 * least and greatest value, over the rollups of the plan's clean buckets and the samples of its
 * raw ranges.
 */
export function classHistogramQuery(
  metric: string,
  f: FilterSpec,
  plan: RollupPlan,
  byRelease: boolean,
  staged: boolean,
): SqlQuery {
  const { params, add } = paramsOf();
  const parts: string[] = [];
  for (const rows of rollupRows(add, plan)) {
    const rollupWhere = [...filterClauses(add, f, metric), rows];
    parts.push(
      `select artifact_name, value_class, n, s, mn, mx from telemetry_rollups where ${rollupWhere.join(' and ')}`,
    );
  }
  if (staged) {
    if (plan.raw.length > 0) {
      parts.push(`select artifact_name, value_class, count(*) as n, sum(value) as s, min(value) as mn, max(value) as mx
        from ${STAGED_RAW} group by artifact_name, value_class`);
    }
  } else {
    for (const r of rawScans(add, plan)) {
      const w = [...filterClauses(add, f, metric), r];
      parts.push(`select artifact_name, ${VALUE_CLASS} as value_class, count(*) as n, sum(value) as s,
          min(value) as mn, max(value) as mx
        from telemetry_metrics where ${w.join(' and ')}
        group by artifact_name, ${VALUE_CLASS}`);
    }
  }
  if (parts.length === 0) {
    parts.push(`select artifact_name, value_class, n, s, mn, mx from telemetry_rollups where 1 = 0`);
  }
  const release = byRelease ? 'artifact_name' : 'cast(null as varchar)';
  const text = `select ${release} as release, value_class, cast(sum(n) as bigint) as n, sum(s) as s,
      min(mn) as mn, max(mx) as mx
    from (${parts.join('\n    union all\n    ')}) p
    group by ${byRelease ? 'artifact_name, ' : ''}value_class
    order by ${byRelease ? 'artifact_name nulls last, ' : ''}value_class`;
  return { text, params };
}

/**
 * One value to find: the sample at 0-based `offset` in value order among the window's samples of
 * `release` (all releases when the read is not per release) in value class `valueClass`, whose
 * values in the window lie in [lo, hi].
 */
export interface Refinement {
  release: string | null;
  valueClass: number;
  lo: number;
  hi: number;
  offset: number;
}

/**
 * The samples at given offsets of value classes (one per {@link Refinement}, answered as `i`, its
 * index) among the window's samples as `plan` splits them: the values kept by the rollups of its
 * clean buckets (read through the (name, release, class, bucket) index on PostgreSQL), and the
 * samples of its raw ranges between the class's least and greatest value (read once, for all
 * refinements).
 */
export function refinementQuery(
  metric: string,
  f: FilterSpec,
  plan: RollupPlan,
  refinements: readonly Refinement[],
  byRelease: boolean,
  staged: boolean,
): SqlQuery {
  const { params, add } = paramsOf();
  const common = (alias = '') => filterClauses(add, f, metric, alias);
  // Only when there are raw parts: DuckDB refuses a parameter the text does not use.
  const ranges =
    plan.raw.length === 0 ? [] : refinements.map((r) => `(value >= ${add(r.lo)} and value <= ${add(r.hi)})`);
  const rawParts =
    staged && plan.raw.length > 0
      ? [`select artifact_name, value from ${STAGED_RAW} where ${ranges.join(' or ')}`]
      : staged
        ? []
        : rawScans(add, plan).map(
            (t) => `select artifact_name, value from telemetry_metrics
      where ${[...common(), t].join(' and ')} and (${ranges.join(' or ')})`,
          );
  const raw =
    rawParts.length === 0
      ? 'select cast(null as varchar) as artifact_name, cast(null as double precision) as value where 1 = 0'
      : rawParts.join('\n      union all\n      ');
  const bucketClauses = [
    plan.valueBuckets.length === 0
      ? '1 = 0'
      : `not hourly and (${plan.valueBuckets.map(([a, b]) => `(bucket >= ${add(a)} and bucket < ${add(b)})`).join(' or ')})`,
  ];
  if (staged) {
    // DuckDB: one scan of the rollups for every refinement, numbered per refinement.
    const wanted = refinements
      .map(
        (r, i) =>
          `(${i}, cast(${add(r.release)} as varchar), cast(${add(r.valueClass)} as integer), cast(${add(r.lo)} as double precision), cast(${add(r.hi)} as double precision), ${integer(r.offset)})`,
      )
      .join(', ');
    const sameRelease = (alias: string) =>
      byRelease ? ` and ${alias}.artifact_name is not distinct from w.release` : '';
    const classes = [...new Set(refinements.map((r) => r.valueClass))].map((c) => add(c)).join(', ');
    const text = `with raw as materialized (
        ${raw}
      ), wanted(i, release, value_class, lo, hi, k) as (values ${wanted}),
      cand as (
        select w.i, v.value from (
          select artifact_name, value_class, unnest(vals) as value from telemetry_rollups
          where ${[...common(), ...bucketClauses, `value_class in (${classes})`].join(' and ')}
        ) v join wanted w on v.value_class = w.value_class${sameRelease('v')}
        union all
        select w.i, x.value from raw x join wanted w on x.value >= w.lo and x.value <= w.hi${sameRelease('x')}
      )
      select t.i, t.value from (
        select i, value, row_number() over (partition by i order by value) as rn from cand
      ) t join wanted w on w.i = t.i where t.rn = w.k + 1`;
    return { text, params };
  }
  const parts = refinements.map((r, i) => {
    const release = byRelease
      ? [r.release === null ? 'artifact_name is null' : `artifact_name = ${add(r.release)}`]
      : [];
    return `select ${i} as i, value from (select value from (
        select unnest(vals) as value from telemetry_rollups
        where ${[...common(), ...release, `value_class = ${add(r.valueClass)}`, ...bucketClauses].join(' and ')}
        union all
        select value from raw where ${[...release, `value >= ${add(r.lo)}`, `value <= ${add(r.hi)}`].join(' and ')}
      ) c${i} order by value limit 1 offset ${integer(r.offset)}) r${i}`;
  });
  const text = `with raw as materialized (
      ${raw}
    )
    ${parts.join('\n    union all\n    ')}`;
  return { text, params };
}

/** A non-negative integer as SQL text (an offset: DuckDB wants a constant, not a parameter). */
function integer(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not an offset: ${n}`);
  return String(n);
}
