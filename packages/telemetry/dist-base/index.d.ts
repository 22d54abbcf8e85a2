import { HttpClientOptions, OtakitError, OtakitErrorOptions, RequestOptions } from '@otakit/core';
import { FastifyPluginAsync } from 'fastify';

/**
 * The errors the telemetry store throws. Each is an {@link OtakitError} with its own `code`, and
 * `instanceof` works across copies of the package.
 */

/** The codes of the telemetry errors, for `switch (err.code)`. */
declare const TelemetryErrorCodes: {
  /** A message or query was malformed (missing device id, unknown kind, payload too large, bad time). */
  readonly INVALID: 'ERR_TELEMETRY_INVALID';
  /** The ingest queue is full: the caller should slow down and retry (the publisher is told). */
  readonly BACKPRESSURE: 'ERR_TELEMETRY_BACKPRESSURE';
  /** The database refused or failed the write: the messages were not stored. */
  readonly WRITE: 'ERR_TELEMETRY_WRITE';
  /** The database failed a query. */
  readonly QUERY: 'ERR_TELEMETRY_QUERY';
  /** The store was closed. */
  readonly CLOSED: 'ERR_TELEMETRY_CLOSED';
  /** The store target could not be opened (bad URL, unreachable server, locked file). */
  readonly OPEN: 'ERR_TELEMETRY_OPEN';
};
/** Base class of every telemetry error. */
declare class TelemetryError extends OtakitError {}
/** A message or query the store cannot accept, with what was wrong in `message`. */
declare class TelemetryValidationError extends TelemetryError {
  constructor(message: string, options?: OtakitErrorOptions);
}
/**
 * The ingest queue holds `maxQueued` messages not yet stored: this one was refused, not buffered.
 * Tell the publisher (no PUBACK, HTTP 503) or wait for {@link TelemetryStore.whenWritable}.
 */
declare class TelemetryBackpressureError extends TelemetryError {
  /** How many messages were waiting to be stored when this one was refused. */
  readonly queued: number;
  constructor(queued: number, limit: number);
}
/** The database failed a write: none of the messages of that batch were stored. */
declare class TelemetryWriteError extends TelemetryError {
  constructor(message: string, options?: OtakitErrorOptions);
}
/** The database failed a query. */
declare class TelemetryQueryError extends TelemetryError {
  constructor(message: string, options?: OtakitErrorOptions);
}
/** The store was closed before (or while) the call ran. */
declare class TelemetryClosedError extends TelemetryError {
  constructor();
}
/** The store's target could not be opened. The message names the target with any password redacted. */
declare class TelemetryOpenError extends TelemetryError {
  constructor(message: string, options?: OtakitErrorOptions);
}

/**
 * What a device publishes, as the store receives it ({@link TelemetryMessage}), and the row it
 * becomes ({@link StoredRow}): the payload checked as JSON (kept raw when it is not), its numeric
 * fields extracted, and the release fields taken from the message or from its payload.
 */
