'use strict';
var __create = Object.create;
var __defProp = Object.defineProperty;
var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __getProtoOf = Object.getPrototypeOf;
var __hasOwnProp = Object.prototype.hasOwnProperty;
var __esm = (fn, res) =>
  function __init() {
    return (fn && (res = (0, fn[__getOwnPropNames(fn)[0]])((fn = 0))), res);
  };
var __export = (target, all) => {
  for (var name in all) __defProp(target, name, { get: all[name], enumerable: true });
};
var __copyProps = (to, from, except, desc) => {
  if ((from && typeof from === 'object') || typeof from === 'function') {
    for (const key of __getOwnPropNames(from))
      if (!__hasOwnProp.call(to, key) && key !== except)
        __defProp(to, key, {
          get: () => from[key],
          enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable,
        });
  }
  return to;
};
var __toESM = (mod, isNodeMode, target) => (
  (target = mod != null ? __create(__getProtoOf(mod)) : {}),
  __copyProps(
    // If the importer is in node compatibility mode or this is not an ESM
    // file that has been converted to a CommonJS file using a Babel-
    // compatible transform (i.e. "__esModule" has not been set), then set
    // "default" to the CommonJS "module.exports" for node compatibility.
    isNodeMode || !mod || !mod.__esModule
      ? __defProp(target, 'default', { value: mod, enumerable: true })
      : target,
    mod,
  )
);
var __toCommonJS = (mod) => __copyProps(__defProp({}, '__esModule', { value: true }), mod);

// src/errors.ts
var import_core,
  TelemetryErrorCodes,
  TelemetryError,
  TelemetryValidationError,
  TelemetryBackpressureError,
  TelemetryWriteError,
  TelemetryQueryError,
  TelemetryClosedError,
  TelemetryOpenError;
var init_errors = __esm({
  'src/errors.ts'() {
    import_core = require('@otakit/core');
    TelemetryErrorCodes = {
      /** A message or query was malformed (missing device id, unknown kind, payload too large, bad time). */
      INVALID: 'ERR_TELEMETRY_INVALID',
      /** The ingest queue is full: the caller should slow down and retry (the publisher is told). */
      BACKPRESSURE: 'ERR_TELEMETRY_BACKPRESSURE',
      /** The database refused or failed the write: the messages were not stored. */
      WRITE: 'ERR_TELEMETRY_WRITE',
      /** The database failed a query. */
      QUERY: 'ERR_TELEMETRY_QUERY',
      /** The store was closed. */
      CLOSED: 'ERR_TELEMETRY_CLOSED',
      /** The store target could not be opened (bad URL, unreachable server, locked file). */
      OPEN: 'ERR_TELEMETRY_OPEN',
    };
    TelemetryError = class extends import_core.OtakitError {};
    (0, import_core.brandErrorClass)(TelemetryError, 'TelemetryError');
    TelemetryValidationError = class extends TelemetryError {
      constructor(message, options) {
        super(TelemetryErrorCodes.INVALID, message, options);
      }
    };
    (0, import_core.brandErrorClass)(TelemetryValidationError, 'TelemetryValidationError');
    TelemetryBackpressureError = class extends TelemetryError {
      /** How many messages were waiting to be stored when this one was refused. */
      queued;
      constructor(queued, limit) {
        super(
          TelemetryErrorCodes.BACKPRESSURE,
          `telemetry ingest queue is full (${queued} of ${limit} messages waiting to be stored)`,
        );
        this.queued = queued;
      }
    };
    (0, import_core.brandErrorClass)(TelemetryBackpressureError, 'TelemetryBackpressureError');
    TelemetryWriteError = class extends TelemetryError {
      constructor(message, options) {
        super(TelemetryErrorCodes.WRITE, message, options);
      }
    };
    (0, import_core.brandErrorClass)(TelemetryWriteError, 'TelemetryWriteError');
    TelemetryQueryError = class extends TelemetryError {
      constructor(message, options) {
        super(TelemetryErrorCodes.QUERY, message, options);
      }
    };
    (0, import_core.brandErrorClass)(TelemetryQueryError, 'TelemetryQueryError');
    TelemetryClosedError = class extends TelemetryError {
      constructor() {
        super(TelemetryErrorCodes.CLOSED, 'the telemetry store is closed');
      }
    };
    (0, import_core.brandErrorClass)(TelemetryClosedError, 'TelemetryClosedError');
    TelemetryOpenError = class extends TelemetryError {
      constructor(message, options) {
        super(TelemetryErrorCodes.OPEN, message, options);
      }
    };
    (0, import_core.brandErrorClass)(TelemetryOpenError, 'TelemetryOpenError');
  },
});

