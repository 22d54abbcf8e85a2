/**
 * The telemetry store: opening a target (DuckDB or PostgreSQL) and the store's public API. Writes go
 * through the bounded queue of `ingest-queue.ts`; reads build their SQL in `sql/queries.ts` and
 * shape its rows in `reads.ts`. Open one with {@link openTelemetryStore}.
 */

import { mkdirSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { redactUrl } from '@otakit/core';
import type { Backend } from './backends/backend.js';
import {
  TelemetryClosedError,
  TelemetryError,
  TelemetryOpenError,
  TelemetryQueryError,
  TelemetryValidationError,
} from './errors.js';
import { errorText, IngestQueue } from './ingest-queue.js';
import { DEFAULT_MESSAGE_LIMITS, type TelemetryMessage } from './message.js';
import {
  DEFAULT_ROLL_UP_INTERVAL_MS,
  defaultDuckDbThreads,
  positive,
  type TelemetryStoreOptions,
} from './options.js';
import {
  filterSpec,
  limitOf,
  metricOf,
  toMetricAggregate,
  toRecord,
  toReleaseAggregate,
  toReleaseAggregateByValue,
} from './reads.js';
import { Rollups } from './rollups.js';
import type { Dialect } from './sql/migrations.js';
import {
  COUNT_MESSAGES,
  cardinalityProbeQuery,
  type FilterSpec,
  latestPerDeviceQuery,
  messagesQuery,
  metricAggregateQuery,
  PROBE_SAMPLES,
  releaseAggregatesByValueQuery,
  releaseAggregatesQuery,
} from './sql/queries.js';
import type {
  AppendResult,
  LatestQuery,
  MessagesQuery,
  MetricAggregate,
  ReleaseAggregate,
  ReleaseAggregatesQuery,
  TelemetryRecord,
} from './types.js';

/** The file a directory target stores into. */
export const DUCKDB_FILE_NAME = 'telemetry.duckdb';

/**
 * Opens a telemetry store and brings its schema up to date.
 *
 * - `':memory:'`: DuckDB in memory (gone when closed);
 * - `'postgres://…'` or `'postgresql://…'`: a PostgreSQL server (shared by several processes);
 * - a path ending in `.duckdb` or `.db`: that DuckDB file;
 * - any other path: a directory (created if missing) holding `telemetry.duckdb`.
 *
 * Rejects with {@link TelemetryOpenError} when the target cannot be opened.
 *
 * @example
 * ```ts
 * const store = await openTelemetryStore('./data')
 * await store.append({ id: 'm1', deviceId: 'pi-1', registry, kind: 'event', payload: '{"cpu":0.4}' })
 * console.log(await store.releaseAggregates({ metric: 'cpu' }))
 * await store.close()
 * ```
 */
export async function openTelemetryStore(
  target: string,
  options: TelemetryStoreOptions = {},
): Promise<TelemetryStore> {
  let backend: Backend;
  const isPostgres = /^postgres(ql)?:\/\//i.test(target);
  const where = isPostgres ? redactUrl(target) : target;
  try {
    if (isPostgres) {
      const { PostgresBackend } = await import('./backends/postgres.js');
      backend = await PostgresBackend.open(target, options.maxConnections);
    } else {
      const { DuckDbBackend } = await import('./backends/duckdb.js');
      backend = await DuckDbBackend.open(
        duckDbPath(target),
        options.duckdbMemoryLimit,
        positive(options.duckdbThreads, defaultDuckDbThreads(), 'duckdbThreads'),
      );
    }
  } catch (err) {
    if (err instanceof TelemetryError) throw err;
    throw new TelemetryOpenError(`cannot open the telemetry store at ${where}: ${messageOf(err, target)}`, {
      cause: err,
    });
  }
  try {
    await backend.migrate();
  } catch (err) {
    await backend.close().catch(() => undefined);
    throw new TelemetryOpenError(
      `cannot migrate the telemetry store at ${where}: ${messageOf(err, target)}`,
      {
        cause: err,
      },
    );
  }
  try {
    return new TelemetryStore(backend, where, options);
  } catch (err) {
    // An option out of range: the database opened for nothing is closed again.
    await backend.close().catch(() => undefined);
    throw err;
  }
}

/** The DuckDB path of a non-PostgreSQL target. */
function duckDbPath(target: string): string {
  if (target === ':memory:') return target;
  if (target === '') throw new TelemetryValidationError('the telemetry store target is empty');
  const path = resolve(target);
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    isDir = !['.duckdb', '.db'].includes(extname(path));
    if (isDir) mkdirSync(path, { recursive: true });
  }
  return isDir ? join(path, DUCKDB_FILE_NAME) : path;
}