/** `event` for telemetry (`/devices/{id}/events[/subfolder]`), `state` for state reports. */
type TelemetryKind = 'event' | 'state';
/** One message a device published, handed to {@link TelemetryStore.append}. */
interface TelemetryMessage {
  /**
   * A unique id of this message. The store keeps one row per id, so a message delivered twice (a
   * broker retry, a Pub/Sub redelivery) is stored once. Give a stable id, e.g. `pubsub:<messageId>`
   * or `<clientId>:<session>:<packetId>`; without one a random id is generated and a redelivery is
   * stored again.
   */
  id?: string;
  /** The device id in its registry (IoT Core `deviceId`). */
  deviceId: string;
  /** The registry's full name, `projects/P/locations/L/registries/R`. */
  registry: string;
  /** `event` (telemetry) or `state`. */
  kind: TelemetryKind;
  /** The bytes the device published (UTF-8 JSON expected), a string, or a JSON value to serialise. */
  payload: Uint8Array | string | Record<string, unknown> | unknown[];
  /** When the cloud received it (default: now). */
  receivedAt?: Date | number | string;
  /** The events subfolder (`/devices/{id}/events/{subfolder}`); '' or undefined for none. */
  subfolder?: string;
  /** The artifact the device runs; default: the payload's string field `artifact_name`. */
  artifactName?: string;
  /** The software version it runs; default: the payload's string field `software_version`. */
  softwareVersion?: string;
  /** The deployment being installed, if any; default: the payload's string field `deployment_id`. */
  deploymentId?: string;
}
/** The numeric fields of a payload, by dotted path (`mem.free`), as extracted at ingest. */
type Metrics = Record<string, number>;
/** A message as the store writes it. */
interface StoredRow {
  id: string;
  deviceId: string;
  registry: string;
  /** Epoch milliseconds. */
  receivedAt: number;
  kind: TelemetryKind;
  subfolder: string;
  artifactName: string | null;
  softwareVersion: string | null;
  deploymentId: string | null;
  /** The payload text when it is valid JSON (that both databases accept), else null. */
  payloadJson: string | null;
  /** The payload when it is not such JSON: its text (`utf8`) or its bytes in base64 (`base64`). */
  payloadRaw: string | null;
  payloadEncoding: 'json' | 'utf8' | 'base64';
  /** The extracted numeric fields, as ordered entries (own-property safe: no object is built). */
  metrics: Array<[string, number]>;
}
/** Limits applied to each message. */
interface MessageLimits {
  /** Largest payload accepted, in bytes (default 256 KiB, IoT Core's telemetry limit). */
  maxPayloadBytes: number;
  /** Most numeric fields extracted from one payload (default 256); the rest are not extracted. */
  maxMetrics: number;
}
/** The default {@link MessageLimits}. */
declare const DEFAULT_MESSAGE_LIMITS: MessageLimits;

/** The shapes the store's queries return, shared by the library API, the HTTP API and its client. */

/** A stored message, as queries return it. */
interface TelemetryRecord {
  id: string;
  deviceId: string;
  registry: string;
  /** When the cloud received it, ISO 8601 UTC. */
  receivedAt: string;
  kind: TelemetryKind;
  /** '' when the message had none. */
  subfolder: string;
  artifactName: string | null;
  softwareVersion: string | null;
  deploymentId: string | null;
  /** The payload parsed, when it was valid JSON; else null (see `payloadRaw`). */
  payload: unknown;
  /** The payload as received when it was not valid JSON: text (`utf8`) or base64 (`base64`). */
  payloadRaw: string | null;
  payloadEncoding: 'json' | 'utf8' | 'base64';
  /** Its numeric fields by dotted path. Keys such as `__proto__` are ordinary own keys. */
  metrics: Record<string, number>;
}
/** Which messages a query looks at. Every field is optional; they combine with "and". */
interface TelemetryFilter {
  /** Only these devices (an empty list matches none). */
  deviceIds?: readonly string[] | undefined;
  /** Only this registry (full name). */
  registry?: string | undefined;
  /** Only events or only states. */
  kind?: TelemetryKind | undefined;
  /** Received at or after this time. */
  from?: Date | string | number | undefined;
  /** Received before this time. */
  to?: Date | string | number | undefined;
}
/** {@link TelemetryStore.latest}'s query. */
interface LatestQuery extends TelemetryFilter {
  /** Most devices returned (default 1000, at most 100,000). */
  limit?: number | undefined;
}
/** {@link TelemetryStore.messages}'s query. */
interface MessagesQuery extends TelemetryFilter {
  /** Most messages returned, newest first (default 100, at most 10,000). */
  limit?: number | undefined;
}
/** {@link TelemetryStore.releaseAggregates}'s query. */
interface ReleaseAggregatesQuery extends TelemetryFilter {
  /** The numeric field (dotted path, e.g. `cpu` or `mem.free`). */
  metric: string;
}
/** One release's figures for a numeric field. */
interface ReleaseAggregate {
  /** The artifact name; null for messages that named none. */
  release: string | null;
  /** Messages that carried the field. */
  count: number;
  mean: number;
  p50: number;
  p95: number;
  max: number;
}
/** A numeric field's figures over a set of messages (a cohort); all but `count` are null without samples. */
interface MetricAggregate {
  /** Messages that carried the field. */
  count: number;
  mean: number | null;
  p50: number | null;
  p95: number | null;
  max: number | null;
  /** The share of samples whose value is above 0 (e.g. messages that reported errors). */
  rate: number | null;
}
/** What {@link TelemetryStore.append} resolves to once the message is durable. */
interface AppendResult {
  id: string;
  /** True when a message with this id was already stored (this one was not stored again). */
  duplicate: boolean;
}

