/**
 * The embedded backend: DuckDB through `@duckdb/node-api`, in memory or in one file. A write is one
 * transaction on the writer connection, one of three ways:
 * - direct (the common case): DuckDB's appender appends the batch to `telemetry_messages` and
 *   `telemetry_metrics`; the primary key refuses a stored id, undoing the whole transaction. Dirty
 *   buckets are worked out here from the claimed watermark, which only `excludingWriters` changes
 *   (this process owns the file, duckdb-files.ts), so it is read once per change;
 * - staged, when a payload or its metrics hold a `\u` escape of a UTF-16 surrogate (JSON.parse
 *   accepts one alone, DuckDB does not; appended directly, it would fail every later read of it;
 *   duckdb-json.ts): appended to staging tables and moved by `insert ... select`, whose JSON casts
 *   DuckDB checks;
 * - checked, after either refused a stored id: from staging with `on conflict (id) do nothing
 *   returning id`, keeping only the new rows' numeric fields.
 * Staged costs ~2x the CPU of direct (README, Performance): each call into DuckDB costs ~0.3 to
 * 1.3 ms of CPU whatever its rows, and through the broker a batch holds ~100 messages.
 */

import type {
  DuckDBAppender,
  DuckDBConnection,
  DuckDBInstance,
  DuckDBType,
  DuckDBValue,
} from '@duckdb/node-api';
import type { StoredRow } from '../message.js';
import { messageColumnValues } from '../message.js';
import { CREATE_VERSION_TABLE, MIGRATIONS, migrationStatements } from '../sql/migrations.js';
import { Params } from '../sql/queries.js';
import { bucketOfMs, CLAIMED_WATERMARK, markDirtyFrom, sliceOfMs } from '../sql/rollups.js';
import type { Backend, Querier } from './backend.js';
import { claimDuckDbFile } from './duckdb-files.js';
import { appendsAsJson } from './duckdb-json.js';

type DuckDB = typeof import('@duckdb/node-api');

const STAGE = `
  create temp table if not exists stage_messages (
    id varchar, device_id varchar, registry varchar, received_at timestamptz, kind varchar,
    subfolder varchar, artifact_name varchar, software_version varchar, deployment_id varchar,
    payload varchar, payload_raw varchar, payload_encoding varchar, metrics varchar
  );
  create temp table if not exists stage_metrics (message_id varchar, name varchar, value double);`;

/**
 * The staged numeric fields as `telemetry_metrics` rows: the message's columns come from its staged
 * row (a join inside DuckDB), so the event loop appends three values per field instead of eight.
 */
const METRICS_FROM_STAGE = `insert into telemetry_metrics
  select s.device_id, s.registry, s.received_at, s.kind, s.artifact_name, m.name, m.value
  from stage_metrics m join stage_messages s on s.id = m.message_id`;

/** The staged messages as `telemetry_messages` rows (JSON text cast to JSON). */
const FROM_STAGE = `select id, device_id, registry, received_at, kind, subfolder, artifact_name, software_version,
    deployment_id, cast(payload as json), payload_raw, payload_encoding, cast(metrics as json)
  from stage_messages`;

/** The dirty-bucket record of the staged messages (see rollups.ts): part of each write's transaction. */
const DIRTY_FROM_STAGE = markDirtyFrom('stage_messages');

/** Empties the staging tables. */
const CLEAR_STAGE = 'delete from stage_messages; delete from stage_metrics;';

/**
 * DuckDB's `checkpoint_threshold`, the log size at which rows move into the file: each move
 * compresses again the row groups it appends to, and at DuckDB's 16 MB (every ~30,000 messages)
 * sustained ingest spent about as long in them as in the writes (README, Performance).
 */
const CHECKPOINT_THRESHOLD = '64MB';

/** Rows per data chunk (DuckDB's vector size). */
const CHUNK_ROWS = 2048;

