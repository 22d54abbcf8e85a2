import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Sandbox } from '@otakit/sandbox';
import type { TelemetryServer, TelemetryStore } from '@otakit/telemetry';
import type { Command } from 'commander';
import { CliError, usageError } from '../shared/errors.js';
import { EXIT } from '../shared/exit-codes.js';
import { action } from '../shared/failure.js';
import { collect, parsePort, parseRegistryName } from '../shared/flags.js';
import { out } from '../shared/output.js';
import { untilInterrupted } from '../shared/signals.js';

/** The sandbox's defaults (as `@otakit/sandbox` exports them; repeated here so `--help` does not load it). */
const DEFAULT_ADMIN_EMAIL = 'admin@otakit.local';

/** Options of `otakit sandbox start`. */
interface StartOptions {
  port: number;
  host: string;
  dataDir?: string;
  adminEmail: string;
  adminPassword?: string;
  log?: boolean;
  json?: boolean;
  iotRegistry: string;
  iotPort: number;
  mqttPort: number;
  telemetryDb?: string;
  telemetryPort: number;
  dashboardPort: number;
  devices: number;
  regress?: string[];
}

const DEFAULT_REGISTRY_NAME = 'projects/otakit-sandbox/locations/us-central1/registries/devices';

/** What `otakit sandbox start --json` prints: every URL and credential of both planes. */
export interface SandboxStartJson {
  mender: { url: string; adminEmail: string; adminPassword: string };
  iotCore: { url: string; mqttUrl: string | null; registry: string; adminToken: string | null };
  telemetry: { url: string | null; store: string | null };
  dashboard: { url: string | null };
  fleet: { devices: number };
  dataDir: string | null;
}

/** The URLs and credentials of a running sandbox, as `--json` prints them. */
export function sandboxJson(
  sandbox: Sandbox,
  telemetry?: { api: TelemetryServer; store: TelemetryStore },
  extra: { dashboardUrl?: string; devices?: number } = {},
): SandboxStartJson {
  const iot = sandbox.iotCore;
  const r = iot?.registries[0];
  return {
    mender: { url: sandbox.url, adminEmail: sandbox.adminEmail, adminPassword: sandbox.adminPassword },
    iotCore: {
      url: iot?.url ?? '',
      mqttUrl: iot?.mqttUrl ?? null,
      registry: r ? `projects/${r.project}/locations/${r.location}/registries/${r.registry}` : '',
      adminToken: iot?.adminToken ?? null,
    },
    telemetry: { url: telemetry?.api.url ?? null, store: telemetry?.store.target ?? null },
    dashboard: { url: extra.dashboardUrl ?? null },
    fleet: { devices: extra.devices ?? 0 },
    dataDir: sandbox.dataDir ?? null,
  };
}

/** The banner `otakit sandbox start` prints once listening. */
export function sandboxBanner(doc: SandboxStartJson): string {
  return [
    `otakit sandbox listening on ${doc.mender.url}`,
    `  admin email:    ${doc.mender.adminEmail}`,
    `  admin password: ${doc.mender.adminPassword}`,
    `  data dir:       ${doc.dataDir ?? '(in memory)'}`,
    'IoT Core:',
    `  device manager and HTTP bridge: ${doc.iotCore.url}`,
    `  MQTT bridge:    ${doc.iotCore.mqttUrl ?? '(off)'}`,
    `  registry:       ${doc.iotCore.registry}`,
    `  admin token:    ${doc.iotCore.adminToken ?? '(none)'}`,
    'Telemetry:',
    `  read API:       ${doc.telemetry.url ?? '(off)'}`,
    `  store:          ${doc.telemetry.store ?? '(off)'}`,
    `Fleet page:       ${doc.dashboard.url ?? '(off)'}`,
    ...(doc.fleet.devices > 0 ? [`Simulated devices: ${doc.fleet.devices}`] : []),
    'Press Ctrl+C to stop.',
    '',
  ].join('\n');
}

/**
 * Checks that `--data-dir` can hold the sandbox's state: creates it when missing, and fails at once
 * with the reason when it is not a directory or not writable.
 *
 * @throws {@link CliError} `ERR_CLI_DATA_DIR` (exit 2).
 */