// src/message.ts
function wellFormed(text) {
  return LONE_SURROGATE.test(text) ? Buffer.from(text, 'utf8').toString('utf8') : text;
}
function requireText(value, what, max, allowEmpty = false) {
  if (typeof value !== 'string' || (!allowEmpty && value === '')) {
    throw new TelemetryValidationError(`${what} must be a non-empty string`);
  }
  if (value.length > max) throw new TelemetryValidationError(`${what} is longer than ${max} characters`);
  if (value.includes('\0')) throw new TelemetryValidationError(`${what} contains a NUL character`);
  return wellFormed(value);
}
function optionalText(value, what) {
  if (value === void 0 || value === null) return null;
  return requireText(value, what, MAX_NAME, true);
}
function toEpochMs(value, what = 'receivedAt') {
  if (value === void 0) return Date.now();
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw new TelemetryValidationError(`${what} is not a valid time`);
  return ms;
}
function toStoredRow(message, limits = DEFAULT_MESSAGE_LIMITS) {
  if (typeof message !== 'object' || message === null) {
    throw new TelemetryValidationError('a telemetry message must be an object');
  }
  const id =
    message.id === void 0 ? (0, import_node_crypto2.randomUUID)() : requireText(message.id, 'id', MAX_ID);
  const deviceId = requireText(message.deviceId, 'deviceId', MAX_NAME);
  const registry = requireText(message.registry, 'registry', MAX_NAME);
  if (message.kind !== 'event' && message.kind !== 'state') {
    throw new TelemetryValidationError(
      `kind must be 'event' or 'state', not ${JSON.stringify(message.kind)}`,
    );
  }
  const subfolder = optionalText(message.subfolder, 'subfolder') ?? '';
  const receivedAt = toEpochMs(message.receivedAt);
  const { text, bytes } = payloadText(message.payload);
  if (bytes > limits.maxPayloadBytes) {
    throw new TelemetryValidationError(
      `payload is ${bytes} bytes, over the limit of ${limits.maxPayloadBytes} bytes`,
    );
  }
  let parsed;
  let payloadJson = null;
  let payloadRaw = null;
  let payloadEncoding;
  if (text === void 0) {
    payloadRaw = Buffer.from(message.payload).toString('base64');
    payloadEncoding = 'base64';
  } else if (isStorableJson(text)) {
    parsed = JSON.parse(text);
    payloadJson = text;
    payloadEncoding = 'json';
  } else if (text.includes('\0')) {
    payloadRaw = Buffer.from(text, 'utf8').toString('base64');
    payloadEncoding = 'base64';
  } else {
    payloadRaw = text;
    payloadEncoding = 'utf8';
  }
  const fromPayload = (key) => {
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
    if (!Object.hasOwn(parsed, key)) return null;
    const value = parsed[key];
    return typeof value === 'string' && value.length <= MAX_NAME && !value.includes('\0')
      ? wellFormed(value)
      : null;
  };
  return {
    id,
    deviceId,
    registry,
    receivedAt,
    kind: message.kind,
    subfolder,
    artifactName: optionalText(message.artifactName, 'artifactName') ?? fromPayload('artifact_name'),
    softwareVersion:
      optionalText(message.softwareVersion, 'softwareVersion') ?? fromPayload('software_version'),
    deploymentId: optionalText(message.deploymentId, 'deploymentId') ?? fromPayload('deployment_id'),
    payloadJson,
    payloadRaw,
    payloadEncoding,
    metrics: extractMetrics(parsed, limits.maxMetrics),
  };
}
function payloadText(payload) {
  if (payload instanceof Uint8Array) {
    try {
      return { text: decoder.decode(payload), bytes: payload.byteLength };
    } catch {
      return { text: void 0, bytes: payload.byteLength };
    }
  }
  if (typeof payload === 'string') {
    const text = wellFormed(payload);
    return { text, bytes: Buffer.byteLength(text, 'utf8') };
  }
  if (typeof payload === 'object' && payload !== null) {
    const text = JSON.stringify(payload);
    return { text, bytes: encoder.encode(text).byteLength };
  }
  throw new TelemetryValidationError('payload must be bytes, a string or a JSON object or array');
}
function isStorableJson(text) {
  if (text.includes('\\u0000')) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
function extractMetrics(value, max) {
  const out = [];
  const walk = (node, prefix, depth) => {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || depth > MAX_DEPTH) return;
    for (const key of Object.keys(node)) {
      if (out.length >= max) return;
      const child = node[key];
      const path = prefix === '' ? key : `${prefix}.${key}`;
      if (typeof child === 'number' && Number.isFinite(child)) {
        if (path.length <= MAX_NAME && !path.includes('\0')) out.push([wellFormed(path), child]);
      } else if (typeof child === 'object' && child !== null) {
        walk(child, path, depth + 1);
      }
    }
  };
  walk(value, '', 0);
  return out;
}
function metricsJson(metrics) {
  return JSON.stringify(Object.fromEntries(metrics));
}
function messageColumnValues(row, receivedAt) {
  return [
    row.id,
    row.deviceId,
    row.registry,
    receivedAt,
    row.kind,
    row.subfolder,
    row.artifactName,
    row.softwareVersion,
    row.deploymentId,
    row.payloadJson,
    row.payloadRaw,
    row.payloadEncoding,
    metricsJson(row.metrics),
  ];
}
var import_node_crypto2,
  DEFAULT_MESSAGE_LIMITS,
  MAX_ID,
  MAX_NAME,
  MAX_DEPTH,
  decoder,
  encoder,
  LONE_SURROGATE;
var init_message = __esm({
  'src/message.ts'() {
    import_node_crypto2 = require('crypto');
    init_errors();
    DEFAULT_MESSAGE_LIMITS = { maxPayloadBytes: 256 * 1024, maxMetrics: 256 };
    MAX_ID = 512;
    MAX_NAME = 1024;
    MAX_DEPTH = 8;
    decoder = new TextDecoder('utf-8', { fatal: true });
    encoder = new TextEncoder();
    LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
  },
});

