/**
 * Pre-aggregated rollups of received time, and exact aggregates read from them.
 *
 * ## What is stored (migrations 4 and 5)
 * `telemetry_rollups` holds, per field, release, registry, kind, bucket and value class (~1 % of
 * relative width on a log scale, zero its own class, signed), the number of samples, their sum,
 * least and greatest value, at two levels: 5-minute buckets, which also keep the values themselves
 * (for the exact refinement below), and whole hours (built from their twelve 5-minute rollups).
 * A 5-minute bucket may have several rows per key: each roll-up adds the slices (10 seconds) that
 * closed since the last one, as rows of their own; the reads and the hours sum them. Two
 * watermarks (slice numbers) in `telemetry_rollup_state`: `claimed` (writers record the bucket
 * of every row in a slice below it that they add, in `telemetry_rollup_dirty`, in the same
 * statement as the rows) and `rolled` (the invariant: the 5-minute rollups of a bucket not
 * listed dirty count exactly its samples received before the start of slice `rolled`; an hour
 * whose last slice is below it has its hourly rollup, equal to its twelve buckets' unless one is
 * dirty).
 *
 * ## Building (lazily, by the reads, and on the store's timer: {@link Rollups.roll})
 * 1. Raise `claimed` to the slice {@link CLAIM_LAG_SLICES} before the current one (a row is stamped
 *    when accepted and written a little later: a row stamped in a claimed slice makes its bucket
 *    be built again) in a transaction that excludes writers (`Backend.excludingWriters`: on
 *    PostgreSQL the exclusive side of an advisory lock every write transaction holds shared, taken
 *    by a statement before its insert).
 * 2. In one snapshot (PostgreSQL `repeatable read`), holding the roller lock taken *before* the
 *    snapshot: add the samples of the slices [rolled, claimed) to the 5-minute rollups of their
 *    buckets; delete every rollup of each dirty bucket that had rollups before (it starts below
 *    `rolled`) and build it again from its samples below `claimed`; then (from those 5-minute
 *    rollups, exact in this snapshot) the hours completed by this roll and the complete hours
 *    holding a dirty bucket; delete the dirty records this snapshot sees, set `rolled = claimed`.
 *
 * Why no row is ever missed or counted twice, whatever the timing (PostgreSQL, READ COMMITTED
 * writers): take a row R of slice S and bucket B committed by writer W. Step 1 waits for every
 * write transaction holding the shared lock, and a write taking it later waits for step 1's commit
 * and then starts its insert, whose snapshot therefore sees the raised `claimed`. So either W
 * committed before the step 1 that raised `claimed` above S committed (then R is in the snapshot
 * of every roller that adds S, which happens after), or W saw `claimed` > S and recorded B dirty in
 * R's transaction. In the second case, a roller's snapshot either sees R (and then counts it:
 * adding S, or building B again, as B is then dirty in that snapshot) or does not see W's commit
 * at all, hence neither R nor W's dirty record, which it therefore does not delete (a snapshot's
 * delete touches only rows it sees): B stays dirty until a roller whose snapshot sees R builds it
 * again. A roller adds each slice once (the next starts from the `rolled` this one committed,
 * rollers being serialised by a lock taken before their snapshot), and building a bucket again
 * deletes all of its rollups first, those just added included. A read takes one snapshot for all
 * its statements: in it, every bucket not dirty has 5-minute rollups equal to its samples before
 * `rolled`, an hour holding no dirty bucket and wholly below `rolled` has an hourly rollup equal to
 * its twelve 5-minute ones, and the rest is read from the samples. On DuckDB (one process) the
 * writes and step 1 take turns in JavaScript, a flag stands for the roller lock, and a
 * transaction is a snapshot.
 *
 * Adding a few slices reads them through the (name, time) index on PostgreSQL, field by field
 * (see `buildRollups`): no index leads with the time, and a scan of the whole table each time
 * would make the roll-ups of a busy store cost more than the reads they save.
 *
 * ## Reading (exact)
 * The window [from, to) is its clean whole hours (hourly rollups), its other clean whole 5-minute
 * buckets (5-minute rollups), the bucket of slice `rolled` up to that slice when the window holds
 * all of that and it is clean (its 5-minute rollups), and the samples of the rest: the partial edge
 * buckets, the slices not rolled yet (the last 10 to 20 seconds, besides any the timer and the
 * reads have not reached) and the dirty buckets. A window that ends inside the bucket of slice
 * `rolled` but before that slice gets none of that bucket from its rollups (they hold samples
 * after the window's end, and a rollup row does not say which slices it came from): that
 * bucket's samples up to the window's end are read, up to 5 minutes of them (measured on
 * PostgreSQL with the ~180,000 messages of the bench's ingest in that bucket: ~55 ms for each of
 * the read's two statements, against ~10 ms when the window reaches the present). Per release and
 * value class, count, sum, least and greatest value. count and max are exact; the mean is the sum
 * of the class sums over the count (the same samples as `avg`, summed in another order: it may
 * differ from `avg` in the last bits). For the percentiles, `percentile_cont` needs the sorted
 * samples at ranks floor and ceil of q*(n-1) (see `releaseAggregatesByValueQuery`): the running
 * count over the classes, in class order, gives the class holding a rank and the offset in it. If
 * that class's least and greatest value are equal, that is the value; otherwise one query reads
 * the value at that offset among the class's values: those its 5-minute rollups keep in the
 * window's clean buckets, and the window's other samples between the class's least and greatest
 * value (so no index by value is needed on the samples). That is exact when the
 * classes' value ranges are disjoint and ordered as the classes are, which the read checks (so that
 * nothing rests on how the two databases round a logarithm): when they are not, it answers from
 * the samples alone.
 *
 * ## When
 * A read uses the rollups when it has no device set and its window holds at least
 * {@link MIN_ROLLUP_BUCKETS} whole rolled 5-minute buckets (an hour); otherwise it reads at most
 * about an hour of samples (or is filtered by device, which rollups do not keep), which the
 * samples' indexes answer about as fast as the rollups would. Measured over 1M messages a day
 * (bench/telemetry.bench.ts): the hour of 100 devices stays on the samples.
 *
 * The mean: the sum of the per-class sums over the count, so it may differ from `avg` over the
 * same samples in the last bits (the tests bound it at 1e-12 of the samples' mean magnitude);
 * count, max and the percentiles are exact to the bit.
 */