export async function checkDataDir(dir: string): Promise<void> {
  const unusable = (reason: string, cause?: unknown) =>
    new CliError('ERR_CLI_DATA_DIR', `--data-dir ${dir} is not usable: ${reason}`, {
      exitCode: EXIT.UNAVAILABLE,
      cause,
    });
  try {
    await mkdir(dir, { recursive: true });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw unusable(
      code === 'EEXIST' || code === 'ENOTDIR' ? 'not a directory' : (cause as Error).message,
      cause,
    );
  }
  if (!(await stat(dir)).isDirectory()) throw unusable('not a directory');
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (cause) {
    throw unusable('not writable', cause);
  }
}

/**
 * Registers `otakit sandbox start [--port 0|N] [--host H] [--data-dir DIR] [--admin-email E]
 * [--admin-password P] [--iot-registry NAME] [--iot-port N] [--mqtt-port N] [--telemetry-db TARGET]
 * [--telemetry-port N] [--json]`: starts, in one process, a local Mender-compatible server, an IoT
 * Core-compatible one (device manager, HTTP and MQTT bridges) whose accepted messages go into a
 * telemetry store, and that store's read API; prints every URL and credential (`--json`: one
 * object); runs until SIGINT or SIGTERM. A port in use or an unusable data dir fails at once (exit
 * 2) with the reason.
 */