// src/sql/migrations.ts
function migrationStatements(migration, dialect) {
  const json = dialect === 'postgres' ? 'jsonb' : 'json';
  const all = [...migration.statements, ...(dialect === 'postgres' ? (migration.postgresOnly ?? []) : [])];
  return all.map((s) => s.replaceAll('{{json}}', json));
}
var MIGRATIONS, CREATE_VERSION_TABLE;
var init_migrations = __esm({
  'src/sql/migrations.ts'() {
    MIGRATIONS = [
      {
        version: 1,
        description: 'messages (one row per message) and their numeric fields',
        statements: [
          `create table if not exists telemetry_messages (
        id varchar primary key,
        device_id varchar not null,
        registry varchar not null,
        received_at timestamptz not null,
        kind varchar not null,
        subfolder varchar not null,
        artifact_name varchar,
        software_version varchar,
        deployment_id varchar,
        payload {{json}},
        payload_raw varchar,
        payload_encoding varchar not null,
        metrics {{json}} not null
      )`,
          `create table if not exists telemetry_metrics (
        message_id varchar not null,
        device_id varchar not null,
        registry varchar not null,
        received_at timestamptz not null,
        kind varchar not null,
        artifact_name varchar,
        name varchar not null,
        value double precision not null
      )`,
        ],
        postgresOnly: [
          'create index if not exists telemetry_messages_device_time on telemetry_messages (device_id, received_at)',
          'create index if not exists telemetry_metrics_name_time on telemetry_metrics (name, received_at)',
          'create index if not exists telemetry_metrics_message on telemetry_metrics (message_id)',
        ],
      },
      {
        version: 2,
        description:
          'metrics indexed by (name, device, time) for device-set windows, instead of by message id (no query reads by it)',
        statements: [],
        postgresOnly: [
          'drop index if exists telemetry_metrics_message',
          // A window over a device set (a canary cohort, the fleet page's devices) reads ~rows of those
          // devices only, not every device's rows of the window and then a filter (EXPLAIN: 11,250 of
          // 12,501 rows removed over 300k messages).
          'create index if not exists telemetry_metrics_name_device_time on telemetry_metrics (name, device_id, received_at)',
        ],
      },
    ];
    CREATE_VERSION_TABLE = `create table if not exists telemetry_schema_version (
  version integer primary key,
  applied_at timestamptz not null
)`;
  },
});