/** The statistic a release gate reads (as the management client's gates name them). */
type HealthStat = 'mean' | 'p95' | 'max' | 'rate';
/** A cohort query, as the management client's `ReleaseHealthSource.aggregate` receives it. */
interface HealthQuery {
  metric: string;
  stat: HealthStat;
  /** Mender device ids. */
  devices: readonly string[];
  from: Date;
  to: Date;
}
/** Options of {@link releaseHealthSource}. */
interface ReleaseHealthSourceOptions {
  /**
   * Maps Mender device ids to the ids the telemetry knows them by (the registry device ids). By
   * default they are the same.
   */
  deviceIdsOf?: (menderIds: readonly string[]) => Promise<readonly string[]>;
}
/**
 * A health source for the management client's gated rollouts (`rollout({ gates, health })`) over
 * a telemetry store or its HTTP client: the figure a gate asks for over a cohort's telemetry events
 * in a window, and how many samples it rests on. It matches the management client's
 * `ReleaseHealthSource` by shape, so neither package imports the other.
 *
 * @example
 * ```ts
 * const health = releaseHealthSource(new TelemetryHttpClient({ baseUrl }), { deviceIdsOf })
 * await mgmt.rollout({ artifactName, devices, phases, gates: [parseGate('cpu_temp:p95:+10%')], health })
 * ```
 */
declare function releaseHealthSource(
  source: {
    aggregate(
      query: ReleaseAggregatesQuery,
      options?: {
        signal?: AbortSignal;
      },
    ): Promise<MetricAggregate>;
  },
  options?: ReleaseHealthSourceOptions,
): {
  aggregate(
    query: HealthQuery,
    opts?: {
      signal?: AbortSignal;
    },
  ): Promise<{
    value: number | undefined;
    samples: number;
  }>;
};

/**
 * The store's schema, as versioned migrations. Each runs once, in order, recorded in
 * `telemetry_schema_version`. Statements are written in the SQL DuckDB and PostgreSQL both accept;
 * `{{json}}` is `json` on DuckDB and `jsonb` on PostgreSQL, and `indexes` are created on PostgreSQL
 * only (DuckDB prunes scans with its own min-max zone maps, and an index would slow its appends).
 *
 * Never edit a released migration: add the next one.
 */
/** A SQL dialect the store speaks. */
type Dialect = 'duckdb' | 'postgres';

/**
 * What the store needs from a database: apply the migrations, write a batch atomically and
 * idempotently, run a read query. One implementation per database.
 * @internal
 */
