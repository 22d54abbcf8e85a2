/**
 * `otakit telemetry query` and `otakit telemetry ingest-push`: read a telemetry store over its HTTP
 * API, and run a standalone Pub/Sub push ingest server into a store.
 *
 * The `@otakit/telemetry` module is passed in as a loader (`() => import('@otakit/telemetry')`),
 * so that this command loads it only when run, typed by the interface below.
 */

import type { ReleaseAggregate } from '@otakit/telemetry';
import { type Command, InvalidArgumentError } from 'commander';
import { untilInterrupted } from '../shared/signals.js';

/** A stored message as the read API returns it (the fields this command prints). */
interface TelemetryRecordView {
  deviceId: string;
  receivedAt: string;
  kind: string;
  artifactName: string | null;
  metrics: Record<string, number>;
}

interface FilterView {
  deviceIds?: readonly string[] | undefined;
  registry?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

/** What these commands use of `@otakit/telemetry`. */
export interface TelemetryCommandsModule {
  TelemetryHttpClient: new (options: {
    baseUrl: string;
    auth?: () => string | undefined;
  }) => {
    latest(query?: FilterView & { limit?: number }): Promise<TelemetryRecordView[]>;
    releaseAggregates(query: FilterView & { metric: string }): Promise<ReleaseAggregate[]>;
    close(): Promise<void>;
  };
  openTelemetryStore(target: string): Promise<{ close(): Promise<void> }>;
  startPushIngest(options: {
    // biome-ignore lint/suspicious/noExplicitAny: the store type is the module's own
    store: any;
    port?: number;
    host?: string;
    token?: string | undefined;
  }): Promise<{ url: string; close(): Promise<void> }>;
  startTelemetryApi(options: {
    // biome-ignore lint/suspicious/noExplicitAny: the store type is the module's own
    store: any;
    port?: number;
    host?: string;
    token?: string | undefined;
  }): Promise<{ url: string; close(): Promise<void> }>;
}

interface QueryOptions {
  url: string;
  device?: string[];
  by?: string;
  metric?: string;
  registry?: string;
  since?: string;
  from?: string;
  to?: string;
  token?: string;
  json?: boolean;
}

interface IngestOptions {
  listen: number;
  host: string;
  store: string;
  token?: string;
  api?: number;
  apiToken?: string;
}

const EXIT_USAGE = 1;
const EXIT_FAILED = 2;

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535)
    throw new InvalidArgumentError('must be an integer from 0 to 65535');
  return n;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `30m`, `2h`, `7d` → milliseconds. */