// src/backends/postgres.ts
var postgres_exports = {};
__export(postgres_exports, {
  PostgresBackend: () => PostgresBackend,
});
var INSERT, SORT_MEMORY, MIGRATION_LOCK, PostgresBackend;
var init_postgres = __esm({
  'src/backends/postgres.ts'() {
    init_message();
    init_migrations();
    INSERT = `with ins as (
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
    SORT_MEMORY = '64MB';
    MIGRATION_LOCK = 128196126;
    PostgresBackend = class _PostgresBackend {
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
  },
});

// src/backends/duckdb.ts
var duckdb_exports = {};
__export(duckdb_exports, {
  DuckDbBackend: () => DuckDbBackend,
});
var STAGE, FROM_STAGE, CHUNK_ROWS, DuckDbBackend;
var init_duckdb = __esm({
  'src/backends/duckdb.ts'() {
    init_message();
    init_migrations();
    STAGE = `
  create temp table if not exists stage_messages (
    id varchar, device_id varchar, registry varchar, received_at timestamptz, kind varchar,
    subfolder varchar, artifact_name varchar, software_version varchar, deployment_id varchar,
    payload varchar, payload_raw varchar, payload_encoding varchar, metrics varchar
  );
  create temp table if not exists stage_metrics (
    message_id varchar, device_id varchar, registry varchar, received_at timestamptz, kind varchar,
    artifact_name varchar, name varchar, value double
  );`;
    FROM_STAGE = `select id, device_id, registry, received_at, kind, subfolder, artifact_name, software_version,
    deployment_id, cast(payload as json), payload_raw, payload_encoding, cast(metrics as json)
  from stage_messages`;
    CHUNK_ROWS = 2048;
    DuckDbBackend = class _DuckDbBackend {
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
  },
});

// src/index.ts
var index_exports = {};
__export(index_exports, {
  DEFAULT_MESSAGE_LIMITS: () => DEFAULT_MESSAGE_LIMITS,
  DUCKDB_FILE_NAME: () => DUCKDB_FILE_NAME,
  TELEMETRY_API_PATHS: () => TELEMETRY_API_PATHS,
  TelemetryBackpressureError: () => TelemetryBackpressureError,
  TelemetryClosedError: () => TelemetryClosedError,
  TelemetryError: () => TelemetryError,
  TelemetryErrorCodes: () => TelemetryErrorCodes,
  TelemetryHttpClient: () => TelemetryHttpClient,
  TelemetryOpenError: () => TelemetryOpenError,
  TelemetryQueryError: () => TelemetryQueryError,
  TelemetryStore: () => TelemetryStore,
  TelemetryValidationError: () => TelemetryValidationError,
  TelemetryWriteError: () => TelemetryWriteError,
  messageFromPush: () => messageFromPush,
  openTelemetryStore: () => openTelemetryStore,
  pushIngestPlugin: () => pushIngestPlugin,
  releaseHealthSource: () => releaseHealthSource,
  startPushIngest: () => startPushIngest,
  startTelemetryApi: () => startTelemetryApi,
  storeSink: () => storeSink,
  telemetryApiPlugin: () => telemetryApiPlugin,
});
module.exports = __toCommonJS(index_exports);
init_errors();

// src/health.ts
function releaseHealthSource(source, options = {}) {
  return {
    async aggregate(query, opts = {}) {
      const ids = options.deviceIdsOf ? await options.deviceIdsOf(query.devices) : query.devices;
      if (ids.length === 0) return { value: void 0, samples: 0 };
      const a = await source.aggregate(
        { metric: query.metric, deviceIds: ids, from: query.from, to: query.to, kind: 'event' },
        opts.signal ? { signal: opts.signal } : {},
      );
      const value = a[query.stat];
      return { value: value === null ? void 0 : value, samples: a.count };
    },
  };
}

// src/http/api.ts
init_errors();

// src/http/server.ts
var import_node_crypto = require('crypto');
var import_fastify = __toESM(require('fastify'), 1);
init_errors();
function sameSecret(given, expected) {
  if (given === void 0) return false;
  const a = (0, import_node_crypto.createHash)('sha256').update(given).digest();
  const b = (0, import_node_crypto.createHash)('sha256').update(expected).digest();
  return (0, import_node_crypto.timingSafeEqual)(a, b);
}
async function listen(options, register) {
  const app = (0, import_fastify.default)({ logger: false, bodyLimit: options.bodyLimit ?? 1024 * 1024 });
  await register(app);
  await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const host = options.host ?? '127.0.0.1';
  const shown = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${shown}:${port}`, port, close: () => app.close() };
}
function statusOf(err) {
  if (err instanceof TelemetryValidationError) return 400;
  if (err instanceof TelemetryBackpressureError || err instanceof TelemetryClosedError) return 503;
  return 500;
}
function sendError(reply, err) {
  const status = statusOf(err);
  if (status === 503) reply.header('retry-after', '1');
  const code = err instanceof TelemetryError ? err.code : 'ERR_INTERNAL';
  const message = err instanceof TelemetryError ? err.message : 'internal error';
  return reply.code(status).send({ error: message, code });
}

// src/http/api.ts
var TELEMETRY_API_PATHS = {
  latest: '/v1/telemetry/latest',
  messages: '/v1/telemetry/messages',
  releases: '/v1/telemetry/releases',
  aggregate: '/v1/telemetry/aggregate',
};
function one(q, name) {
  const v = q[name];
  if (Array.isArray(v)) throw new TelemetryValidationError(`query parameter ${name} is given more than once`);
  return v === void 0 || v === '' ? void 0 : v;
}
function intParam(q, name) {
  const v = one(q, name);
  if (v === void 0) return void 0;
  if (!/^\d{1,9}$/.test(v)) throw new TelemetryValidationError(`${name} must be a positive integer`);
  return Number(v);
}
function filterOf(q) {
  const devices = q.device;
  const kind = one(q, 'kind');
  if (kind !== void 0 && kind !== 'event' && kind !== 'state') {
    throw new TelemetryValidationError("kind must be 'event' or 'state'");
  }
  return {
    deviceIds: devices === void 0 ? void 0 : Array.isArray(devices) ? devices : [devices],
    registry: one(q, 'registry'),
    kind,
    from: one(q, 'from'),
    to: one(q, 'to'),
  };
}
var telemetryApiPlugin = async (app, options) => {
  const { store, token } = options;
  const authorized = (request) => {
    if (token === void 0) return true;
    const header = request.headers.authorization;
    return typeof header === 'string' && header.startsWith('Bearer ') && sameSecret(header.slice(7), token);
  };
  const route = (path, run) => {
    app.get(path, async (request, reply) => {
      if (!authorized(request)) {
        return reply.code(401).send({ error: 'missing or wrong bearer token', code: 'ERR_UNAUTHORIZED' });
      }
      try {
        return reply.send(await run(request.query));
      } catch (err) {
        return sendError(reply, err);
      }
    });
  };
  route(TELEMETRY_API_PATHS.latest, async (q) => ({
    devices: await store.latest({ ...filterOf(q), limit: intParam(q, 'limit') }),
  }));
  route(TELEMETRY_API_PATHS.messages, async (q) => ({
    messages: await store.messages({ ...filterOf(q), limit: intParam(q, 'limit') }),
  }));
  route(TELEMETRY_API_PATHS.releases, async (q) => {
    const metric = one(q, 'metric');
    if (metric === void 0) throw new TelemetryValidationError('metric is required');
    return { metric, releases: await store.releaseAggregates({ ...filterOf(q), metric }) };
  });
  route(TELEMETRY_API_PATHS.aggregate, async (q) => {
    const metric = one(q, 'metric');
    if (metric === void 0) throw new TelemetryValidationError('metric is required');
    return { metric, aggregate: await store.aggregate({ ...filterOf(q), metric }) };
  });
};
async function startTelemetryApi(options) {
  return listen(options, (app) =>
    app.register(telemetryApiPlugin, { store: options.store, token: options.token }),
  );
}

// src/http/client.ts
var import_core2 = require('@otakit/core');
init_message();
function queryOf(f) {
  const iso = (v, what) => (v === void 0 ? void 0 : new Date(toEpochMs(v, what)).toISOString());
  return {
    device: f.deviceIds === void 0 ? void 0 : [...f.deviceIds],
    registry: f.registry,
    kind: f.kind,
    from: iso(f.from, 'from'),
    to: iso(f.to, 'to'),
    limit: f.limit,
    metric: f.metric,
  };
}
var TelemetryHttpClient = class {
  #http;
  constructor(options) {
    this.#http = new import_core2.HttpClient(options);
  }
  /** The newest message of each device matching `query`. */
  async latest(query = {}, options = {}) {
    const res = await this.#http.request({
      ...options,
      method: 'GET',
      path: TELEMETRY_API_PATHS.latest,
      query: queryOf(query),
    });
    return res.data.devices;
  }
  /** The newest messages matching `query`, newest first. */
  async messages(query = {}, options = {}) {
    const res = await this.#http.request({
      ...options,
      method: 'GET',
      path: TELEMETRY_API_PATHS.messages,
      query: queryOf(query),
    });
    return res.data.messages;
  }
  /** Count, mean, p50, p95, max of `query.metric` per release. */
  async releaseAggregates(query, options = {}) {
    const res = await this.#http.request({
      ...options,
      method: 'GET',
      path: TELEMETRY_API_PATHS.releases,
      query: queryOf(query),
    });
    return res.data.releases;
  }
  /** Count, mean, p50, p95, max and rate of `query.metric` over every matching message. */
  async aggregate(query, options = {}) {
    const res = await this.#http.request({
      ...options,
      method: 'GET',
      path: TELEMETRY_API_PATHS.aggregate,
      query: queryOf(query),
    });
    return res.data.aggregate;
  }
  /** Closes the connections the client opened (an injected dispatcher is left open). */
  close() {
    return this.#http.close();
  }
};