import type { Backend, Querier } from './backends/backend.js';
import { hourOf, planOf, runs } from './rollup-plan.js';
import { type Group, refine, toGroups } from './rollup-refine.js';
import type { Dialect } from './sql/migrations.js';
import type { FilterSpec } from './sql/queries.js';
import { classHistogramQuery, stageRawQuery } from './sql/rollup-reads.js';
import {
  BUCKET_MS,
  BUCKET_SLICES,
  buildHourRollups,
  buildRollups,
  CLAIM,
  CLAIM_LAG_SLICES,
  clearDirty,
  DIRTY_BUCKETS,
  deleteRollups,
  HOUR_BUCKETS,
  ROLLUP_STATE,
  SET_ROLLED,
  SLICE_MS,
} from './sql/rollups.js';
import type { MetricAggregate, ReleaseAggregate } from './types.js';

/** Whole rolled buckets a window needs for a read through the rollups. */
export const MIN_ROLLUP_BUCKETS = HOUR_BUCKETS;

/** Buckets built by one roll past which PostgreSQL's statistics of the rollups are refreshed. */
const LARGE_ROLL = 2 * HOUR_BUCKETS;

/** Most parameters of one statement listing buckets. */
const MAX_LIST = 1000;

/** @internal The rollups of one store. */
export class Rollups {
  readonly #backend: Backend;
  readonly #now: () => number;

  constructor(backend: Backend, now: () => number = Date.now) {
    this.#backend = backend;
    this.#now = now;
  }

