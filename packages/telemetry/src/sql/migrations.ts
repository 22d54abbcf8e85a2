/**
 * The store's schema, as versioned migrations. Each runs once, in order, recorded in
 * `telemetry_schema_version`. Statements are written in the SQL DuckDB and PostgreSQL both accept;
 * `{{json}}` is `json` on DuckDB and `jsonb` on PostgreSQL, and `indexes` are created on PostgreSQL
 * only (DuckDB prunes scans with its own min-max zone maps, and an index would slow its appends).
 *
 * Never edit a released migration: add the next one.
 */

/** A SQL dialect the store speaks. */
export type Dialect = 'duckdb' | 'postgres';

/** One schema version. */
export interface Migration {
  version: number;
  /** What it does, for the log. */
  description: string;
  /** Statements for both databases. */
  statements: readonly string[];
  /** Statements for PostgreSQL only (B-tree indexes). */
  postgresOnly?: readonly string[];
}

/** Every migration, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
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
  {
    version: 3,
    description:
      'metrics by (name, time) carry their release and value, so an aggregate over a window reads the index alone',
    statements: [],
    postgresOnly: [
      // A per-release aggregate over a day reads ~1M of a table ~3x as wide (every field of every
      // message): an index-only scan of (name, time) with the release and the value beside it
      // answers it without the table (measured, 1M of 3M rows: 171 ms against 663 ms, paired).
      `create index if not exists telemetry_metrics_name_time_release_value
        on telemetry_metrics (name, received_at) include (artifact_name, value)`,
      // Same keys: the new index serves every query the old one did.
      'drop index if exists telemetry_metrics_name_time',
    ],
  },
  {
    version: 4,
    description:
      'rollups of closed time buckets per (field, release, registry, kind, value class), their watermark and the buckets to redo',
    statements: [
      // One row per field, release, registry, kind, bucket and value class (see VALUE_CLASS), at
      // two levels: 5-minute buckets (`hourly` false; `bucket` numbers 5-minute spans from the
      // epoch) and whole hours (`hourly`; `bucket` is the hour's first 5-minute bucket): how many samples, their
      // sum, least and greatest value, and (5-minute rows only) the values themselves: the exact
      // refinement reads them there instead of from the samples, so that no index by value slows
      // the writes. See rollups.ts for how they are built and read.
      `create table if not exists telemetry_rollups (
        name varchar not null,
        artifact_name varchar,
        registry varchar not null,
        kind varchar not null,
        hourly boolean not null,
        bucket bigint not null,
        value_class integer not null,
        n bigint not null,
        s double precision not null,
        mn double precision not null,
        mx double precision not null,
        vals double precision[]
      )`,
      // Two watermarks (bucket numbers), one row each so that the transaction raising one never
      // contends with the one raising the other: 1, claimed: writers mark a bucket below it dirty
      // when they add a row to it; 2, rolled: buckets below it have their rollups (but the dirty ones).
      `create table if not exists telemetry_rollup_state (
        id integer primary key,
        watermark bigint not null
      )`,
      'insert into telemetry_rollup_state values (1, 0), (2, 0) on conflict do nothing',
      // Append-only for writers (no unique key: a bucket may be listed many times), emptied by the roller.
      'create table if not exists telemetry_rollup_dirty (bucket bigint not null)',
    ],
    postgresOnly: [
      // The class histogram reads a window's buckets of one field; the refinement one class of one release.
      'create index if not exists telemetry_rollups_name_bucket on telemetry_rollups (name, hourly, bucket)',
      'create index if not exists telemetry_rollups_name_class on telemetry_rollups (name, artifact_name, value_class, bucket)',
    ],
  },
  {
    version: 5,
    description:
      'rollup watermarks count 10-second slices instead of 5-minute buckets, so that the open bucket is rolled up slice by slice',
    statements: [
      // A bucket is 30 slices (sql/rollups.ts BUCKET_SLICES): the same watermarks, in slices. The
      // rollups and the dirty records (bucket numbers) stay as they are.
      'update telemetry_rollup_state set watermark = watermark * 30',
    ],
  },
  {
    version: 6,
    description:
      "numeric fields no longer repeat their message's id (no query reads it; the message's `metrics` holds the same fields)",
    statements: [
      // A unique string per field (three or so per message) was the dearest column to write and to
      // compress at DuckDB's checkpoints (README, Performance).
      'alter table telemetry_metrics drop column message_id',
    ],
  },
  {
    version: 7,
    description:
      'numeric fields are no longer indexed by device: a window over a device set reads the messages (indexed by device and time)',
    statements: [],
    postgresOnly: [
      // Eight index entries a message (README, Performance): this one took ~12 µs of PostgreSQL's
      // CPU per message of ~44, measured apart. A device set's window now reads its messages through
      // telemetry_messages_device_time and the field from their `metrics` (sql/queries.ts samplesOf).
      'drop index if exists telemetry_metrics_name_device_time',
    ],
  },
];

/** The statements of `migration` for `dialect`, with types filled in. */
export function migrationStatements(migration: Migration, dialect: Dialect): string[] {
  const json = dialect === 'postgres' ? 'jsonb' : 'json';
  const all = [...migration.statements, ...(dialect === 'postgres' ? (migration.postgresOnly ?? []) : [])];
  return all.map((s) => s.replaceAll('{{json}}', json));
}

/** Creates the version table (both dialects). */
export const CREATE_VERSION_TABLE = `create table if not exists telemetry_schema_version (
  version integer primary key,
  applied_at timestamptz not null
)`;