/** @internal */
export class DuckDbBackend implements Backend {
  readonly dialect = 'duckdb' as const;
  /**
   * One writer connection (staging tables and appenders are per connection); two measured slower:
   * the appender's synchronous flush waits while the other commits (README, Performance).
   */
  readonly writeConcurrency = 1;
  readonly #duckdb: DuckDB;
  readonly #instance: DuckDBInstance;
  readonly #writer: DuckDBConnection;
  readonly #reader: DuckDBConnection;
  /** Column types of stage_messages (and of telemetry_messages), stage_metrics and telemetry_metrics, in order. */
  readonly #messageTypes: DuckDBType[];
  readonly #metricTypes: DuckDBType[];
  readonly #tableMetricTypes: DuckDBType[];
  /** The claimed watermark, while no `excludingWriters` turn ran since it was read. */
  #claimed: number | undefined;
  /** @internal Writes by the way they went (see the module's comment), for tests. */
  readonly writes = { direct: 0, staged: 0, checked: 0 };
  /** The staging tables' appenders, kept open between batches. */
  readonly #appenders = new Map<string, DuckDBAppender>();
  /** Whether the staging tables may hold rows of a write that failed. */
  #stageDirty = false;
  /** The writes and {@link excludingWriters} take turns on this chain. */
  #turn: Promise<unknown> = Promise.resolve();
  /** Gives the file back to the process's open files (duckdb-files.ts). */
  readonly #release: () => void;
  /** Whether a roller runs (one process owns a DuckDB file: a flag is the lock). */
  #rolling = false;

  private constructor(
    duckdb: DuckDB,
    instance: DuckDBInstance,
    writer: DuckDBConnection,
    reader: DuckDBConnection,
    release: () => void,
  ) {
    this.#release = release;
    this.#duckdb = duckdb;
    this.#instance = instance;
    this.#writer = writer;
    this.#reader = reader;
    const { VARCHAR, TIMESTAMPTZ, DOUBLE } = duckdb;
    this.#messageTypes = [VARCHAR, VARCHAR, VARCHAR, TIMESTAMPTZ, ...new Array<DuckDBType>(9).fill(VARCHAR)];
    this.#metricTypes = [VARCHAR, VARCHAR, DOUBLE];
    this.#tableMetricTypes = [VARCHAR, VARCHAR, TIMESTAMPTZ, VARCHAR, VARCHAR, VARCHAR, DOUBLE];
  }

  /**
   * Opens `path` (':memory:' or a file), with DuckDB's `memory_limit` and `threads` when given
   * (else DuckDB's own).
   */
  static async open(path: string, memoryLimit?: string, threads?: number): Promise<DuckDbBackend> {
    const release = claimDuckDbFile(path);
    try {
      const duckdb = await import('@duckdb/node-api');
      const config: Record<string, string> = { checkpoint_threshold: CHECKPOINT_THRESHOLD };
      if (memoryLimit !== undefined) config.memory_limit = memoryLimit;
      if (threads !== undefined) config.threads = String(threads);
      const instance = await duckdb.DuckDBInstance.create(path, config);
      try {
        const writer = await instance.connect();
        const reader = await instance.connect();
        await writer.run(STAGE);
        return new DuckDbBackend(duckdb, instance, writer, reader, release);
      } catch (err) {
        instance.closeSync();
        throw err;
      }
    } catch (err) {
      release();
      throw err;
    }
  }

