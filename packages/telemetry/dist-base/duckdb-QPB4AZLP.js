import { CREATE_VERSION_TABLE, MIGRATIONS, migrationStatements } from './chunk-57VBQXDW.js';
import { messageColumnValues } from './chunk-ADMBPFET.js';

// src/backends/duckdb.ts
var STAGE = `
  create temp table if not exists stage_messages (
    id varchar, device_id varchar, registry varchar, received_at timestamptz, kind varchar,
    subfolder varchar, artifact_name varchar, software_version varchar, deployment_id varchar,
    payload varchar, payload_raw varchar, payload_encoding varchar, metrics varchar
  );
  create temp table if not exists stage_metrics (
    message_id varchar, device_id varchar, registry varchar, received_at timestamptz, kind varchar,
    artifact_name varchar, name varchar, value double
  );`;
var FROM_STAGE = `select id, device_id, registry, received_at, kind, subfolder, artifact_name, software_version,
    deployment_id, cast(payload as json), payload_raw, payload_encoding, cast(metrics as json)
  from stage_messages`;
var CHUNK_ROWS = 2048;
var DuckDbBackend = class _DuckDbBackend {
  dialect = 'duckdb';
  #duckdb;
  #instance;
  #writer;
  #reader;
  /** Column types of stage_messages and stage_metrics, in order. */
  #messageTypes;
  #metricTypes;
  constructor(duckdb, instance, writer, reader) {
    this.#duckdb = duckdb;
    this.#instance = instance;
    this.#writer = writer;
    this.#reader = reader;
    const { VARCHAR, TIMESTAMPTZ, DOUBLE } = duckdb;
    this.#messageTypes = [VARCHAR, VARCHAR, VARCHAR, TIMESTAMPTZ, ...new Array(9).fill(VARCHAR)];
    this.#metricTypes = [VARCHAR, VARCHAR, VARCHAR, TIMESTAMPTZ, VARCHAR, VARCHAR, VARCHAR, DOUBLE];
  }
  /** Opens `path` (':memory:' or a file). */
  static async open(path) {
    const duckdb = await import('@duckdb/node-api');
    const instance = await duckdb.DuckDBInstance.create(path);
    try {
      const writer = await instance.connect();
      const reader = await instance.connect();
      await writer.run(STAGE);
      return new _DuckDbBackend(duckdb, instance, writer, reader);
    } catch (err) {
      instance.closeSync();
      throw err;
    }
  }
  async migrate() {
    const c = this.#writer;
    await c.run(CREATE_VERSION_TABLE);
    const done = await c.runAndReadAll('select version from telemetry_schema_version');
    const applied = new Set(done.getRowObjectsJS().map((r) => Number(r.version)));
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      await c.run('begin transaction');
      try {
        for (const s of migrationStatements(m, 'duckdb')) await c.run(s);
        await c.run('insert into telemetry_schema_version values ($1, now())', [m.version]);
        await c.run('commit');
      } catch (err) {
        await c.run('rollback');
        throw err;
      }
    }
  }
  async write(rows) {
    const c = this.#writer;
    await c.run('delete from stage_messages; delete from stage_metrics;');
    const { DuckDBTimestampTZValue } = this.#duckdb;
    const messages = Array.from({ length: this.#messageTypes.length }, () => []);
    const metrics = Array.from({ length: this.#metricTypes.length }, () => []);
    for (const r of rows) {
      const at = new DuckDBTimestampTZValue(BigInt(Math.round(r.receivedAt * 1e3)));
      const values = messageColumnValues(r, at);
      for (let i = 0; i < values.length; i++) messages[i].push(values[i]);
      for (const [name, value] of r.metrics) {
        const m = [r.id, r.deviceId, r.registry, at, r.kind, r.artifactName, name, value];
        for (let i = 0; i < m.length; i++) metrics[i].push(m[i]);
      }
    }
    await this.#appendColumns('stage_messages', this.#messageTypes, messages);
    await this.#appendColumns('stage_metrics', this.#metricTypes, metrics);
    try {
      await c.run(`begin transaction;
        insert into telemetry_messages ${FROM_STAGE};
        insert into telemetry_metrics select * from stage_metrics;
        commit`);
      return new Set(rows.map((r) => r.id));
    } catch {
      await c.run('rollback').catch(() => void 0);
    }
    return await this.#inTransaction(async () => {
      const res = await c.runAndReadAll(`insert into telemetry_messages ${FROM_STAGE}
        on conflict (id) do nothing
        returning id`);
      const inserted = new Set(res.getRowObjectsJS().map((r) => String(r.id)));
      if (inserted.size < rows.length) {
        const skipped = rows.filter((r) => !inserted.has(r.id)).map((r) => r.id);
        await c.run(
          `delete from stage_metrics where message_id in (${skipped.map((_, i) => `$${i + 1}`).join(', ')})`,
          skipped,
        );
      }
      await c.run('insert into telemetry_metrics select * from stage_metrics');
      return inserted;
    });
  }
  /** Runs `work` in one transaction on the writer connection: committed, or rolled back and rethrown. */
  async #inTransaction(work) {
    const c = this.#writer;
    await c.run('begin transaction');
    try {
      const result = await work();
      await c.run('commit');
      return result;
    } catch (err) {
      await c.run('rollback').catch(() => void 0);
      throw err;
    }
  }
  /** Appends column arrays to a staging table in data chunks (one native call per column and chunk). */
  async #appendColumns(table, types, columns) {
    const total = columns[0]?.length ?? 0;
    if (total === 0) return;
    const appender = await this.#writer.createAppender(table);
    try {
      for (let start = 0; start < total; start += CHUNK_ROWS) {
        const end = Math.min(total, start + CHUNK_ROWS);
        const chunk = this.#duckdb.DuckDBDataChunk.create(types, end - start);
        chunk.setColumns(columns.map((c) => c.slice(start, end)));
        appender.appendDataChunk(chunk);
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
  }
  async query(text, params) {
    const reader = await this.#reader.runAndReadAll(text, params);
    return reader.getRowObjectsJS();
  }
  async close() {
    this.#writer.closeSync();
    this.#reader.closeSync();
    this.#instance.closeSync();
  }
};

export { DuckDbBackend };
//# sourceMappingURL=duckdb-QPB4AZLP.js.map
