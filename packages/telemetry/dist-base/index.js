import {
  DEFAULT_MESSAGE_LIMITS,
  TelemetryBackpressureError,
  TelemetryClosedError,
  TelemetryError,
  TelemetryErrorCodes,
  TelemetryOpenError,
  TelemetryQueryError,
  TelemetryValidationError,
  TelemetryWriteError,
  toEpochMs,
  toStoredRow,
} from './chunk-ADMBPFET.js';

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

// src/http/server.ts
import { createHash, timingSafeEqual } from 'crypto';
import Fastify from 'fastify';

function sameSecret(given, expected) {
  if (given === void 0) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
async function listen(options, register) {
  const app = Fastify({ logger: false, bodyLimit: options.bodyLimit ?? 1024 * 1024 });
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
import { HttpClient } from '@otakit/core';

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
    this.#http = new HttpClient(options);
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

import { redactUrl } from '@otakit/core';
// src/store.ts
import { mkdirSync, statSync } from 'fs';
import { extname, join, resolve } from 'path';

// src/ingest-queue.ts
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

// src/reads.ts
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
  const where2 = isPostgres ? redactUrl(target) : target;
  try {
    if (isPostgres) {
      const { PostgresBackend } = await import('./postgres-JCPQJGH3.js');
      backend = await PostgresBackend.open(target, options.maxConnections);
    } else {
      const { DuckDbBackend } = await import('./duckdb-QPB4AZLP.js');
      backend = await DuckDbBackend.open(duckDbPath(target));
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

export {
  DEFAULT_MESSAGE_LIMITS,
  DUCKDB_FILE_NAME,
  messageFromPush,
  openTelemetryStore,
  pushIngestPlugin,
  releaseHealthSource,
  startPushIngest,
  startTelemetryApi,
  storeSink,
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
  telemetryApiPlugin,
};
//# sourceMappingURL=index.js.map