interface Backend {
  readonly dialect: Dialect;
  /** Applies the migrations not yet applied. */
  migrate(): Promise<void>;
  /**
   * Writes `rows` (distinct ids) in one transaction, skipping ids already stored, and returns the
   * ids it inserted. Rejects, having stored none of them, when the transaction fails.
   */
  write(rows: readonly StoredRow[]): Promise<Set<string>>;
  /** Runs a read query; rows as plain objects keyed by column name. */
  query(text: string, params: readonly unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/**
 * The telemetry store: opening a target (DuckDB or PostgreSQL) and the store's public API. Writes go
 * through the bounded queue of `ingest-queue.ts`; reads build their SQL in `sql/queries.ts` and
 * shape its rows in `reads.ts`. Open one with {@link openTelemetryStore}.
 */

/** Options of {@link openTelemetryStore}. */
interface TelemetryStoreOptions {
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
declare const DUCKDB_FILE_NAME = 'telemetry.duckdb';
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
declare function openTelemetryStore(target: string, options?: TelemetryStoreOptions): Promise<TelemetryStore>;
/**
 * A telemetry store. Appends go through a bounded queue and are written in batches, one
 * transaction each; an append's promise resolves once its message is durable, and rejects when it
 * could not be stored (so the publisher can be told). Each message id is stored once.
 */
declare class TelemetryStore {
  #private;
  /** `duckdb` or `postgres`. */
  readonly dialect: Dialect;
  /** What was opened, with any password redacted. */
  readonly target: string;
  /** @internal Use {@link openTelemetryStore}. */
  constructor(backend: Backend, target: string, options?: TelemetryStoreOptions);
  /** Messages accepted and not yet stored or failed. */
  get pending(): number;
  /**
   * Stores one message. Resolves once it is durable (`duplicate: true` when its id was stored
   * before). Rejects with {@link TelemetryValidationError} for a message that cannot be stored,
   * {@link TelemetryBackpressureError} at once when `maxQueued` messages are waiting,
   * {@link TelemetryWriteError} when the database failed, {@link TelemetryClosedError} after `close`.
   */
  append(message: TelemetryMessage): Promise<AppendResult>;
  /**
   * Stores several messages, admitted together or refused together (backpressure), and resolves
   * when all are durable, in order. A message that fails validation rejects the whole call before
   * any is queued.
   */
  appendBatch(messages: readonly TelemetryMessage[]): Promise<AppendResult[]>;
  /**
   * Resolves when the queue has room for `count` more messages (at once if it has). A producer
   * that got a {@link TelemetryBackpressureError} awaits this before trying again.
   */
  whenWritable(count?: number): Promise<void>;
  /** Resolves when every message accepted so far is stored or failed. */
  flush(): Promise<void>;
  /** The newest message of each device matching `query`, ordered by device id. */
  latest(query?: LatestQuery): Promise<TelemetryRecord[]>;
  /** The newest messages matching `query`, newest first. */
  messages(query?: MessagesQuery): Promise<TelemetryRecord[]>;
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
  releaseAggregates(query: ReleaseAggregatesQuery): Promise<ReleaseAggregate[]>;
  /**
   * Count, mean, p50, p95, max and rate of `query.metric` over every message the filter matches,
   * across releases: the figures of a cohort of devices over a window (what release gates compare).
   */
  aggregate(query: ReleaseAggregatesQuery): Promise<MetricAggregate>;
  /** How many messages are stored. */
  count(): Promise<number>;
  /**
   * Stores what was accepted, then closes the database. Appends after this reject with
   * {@link TelemetryClosedError}. Safe to call twice.
   */
  close(): Promise<void>;
}

/** What the push ingest server and the read API share: listening, bearer/token checks, errors. */

/** A running HTTP server of this package. */
interface TelemetryServer {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting connections and waits for the requests in progress. Leaves the store open. */
  close(): Promise<void>;
}
/** Where to listen. */
interface ListenOptions {
  /** Port (default 0: a free one). */
  port?: number;
  /** Interface (default `127.0.0.1`). */
  host?: string;
}

/**
 * The HTTP read API, served by whichever process owns the store. JSON only:
 *
 * - `GET /v1/telemetry/latest?device=ID&device=ID2&registry=&kind=&from=&to=&limit=` →
 *   `{"devices": TelemetryRecord[]}`, the newest message per device;
 * - `GET /v1/telemetry/messages?…&limit=` → `{"messages": TelemetryRecord[]}`, newest first;
 * - `GET /v1/telemetry/releases?metric=NAME&…` → `{"metric": NAME, "releases": ReleaseAggregate[]}`.
 *
 * Times are ISO 8601. Errors are `{"error", "code"}` with 400 (bad query), 401, 503 or 500.
 */

/** The paths of the read API. */
declare const TELEMETRY_API_PATHS: {
  readonly latest: '/v1/telemetry/latest';
  readonly messages: '/v1/telemetry/messages';
  readonly releases: '/v1/telemetry/releases';
  readonly aggregate: '/v1/telemetry/aggregate';
};
/** Options of {@link telemetryApiPlugin}. */
interface TelemetryApiPluginOptions {
  store: TelemetryStore;
  /** When set, requests must send `Authorization: Bearer <token>` (compared in constant time). */
  token?: string | undefined;
}
/** Options of {@link startTelemetryApi}. */
interface TelemetryApiOptions extends TelemetryApiPluginOptions, ListenOptions {}
/**
 * A Fastify plugin serving the read API on an app you own (the sandbox registers it on its own).
 *
 * @example
 * ```ts
 * app.register(telemetryApiPlugin, { store })
 * ```
 */
declare const telemetryApiPlugin: FastifyPluginAsync<TelemetryApiPluginOptions>;
/**
 * Starts the read API over `store` on its own port.
 *
 * @example
 * ```ts
 * const api = await startTelemetryApi({ store, port: 8086 })
 * console.log(`${api.url}/v1/telemetry/latest`)
 * ```
 */
declare function startTelemetryApi(options: TelemetryApiOptions): Promise<TelemetryServer>;

/** A typed client of the read API ({@link telemetryApiPlugin}), on core's HttpClient. */

/** Options of {@link TelemetryHttpClient}: those of core's `HttpClient` (`baseUrl`, `dispatcher`, `auth`, …). */
type TelemetryHttpClientOptions = HttpClientOptions;
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
declare class TelemetryHttpClient {
  #private;
  constructor(options: TelemetryHttpClientOptions);
  /** The newest message of each device matching `query`. */
  latest(query?: LatestQuery, options?: RequestOptions): Promise<TelemetryRecord[]>;
  /** The newest messages matching `query`, newest first. */
  messages(query?: MessagesQuery, options?: RequestOptions): Promise<TelemetryRecord[]>;
  /** Count, mean, p50, p95, max of `query.metric` per release. */
  releaseAggregates(query: ReleaseAggregatesQuery, options?: RequestOptions): Promise<ReleaseAggregate[]>;
  /** Count, mean, p50, p95, max and rate of `query.metric` over every matching message. */
  aggregate(query: ReleaseAggregatesQuery, options?: RequestOptions): Promise<MetricAggregate>;
  /** Closes the connections the client opened (an injected dispatcher is left open). */
  close(): Promise<void>;
}

/**
 * Pub/Sub push ingest: the endpoint a Pub/Sub push subscription delivers Cloud IoT Core telemetry
 * to. Each delivery is one JSON `{message: {data, attributes, messageId, publishTime}, subscription}`
 * whose attributes are those IoT Core set (`deviceId`, `deviceNumId`, `deviceRegistryId`,
 * `deviceRegistryLocation`, `projectId`, `subFolder`). The answer is 204 only once the message is
 * stored, so Pub/Sub redelivers anything else; redeliveries are stored once (by `messageId`).
 */

/** The Pub/Sub push request body. */
interface PubSubPushBody {
  message: {
    /** The payload, base64. */
    data?: string;
    attributes?: Record<string, string>;
    messageId?: string;
    message_id?: string;
    /** RFC 3339. */
    publishTime?: string;
    publish_time?: string;
  };
  subscription?: string;
}
/** Options of {@link pushIngestPlugin}. */
interface PushIngestPluginOptions {
  store: TelemetryStore;
  /**
   * When set, each delivery must carry `?token=<this>` in its URL (the push endpoint's secret).
   * Compared in constant time; never logged.
   */
  token?: string | undefined;
  /** The route (default `/`). `?kind=state` marks deliveries from a state notification topic. */
  path?: string | undefined;
}
/** Options of {@link startPushIngest}. */
interface PushIngestOptions extends PushIngestPluginOptions, ListenOptions {
  /** Largest request body in bytes (default 512 KiB: a 256 KiB payload in base64 plus its envelope). */
  bodyLimit?: number;
}
/**
 * Turns one push delivery into a {@link TelemetryMessage}: id `pubsub:<kind>:<messageId>`,
 * registry `projects/P/locations/L/registries/R`, received at `publishTime`. Throws
 * {@link TelemetryValidationError} for a delivery without those fields.
 */
declare function messageFromPush(body: unknown, kind?: TelemetryKind): TelemetryMessage;
/**
 * A Fastify plugin serving the push endpoint on an app you own.
 *
 * @example
 * ```ts
 * app.register(pushIngestPlugin, { store, token: process.env.PUSH_TOKEN })
 * ```
 */
declare const pushIngestPlugin: FastifyPluginAsync<PushIngestPluginOptions>;
/**
 * Starts a standalone Pub/Sub push ingest server writing into `store`.
 *
 * @example
 * ```ts
 * const store = await openTelemetryStore('./data')
 * const push = await startPushIngest({ store, port: 8085, token: 'secret' })
 * // push subscription endpoint: https://<public host>/?token=secret
 * ```
 */
declare function startPushIngest(options: PushIngestOptions): Promise<TelemetryServer>;

/** A message an IoT Core bridge accepted (the sandbox's `TelemetryRecord`, by shape). */
interface BridgeRecord {
  projectId: string;
  location: string;
  registryId: string;
  deviceId: string;
  kind: 'event' | 'state';
  subfolder?: string | undefined;
  receivedAt: Date;
  payload: Uint8Array;
  /** The bridge's id of the message (the same for a redelivery); the store keeps one row per id. */
  messageId?: string | undefined;
}
/**
 * The sink an IoT Core bridge (the sandbox's MQTT and HTTP bridges: `startSandbox({ iotCore: {
 * telemetrySink } })`) hands every accepted message to: the store. The bridge acknowledges (PUBACK,
 * HTTP 200) only once `write` resolved, i.e. once the row is durable, and tells the publisher when
 * it rejects.
 *
 * @example
 * ```ts
 * const store = await openTelemetryStore('./data')
 * const sandbox = await startSandbox({ iotCore: { telemetrySink: storeSink(store) } })
 * ```
 */
declare function storeSink(store: Pick<TelemetryStore, 'append'>): {
  write(record: BridgeRecord): Promise<void>;
};

export {
  type AppendResult,
  type BridgeRecord,
  DEFAULT_MESSAGE_LIMITS,
  DUCKDB_FILE_NAME,
  type HealthQuery,
  type HealthStat,
  type LatestQuery,
  type ListenOptions,
  type MessageLimits,
  type MessagesQuery,
  type MetricAggregate,
  type Metrics,
  messageFromPush,
  openTelemetryStore,
  type PubSubPushBody,
  type PushIngestOptions,
  type PushIngestPluginOptions,
  pushIngestPlugin,
  type ReleaseAggregate,
  type ReleaseAggregatesQuery,
  type ReleaseHealthSourceOptions,
  releaseHealthSource,
  startPushIngest,
  startTelemetryApi,
  storeSink,
  TELEMETRY_API_PATHS,
  type TelemetryApiOptions,
  type TelemetryApiPluginOptions,
  TelemetryBackpressureError,
  TelemetryClosedError,
  TelemetryError,
  TelemetryErrorCodes,
  type TelemetryFilter,
  TelemetryHttpClient,
  type TelemetryHttpClientOptions,
  type TelemetryKind,
  type TelemetryMessage,
  TelemetryOpenError,
  TelemetryQueryError,
  type TelemetryRecord,
  type TelemetryServer,
  TelemetryStore,
  type TelemetryStoreOptions,
  TelemetryValidationError,
  TelemetryWriteError,
  telemetryApiPlugin,
};
