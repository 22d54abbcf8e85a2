// src/sql/migrations.ts
var MIGRATIONS = [
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
function migrationStatements(migration, dialect) {
  const json = dialect === 'postgres' ? 'jsonb' : 'json';
  const all = [...migration.statements, ...(dialect === 'postgres' ? (migration.postgresOnly ?? []) : [])];
  return all.map((s) => s.replaceAll('{{json}}', json));
}
var CREATE_VERSION_TABLE = `create table if not exists telemetry_schema_version (
  version integer primary key,
  applied_at timestamptz not null
)`;

export { CREATE_VERSION_TABLE, MIGRATIONS, migrationStatements };
//# sourceMappingURL=chunk-57VBQXDW.js.map
