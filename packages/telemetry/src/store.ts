/**
 * The telemetry store: a bounded ingest queue in front of one database (DuckDB or PostgreSQL), and
 * the queries over it. Open one with {@link openTelemetryStore}.
 */

import { mkdirSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { redactUrl } from '@otakit/core';
import type { Backend } from './backends/backend.js';
import {
  TelemetryBackpressureError,
  TelemetryClosedError,
  TelemetryError,
  TelemetryOpenError,
  TelemetryQueryError,
  TelemetryValidationError,
  TelemetryWriteError,
} from './errors.js';
import {
  DEFAULT_MESSAGE_LIMITS,
  type MessageLimits,
  type StoredRow,
  type TelemetryMessage,
  toEpochMs,
  toStoredRow,
} from './message.js';
import type { Dialect } from './sql/migrations.js';
import {
  COUNT_MESSAGES,
  type FilterSpec,
  latestPerDeviceQuery,
  messagesQuery,
  releaseAggregatesQuery,
} from './sql/queries.js';
import type {
  AppendResult,
  LatestQuery,
  MessagesQuery,
  ReleaseAggregate,
  ReleaseAggregatesQuery,
  TelemetryFilter,
  TelemetryRecord,
} from './types.js';

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
}

/** The file a directory target stores into. */
export const DUCKDB_FILE_NAME = 'telemetry.duckdb';

interface Pending {
  row: StoredRow;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

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
      backend = await DuckDbBackend.open(duckDbPath(target));
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
  return new TelemetryStore(backend, where, options);
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
  readonly #maxQueued: number;
  readonly #maxBatch: number;
  readonly #limits: MessageLimits;
  #queue: Pending[] = [];
  /** Messages accepted and not yet settled (queued or being written). */
  #inFlight = 0;
  #writing: Promise<void> | undefined;
  #closed = false;
  #writableWaiters: Array<() => void> = [];

  /** @internal Use {@link openTelemetryStore}. */
  constructor(backend: Backend, target: string, options: TelemetryStoreOptions = {}) {
    this.#backend = backend;
    this.dialect = backend.dialect;
    this.target = target;
    this.#maxQueued = positive(options.maxQueued, 10_000, 'maxQueued');
    this.#maxBatch = positive(options.maxBatch, 1000, 'maxBatch');
    this.#limits = { ...DEFAULT_MESSAGE_LIMITS, ...options.limits };
  }

  /** Messages accepted and not yet stored or failed. */
  get pending(): number {
    return this.#inFlight;
  }

  /**
   * Stores one message. Resolves once it is durable (`duplicate: true` when its id was stored
   * before). Rejects with {@link TelemetryValidationError} for a message that cannot be stored,
   * {@link TelemetryBackpressureError} at once when `maxQueued` messages are waiting,
   * {@link TelemetryWriteError} when the database failed, {@link TelemetryClosedError} after `close`.
   */
  append(message: TelemetryMessage): Promise<AppendResult> {
    return this.appendBatch([message]).then((r) => r[0] as AppendResult);
  }