  async migrate(): Promise<void> {
    const c = this.#writer;
    this.#claimed = undefined;
    await c.run(CREATE_VERSION_TABLE);
    const done = await c.runAndReadAll('select version from telemetry_schema_version');
    const applied = new Set(done.getRowObjectsJS().map((r) => Number(r.version)));
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      await transaction(c, async () => {
        for (const s of migrationStatements(m, 'duckdb')) await c.run(s);
        await c.run('insert into telemetry_schema_version values ($1, now())', [m.version]);
      });
    }
  }

  /** Runs `work` once every earlier turn (a write, or excludingWriters) has settled. */
  #inTurn<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(work, work);
    this.#turn = run.catch(() => undefined);
    return run;
  }

  write(rows: readonly StoredRow[]): Promise<Set<string>> {
    return this.#inTurn(() => this.#write(rows));
  }

  excludingWriters<T>(work: (q: Querier) => Promise<T>): Promise<T> {
    return this.#inTurn(async () => {
      // `work` may move the claimed watermark (the roller's claim does): the next write reads it.
      this.#claimed = undefined;
      try {
        return await transaction(this.#writer, () =>
          work((text, params = []) => this.#run(this.#writer, text, params)),
        );
      } finally {
        this.#claimed = undefined;
      }
    });
  }

  async inSnapshot<T>(work: (q: Querier) => Promise<T>, roller = false): Promise<T | undefined> {
    if (roller) {
      if (this.#rolling) return undefined;
      this.#rolling = true;
    }
    try {
      // A connection of its own: a transaction of DuckDB is per connection, and concurrent reads
      // must not share one.
      const c = await this.#instance.connect();
      try {
        return await transaction(c, () => work((text, params = []) => this.#run(c, text, params)));
      } finally {
        c.closeSync();
      }
    } finally {
      if (roller) this.#rolling = false;
    }
  }

  async #run(
    c: DuckDBConnection,
    text: string,
    params: readonly unknown[],
  ): Promise<Record<string, unknown>[]> {
    const reader = await c.runAndReadAll(text, params as never);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  }

  async #write(rows: readonly StoredRow[]): Promise<Set<string>> {
    const c = this.#writer;
    // The staging tables are emptied by the transaction that moves their rows; a write that failed
    // may have left rows behind.
    if (this.#stageDirty) {
      await c.run(CLEAR_STAGE);
      this.#stageDirty = false;
    }
    if (rows.every(appendsAsJson)) {
      try {
        await this.#writeDirect(rows);
        this.writes.direct++;
        return new Set(rows.map((r) => r.id));
      } catch {
        // A stored id (or a value the database refused): nothing was stored; the checked write
        // below finds which.
      }
    } else {
      try {
        await this.#writeStaged(rows);
        this.writes.staged++;
        return new Set(rows.map((r) => r.id));
      } catch {
        // As above; the staged rows are cleared first.
        await c.run('rollback').catch(() => undefined);
      }
    }
    this.writes.checked++;
    return await this.#writeChecked(rows);
  }

  /** The direct write (see the module's comment): appends to the store's tables in one transaction. */
  async #writeDirect(rows: readonly StoredRow[]): Promise<void> {
    const c = this.#writer;
    if (this.#claimed === undefined) {
      const [row] = (await c.runAndReadAll(CLAIMED_WATERMARK)).getRowObjectsJS();
      this.#claimed = Number(row?.watermark ?? 0);
    }
    const claimed = this.#claimed;
    const { DuckDBTimestampTZValue } = this.#duckdb;
    const messages: DuckDBValue[][] = Array.from({ length: this.#messageTypes.length }, () => []);
    const metrics: DuckDBValue[][] = Array.from({ length: this.#tableMetricTypes.length }, () => []);
    const dirty = new Set<number>();
    for (const r of rows) {
      const at = new DuckDBTimestampTZValue(BigInt(Math.round(r.receivedAt * 1000)));
      const values = messageColumnValues<DuckDBValue>(r, at);
      for (let i = 0; i < values.length; i++) (messages[i] as DuckDBValue[]).push(values[i] as DuckDBValue);
      // telemetry_metrics: device_id, registry, received_at, kind, artifact_name, name, value.
      const shared: DuckDBValue[] = [r.deviceId, r.registry, at, r.kind, r.artifactName];
      for (const [name, value] of r.metrics) {
        for (let i = 0; i < shared.length; i++) (metrics[i] as DuckDBValue[]).push(shared[i] as DuckDBValue);
        (metrics[5] as DuckDBValue[]).push(name);
        (metrics[6] as DuckDBValue[]).push(value);
      }
      if (sliceOfMs(r.receivedAt) < claimed) dirty.add(bucketOfMs(r.receivedAt));
    }
    await transaction(c, async () => {
      await this.#appendColumns('telemetry_messages', this.#messageTypes, messages);
      await this.#appendColumns('telemetry_metrics', this.#tableMetricTypes, metrics);
      if (dirty.size > 0) {
        const p = new Params();
        const buckets = [...dirty].map((b) => `(${p.add(b)})`);
        await c.run(
          `insert into telemetry_rollup_dirty (bucket) values ${buckets.join(', ')}`,
          p.values as never,
        );
      }
    });
  }

  /** Appends `rows` to the staging tables. */
  async #stage(rows: readonly StoredRow[]): Promise<void> {
    this.#stageDirty = true;
    const { DuckDBTimestampTZValue } = this.#duckdb;
    const messages: DuckDBValue[][] = Array.from({ length: this.#messageTypes.length }, () => []);
    const metrics: DuckDBValue[][] = Array.from({ length: this.#metricTypes.length }, () => []);
    for (const r of rows) {
      const at = new DuckDBTimestampTZValue(BigInt(Math.round(r.receivedAt * 1000)));
      const values = messageColumnValues<DuckDBValue>(r, at);
      for (let i = 0; i < values.length; i++) (messages[i] as DuckDBValue[]).push(values[i] as DuckDBValue);
      for (const [name, value] of r.metrics) {
        (metrics[0] as DuckDBValue[]).push(r.id);
        (metrics[1] as DuckDBValue[]).push(name);
        (metrics[2] as DuckDBValue[]).push(value);
      }
    }
    await this.#appendColumns('stage_messages', this.#messageTypes, messages);
    await this.#appendColumns('stage_metrics', this.#metricTypes, metrics);
  }

  /** The staged write (module comment): one call, emptying the staging tables included. */
  async #writeStaged(rows: readonly StoredRow[]): Promise<void> {
    await this.#stage(rows);
    await this.#writer.run(`begin transaction;
      insert into telemetry_messages ${FROM_STAGE};
      ${METRICS_FROM_STAGE};
      ${DIRTY_FROM_STAGE};
      ${CLEAR_STAGE}
      commit`);
    this.#stageDirty = false;
  }

  /** The checked write (module comment): `on conflict` costs ~9x a plain insert (DuckDB 1.5). */
  async #writeChecked(rows: readonly StoredRow[]): Promise<Set<string>> {
    const c = this.#writer;
    if (this.#stageDirty) await c.run(CLEAR_STAGE);
    await this.#stage(rows);
    return await transaction(c, async () => {
      // The primary key's index finds the ids already stored, without scanning the table.
      const res = await c.runAndReadAll(`insert into telemetry_messages ${FROM_STAGE}
        on conflict (id) do nothing
        returning id`);
      const inserted = new Set(res.getRowObjectsJS().map((r) => String(r.id)));
      if (inserted.size < rows.length) {
        const skipped = rows.filter((r) => !inserted.has(r.id)).map((r) => r.id);
        const p = new Params();
        await c.run(`delete from stage_metrics where message_id in (${p.list(skipped)})`, p.values as never);
      }
      await c.run(`${METRICS_FROM_STAGE}; ${DIRTY_FROM_STAGE}; ${CLEAR_STAGE}`);
      this.#stageDirty = false;
      return inserted;
    });
  }

  /** Appends column arrays to `table` in data chunks (one native call per column and chunk). */
  async #appendColumns(table: string, types: readonly DuckDBType[], columns: DuckDBValue[][]): Promise<void> {
    const total = columns[0]?.length ?? 0;
    if (total === 0) return;
    // One appender per table for the store's life (creating one calls into DuckDB's threads); a
    // failed flush closes it (its buffer holds the refused rows), and the next write makes one.
    let appender = this.#appenders.get(table);
    if (appender === undefined) {
      appender = await this.#writer.createAppender(table);
      this.#appenders.set(table, appender);
    }
    try {
      for (let start = 0; start < total; start += CHUNK_ROWS) {
        const end = Math.min(total, start + CHUNK_ROWS);
        const chunk = this.#duckdb.DuckDBDataChunk.create(types, end - start);
        chunk.setColumns(total <= CHUNK_ROWS ? columns : columns.map((c) => c.slice(start, end)));
        appender.appendDataChunk(chunk);
      }
      appender.flushSync();
    } catch (err) {
      this.#appenders.delete(table);
      try {
        appender.closeSync();
      } catch {
        // already unusable
      }
      throw err;
    }
  }

  async query(text: string, params: readonly unknown[]): Promise<Record<string, unknown>[]> {
    const reader = await this.#reader.runAndReadAll(text, params as never);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  }

  async close(): Promise<void> {
    for (const appender of this.#appenders.values()) appender.closeSync();
    this.#appenders.clear();
    this.#writer.closeSync();
    this.#reader.closeSync();
    this.#instance.closeSync();
    this.#release();
  }
}

/**
 * Runs `work` in one transaction on `c`: committed, or rolled back and rethrown; a failed rollback
 * does not hide the error of `work` (DuckDB ends the transaction itself on running out of memory).
 */
async function transaction<T>(c: DuckDBConnection, work: () => Promise<T>): Promise<T> {
  await c.run('begin transaction');
  try {
    const result = await work();
    await c.run('commit');
    return result;
  } catch (err) {
    await c.run('rollback').catch(() => undefined);
    throw err;
  }
}
