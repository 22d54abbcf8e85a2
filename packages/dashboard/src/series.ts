/** Per-release metric series, bucketed from telemetry messages for the page's chart. */

import type { TelemetryRow, TelemetrySource } from './sources.js';

/** A metric over time for one release: bucket start times and the mean in each (null: no sample). */
export interface ReleaseSeries {
  release: string;
  metric: string;
  /** Bucket width in seconds. */
  bucketSeconds: number;
  /** Bucket start times, seconds since the epoch (uPlot's x values). */
  times: number[];
  /** The metric's mean per bucket. */
  mean: (number | null)[];
  /** Samples per bucket. */
  count: number[];
}

/** Options of {@link releaseSeries}. */
export interface SeriesOptions {
  /** How far back, in seconds (default 3600). */
  windowSeconds?: number;
  /** Buckets across the window (default 60). */
  buckets?: number;
  /** The end of the window (default now). */
  now?: number;
}

/** Most messages read for one series (the store's own cap on `messages()`). */
export const SERIES_MESSAGE_LIMIT = 10_000;

/** Buckets rows of one release into a {@link ReleaseSeries}. */
export function bucketSeries(
  rows: readonly TelemetryRow[],
  release: string,
  metric: string,
  options: SeriesOptions = {},
): ReleaseSeries {
  const windowSeconds = options.windowSeconds ?? 3600;
  const buckets = options.buckets ?? 60;
  const bucketSeconds = Math.max(1, Math.ceil(windowSeconds / buckets));
  const end = Math.ceil((options.now ?? Date.now()) / 1000 / bucketSeconds) * bucketSeconds;
  const start = end - buckets * bucketSeconds;
  const sum = new Array<number>(buckets).fill(0);
  const count = new Array<number>(buckets).fill(0);
  for (const r of rows) {
    if (r.artifactName !== release) continue;
    const v = r.metrics[metric];
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    const t = Date.parse(r.receivedAt) / 1000;
    const i = Math.floor((t - start) / bucketSeconds);
    if (i < 0 || i >= buckets) continue;
    sum[i] = (sum[i] ?? 0) + v;
    count[i] = (count[i] ?? 0) + 1;
  }
  return {
    release,
    metric,
    bucketSeconds,
    times: count.map((_, i) => start + i * bucketSeconds),
    mean: count.map((n, i) => (n === 0 ? null : (sum[i] ?? 0) / n)),
    count,
  };
}

/** Reads the window's telemetry (the newest {@link SERIES_MESSAGE_LIMIT} messages) and buckets it. */
export async function releaseSeries(
  telemetry: TelemetrySource,
  release: string,
  metric: string,
  options: SeriesOptions = {},
): Promise<ReleaseSeries> {
  const now = options.now ?? Date.now();
  const windowSeconds = options.windowSeconds ?? 3600;
  const rows = await telemetry.messages({
    from: new Date(now - windowSeconds * 1000),
    limit: SERIES_MESSAGE_LIMIT,
  });
  return bucketSeries(rows, release, metric, { ...options, now });
}