// src/http/push.ts
init_errors();
var BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
var REQUIRED = ['deviceId', 'projectId', 'deviceRegistryLocation', 'deviceRegistryId'];
function messageFromPush(body, kind = 'event') {
  const message = body?.message;
  if (typeof message !== 'object' || message === null) {
    throw new TelemetryValidationError('a push delivery must be a JSON object with a "message" object');
  }
  const attributes = message.attributes;
  if (typeof attributes !== 'object' || attributes === null) {
    throw new TelemetryValidationError('the pushed message has no attributes');
  }
  const attr = (name) => {
    if (!Object.hasOwn(attributes, name)) return void 0;
    const value = attributes[name];
    return typeof value === 'string' && value !== '' ? value : void 0;
  };
  for (const name of REQUIRED) {
    if (attr(name) === void 0)
      throw new TelemetryValidationError(`the pushed message has no attribute ${name}`);
  }
  const messageId = message.messageId ?? message.message_id;
  if (typeof messageId !== 'string' || messageId === '') {
    throw new TelemetryValidationError('the pushed message has no messageId');
  }
  const data = message.data ?? '';
  if (typeof data !== 'string' || !BASE64.test(data) || data.length % 4 !== 0) {
    throw new TelemetryValidationError('the pushed message data is not base64');
  }
  const published = message.publishTime ?? message.publish_time;
  const receivedAt =
    typeof published === 'string' && Number.isFinite(Date.parse(published)) ? published : void 0;
  return {
    id: `pubsub:${kind}:${messageId}`,
    deviceId: attr('deviceId'),
    registry: `projects/${attr('projectId')}/locations/${attr('deviceRegistryLocation')}/registries/${attr('deviceRegistryId')}`,
    kind,
    subfolder: attr('subFolder') ?? '',
    payload: new Uint8Array(Buffer.from(data, 'base64')),
    ...(receivedAt === void 0 ? {} : { receivedAt }),
  };
}
var pushIngestPlugin = async (app, options) => {
  const { store, token } = options;
  app.post(options.path ?? '/', async (request, reply) => {
    const query = request.query;
    if (token !== void 0 && !sameSecret(typeof query.token === 'string' ? query.token : void 0, token)) {
      return reply.code(401).send({ error: 'missing or wrong push token', code: 'ERR_UNAUTHORIZED' });
    }
    const kind = query.kind === void 0 ? 'event' : query.kind;
    if (kind !== 'event' && kind !== 'state') {
      return reply
        .code(400)
        .send({ error: "kind must be 'event' or 'state'", code: 'ERR_TELEMETRY_INVALID' });
    }
    try {
      await store.append(messageFromPush(request.body, kind));
    } catch (err) {
      return sendError(reply, err);
    }
    return reply.code(204).send();
  });
};
async function startPushIngest(options) {
  return listen({ ...options, bodyLimit: options.bodyLimit ?? 512 * 1024 }, (app) =>
    app.register(pushIngestPlugin, { store: options.store, token: options.token, path: options.path }),
  );
}

// src/index.ts
init_message();

// src/sink.ts
function storeSink(store) {
  return {
    async write(record) {
      await store.append({
        deviceId: record.deviceId,
        registry: `projects/${record.projectId}/locations/${record.location}/registries/${record.registryId}`,
        kind: record.kind,
        payload: record.payload,
        receivedAt: record.receivedAt,
        ...(record.subfolder ? { subfolder: record.subfolder } : {}),
        ...(record.messageId ? { id: `iot-core:${record.messageId}` } : {}),
      });
    },
  };
}