/** An error's message with the target's password (if any) taken out. */
function messageOf(err: unknown, target: string): string {
  let text = err instanceof Error ? err.message : String(err);
  try {
    const password = new URL(target).password;
    if (password) text = text.replaceAll(decodeURIComponent(password), '***').replaceAll(password, '***');
  } catch {
    // not a URL
  }
  return text;
}

/**
 * A telemetry store. Appends go through a bounded queue and are written in batches, one
 * transaction each; an append's promise resolves once its message is durable, and rejects when it
 * could not be stored (so the publisher can be told). Each message id is stored once.
 */
export class TelemetryStore {
  /** `duckdb` or `postgres`. */
  readonly dialect: Dialect;
  /** What was opened, with any password redacted. */
  readonly target: string;
  readonly #backend: Backend;
  readonly #ingest: IngestQueue;
  readonly #rollups: Rollups;
  #closed = false;
  readonly #rollUpTimer: NodeJS.Timeout | undefined;
  /** The background roll-up in progress, if any. */
  #rolling: Promise<void> | undefined;
  /** Per field: whether it has few distinct values, and when that was probed. */
  readonly #cardinality = new Map<string, { few: boolean; at: number }>();

  /** @internal Use {@link openTelemetryStore}. */
  constructor(backend: Backend, target: string, options: TelemetryStoreOptions = {}) {
    this.#backend = backend;
    this.dialect = backend.dialect;
    this.target = target;
    this.#rollups = new Rollups(backend);
    this.#ingest = new IngestQueue(
      backend,
      positive(options.maxQueued, 10_000, 'maxQueued'),
      positive(options.maxBatch, 1000, 'maxBatch'),
      { ...DEFAULT_MESSAGE_LIMITS, ...options.limits },
    );
    const every = options.rollUpIntervalMs ?? DEFAULT_ROLL_UP_INTERVAL_MS;
    if (every !== 0) {
      positive(every, DEFAULT_ROLL_UP_INTERVAL_MS, 'rollUpIntervalMs');
      this.#rollUpTimer = setInterval(() => this.#rollInBackground(), every);
      this.#rollUpTimer.unref();
    }
  }

  #rollInBackground(): void {
    if (this.#closed || this.#rolling !== undefined) return;
    // A failure (a database restart) is not this timer's to report: the next tick, or the next
    // read, rolls up again and a read reports its own failure.
    this.#roll().catch(() => undefined);
  }

  /** Starts a roll-up as this store's own (the one `#rolling` tracks), before any await. */
  #roll(): Promise<void> {
    const run = this.#rollups.roll();
    this.#rolling = run
      .catch(() => undefined)
      .finally(() => {
        this.#rolling = undefined;
      });
    return run;
  }

  /** Messages accepted and not yet stored or failed. */
  get pending(): number {
    return this.#ingest.pending;
  }

  /**
   * Stores one message. Resolves once it is durable (`duplicate: true` when its id was stored
   * before). Rejects with {@link TelemetryValidationError} for a message that cannot be stored,
   * {@link TelemetryBackpressureError} at once when `maxQueued` messages are waiting,
   * {@link TelemetryWriteError} when the database failed, {@link TelemetryClosedError} after `close`.
   */
  append(message: TelemetryMessage): Promise<AppendResult> {
    return this.#ingest.append(message);
  }

  /**
   * Stores several messages, admitted together or refused together (backpressure), and resolves
   * when all are durable, in order. A message that fails validation rejects the whole call before
   * any is queued.
   */
  appendBatch(messages: readonly TelemetryMessage[]): Promise<AppendResult[]> {
    return this.#ingest.appendBatch(messages);
  }

  /**
   * Resolves when the queue has room for `count` more messages (at once if it has). A producer
   * that got a {@link TelemetryBackpressureError} awaits this before trying again.
   */
  whenWritable(count = 1): Promise<void> {
    return this.#ingest.whenWritable(count);
  }

  /** Resolves when every message accepted so far is stored or failed. */
  flush(): Promise<void> {
    return this.#ingest.flush();
  }

  /** The newest message of each device matching `query`, ordered by device id. */
  async latest(query: LatestQuery = {}): Promise<TelemetryRecord[]> {
    const q = latestPerDeviceQuery(filterSpec(query), limitOf(query.limit, 1000, 100_000));
    return (await this.#query(q.text, q.params)).map(toRecord);
  }

  /** The newest messages matching `query`, newest first. */
  async messages(query: MessagesQuery = {}): Promise<TelemetryRecord[]> {
    const q = messagesQuery(filterSpec(query), limitOf(query.limit, 100, 10_000));
    return (await this.#query(q.text, q.params)).map(toRecord);
  }

  /**
   * Count, mean, p50, p95 and max of one numeric field, per release (artifact
   * name), over the messages matching `query` (a time window, a device set, a registry, a kind).
   *
   * @example
   * ```ts
   * const hourAgo = new Date(Date.now() - 3600_000)
   * for (const r of await store.releaseAggregates({ metric: 'cpu', from: hourAgo })) console.log(r.release, r.p95)
   * ```
   */
  async releaseAggregates(query: ReleaseAggregatesQuery): Promise<ReleaseAggregate[]> {
    const metric = metricOf(query);
    const filter = filterSpec(query);
    // A window of whole hours without a device set: from the rollups (see rollups.ts).
    const rolled = await this.#guard(() => this.#rollups.releaseAggregates(metric, filter));
    if (rolled !== undefined) return rolled;
    // Exact either way; a field with few distinct values is counted per value instead of sorted.
    if (await this.#fewDistinctValues(metric, filter)) {
      const q = releaseAggregatesByValueQuery(metric, filter, this.dialect);
      return (await this.#query(q.text, q.params)).map((r) => toReleaseAggregateByValue(r, this.dialect));
    }
    const q = releaseAggregatesQuery(metric, filter, this.dialect);
    return (await this.#query(q.text, q.params)).map(toReleaseAggregate);
  }

  /**
   * Count, mean, p50, p95, max and rate of `query.metric` over every message the filter matches,
   * across releases: the figures of a cohort of devices over a window (what release gates compare).
   */
  async aggregate(query: ReleaseAggregatesQuery): Promise<MetricAggregate> {
    const metric = metricOf(query);
    const filter = filterSpec(query);
    const rolled = await this.#guard(() => this.#rollups.aggregate(metric, filter));
    if (rolled !== undefined) return rolled;
    const q = metricAggregateQuery(metric, filter, this.dialect);
    return toMetricAggregate((await this.#query(q.text, q.params))[0]);
  }

  /**
   * Whether `metric` has few distinct values: a probe of the window's first samples, remembered
   * for a minute when it read a full probe (a field's kind of values, a percentage or a counter,
   * does not change from one window to the next; a page polling one field probes once a minute).
   */
  async #fewDistinctValues(metric: string, filter: FilterSpec): Promise<boolean> {
    const now = Date.now();
    const known = this.#cardinality.get(metric);
    if (known !== undefined && now - known.at < CARDINALITY_TTL_MS) return known.few;
    const probe = cardinalityProbeQuery(metric, filter, this.dialect);
    const [sample] = await this.#query(probe.text, probe.params);
    const samples = Number(sample?.n ?? 0);
    const few = samples >= PROBE_SAMPLES && Number(sample?.d ?? 0) <= PROBE_SAMPLES / 4;
    // A window with fewer samples says little about the field (and is cheap to sort either way).
    if (samples >= PROBE_SAMPLES) {
      if (this.#cardinality.size >= MAX_REMEMBERED_FIELDS) this.#cardinality.clear();
      this.#cardinality.set(metric, { few, at: now });
    }
    return few;
  }

  /** How many messages are stored. */
  async count(): Promise<number> {
    const rows = await this.#query(COUNT_MESSAGES, []);
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Rolls up what is closed and pending (see rollups.ts). Reads do it on their own; this lets a
   * process do it ahead of them (after a bulk load, or on a timer) so that no read pays for it.
   * Waits for this store's own background roll-up first (which may have started before the last
   * writes and left them to the next one); returns at once while another process rolls up.
   */
  async rollUp(): Promise<void> {
    await this.#guard(async () => {
      while (this.#rolling !== undefined) await this.#rolling;
      // Registered as the store's own, so that the timer does not start one beside it.
      await this.#roll();
    });
  }

  /** Runs a read, its failures as {@link TelemetryQueryError} (after close: {@link TelemetryClosedError}). */
  async #guard<T>(read: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new TelemetryClosedError();
    try {
      return await read();
    } catch (err) {
      if (err instanceof TelemetryError) throw err;
      throw new TelemetryQueryError(`telemetry query failed: ${errorText(err)}`, { cause: err });
    }
  }

  #query(text: string, params: unknown[]): Promise<Record<string, unknown>[]> {
    return this.#guard(() => this.#backend.query(text, params));
  }

  /**
   * Stores what was accepted, then closes the database. Appends after this reject with
   * {@link TelemetryClosedError}. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#rollUpTimer);
    await this.#rolling;
    await this.#ingest.close();
    await this.#backend.close();
  }
}

/** How long a field's probed cardinality is trusted. */
const CARDINALITY_TTL_MS = 60_000;
/** Most fields whose cardinality is remembered at once. */
const MAX_REMEMBERED_FIELDS = 1000;
