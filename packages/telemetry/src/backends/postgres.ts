/**
 * The server backend: PostgreSQL through `pg`. A batch is one statement: the messages are inserted
 * from arrays (`unnest`) with `on conflict (id) do nothing`, and the numeric fields of the rows
 * actually inserted are written from their `metrics` in the same statement.
 */

import type { Pool, PoolClient } from 'pg';
import type { StoredRow } from '../message.js';
import { messageColumnValues } from '../message.js';
import { CREATE_VERSION_TABLE, MIGRATIONS, migrationStatements } from '../sql/migrations.js';
import { markDirtyFrom } from '../sql/rollups.js';
import type { Backend, Querier } from './backend.js';

const INSERT = `with ins as (
    insert into telemetry_messages (id, device_id, registry, received_at, kind, subfolder,
      artifact_name, software_version, deployment_id, payload, payload_raw, payload_encoding, metrics)
    select * from unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::timestamptz[], $5::varchar[],
      $6::varchar[], $7::varchar[], $8::varchar[], $9::varchar[], $10::jsonb[], $11::varchar[],
      $12::varchar[], $13::jsonb[])
    on conflict (id) do nothing
    returning id, device_id, registry, received_at, kind, artifact_name, metrics
  ), metrics as (
    insert into telemetry_metrics (device_id, registry, received_at, kind, artifact_name, name, value)
    select ins.device_id, ins.registry, ins.received_at, ins.kind, ins.artifact_name, kv.key,
      cast(kv.value as double precision)
    from ins cross join lateral jsonb_each_text(ins.metrics) as kv
  ), dirty as (
    ${markDirtyFrom('ins')}
  )
  select id from ins`;

/** The prepared statement of {@link INSERT} on each connection. */
const INSERT_NAME = 'otakit_telemetry_insert';

/** Sort memory of each connection (PostgreSQL's `work_mem`), enough for ~1M samples in memory. */
const SORT_MEMORY = '64MB';

/** An arbitrary constant that serialises concurrent migrations of one database. */
const MIGRATION_LOCK = 0x07a4_1e1e;
/**
 * Held shared by every write transaction and exclusively by {@link PostgresBackend.excludingWriters}
 * (the roller raising the claimed watermark): see rollups.ts.
 */
const WRITERS_LOCK = 0x07a4_1e1f;
/** Held (session level) by the one roller building rollups. */
const ROLLER_LOCK = 0x07a4_1e20;

/** @internal */
export class PostgresBackend implements Backend {
  readonly dialect = 'postgres' as const;
  readonly writeConcurrency: number;
  readonly #pool: Pool;

  private constructor(pool: Pool, maxConnections: number) {
    this.#pool = pool;
    // Two transactions at once (one writes while the other commits), leaving the pool's other
    // connections to reads; one with a pool too small for that.
    this.writeConcurrency = maxConnections >= 3 ? 2 : 1;
  }

