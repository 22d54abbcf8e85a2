/**
 * The store's read queries: one text for DuckDB and PostgreSQL both (`distinct on`,
 * `percentile_cont(...) within group`, `cast(... as timestamptz)`, `$n` parameters). Values are
 * always parameters; only placeholders are generated.
 */

/** A query text and its parameters. */
export interface SqlQuery {
  text: string;
  params: unknown[];
}

/** Builds `$n` placeholders for a growing parameter list. */
class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  list(values: readonly unknown[]): string {
    return values.map((v) => this.add(v)).join(', ');
  }
}

/** The columns read back for a message row (time as epoch ms, JSON as text). */
const MESSAGE_COLUMNS = `id, device_id, registry,
  cast(extract(epoch from received_at) * 1000 as double precision) as received_ms,
  kind, subfolder, artifact_name, software_version, deployment_id,
  cast(payload as varchar) as payload, payload_raw, payload_encoding, cast(metrics as varchar) as metrics`;

/** Filters shared by the queries. */
export interface FilterSpec {
  registry?: string | undefined;
  kind?: 'event' | 'state' | undefined;
  deviceIds?: readonly string[] | undefined;
  /** Inclusive lower bound, ISO 8601. */
  from?: string | undefined;
  /** Exclusive upper bound, ISO 8601. */
  to?: string | undefined;
}

function where(p: Params, f: FilterSpec, extra: string[] = []): string {
  const clauses = [...extra];
  if (f.registry !== undefined) clauses.push(`registry = ${p.add(f.registry)}`);
  if (f.kind !== undefined) clauses.push(`kind = ${p.add(f.kind)}`);
  if (f.deviceIds !== undefined) {
    // An empty device set matches nothing (not everything).
    clauses.push(f.deviceIds.length === 0 ? '1 = 0' : `device_id in (${p.list(f.deviceIds)})`);
  }
  if (f.from !== undefined) clauses.push(`received_at >= cast(${p.add(f.from)} as timestamptz)`);
  if (f.to !== undefined) clauses.push(`received_at < cast(${p.add(f.to)} as timestamptz)`);
  return clauses.length === 0 ? '' : `where ${clauses.join(' and ')}`;
}

/** The newest message of each device matching `f`, by device id. */
export function latestPerDeviceQuery(f: FilterSpec, limit: number): SqlQuery {
  const p = new Params();
  const filter = where(p, f);
  const text = `select distinct on (device_id) ${MESSAGE_COLUMNS}
    from telemetry_messages ${filter}
    order by device_id, received_at desc, id desc
    limit ${p.add(limit)}`;
  return { text, params: p.values };
}

/** The newest messages of matching devices, newest first. */
export function messagesQuery(f: FilterSpec, limit: number): SqlQuery {
  const p = new Params();
  const filter = where(p, f);
  const text = `select ${MESSAGE_COLUMNS}
    from telemetry_messages ${filter}
    order by received_at desc, id desc
    limit ${p.add(limit)}`;
  return { text, params: p.values };
}

/**
 * Count, mean, p50, p95 and max of one numeric field per release (artifact name), over the
 * messages matching `f`. Messages without the field are not counted. Both percentiles come from one
 * ordered-set aggregate over an array (one sort per release, not two).
 */
export function releaseAggregatesQuery(metric: string, f: FilterSpec): SqlQuery {
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

/** How many messages the store holds. */
export const COUNT_MESSAGES = 'select cast(count(*) as integer) as n from telemetry_messages';
