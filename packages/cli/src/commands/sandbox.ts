import { DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD, type Sandbox, startSandbox } from '@otakit/sandbox';
import { type Command, InvalidArgumentError } from 'commander';

/** Options of `otakit sandbox start`. */
interface StartOptions {
  port: number;
  host: string;
  dataDir?: string;
  adminEmail: string;
  adminPassword: string;
  log?: boolean;
  json?: boolean;
  iotRegistry: { project: string; location: string; registry: string };
  iotPort: number;
  mqttPort: number;
}

const REGISTRY_NAME = /^projects\/([^/]+)\/locations\/([^/]+)\/registries\/([^/]+)$/;
const DEFAULT_REGISTRY_NAME = 'projects/otakit-sandbox/locations/us-central1/registries/devices';

function parseRegistryName(value: string): StartOptions['iotRegistry'] {
  const m = REGISTRY_NAME.exec(value);
  if (!m) throw new InvalidArgumentError('must be projects/P/locations/L/registries/R');
  return { project: m[1] ?? '', location: m[2] ?? '', registry: m[3] ?? '' };
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535)
    throw new InvalidArgumentError('must be an integer from 0 to 65535');
  return n;
}

/** Resolves on the first SIGINT or SIGTERM. */
function untilInterrupted(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** What `otakit sandbox start --json` prints: every URL and credential of both planes. */
export interface SandboxStartJson {
  mender: { url: string; adminEmail: string; adminPassword: string };
  iotCore: { url: string; mqttUrl: string | null; registry: string; adminToken: string | null };
}

/** The URLs and credentials of a running sandbox, as `--json` prints them. */
export function sandboxJson(sandbox: Sandbox): SandboxStartJson {
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
  };
}

/** The banner `otakit sandbox start` prints once listening. */
export function sandboxBanner(sandbox: Sandbox): string {
  const { iotCore } = sandboxJson(sandbox);
  return [
    `otakit sandbox listening on ${sandbox.url}`,
    `  admin email:    ${sandbox.adminEmail}`,
    `  admin password: ${sandbox.adminPassword}`,
    `  data dir:       ${sandbox.dataDir ?? '(in memory)'}`,
    ...(sandbox.iotCore
      ? [
          'IoT Core:',
          `  device manager and HTTP bridge: ${iotCore.url}`,
          `  MQTT bridge:    ${iotCore.mqttUrl ?? '(off)'}`,
          `  registry:       ${iotCore.registry}`,
          `  admin token:    ${iotCore.adminToken ?? '(none)'}`,
        ]
      : []),
    'Press Ctrl+C to stop.',
    '',
  ].join('\n');
}

/**
 * Registers the sandbox commands on the `otakit` program:
 * `otakit sandbox start [--port 0|N] [--host H] [--data-dir DIR] [--admin-email E] [--admin-password P]
 * [--iot-registry NAME] [--iot-port N] [--mqtt-port N] [--json]` starts, in one process, a local
 * Mender-compatible server and an IoT Core-compatible one (device manager, HTTP and MQTT bridges),
 * prints every URL and credential (`--json`: one object), and runs until SIGINT or SIGTERM.
 */
export function registerSandboxCommands(program: Command): void {
  const sandbox = program
    .command('sandbox')
    .description('local Mender- and IoT Core-compatible servers for trying things out');
  sandbox
    .command('start')
    .description('start the sandbox (Mender and IoT Core planes) and run until interrupted')
    .option('--port <port>', 'Mender API port (0 picks a free one)', parsePort, 0)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option(
      '--data-dir <dir>',
      'keep devices, tokens, inventory, deployments, artifacts and IoT Core registries here across restarts',
    )
    .option('--admin-email <email>', 'admin e-mail for basic-auth login', DEFAULT_ADMIN_EMAIL)
    .option('--admin-password <password>', 'admin password', DEFAULT_ADMIN_PASSWORD)
    .option('--log', 'log requests (as JSON lines, without tokens or link signatures) to stderr')
    .option(
      '--iot-registry <name>',
      'the IoT Core registry served, projects/P/locations/L/registries/R',
      parseRegistryName,
      parseRegistryName(DEFAULT_REGISTRY_NAME),
    )
    .option('--iot-port <port>', 'IoT Core device manager and HTTP bridge port (0 picks one)', parsePort, 0)
    .option('--mqtt-port <port>', 'IoT Core MQTT bridge port (0 picks one)', parsePort, 0)
    .option('--json', 'print one JSON object with every URL and credential')
    .action(async (opts: StartOptions) => {
      const running = await startSandbox({
        port: opts.port,
        host: opts.host,
        adminEmail: opts.adminEmail,
        adminPassword: opts.adminPassword,
        ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
        ...(opts.log ? { logger: { level: 'info' as const, stream: process.stderr } } : {}),
        iotCore: { ...opts.iotRegistry, port: opts.iotPort, mqttPort: opts.mqttPort },
      });
      const stopped = untilInterrupted();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(sandboxJson(running))}\n`);
        process.stderr.write('otakit sandbox running; press Ctrl+C to stop.\n');
      } else {
        process.stdout.write(sandboxBanner(running));
      }
      const signal = await stopped;
      process.stderr.write(`otakit sandbox: ${signal}, stopping\n`);
      await running.close();
    });
}
