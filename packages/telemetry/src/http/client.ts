/** A typed client of the read API ({@link telemetryApiPlugin}), on core's HttpClient. */

import { HttpClient, type HttpClientOptions, type QueryValue, type RequestOptions } from '@otakit/core';
import { toEpochMs } from '../message.js';
import type {
  LatestQuery,
  MessagesQuery,
  ReleaseAggregate,
  ReleaseAggregatesQuery,
  TelemetryFilter,
  TelemetryRecord,
} from '../types.js';
import { TELEMETRY_API_PATHS } from './api.js';

/** Options of {@link TelemetryHttpClient}: those of core's `HttpClient` (`baseUrl`, `dispatcher`, `auth`, …). */
export type TelemetryHttpClientOptions = HttpClientOptions;

function queryOf(
  f: TelemetryFilter & { limit?: number | undefined; metric?: string },
): Record<string, QueryValue> {
  const iso = (v: Date | string | number | undefined, what: string) =>
    v === undefined ? undefined : new Date(toEpochMs(v, what)).toISOString();
  return {
    device: f.deviceIds === undefined ? undefined : [...f.deviceIds],
    registry: f.registry,
    kind: f.kind,
    from: iso(f.from, 'from'),
    to: iso(f.to, 'to'),
    limit: f.limit,
    metric: f.metric,
  };
}

/**
 * Reads a telemetry store over HTTP: the sandbox's, or any process serving the read API.
 * Errors are core's typed errors (`BadRequestError` for a bad query, `ConnectionError`, …).
 *
 * @example
 * ```ts
 * const telemetry = new TelemetryHttpClient({ baseUrl: 'http://127.0.0.1:8086' })
 * const releases = await telemetry.releaseAggregates({ metric: 'cpu', from: new Date(Date.now() - 3600_000) })
 * await telemetry.close()
 * ```
 */
export class TelemetryHttpClient {
  readonly #http: HttpClient;

  constructor(options: TelemetryHttpClientOptions) {
    this.#http = new HttpClient(options);
  }

  /** The newest message of each device matching `query`. */
  async latest(query: LatestQuery = {}, options: RequestOptions = {}): Promise<TelemetryRecord[]> {
    const res = await this.#http.request<{ devices: TelemetryRecord[] }>({
      ...options,
      method: 'GET',
      path: TELEMETRY_API_PATHS.latest,
      query: queryOf(query),
    });
    return res.data.devices;
  }

  /** The newest messages matching `query`, newest first. */
  async messages(query: MessagesQuery = {}, options: RequestOptions = {}): Promise<TelemetryRecord[]> {
    const res = await this.#http.request<{ messages: TelemetryRecord[] }>({
      ...options,
      method: 'GET',
      path: TELEMETRY_API_PATHS.messages,
      query: queryOf(query),
    });
    return res.data.messages;
  }

  /** Count, mean, p50, p95, max of `query.metric` per release. */
  async releaseAggregates(
    query: ReleaseAggregatesQuery,
    options: RequestOptions = {},
  ): Promise<ReleaseAggregate[]> {
    const res = await this.#http.request<{ releases: ReleaseAggregate[] }>({
      ...options,
      method: 'GET',
      path: TELEMETRY_API_PATHS.releases,
      query: queryOf(query),
    });
    return res.data.releases;
  }

  /** Closes the connections the client opened (an injected dispatcher is left open). */
  close(): Promise<void> {
    return this.#http.close();
  }
}
