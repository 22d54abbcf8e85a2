import type { MetricAggregate, ReleaseAggregatesQuery } from './types.js';

/** The statistic a release gate reads (as the management client's gates name them). */
export type HealthStat = 'mean' | 'p95' | 'max' | 'rate';

/** A cohort query, as the management client's `ReleaseHealthSource.aggregate` receives it. */
export interface HealthQuery {
  metric: string;
  stat: HealthStat;
  /** Mender device ids. */
  devices: readonly string[];
  from: Date;
  to: Date;
}

/** Options of {@link releaseHealthSource}. */
export interface ReleaseHealthSourceOptions {
  /**
   * Maps Mender device ids to the ids the telemetry knows them by (the registry device ids). By
   * default they are the same.
   */
  deviceIdsOf?: (menderIds: readonly string[]) => Promise<readonly string[]>;
}

/**
 * A health source for the management client's gated rollouts (`rollout({ gates, health })`) over
 * a telemetry store or its HTTP client: the figure a gate asks for over a cohort's telemetry events
 * in a window, and how many samples it rests on. It matches the management client's
 * `ReleaseHealthSource` by shape, so neither package imports the other.
 *
 * @example
 * ```ts
 * const health = releaseHealthSource(new TelemetryHttpClient({ baseUrl }), { deviceIdsOf })
 * await mgmt.rollout({ artifactName, devices, phases, gates: [parseGate('cpu_temp:p95:+10%')], health })
 * ```
 */
export function releaseHealthSource(
  source: {
    aggregate(query: ReleaseAggregatesQuery, options?: { signal?: AbortSignal }): Promise<MetricAggregate>;
  },
  options: ReleaseHealthSourceOptions = {},
): {
  aggregate(
    query: HealthQuery,
    opts?: { signal?: AbortSignal },
  ): Promise<{ value: number | undefined; samples: number }>;
} {
  return {
    async aggregate(query, opts = {}) {
      const ids = options.deviceIdsOf ? await options.deviceIdsOf(query.devices) : query.devices;
      if (ids.length === 0) return { value: undefined, samples: 0 };
      const a = await source.aggregate(
        { metric: query.metric, deviceIds: ids, from: query.from, to: query.to, kind: 'event' },
        opts.signal ? { signal: opts.signal } : {},
      );
      const value = a[query.stat];
      return { value: value === null ? undefined : value, samples: a.count };
    },
  };
}
