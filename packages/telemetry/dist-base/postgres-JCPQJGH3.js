import { CREATE_VERSION_TABLE, MIGRATIONS, migrationStatements } from './chunk-57VBQXDW.js';
import { messageColumnValues } from './chunk-ADMBPFET.js';

// src/backends/postgres.ts
var INSERT = `with ins as (
    insert into telemetry_messages (id, device_id, registry, received_at, kind, subfolder,
      artifact_name, software_version, deployment_id, payload, payload_raw, payload_encoding, metrics)
    select * from unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::timestamptz[], $5::varchar[],
      $6::varchar[], $7::varchar[], $8::varchar[], $9::varchar[], $10::jsonb[], $11::varchar[],
      $12::varchar[], $13::jsonb[])
    on conflict (id) do nothing
    returning id, device_id, registry, received_at, kind, artifact_name, metrics
  ), metrics as (
    insert into telemetry_metrics (message_id, device_id, registry, received_at, kind, artifact_name, name, value)
    select ins.id, ins.device_id, ins.registry, ins.received_at, ins.kind, ins.artifact_name, kv.key,
      cast(kv.value as double precision)
    from ins cross join lateral jsonb_each_text(ins.metrics) as kv
  )
  select id from ins`;
var SORT_MEMORY = '64MB';
var MIGRATION_LOCK = 128196126;
var PostgresBackend = class _PostgresBackend {
  dialect = 'postgres';
  #pool;
  constructor(pool) {
    this.#pool = pool;
  }
  /** Connects to `url` (a `postgres://` URL) and checks the connection. */
  static async open(url, maxConnections = 4) {
    const pg = await import('pg');
    const PoolClass = pg.default?.Pool ?? pg.Pool;
    const pool = new PoolClass({
      connectionString: url,
      max: maxConnections,
      options: `-c work_mem=${SORT_MEMORY}`,
    });
    pool.on('error', () => void 0);
    try {
      await pool.query('select 1');
    } catch (err) {
      await pool.end().catch(() => void 0);
      throw err;
    }
    return new _PostgresBackend(pool);
  }
  async migrate() {
    const client = await this.#pool.connect();
    try {
      await client.query('begin');
      await client.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await client.query(CREATE_VERSION_TABLE);
      const done = await client.query('select version from telemetry_schema_version');
      const applied = new Set(done.rows.map((r) => Number(r.version)));
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue;
        for (const s of migrationStatements(m, 'postgres')) await client.query(s);
        await client.query('insert into telemetry_schema_version values ($1, now())', [m.version]);
      }
      await client.query('commit');
    } catch (err) {
      await client.query('rollback').catch(() => void 0);
      throw err;
    } finally {
      client.release();
    }
  }
  async write(rows) {
    const cols = Array.from({ length: 13 }, () => new Array(rows.length));
    rows.forEach((r, i) => {
      const values = messageColumnValues(r, new Date(r.receivedAt).toISOString());
      for (let c = 0; c < values.length; c++) cols[c][i] = values[c];
    });
    const res = await this.#pool.query(INSERT, cols);
    return new Set(res.rows.map((r) => r.id));
  }
  async query(text, params) {
    const res = await this.#pool.query(text, params);
    return res.rows;
  }
  async close() {
    await this.#pool.end();
  }
};

export { PostgresBackend };
//# sourceMappingURL=postgres-JCPQJGH3.js.map