  /** Connects to `url` (a `postgres://` URL) and checks the connection. */
  static async open(url: string, maxConnections = 4): Promise<PostgresBackend> {
    const pg = await import('pg');
    const PoolClass = (pg.default?.Pool ?? (pg as unknown as { Pool: typeof Pool }).Pool) as typeof Pool;
    // The per-release aggregates sort every sample of a window (exact percentiles); with the default
    // 4 MB of sort memory a day of a fleet's samples spills to disk (EXPLAIN: "external merge").
    const pool = new PoolClass({
      connectionString: url,
      max: maxConnections,
      options: `-c work_mem=${SORT_MEMORY}`,
    });
    // An idle client's error (server restart) must not crash the process; the next query fails instead.
    pool.on('error', () => undefined);
    try {
      await pool.query('select 1');
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    return new PostgresBackend(pool, maxConnections);
  }

  async migrate(): Promise<void> {
    await this.#inTransaction(`begin; select pg_advisory_xact_lock(${MIGRATION_LOCK})`, async (client) => {
      await client.query(CREATE_VERSION_TABLE);
      const done = await client.query<{ version: number }>('select version from telemetry_schema_version');
      const applied = new Set(done.rows.map((r) => Number(r.version)));
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue;
        for (const s of migrationStatements(m, 'postgres')) await client.query(s);
        await client.query('insert into telemetry_schema_version values ($1, now())', [m.version]);
      }
    });
  }

  async write(rows: readonly StoredRow[]): Promise<Set<string>> {
    const cols: unknown[][] = Array.from({ length: 13 }, () => new Array(rows.length));
    rows.forEach((r, i) => {
      const values = messageColumnValues(r, new Date(r.receivedAt).toISOString());
      for (let c = 0; c < values.length; c++) (cols[c] as unknown[])[i] = values[c];
    });
    // The shared lock is taken by a statement of its own, before the insert: the insert's
    // snapshot (READ COMMITTED: taken when it starts) then sees any claimed watermark raised
    // before the lock was granted. See rollups.ts for why that matters.
    const res = await this.#inTransaction(
      `begin; select pg_advisory_xact_lock_shared(${WRITERS_LOCK})`,
      // Named: each pooled connection parses and plans the insert once, not once per batch.
      (client) => client.query<{ id: string }>({ name: INSERT_NAME, text: INSERT, values: cols }),
    );
    return new Set(res.rows.map((r) => r.id));
  }

  async excludingWriters<T>(work: (q: Querier) => Promise<T>): Promise<T> {
    return await this.#inTransaction(`begin; select pg_advisory_xact_lock(${WRITERS_LOCK})`, (client) =>
      work(querier(client)),
    );
  }

  /** Runs `work` on a pooled connection in one transaction (see {@link transaction}). */
  async #inTransaction<T>(begin: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    try {
      return await transaction(client, begin, () => work(client));
    } finally {
      client.release();
    }
  }

  async inSnapshot<T>(work: (q: Querier) => Promise<T>, roller = false): Promise<T | undefined> {
    const client = await this.#pool.connect();
    let locked = false;
    try {
      if (roller) {
        // Session level and before `begin`: the snapshot (taken by the transaction's first
        // statement) then sees everything the previous roller committed.
        const res = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [
          ROLLER_LOCK,
        ]);
        locked = res.rows[0]?.ok === true;
        if (!locked) return undefined;
      }
      // A read's statements each touch a few thousand rows: starting parallel workers costs more
      // than they save (measured under load: ~50-70 ms of a ~80 ms histogram was the Gather's start).
      // A roller's builds run without JIT: PostgreSQL compiled a build of ~560k samples for ~400 ms
      // of its ~1.9 s, and would compile a build of a few slices whenever its estimate crossed
      // `jit_above_cost`. (Their sorts and aggregates have the connection's SORT_MEMORY.)
      const settings = roller ? '; set local jit = off' : ' read only';
      return await transaction(
        client,
        `begin isolation level repeatable read${settings}; set local max_parallel_workers_per_gather = 0`,
        () => work(querier(client)),
      );
    } finally {
      let broken = false;
      if (locked) {
        // A connection that cannot unlock is closed instead of going back to the pool (which
        // releases its lock).
        await client.query('select pg_advisory_unlock($1)', [ROLLER_LOCK]).catch(() => {
          broken = true;
        });
      }
      client.release(broken);
    }
  }

  async query(text: string, params: readonly unknown[]): Promise<Record<string, unknown>[]> {
    const res = await this.#pool.query(text, params as unknown[]);
    return res.rows as Record<string, unknown>[];
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

/**
 * Runs `work` in one transaction on `client`, opened by `begin` (a simple query, which may also
 * set options or take a lock in the same round trip): committed when `work` resolves, rolled back
 * when it throws (a failed rollback leaves the error of `work` to report).
 */
async function transaction<T>(client: PoolClient, begin: string, work: () => Promise<T>): Promise<T> {
  try {
    // Inside the try: a lock or setting that fails after `begin` leaves an aborted transaction open.
    await client.query(begin);
    const result = await work();
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

/** The rows of each statement run on `client`. */
function querier(client: PoolClient): Querier {
  return async (text, params = []) => (await client.query(text, params as unknown[])).rows;
}
