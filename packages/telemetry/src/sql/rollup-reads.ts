/**
 * The SQL of the two reads of an aggregate over the rollups (the class histogram, the exact
 * refinement), as a {@link RollupPlan} splits a window between rollups and samples. One text for
 * DuckDB and PostgreSQL, as in `queries.ts`. How they fit together, and why the answers are exact:
 * `../rollups.ts`.
 */

import { type FilterSpec, Params, type SqlQuery } from './queries.js';
import { VALUE_CLASS } from './rollups.js';

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