// src/store.ts
var import_node_fs = require('fs');
var import_node_path = require('path');
var import_core3 = require('@otakit/core');
init_errors();

// src/ingest-queue.ts
init_errors();
init_message();
var IngestQueue = class {
  #backend;
  #maxQueued;
  #maxBatch;
  #limits;
  #queue = [];
  /** Messages accepted and not yet settled (queued or being written). */
  #inFlight = 0;
  #writing;
  #closed = false;
  #writableWaiters = [];
  constructor(backend, maxQueued, maxBatch, limits) {
    this.#backend = backend;
    this.#maxQueued = maxQueued;
    this.#maxBatch = maxBatch;
    this.#limits = limits;
  }
  /** Messages accepted and not yet stored or failed. */
  get pending() {
    return this.#inFlight;
  }
  /** See {@link TelemetryStore.appendBatch}. */
  appendBatch(messages) {
    if (this.#closed) return Promise.reject(new TelemetryClosedError());
    let rows;
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
        new Promise((resolve2, reject) => {
          this.#queue.push({ row, resolve: resolve2, reject });
        }),
    );
    this.#kick();
    return Promise.all(settled);
  }
  /** See {@link TelemetryStore.whenWritable}. */
  whenWritable(count = 1) {
    if (this.#closed) return Promise.reject(new TelemetryClosedError());
    if (this.#inFlight + count <= this.#maxQueued) return Promise.resolve();
    return new Promise((resolve2) => {
      const check = () => {
        if (this.#closed || this.#inFlight + count <= this.#maxQueued) resolve2();
        else this.#writableWaiters.push(check);
      };
      this.#writableWaiters.push(check);
    });
  }
  /** Resolves when every message accepted so far is stored or failed. */
  async flush() {
    while (this.#writing !== void 0) await this.#writing;
  }
  /** Refuses new appends, writes what was accepted, and wakes the producers waiting for room. */
  async close() {
    this.#closed = true;
    await this.flush();
    for (const w of this.#writableWaiters) w();
    this.#writableWaiters = [];
  }
  #kick() {
    if (this.#writing !== void 0) return;
    this.#writing = this.#drain();
  }
  async #drain() {
    try {
      while (this.#queue.length > 0) {
        await new Promise((resolve2) => setImmediate(resolve2));
        const batch = this.#queue.splice(0, this.#maxBatch);
        await this.#writeBatch(batch);
        this.#inFlight -= batch.length;
        const waiters = this.#writableWaiters;
        this.#writableWaiters = [];
        for (const w of waiters) w();
      }
    } finally {
      this.#writing = void 0;
    }
  }
  async #writeBatch(batch) {
    const first = /* @__PURE__ */ new Map();
    for (const p of batch) if (!first.has(p.row.id)) first.set(p.row.id, p.row);
    const rows = [...first.values()];
    let inserted;
    const failed = /* @__PURE__ */ new Map();
    try {
      inserted = await this.#backend.write(rows);
    } catch {
      inserted = /* @__PURE__ */ new Set();
      for (const row of rows) {
        try {
          for (const id of await this.#writeOne(row)) inserted.add(id);
        } catch (err) {
          failed.set(row.id, err);
        }
      }
    }
    const claimed = /* @__PURE__ */ new Set();
    for (const p of batch) {
      const err = failed.get(p.row.id);
      if (err === void 0) {
        p.resolve({ id: p.row.id, duplicate: !inserted.has(p.row.id) || claimed.has(p.row.id) });
        claimed.add(p.row.id);
      } else {
        p.reject(
          new TelemetryWriteError(`message ${p.row.id} was not stored: ${errorText(err)}`, { cause: err }),
        );
      }
    }
  }
  /** Writes one row; if the database refuses its JSON, stores the payload raw instead. */
  async #writeOne(row) {
    try {
      return await this.#backend.write([row]);
    } catch (err) {
      if (row.payloadJson === null) throw err;
      return await this.#backend.write([
        { ...row, payloadRaw: row.payloadJson, payloadJson: null, payloadEncoding: 'utf8' },
      ]);
    }
  }
};
function errorText(err) {
  return err instanceof Error ? err.message : String(err);
}

// src/store.ts
init_message();

// src/reads.ts
init_errors();
init_message();
function limitOf(value, fallback, max) {
  if (value === void 0) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new TelemetryValidationError(`limit must be an integer from 1 to ${max}`);
  }
  return value;
}
function metricOf(query) {
  if (typeof query?.metric !== 'string' || query.metric === '') {
    throw new TelemetryValidationError('metric must be a non-empty string');
  }
  return query.metric;
}
function isoOf(value, what) {
  return value === void 0 ? void 0 : new Date(toEpochMs(value, what)).toISOString();
}
function filterSpec(f) {
  if (f.kind !== void 0 && f.kind !== 'event' && f.kind !== 'state') {
    throw new TelemetryValidationError(`kind must be 'event' or 'state'`);
  }
  if (
    f.deviceIds !== void 0 &&
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
function parseJsonText(value) {
  if (value === null || value === void 0) return null;
  return typeof value === 'string' ? JSON.parse(value) : value;
}
function nullableText(value) {
  return value === null || value === void 0 ? null : String(value);
}
function toRecord(r) {
  const encoding = String(r.payload_encoding);
  return {
    id: String(r.id),
    deviceId: String(r.device_id),
    registry: String(r.registry),
    receivedAt: new Date(Math.round(Number(r.received_ms))).toISOString(),
    kind: String(r.kind),
    subfolder: String(r.subfolder ?? ''),
    artifactName: nullableText(r.artifact_name),
    softwareVersion: nullableText(r.software_version),
    deploymentId: nullableText(r.deployment_id),
    payload: encoding === 'json' ? parseJsonText(r.payload) : null,
    payloadRaw: nullableText(r.payload_raw),
    payloadEncoding: encoding,
    metrics: parseJsonText(r.metrics) ?? {},
  };
}
function toReleaseAggregate(r) {
  const [p50, p95] = r.percentiles;
  return {
    release: r.release === null || r.release === void 0 ? null : String(r.release),
    count: Number(r.count),
    mean: Number(r.mean),
    p50: Number(p50),
    p95: Number(p95),
    max: Number(r.max),
  };
}
function toMetricAggregate(r = {}) {
  const count = Number(r.count ?? 0);
  const num = (v) => (count === 0 || v === null || v === void 0 ? null : Number(v));
  const [p50, p95] = Array.isArray(r.percentiles) ? r.percentiles : [null, null];
  return { count, mean: num(r.mean), p50: num(p50), p95: num(p95), max: num(r.max), rate: num(r.rate) };
}

// src/sql/queries.ts
var Params = class {
  values = [];
  add(value) {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  list(values) {
    return values.map((v) => this.add(v)).join(', ');
  }
};
var MESSAGE_COLUMNS = `id, device_id, registry,
  cast(extract(epoch from received_at) * 1000 as double precision) as received_ms,
  kind, subfolder, artifact_name, software_version, deployment_id,
  cast(payload as varchar) as payload, payload_raw, payload_encoding, cast(metrics as varchar) as metrics`;
function where(p, f, extra = []) {
  const clauses = [...extra];
  if (f.registry !== void 0) clauses.push(`registry = ${p.add(f.registry)}`);
  if (f.kind !== void 0) clauses.push(`kind = ${p.add(f.kind)}`);
  if (f.deviceIds !== void 0) {
    clauses.push(f.deviceIds.length === 0 ? '1 = 0' : `device_id in (${p.list(f.deviceIds)})`);
  }
  if (f.from !== void 0) clauses.push(`received_at >= cast(${p.add(f.from)} as timestamptz)`);
  if (f.to !== void 0) clauses.push(`received_at < cast(${p.add(f.to)} as timestamptz)`);
  return clauses.length === 0 ? '' : `where ${clauses.join(' and ')}`;
}
function latestPerDeviceQuery(f, limit) {
  const p = new Params();
  const filter = where(p, f);
  const text = `select distinct on (device_id) ${MESSAGE_COLUMNS}
    from telemetry_messages ${filter}
    order by device_id, received_at desc, id desc
    limit ${p.add(limit)}`;
  return { text, params: p.values };
}
function messagesQuery(f, limit) {
  const p = new Params();
  const filter = where(p, f);
  const text = `select ${MESSAGE_COLUMNS}
    from telemetry_messages ${filter}
    order by received_at desc, id desc
    limit ${p.add(limit)}`;
  return { text, params: p.values };
}
function releaseAggregatesQuery(metric, f) {
  const p = new Params();
  const filter = where(p, f, [`name = ${p.add(metric)}`]);
  const text = `select artifact_name as release,
      cast(count(*) as integer) as count,
      avg(value) as mean,
      percentile_cont(array[0.5, 0.95]) within group (order by value) as percentiles,
      max(value) as max
    from telemetry_metrics ${filter}
    group by artifact_name
    order by artifact_name nulls last`;
  return { text, params: p.values };
}
function metricAggregateQuery(metric, f) {
  const p = new Params();
  const filter = where(p, f, [`name = ${p.add(metric)}`]);
  const text = `select cast(count(*) as integer) as count,
      avg(value) as mean,
      percentile_cont(array[0.5, 0.95]) within group (order by value) as percentiles,
      max(value) as max,
      avg(case when value > 0 then 1.0 else 0.0 end) as rate
    from telemetry_metrics ${filter}`;
  return { text, params: p.values };
}
var COUNT_MESSAGES = 'select cast(count(*) as integer) as n from telemetry_messages';

// src/store.ts
var DUCKDB_FILE_NAME = 'telemetry.duckdb';
async function openTelemetryStore(target, options = {}) {
  let backend;
  const isPostgres = /^postgres(ql)?:\/\//i.test(target);
  const where2 = isPostgres ? (0, import_core3.redactUrl)(target) : target;
  try {
    if (isPostgres) {
      const { PostgresBackend: PostgresBackend2 } = await Promise.resolve().then(
        () => (init_postgres(), postgres_exports),
      );
      backend = await PostgresBackend2.open(target, options.maxConnections);
    } else {
      const { DuckDbBackend: DuckDbBackend2 } = await Promise.resolve().then(
        () => (init_duckdb(), duckdb_exports),
      );
      backend = await DuckDbBackend2.open(duckDbPath(target));
    }
  } catch (err) {
    if (err instanceof TelemetryError) throw err;
    throw new TelemetryOpenError(`cannot open the telemetry store at ${where2}: ${messageOf(err, target)}`, {
      cause: err,
    });
  }
  try {
    await backend.migrate();
  } catch (err) {
    await backend.close().catch(() => void 0);
    throw new TelemetryOpenError(
      `cannot migrate the telemetry store at ${where2}: ${messageOf(err, target)}`,
      {
        cause: err,
      },
    );
  }
  return new TelemetryStore(backend, where2, options);
}
function duckDbPath(target) {
  if (target === ':memory:') return target;
  if (target === '') throw new TelemetryValidationError('the telemetry store target is empty');
  const path = (0, import_node_path.resolve)(target);
  let isDir = false;
  try {
    isDir = (0, import_node_fs.statSync)(path).isDirectory();
  } catch {
    isDir = !['.duckdb', '.db'].includes((0, import_node_path.extname)(path));
    if (isDir) (0, import_node_fs.mkdirSync)(path, { recursive: true });
  }
  return isDir ? (0, import_node_path.join)(path, DUCKDB_FILE_NAME) : path;
}
function messageOf(err, target) {
  let text = err instanceof Error ? err.message : String(err);
  try {
    const password = new URL(target).password;
    if (password) text = text.replaceAll(decodeURIComponent(password), '***').replaceAll(password, '***');
  } catch {}
  return text;
}
var TelemetryStore = class {
  /** `duckdb` or `postgres`. */
  dialect;
  /** What was opened, with any password redacted. */
  target;
  #backend;
  #ingest;
  #closed = false;
  /** @internal Use {@link openTelemetryStore}. */
  constructor(backend, target, options = {}) {
    this.#backend = backend;
    this.dialect = backend.dialect;
    this.target = target;
    this.#ingest = new IngestQueue(
      backend,
      positive(options.maxQueued, 1e4, 'maxQueued'),
      positive(options.maxBatch, 1e3, 'maxBatch'),
      { ...DEFAULT_MESSAGE_LIMITS, ...options.limits },
    );
  }
  /** Messages accepted and not yet stored or failed. */
  get pending() {
    return this.#ingest.pending;
  }
  /**
   * Stores one message. Resolves once it is durable (`duplicate: true` when its id was stored
   * before). Rejects with {@link TelemetryValidationError} for a message that cannot be stored,
   * {@link TelemetryBackpressureError} at once when `maxQueued` messages are waiting,
   * {@link TelemetryWriteError} when the database failed, {@link TelemetryClosedError} after `close`.
   */
  append(message) {
    return this.appendBatch([message]).then((r) => r[0]);
  }
  /**
   * Stores several messages, admitted together or refused together (backpressure), and resolves
   * when all are durable, in order. A message that fails validation rejects the whole call before
   * any is queued.
   */
  appendBatch(messages) {
    return this.#ingest.appendBatch(messages);
  }
  /**
   * Resolves when the queue has room for `count` more messages (at once if it has). A producer
   * that got a {@link TelemetryBackpressureError} awaits this before trying again.
   */
  whenWritable(count = 1) {
    return this.#ingest.whenWritable(count);
  }
  /** Resolves when every message accepted so far is stored or failed. */
  flush() {
    return this.#ingest.flush();
  }
  /** The newest message of each device matching `query`, ordered by device id. */
  async latest(query = {}) {
    const q = latestPerDeviceQuery(filterSpec(query), limitOf(query.limit, 1e3, 1e5));
    return (await this.#query(q.text, q.params)).map(toRecord);
  }
  /** The newest messages matching `query`, newest first. */
  async messages(query = {}) {
    const q = messagesQuery(filterSpec(query), limitOf(query.limit, 100, 1e4));
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
  async releaseAggregates(query) {
    const q = releaseAggregatesQuery(metricOf(query), filterSpec(query));
    return (await this.#query(q.text, q.params)).map(toReleaseAggregate);
  }
  /**
   * Count, mean, p50, p95, max and rate of `query.metric` over every message the filter matches,
   * across releases: the figures of a cohort of devices over a window (what release gates compare).
   */
  async aggregate(query) {
    const q = metricAggregateQuery(metricOf(query), filterSpec(query));
    return toMetricAggregate((await this.#query(q.text, q.params))[0]);
  }
  /** How many messages are stored. */
  async count() {
    const rows = await this.#query(COUNT_MESSAGES, []);
    return Number(rows[0]?.n ?? 0);
  }
  async #query(text, params) {
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
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ingest.close();
    await this.#backend.close();
  }
};
function positive(value, fallback, what) {
  if (value === void 0) return fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new TelemetryValidationError(`${what} must be a positive integer`);
  return value;
}
// Annotate the CommonJS export names for ESM import in node:
0 &&
  (module.exports = {
    DEFAULT_MESSAGE_LIMITS,
    DUCKDB_FILE_NAME,
    TELEMETRY_API_PATHS,
    TelemetryBackpressureError,
    TelemetryClosedError,
    TelemetryError,
    TelemetryErrorCodes,
    TelemetryHttpClient,
    TelemetryOpenError,
    TelemetryQueryError,
    TelemetryStore,
    TelemetryValidationError,
    TelemetryWriteError,
    messageFromPush,
    openTelemetryStore,
    pushIngestPlugin,
    releaseHealthSource,
    startPushIngest,
    startTelemetryApi,
    storeSink,
    telemetryApiPlugin,
  });
//# sourceMappingURL=index.cjs.map