export function register(program: Command): void {
  const sandbox = program
    .command('sandbox')
    .description(
      'local Mender- and IoT Core-compatible servers and a telemetry store, for trying things out',
    );
  sandbox
    .command('start')
    .description('start the sandbox (Mender and IoT Core planes, telemetry store) and run until interrupted')
    .option('--port <port>', 'Mender API port (0 picks a free one)', parsePort, 0)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option(
      '--data-dir <dir>',
      'keep devices, tokens, inventory, deployments, artifacts, IoT Core registries and telemetry here across restarts',
    )
    .option('--admin-email <email>', 'admin e-mail for basic-auth login', DEFAULT_ADMIN_EMAIL)
    .option('--admin-password <password>', 'admin password (default: otakit-sandbox)')
    .option('--log', 'log requests (as JSON lines, without tokens or link signatures) to stderr')
    .option(
      '--iot-registry <name>',
      'the IoT Core registry served, projects/P/locations/L/registries/R',
      DEFAULT_REGISTRY_NAME,
    )
    .option('--iot-port <port>', 'IoT Core device manager and HTTP bridge port (0 picks one)', parsePort, 0)
    .option('--mqtt-port <port>', 'IoT Core MQTT bridge port (0 picks one)', parsePort, 0)
    .option(
      '--telemetry-db <target>',
      "where telemetry is stored: ':memory:', a directory or .duckdb file, or postgres://… (default: the data dir, else memory)",
    )
    .option('--telemetry-port <port>', 'telemetry read API port (0 picks one)', parsePort, 0)
    .option('--dashboard-port <port>', 'fleet page port (0 picks one)', parsePort, 0)
    .option(
      '--devices <n>',
      'run this many simulated devices (real agent, own keys, registered and synced, publishing telemetry)',
      (v: string) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0) throw usageError(`--devices wants a whole number, got "${v}"`);
        return n;
      },
      0,
    )
    .option(
      '--regress <spec>',
      "make a release's metric regress on the simulated devices: release:metric:+30% (repeatable)",
      collect,
    )
    .option('--json', 'once listening, print one JSON object with every URL and credential of both planes')
    .action(
      action(async (opts: StartOptions) => {
        const dataDir = opts.dataDir === undefined ? undefined : resolve(opts.dataDir);
        if (dataDir !== undefined) await checkDataDir(dataDir);
        const iotRegistry = parseRegistryName(opts.iotRegistry, '--iot-registry');
        const { DEFAULT_ADMIN_PASSWORD, startSandbox } = await import('@otakit/sandbox');
        const { openTelemetryStore, startTelemetryApi, storeSink } = await import('@otakit/telemetry');
        const store = await openTelemetryStore(opts.telemetryDb ?? dataDir ?? ':memory:');
        let running: Sandbox;
        try {
          running = await startSandbox({
            iotCore: {
              ...iotRegistry,
              port: opts.iotPort,
              mqttPort: opts.mqttPort,
              telemetrySink: storeSink(store),
            },
            port: opts.port,
            host: opts.host,
            adminEmail: opts.adminEmail,
            adminPassword: opts.adminPassword ?? DEFAULT_ADMIN_PASSWORD,
            ...(dataDir ? { dataDir } : {}),
            ...(opts.log ? { logger: { level: 'info' as const, stream: process.stderr } } : {}),
          });
        } catch (cause) {
          await store.close();
          // The sandbox wraps the listen error (SANDBOX_START); the system code is on its cause.
          const listenError = (cause as { cause?: unknown }).cause ?? cause;
          const code = (listenError as NodeJS.ErrnoException).code;
          if (code === 'EADDRINUSE') {
            throw new CliError('ERR_CLI_PORT_IN_USE', `port ${opts.port} on ${opts.host} is already in use`, {
              exitCode: EXIT.UNAVAILABLE,
              cause,
            });
          }
          if (code === 'EACCES' || code === 'EADDRNOTAVAIL') {
            throw new CliError(
              'ERR_CLI_PORT_IN_USE',
              `cannot listen on ${opts.host}:${opts.port} (${code})`,
              {
                exitCode: EXIT.UNAVAILABLE,
                cause,
              },
            );
          }
          if ((cause as { code?: string }).code === 'SANDBOX_START') {
            throw new CliError(
              'ERR_CLI_PORT_IN_USE',
              `cannot listen on ${opts.host}:${opts.port}: ${(listenError as Error).message}`,
              {
                exitCode: EXIT.UNAVAILABLE,
                cause,
              },
            );
          }
          throw cause;
        }
        const api = await startTelemetryApi({ store, port: opts.telemetryPort, host: opts.host });
        // The fleet page and the simulated fleet see the sandbox as any Mender server and IoT Core
        // registry: through the management client and the registry client.
        const { ManagementClient } = await import('@otakit/management-client');
        const { RegistryClient } = await import('@otakit/iot-core-adapter');
        const { startDashboard } = await import('@otakit/dashboard');
        const iot = running.iotCore;
        const mgmt = new ManagementClient({ serverUrl: running.url, auth: running.managementToken() });
        const registry = new RegistryClient({
          ...iotRegistry,
          baseUrl: iot?.url ?? '',
          auth: iot?.adminToken ?? '',
        });
        const dash = await startDashboard({
          management: mgmt,
          telemetry: store,
          registry,
          port: opts.dashboardPort,
          host: opts.host,
        });
        let fleet: { stop(): Promise<void> } | undefined;
        if (opts.devices > 0) {
          const { parseRegression, startFleetSimulator } = await import('@otakit/simulator');
          const regress = (opts.regress ?? []).map((r) => {
            try {
              return parseRegression(r);
            } catch (err) {
              throw usageError(`--regress: ${(err as Error).message}`);
            }
          });
          fleet = await startFleetSimulator({
            menderUrl: running.url,
            management: mgmt,
            iot: {
              ...iotRegistry,
              apiUrl: iot?.url ?? '',
              mqttUrl: iot?.mqttUrl ?? '',
              token: iot?.adminToken ?? '',
            },
            devices: opts.devices,
            dataDir: join(dataDir ?? (await mkdtemp(join(tmpdir(), 'otakit-fleet-'))), 'fleet'),
            regress,
          });
        }
        const stopped = untilInterrupted();
        const doc = sandboxJson(running, { api, store }, { dashboardUrl: dash.url, devices: opts.devices });
        if (opts.json) {
          out(JSON.stringify(doc));
          process.stderr.write('otakit sandbox running; press Ctrl+C to stop.\n');
        } else process.stdout.write(sandboxBanner(doc));
        const signal = await stopped;
        process.stderr.write(`otakit sandbox: ${signal}, stopping\n`);
        await fleet?.stop();
        await dash.close();
        await registry.close();
        await mgmt.close();
        await running.close();
        await api.close();
        await store.close();
      }),
    );
}