  /**
   * Rolls up what is closed and pending: raises `claimed` to the slice {@link CLAIM_LAG_SLICES}
   * before the current one, adds the slices below it to the rollups, rebuilds the dirty buckets.
   * Returns at once when another roller runs (a read then reads the samples of what is not rolled).
   */
  async roll(): Promise<void> {
    const claimTo = Math.floor(this.#now() / SLICE_MS) - CLAIM_LAG_SLICES;
    const [state] = await this.#backend.query(ROLLUP_STATE, []);
    const claimed = Number(state?.claimed);
    if (claimed < claimTo) await this.#backend.excludingWriters((q) => q(CLAIM, [claimTo]));
    else if (Number(state?.rolled) >= claimed && Number(state?.dirty) === 0) return;
    const dialect = this.#backend.dialect;
    await this.#backend.inSnapshot(async (q) => {
      const [s] = await q(ROLLUP_STATE);
      const claimedNow = Number(s?.claimed);
      const rolled = Number(s?.rolled);
      const dirty = (await q(DIRTY_BUCKETS)).map((r) => Number(r.bucket));
      // The slices [rolled, claimedNow), added to the rollups of their buckets.
      if (rolled < claimedNow) await build(q, dialect, rolled * SLICE_MS, claimedNow * SLICE_MS);
      // A dirty bucket that had rollups before this roll (one starting at or above `rolled` was
      // just built whole from this same snapshot): all its rollups deleted (those just added
      // too), then built again from its samples up to the new watermark.
      const stale = dirty.filter((b) => b * BUCKET_SLICES < rolled);
      for (const [from, to] of runs(stale)) {
        const d = deleteRollups(from, to, false);
        await q(d.text, d.params);
        await build(q, dialect, from * BUCKET_MS, Math.min(to * BUCKET_MS, claimedNow * SLICE_MS));
      }
      // Hours completed by this roll, and complete hours holding a dirty bucket.
      const complete = (h: number) => (h + HOUR_BUCKETS) * BUCKET_SLICES <= claimedNow;
      const hours = new Set<number>();
      for (let h = hourOf(Math.floor(rolled / BUCKET_SLICES)); complete(h); h += HOUR_BUCKETS) hours.add(h);
      for (const b of dirty) if (complete(hourOf(b))) hours.add(hourOf(b));
      const hourRuns = runs([...hours].map((h) => h / HOUR_BUCKETS));
      // From the 5-minute rollups, all exact in this snapshot now.
      for (const [from, to] of hourRuns) await buildHours(q, from * HOUR_BUCKETS, to * HOUR_BUCKETS);
      for (let i = 0; i < dirty.length; i += MAX_LIST) {
        const c = clearDirty(dirty.slice(i, i + MAX_LIST));
        await q(c.text, c.params);
      }
      if (rolled < claimedNow) await q(SET_ROLLED, [claimedNow]);
      // PostgreSQL plans the reads from the table's statistics: after a large build (the first
      // roll-up of a store, or after a bulk load) they are stale until autovacuum analyzes the
      // table, and a read then scans every rollup instead of its range (measured: a day's read
      // ~150 ms against ~25 ms).
      if (dialect === 'postgres' && (claimedNow - rolled) / BUCKET_SLICES + stale.length > LARGE_ROLL) {
        await q('analyze telemetry_rollups');
      }
    }, true);
  }

  /**
   * {@link TelemetryStore.releaseAggregates} through the rollups; undefined when the cost rule
   * (see the module's comment) or the class check sends the read to the samples.
   */
  async releaseAggregates(metric: string, f: FilterSpec): Promise<ReleaseAggregate[] | undefined> {
    const groups = await this.#read(metric, f, true);
    return groups?.map((g) => ({
      release: g.release,
      count: g.n,
      mean: g.sum / g.n,
      p50: g.p[0] as number,
      p95: g.p[1] as number,
      max: g.max,
    }));
  }

  /** {@link TelemetryStore.aggregate} through the rollups; undefined as for {@link releaseAggregates}. */
  async aggregate(metric: string, f: FilterSpec): Promise<MetricAggregate | undefined> {
    const groups = await this.#read(metric, f, false);
    if (groups === undefined) return undefined;
    const g = groups[0];
    if (g === undefined) return { count: 0, mean: null, p50: null, p95: null, max: null, rate: null };
    return {
      count: g.n,
      mean: g.sum / g.n,
      p50: g.p[0] as number,
      p95: g.p[1] as number,
      max: g.max,
      rate: g.positive / g.n,
    };
  }

  async #read(
    metric: string,
    f: FilterSpec,
    byRelease: boolean,
  ): Promise<Array<Group & { p: number[]; max: number }> | undefined> {
    if (f.deviceIds !== undefined) return undefined;
    const fromMs = f.from === undefined ? undefined : Date.parse(f.from);
    const toMs = f.to === undefined ? undefined : Date.parse(f.to);
    // Rollups start at the epoch (the first roll builds from bucket 0).
    const low = fromMs === undefined ? 0 : Math.max(0, Math.ceil(fromMs / BUCKET_MS));
    const highWanted = toMs === undefined ? Number.POSITIVE_INFINITY : Math.floor(toMs / BUCKET_MS);
    // Whether the window could hold enough whole buckets at all (before any work).
    if (highWanted - low < MIN_ROLLUP_BUCKETS) return undefined;
    await this.roll();
    return await this.#backend.inSnapshot(async (q) => {
      const [state] = await q(ROLLUP_STATE);
      const rolled = Number(state?.rolled);
      // Whole buckets rolled up, and the bucket `rolled` is in, rolled up to its slice.
      const whole = Math.floor(rolled / BUCKET_SLICES);
      const high = Math.min(whole, highWanted);
      if (high - low < MIN_ROLLUP_BUCKETS) return undefined;
      const dirty = (await q(DIRTY_BUCKETS))
        .map((r) => Number(r.bucket))
        .filter((b) => b >= low && b <= high);
      if (dirty.length > MAX_LIST) return undefined;
      // That bucket's rollups hold its samples before `rolledMs`: they answer for it when the
      // window holds all of that, and it is not dirty; the samples from `rolledMs` on are read.
      const rolledMs = rolled * SLICE_MS;
      const partial =
        high === whole &&
        rolledMs > whole * BUCKET_MS &&
        (toMs === undefined || toMs >= rolledMs) &&
        !dirty.includes(whole)
          ? rolledMs
          : undefined;
      const plan = planOf(
        f,
        fromMs,
        toMs,
        low,
        high,
        dirty.filter((b) => b < high),
        partial,
      );
      const staged = this.#backend.dialect === 'duckdb';
      if (staged && plan.raw.length > 0) {
        const r = stageRawQuery(metric, f, plan);
        await q(r.text, r.params);
      }
      const h = classHistogramQuery(metric, f, plan, byRelease, staged);
      const groups = toGroups(await q(h.text, h.params));
      if (groups === undefined) return undefined;
      return await refine(q, metric, f, plan, groups, byRelease, this.#backend.dialect, staged);
    });
  }
}

/** Shortest time range built without {@link buildRollups}' index walk on PostgreSQL (see there). */
const LONG_BUILD_MS = 6 * 3_600_000;

/** Adds the 5-minute rollups of the samples received in [fromMs, toMs). */
async function build(q: Querier, dialect: Dialect, fromMs: number, toMs: number): Promise<void> {
  const byField = dialect === 'postgres' && toMs - fromMs < LONG_BUILD_MS;
  const b = buildRollups(new Date(fromMs).toISOString(), new Date(toMs).toISOString(), byField);
  await q(b.text, b.params);
}

/** Deletes and builds the hourly rollups of the hours in buckets [from, to). */
async function buildHours(q: Querier, from: number, to: number): Promise<void> {
  const d = deleteRollups(from, to, true);
  await q(d.text, d.params);
  const b = buildHourRollups(from, to);
  await q(b.text, b.params);
}