  /**
   * Stores several messages, admitted together or refused together (backpressure), and resolves
   * when all are durable, in order. A message that fails validation rejects the whole call before
   * any is queued.
   */
  appendBatch(messages: readonly TelemetryMessage[]): Promise<AppendResult[]> {
    if (this.#closed) return Promise.reject(new TelemetryClosedError());
    let rows: StoredRow[];
    try {
      rows = messages.map((m) => toStoredRow(m, this.#limits));
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#inFlight + rows.length > this.#maxQueued) {
      return Promise.reject(new TelemetryBackpressureError(this.#inFlight, this.#maxQueued));
    }
    this.#inFlight += rows.length;
    const settled = rows.map(
      (row) =>
        new Promise<AppendResult>((resolve, reject) => {
          this.#queue.push({ row, resolve, reject });
        }),
    );
    this.#kick();
    return Promise.all(settled);
  }

  /**
   * Resolves when the queue has room for `count` more messages (at once if it has). A producer
   * that got a {@link TelemetryBackpressureError} awaits this before trying again.
   */
  whenWritable(count = 1): Promise<void> {
    if (this.#closed) return Promise.reject(new TelemetryClosedError());
    if (this.#inFlight + count <= this.#maxQueued) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.#closed || this.#inFlight + count <= this.#maxQueued) resolve();
        else this.#writableWaiters.push(check);
      };
      this.#writableWaiters.push(check);
    });
  }

  /** Resolves when every message accepted so far is stored or failed. */
  async flush(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
  }

  #kick(): void {
    if (this.#writing !== undefined) return;
    this.#writing = this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        // Let producers woken by the last batch queue their next messages first, so that batches
        // stay large under load instead of alternating between a few messages and many.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const batch = this.#queue.splice(0, this.#maxBatch);
        await this.#writeBatch(batch);
        this.#inFlight -= batch.length;
        const waiters = this.#writableWaiters;
        this.#writableWaiters = [];
        for (const w of waiters) w();
      }
    } finally {
      this.#writing = undefined;
    }
  }

  async #writeBatch(batch: Pending[]): Promise<void> {
    // One row per id: a later copy of an id in the same batch is a duplicate of the first.
    const first = new Map<string, StoredRow>();
    for (const p of batch) if (!first.has(p.row.id)) first.set(p.row.id, p.row);
    const rows = [...first.values()];
    let inserted: Set<string>;
    try {
      inserted = await this.#backend.write(rows);
    } catch {
      // Write the rows one by one, so that one row the database refuses fails alone.
      inserted = new Set();
      const failed = new Map<string, unknown>();
      for (const row of rows) {
        try {
          for (const id of await this.#writeOne(row)) inserted.add(id);
        } catch (err) {
          failed.set(row.id, err);
        }
      }
      const claimed = new Set<string>();
      for (const p of batch) {
        const err = failed.get(p.row.id);
        if (err === undefined) {
          p.resolve({ id: p.row.id, duplicate: !inserted.has(p.row.id) || claimed.has(p.row.id) });
          claimed.add(p.row.id);
        } else {
          p.reject(
            new TelemetryWriteError(`message ${p.row.id} was not stored: ${errorText(err)}`, { cause: err }),
          );
        }
      }
      return;
    }
    const claimed = new Set<string>();
    for (const p of batch) {
      p.resolve({ id: p.row.id, duplicate: !inserted.has(p.row.id) || claimed.has(p.row.id) });
      claimed.add(p.row.id);
    }
  }

  /** Writes one row; if the database refuses its JSON, stores the payload raw instead. */
  async #writeOne(row: StoredRow): Promise<Set<string>> {
    try {
      return await this.#backend.write([row]);
    } catch (err) {
      if (row.payloadJson === null) throw err;
      return await this.#backend.write([
        { ...row, payloadRaw: row.payloadJson, payloadJson: null, payloadEncoding: 'utf8' },
      ]);
    }
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
    if (typeof query?.metric !== 'string' || query.metric === '') {
      throw new TelemetryValidationError('metric must be a non-empty string');
    }
    const q = releaseAggregatesQuery(query.metric, filterSpec(query));
    return (await this.#query(q.text, q.params)).map((r) => {
      const [p50, p95] = r.percentiles as [number, number];
      return {
        release: r.release === null || r.release === undefined ? null : String(r.release),
        count: Number(r.count),
        mean: Number(r.mean),
        p50: Number(p50),
        p95: Number(p95),
        max: Number(r.max),
      };
    });
  }

  /** How many messages are stored. */
  async count(): Promise<number> {
    const rows = await this.#query(COUNT_MESSAGES, []);
    return Number(rows[0]?.n ?? 0);
  }

  async #query(text: string, params: unknown[]): Promise<Record<string, unknown>[]> {
    if (this.#closed) throw new TelemetryClosedError();
    try {
      return await this.#backend.query(text, params);
    } catch (err) {
      throw new TelemetryQueryError(`telemetry query failed: ${errorText(err)}`, { cause: err });
    }
  }

  /**
   * Stores what was accepted, then closes the database. Appends after this reject with
   * {@link TelemetryClosedError}. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.flush();
    for (const w of this.#writableWaiters) w();
    this.#writableWaiters = [];
    await this.#backend.close();
  }
}

function positive(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new TelemetryValidationError(`${what} must be a positive integer`);
  return value;
}

function limitOf(value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new TelemetryValidationError(`limit must be an integer from 1 to ${max}`);
  }
  return value;
}

function isoOf(value: Date | string | number | undefined, what: string): string | undefined {
  return value === undefined ? undefined : new Date(toEpochMs(value, what)).toISOString();
}

function filterSpec(f: TelemetryFilter): FilterSpec {
  if (f.kind !== undefined && f.kind !== 'event' && f.kind !== 'state') {
    throw new TelemetryValidationError(`kind must be 'event' or 'state'`);
  }
  if (
    f.deviceIds !== undefined &&
    (!Array.isArray(f.deviceIds) || f.deviceIds.some((d) => typeof d !== 'string'))
  ) {
    throw new TelemetryValidationError('deviceIds must be a list of strings');
  }
  return {
    registry: f.registry,
    kind: f.kind,
    deviceIds: f.deviceIds,
    from: isoOf(f.from, 'from'),
    to: isoOf(f.to, 'to'),
  };
}

function parseJsonText(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? JSON.parse(value) : value;
}

function toRecord(r: Record<string, unknown>): TelemetryRecord {
  const encoding = String(r.payload_encoding) as TelemetryRecord['payloadEncoding'];
  return {
    id: String(r.id),
    deviceId: String(r.device_id),
    registry: String(r.registry),
    receivedAt: new Date(Math.round(Number(r.received_ms))).toISOString(),
    kind: String(r.kind) as TelemetryRecord['kind'],
    subfolder: String(r.subfolder ?? ''),
    artifactName: nullableText(r.artifact_name),
    softwareVersion: nullableText(r.software_version),
    deploymentId: nullableText(r.deployment_id),
    payload: encoding === 'json' ? parseJsonText(r.payload) : null,
    payloadRaw: nullableText(r.payload_raw),
    payloadEncoding: encoding,
    metrics: (parseJsonText(r.metrics) ?? {}) as Record<string, number>,
  };
}

function nullableText(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