function parseDuration(value: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(value);
  if (!m) throw new InvalidArgumentError('must be a duration like 30m, 2h or 7d');
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

function fail(command: Command, err: unknown): never {
  const code =
    typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'ERR_CLI';
  const message = err instanceof Error ? err.message : String(err);
  command.error(`otakit: ${code}: ${message}`, { exitCode: EXIT_FAILED, code });
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toPrecision(4);
}

/** The table `telemetry query --by release` prints without `--json`. */
export function releasesTable(metric: string, rows: readonly ReleaseAggregate[]): string {
  const lines = [`release\tcount\tmean\tp50\tp95\tmax\t(${metric})`];
  for (const r of rows) {
    lines.push(
      [
        r.release ?? '(none)',
        r.count,
        formatNumber(r.mean),
        formatNumber(r.p50),
        formatNumber(r.p95),
        formatNumber(r.max),
      ].join('\t'),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The table `telemetry query` prints without `--json`. */
export function latestTable(rows: readonly TelemetryRecordView[], metric?: string): string {
  const lines = [`device\treceived\tkind\trelease\t${metric ?? 'metrics'}`];
  for (const r of rows) {
    const shown = metric === undefined ? JSON.stringify(r.metrics) : String(r.metrics[metric] ?? '');
    lines.push([r.deviceId, r.receivedAt, r.kind, r.artifactName ?? '(none)', shown].join('\t'));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Registers `otakit telemetry query` and `otakit telemetry ingest-push` on `program`.
 *
 * - `telemetry query --url URL [--device ID]... [--by release --metric NAME] [--since 1h | --from T --to T]
 *   [--registry NAME] [--token T] [--json]`: the latest message per device, or with `--by release`
 *   the count, mean, p50, p95 and max of `--metric` per release. `--json` prints one document.
 * - `telemetry ingest-push --listen PORT [--host H] [--store TARGET] [--token T] [--api PORT
 *   [--api-token T]]`: a Pub/Sub push endpoint storing into TARGET (':memory:', a directory, a
 *   .duckdb file or a postgres:// URL), until SIGINT or SIGTERM; with `--api`, the store's read API
 *   too, on its own port of the same host (what `telemetry query --url` reads).
 *
 * @example
 * ```ts
 * registerTelemetryCommands(program, () => import('@otakit/telemetry'))
 * ```
 */
export function registerTelemetryCommands(
  program: Command,
  load: () => Promise<TelemetryCommandsModule>,
): void {
  const telemetry = program
    .command('telemetry')
    .description('query device telemetry and ingest it from Pub/Sub');

  telemetry
    .command('query')
    .description('the latest message per device, or per-release aggregates of a metric')
    .requiredOption('--url <url>', 'base URL of a telemetry read API (e.g. the sandbox)')
    .option('--device <id>', 'only this device (repeatable)', collect)
    .option('--by <grouping>', "group by 'release' (needs --metric)")
    .option('--metric <name>', 'numeric field, e.g. cpu or mem.free')
    .option('--registry <name>', 'only this registry (projects/P/locations/L/registries/R)')
    .option('--since <duration>', 'only messages of the last 30m, 2h, 7d…')
    .option('--from <time>', 'only messages received at or after this ISO 8601 time')
    .option('--to <time>', 'only messages received before this ISO 8601 time')
    .option('--token <token>', 'bearer token of the read API (or OTAKIT_TELEMETRY_TOKEN)')
    .option('--json', 'print one JSON document')
    .action(async (opts: QueryOptions, command: Command) => {
      if (opts.by !== undefined && opts.by !== 'release') {
        command.error("otakit: ERR_CLI: --by must be 'release'", { exitCode: EXIT_USAGE, code: 'ERR_CLI' });
      }
      if (opts.by === 'release' && opts.metric === undefined) {
        command.error('otakit: ERR_CLI: --by release needs --metric NAME', {
          exitCode: EXIT_USAGE,
          code: 'ERR_CLI',
        });
      }
      let from = opts.from;
      if (opts.since !== undefined) {
        try {
          from = new Date(Date.now() - parseDuration(opts.since)).toISOString();
        } catch (err) {
          command.error(`otakit: ERR_CLI: --since ${(err as Error).message}`, {
            exitCode: EXIT_USAGE,
            code: 'ERR_CLI',
          });
        }
      }
      const token = opts.token ?? process.env.OTAKIT_TELEMETRY_TOKEN;
      const { TelemetryHttpClient } = await load();
      const client = new TelemetryHttpClient({ baseUrl: opts.url, ...(token ? { auth: () => token } : {}) });
      const filter: FilterView = { deviceIds: opts.device, registry: opts.registry, from, to: opts.to };
      try {
        if (opts.by === 'release') {
          const metric = opts.metric as string;
          const releases = await client.releaseAggregates({ ...filter, metric });
          process.stdout.write(
            opts.json
              ? `${JSON.stringify({ metric, releases }, null, 2)}\n`
              : releasesTable(metric, releases),
          );
        } else {
          const devices = await client.latest(filter);
          process.stdout.write(
            opts.json ? `${JSON.stringify({ devices }, null, 2)}\n` : latestTable(devices, opts.metric),
          );
        }
      } catch (err) {
        fail(command, err);
      } finally {
        await client.close();
      }
    });

  telemetry
    .command('ingest-push')
    .description('accept Pub/Sub push deliveries of IoT Core telemetry into a store, until interrupted')
    .requiredOption('--listen <port>', 'port to listen on (0 picks a free one)', parsePort)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--store <target>', "':memory:', a directory, a .duckdb file or a postgres:// URL", ':memory:')
    .option('--token <token>', 'require ?token=<token> on each delivery (or OTAKIT_PUSH_TOKEN)')
    .option('--api <port>', "also serve the store's read API on this port (0 picks a free one)", parsePort)
    .option('--api-token <token>', 'bearer token the read API requires (or OTAKIT_TELEMETRY_TOKEN)')
    .action(async (opts: IngestOptions, command: Command) => {
      const { openTelemetryStore, startPushIngest, startTelemetryApi } = await load();
      let store: { close(): Promise<void> };
      let server: { url: string; close(): Promise<void> } | undefined;
      let api: { url: string; close(): Promise<void> } | undefined;
      try {
        store = await openTelemetryStore(opts.store);
      } catch (err) {
        fail(command, err);
      }
      try {
        server = await startPushIngest({
          store,
          port: opts.listen,
          host: opts.host,
          token: opts.token ?? process.env.OTAKIT_PUSH_TOKEN,
        });
        if (opts.api !== undefined) {
          api = await startTelemetryApi({
            store,
            port: opts.api,
            host: opts.host,
            token: opts.apiToken ?? process.env.OTAKIT_TELEMETRY_TOKEN,
          });
        }
      } catch (err) {
        await server?.close();
        await store.close();
        fail(command, err);
      }
      process.stderr.write(`otakit telemetry: accepting Pub/Sub push deliveries at ${server.url}/\n`);
      if (api !== undefined) process.stderr.write(`otakit telemetry: read API at ${api.url}\n`);
      const signal = await untilInterrupted();
      process.stderr.write(`otakit telemetry: ${signal}, stopping\n`);
      await api?.close();
      await server.close();
      await store.close();
    });
}

/** Registers `otakit telemetry …`, loading `@otakit/telemetry` only when a command runs. */
export function register(program: Command): void {
  registerTelemetryCommands(program, () => import('@otakit/telemetry'));
}
