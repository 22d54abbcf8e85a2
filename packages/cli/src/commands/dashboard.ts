import type { Command } from 'commander';
import { clientFor, resolveConnection, withConnection } from '../shared/connection.js';
import { usageError } from '../shared/errors.js';
import { action } from '../shared/failure.js';
import { collect, parsePort } from '../shared/flags.js';
import { out } from '../shared/output.js';
import { resolvePassword } from '../shared/password.js';
import { untilInterrupted } from '../shared/signals.js';
import { registryFor } from './iot.js';

interface DashboardFlags {
  email?: string;
  password?: string;
  telemetryDb?: string;
  telemetryUrl?: string;
  telemetryToken?: string;
  registry?: string;
  rolloutState?: string[];
  port: number;
  host: string;
  json?: boolean;
}

/**
 * Registers `otakit dashboard`: the fleet page over a Mender server (through the management
 * client, so any real Mender works) and a telemetry store (a data dir, a PostgreSQL URL, or a
 * telemetry read API), optionally with the IoT Core registry and gated rollouts' state files. The
 * management token stays in this process; the browser never sees it.
 */
export function register(program: Command): void {
  withConnection(
    program
      .command('dashboard')
      .description(
        'the live fleet page over both planes: devices, releases, deployments, telemetry, gated rollouts',
      )
      .option('--email <email>', 'log in with this user instead of --token')
      .option('--password <password>', 'with --email (else OTAKIT_PASSWORD, else a prompt on a terminal)')
      .option('--telemetry-db <target>', 'the telemetry store: a directory, a .duckdb file or postgres://…')
      .option('--telemetry-url <url>', 'or a telemetry read API (e.g. the sandbox’s)')
      .option('--telemetry-token <token>', 'bearer token of that API (or OTAKIT_TELEMETRY_TOKEN)')
      .option(
        '--iot-url <url>',
        'IoT Core-compatible API root, to show the registry status (or OTAKIT_IOT_URL)',
      )
      .option('--iot-token <token>', 'its bearer token (or OTAKIT_IOT_TOKEN)')
      .option('--registry <name>', 'projects/P/locations/L/registries/R (or OTAKIT_IOT_REGISTRY)')
      .option('--rollout-state <file>', 'a gated rollout state file to show (repeatable)', collect)
      .option('--port <port>', 'port of the page (0 picks a free one)', parsePort, 0)
      .option('--host <host>', 'interface to listen on', '127.0.0.1')
      .option('--json', 'print {"dashboard":{"url"}} once listening'),
  ).action(
    action(async (opts: DashboardFlags, cmd: Command) => {
      if ((opts.telemetryDb === undefined) === (opts.telemetryUrl === undefined)) {
        throw usageError('give the telemetry as --telemetry-db TARGET or --telemetry-url URL (one of them)');
      }
      await resolveConnection(cmd);
      const mgmt =
        opts.email === undefined
          ? await clientFor(cmd)
          : await clientFor(cmd, { email: opts.email, password: await resolvePassword(opts.password) });
      const { openTelemetryStore, TelemetryHttpClient } = await import('@otakit/telemetry');
      const token = opts.telemetryToken ?? process.env.OTAKIT_TELEMETRY_TOKEN;
      const telemetry =
        opts.telemetryDb !== undefined
          ? await openTelemetryStore(opts.telemetryDb)
          : new TelemetryHttpClient({
              baseUrl: opts.telemetryUrl as string,
              ...(token ? { auth: () => token } : {}),
            });
      const wantsRegistry = (opts.registry ?? process.env.OTAKIT_IOT_REGISTRY) !== undefined;
      const registry = wantsRegistry ? await registryFor(cmd) : undefined;
      const { startDashboard } = await import('@otakit/dashboard');
      const dash = await startDashboard({
        management: mgmt,
        telemetry,
        ...(registry ? { registry } : {}),
        ...(opts.rolloutState ? { rolloutStateFiles: opts.rolloutState } : {}),
        port: opts.port,
        host: opts.host,
      });
      const stopped = untilInterrupted();
      if (opts.json) out(JSON.stringify({ dashboard: { url: dash.url } }));
      else out(`otakit dashboard on ${dash.url} (Ctrl+C to stop)`);
      await stopped;
      await dash.close();
      await registry?.close();
      await telemetry.close();
      await mgmt.close();
    }),
  );
}
