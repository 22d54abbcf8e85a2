/**
 * Bucket arithmetic of the rollups (see rollups.ts): which rollups and samples answer a window,
 * and runs of buckets. Pure functions of bucket numbers (5-minute buckets since the epoch).
 */

import type { FilterSpec } from './sql/queries.js';
import type { RollupPlan, TimeRange } from './sql/rollup-reads.js';
import { BUCKET_MS, bucketStart, HOUR_BUCKETS } from './sql/rollups.js';

/** The first bucket of the hour holding bucket `b` (also for buckets before the epoch). */
export function hourOf(b: number): number {
  return b - (((b % HOUR_BUCKETS) + HOUR_BUCKETS) % HOUR_BUCKETS);
}

/**
 * Which rollups and samples hold the window [fromMs, toMs): its whole hours from the hourly
 * rollups, the other whole buckets in [low, high) from the 5-minute ones (a dirty bucket from the
 * samples, and its hour from its 5-minute rollups), the rest from the samples. `partialMs`: bucket
 * `high` is rolled up to that time (the window holding all of it before that time, the bucket not
 * dirty): its 5-minute rollups answer for it too, and the samples from `partialMs` on.
 */
export function planOf(
  f: FilterSpec,
  fromMs: number | undefined,
  toMs: number | undefined,
  low: number,
  high: number,
  dirty: readonly number[],
  partialMs?: number,
): RollupPlan {
  const hourFrom = Math.ceil(low / HOUR_BUCKETS) * HOUR_BUCKETS;
  const hourTo = Math.floor(high / HOUR_BUCKETS) * HOUR_BUCKETS;
  const hasHours = hourFrom < hourTo;
  // The buckets read from rollups: [low, top).
  const top = partialMs === undefined ? high : high + 1;
  const rolledTo = partialMs ?? high * BUCKET_MS;
  const hoursExcept = hasHours
    ? [...new Set(dirty.filter((b) => b >= hourFrom && b < hourTo).map((b) => hourOf(b)))]
    : [];
  // 5-minute buckets: outside the whole hours, and inside the hours that hold a dirty bucket.
  const fineRanges: Array<[number, number]> = hasHours
    ? [
        [low, hourFrom],
        ...[...hoursExcept].sort((a, b) => a - b).map((h): [number, number] => [h, h + HOUR_BUCKETS]),
        [hourTo, top],
      ]
    : [[low, top]];
  const fine = without(fineRanges, dirty);
  const raw: TimeRange[] = [];
  if (fromMs === undefined || fromMs < low * BUCKET_MS) raw.push({ from: f.from, to: bucketStart(low) });
  for (const [a, b] of runs(dirty)) raw.push({ from: bucketStart(a), to: bucketStart(b) });
  if (toMs === undefined || toMs > rolledTo) raw.push({ from: new Date(rolledTo).toISOString(), to: f.to });
  return {
    hours: hasHours ? { from: hourFrom, to: hourTo } : undefined,
    hoursExcept,
    buckets: fine,
    valueBuckets: without([[low, top]], dirty),
    raw,
  };
}

/** Sorted, disjoint half-open ranges of buckets without the buckets of `holes`; empty ranges left out. */
export function without(
  ranges: ReadonlyArray<readonly [number, number]>,
  holes: readonly number[],
): Array<[number, number]> {
  const sorted = [...new Set(holes)].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (const [from, to] of ranges) {
    let start = from;
    for (const h of sorted) {
      if (h < start || h >= to) continue;
      if (h > start) out.push([start, h]);
      start = h + 1;
    }
    if (start < to) out.push([start, to]);
  }
  return out;
}

/** Sorted distinct bucket numbers as half-open runs of consecutive buckets. */
export function runs(buckets: readonly number[]): Array<[number, number]> {
  const sorted = [...new Set(buckets)].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (const b of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && last[1] === b) last[1] = b + 1;
    else out.push([b, b + 1]);
  }
  return out;
}
