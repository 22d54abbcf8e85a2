/**
 * The options of {@link openTelemetryStore}, their defaults and their checks.
 *
 * @module
 */

import { availableParallelism } from 'node:os';
import { TelemetryValidationError } from './errors.js';
import type { MessageLimits } from './message.js';

/** Options of {@link openTelemetryStore}. */
export interface TelemetryStoreOptions {
  /**
   * Most messages accepted but not yet stored (default 10,000). Past it, `append` rejects with
   * {@link TelemetryBackpressureError} at once instead of buffering.
   */
  maxQueued?: number;
  /** Most messages written in one transaction (default 1000). */
  maxBatch?: number;
  /** Per-message limits (payload size, numeric fields extracted). */
  limits?: Partial<MessageLimits>;
  /** PostgreSQL only: connections in the pool (default 4). */
  maxConnections?: number;
  /**
   * DuckDB only: the most memory DuckDB's buffer manager may hold, in DuckDB's notation (`'256MB'`,
   * `'2GB'`); default DuckDB's own, 80 % of the machine's RAM. Measured (1,000,000 messages written
   * to a file store, then aggregated per release): the process peaked at ~700 MiB by default and
   * ~490 MiB with `'256MB'`. A value DuckDB does not accept fails the open with
   * {@link TelemetryOpenError}; a limit too small for a write fails that write with
   * {@link TelemetryWriteError}.
   */
  duckdbMemoryLimit?: string;
  /**
   * DuckDB only: the threads DuckDB runs queries and writes on; default one per core but one
   * ({@link defaultDuckDbThreads}), at least 1, leaving a core to the process's event loop (the
   * broker, the ingest endpoints, the HTTP API), where DuckDB's own default is one per core.
   * Measured on a 2-core machine where the broker, its 1,000 simulated devices and the store share
   * the cores (`pnpm bench telemetry`, paired runs): with 1 thread instead of DuckDB's 2, ingest
   * through the broker rose 6 to 34 % with the staged writes and 5 to 7 % with the direct ones
   * (10,635 and 11,808 against 9,953 and 11,230 msg/s), the server using less CPU per message;
   * whole-day aggregates over 1,000,000 messages were slower (p95 69 and 93 against 59 and 57 ms,
   * the same runs). A store that mostly answers large queries on a machine of its own may give
   * every core (`os.availableParallelism()`).
   */
  duckdbThreads?: number;
  /**
   * How often the store rolls up the received time that closed (10-second slices, see
   * {@link TelemetryStore.rollUp}), in ms; default 60,000, `0` never (reads then roll up what closed since the last roll-up
   * themselves, and the first read after a long quiet spell or a bulk load pays for it: 1,000,000
   * backdated messages took ~13 s on PostgreSQL and ~1.6 s on DuckDB). The timer does not keep
   * the process alive; a failed roll-up is retried at the next tick (and by the next read).
   */
  rollUpIntervalMs?: number;
}

/**
 * The DuckDB store's threads when `duckdbThreads` is not given: one per core but one, at least 1
 * (see {@link TelemetryStoreOptions.duckdbThreads}).
 */
export function defaultDuckDbThreads(cores: number = availableParallelism()): number {
  return Math.max(1, cores - 1);
}

/** How often a store rolls up closed buckets by default. */
export const DEFAULT_ROLL_UP_INTERVAL_MS = 60_000;

/**
 * `value`, or `fallback` when it is not given; a {@link TelemetryValidationError} when it is not a
 * positive integer.
 */
export function positive(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new TelemetryValidationError(`${what} must be a positive integer`);
  return value;
}
