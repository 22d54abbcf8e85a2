/**
 * The device agent behind `otakit device run` and `device install`: loaded only by those two
 * commands (it pulls in `@otakit/device-client`).
 */
import { join, resolve } from 'node:path';
import { readPrivateKeyFile } from '@otakit/core';
import {
  type Bootloader,
  DeviceClient,
  type DeviceClientOptions,
  DualRootfsInstaller,
  FileBootloader,
  GrubBootloader,
  type Installer,
  ProvidesStore,
  SimulatedInstaller,
  UBootBootloader,
  UpdateModuleInstaller,
} from '@otakit/device-client';
import { CliError, usageError } from '../shared/errors.js';
import { EXIT } from '../shared/exit-codes.js';
import { parseIdentity } from '../shared/flags.js';
import { isoTime } from '../shared/iso-time.js';
import { readPublicKeyFile } from '../shared/keys.js';
import { type TransportOptions, transportOptions } from '../shared/network.js';
import { printJson } from '../shared/output.js';
import { iotTarget, startTelemetry } from './device-telemetry.js';
import { baselineWasmOnly, optimiseFromFirstUpdate } from './device-v8.js';

/**
 * Builds the installer of `--installer`: `simulated:DIR`, `modules:DIR` (Mender update modules),
 * or `rootfs:PART_A,PART_B[,uboot|grub:ENVFILE|file:ENVFILE]`.
 * @internal
 */
export function parseInstaller(spec: string): Installer {
  const i = spec.indexOf(':');
  const kind = i === -1 ? spec : spec.slice(0, i);
  const arg = i === -1 ? '' : spec.slice(i + 1);
  if (kind === 'simulated' && arg) return new SimulatedInstaller({ dir: resolve(arg) });
  if (kind === 'modules' && arg) return new UpdateModuleInstaller({ modulesDir: resolve(arg) });
  if (kind === 'rootfs') {
    const [a, b, boot = 'uboot'] = arg.split(',');
    if (a && b) {
      let bootloader: Bootloader;
      if (boot === 'uboot') bootloader = new UBootBootloader();
      else if (boot.startsWith('grub:')) bootloader = new GrubBootloader({ envFile: boot.slice(5) });
      else if (boot.startsWith('file:')) bootloader = new FileBootloader({ file: boot.slice(5) });
      else throw usageError(`unknown bootloader ${boot} (uboot, grub:ENVFILE, file:ENVFILE)`);
      return new DualRootfsInstaller({ partitions: { a, b }, bootloader });
    }
  }
  throw usageError(
    `--installer must be simulated:DIR, modules:DIR or rootfs:PART_A,PART_B[,uboot|grub:ENV|file:ENV], got ${spec}`,
  );
}

/**
 * Prints one agent event: a timestamped text line, or with `--json` one JSON object per line
 * (`{"time", "event", "message", ...fields}`), so a script can follow the agent line by line.
 */
export type EventPrinter = (event: string, message: string, fields?: Record<string, unknown>) => void;

/** An {@link EventPrinter} on stdout. */
export function eventPrinter(json: boolean): EventPrinter {
  return (event, message, fields = {}) => {
    const time = isoTime();
    process.stdout.write(
      json ? `${JSON.stringify({ time, event, message, ...fields })}\n` : `${time} ${message}\n`,
    );
  };
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Prints the agent's events. */
function logEvents(client: DeviceClient, print: EventPrinter): void {
  let lastTenth = -1;
  client.events.on('auth:pending', (e) =>
    print('auth:pending', `device pending acceptance; retrying in ${Math.round(e.retryInMs / 1000)} s`, {
      retryInMs: e.retryInMs,
    }),
  );
  client.events.on('auth:accepted', () => print('auth:accepted', 'authenticated'));
  client.events.on('inventory:sent', () => print('inventory:sent', 'inventory sent'));
  client.events.on('update:check', (e) =>
    print('update:check', e.deploymentId ? `deployment ${e.deploymentId}: ${e.artifactName}` : 'no update', {
      deploymentId: e.deploymentId ?? null,
      artifactName: e.artifactName ?? null,
    }),
  );
  client.events.on('update:start', (e) => {
    lastTenth = -1;
    print('update:start', `${e.resumed ? 'resuming' : 'starting'} update ${e.updateId}`, {
      updateId: e.updateId,
      resumed: e.resumed,
    });
  });
  client.events.on('state:enter', (e) => print('state:enter', `state ${e.state}`, { state: e.state }));
  client.events.on('deployment:status', (e) =>
    print('deployment:status', `status ${e.status}${e.error ? ` not sent: ${e.error}` : ''}`, {
      status: e.status,
      ...(e.error ? { error: String(e.error) } : {}),
    }),
  );
  client.events.on('download:progress', (e) => {
    if (!e.totalBytes) return;
    const tenth = Math.floor((e.bytes / e.totalBytes) * 10);
    if (tenth !== lastTenth) {
      lastTenth = tenth;
      print('download:progress', `download ${tenth * 10} % (${e.bytes}/${e.totalBytes} bytes)`, {
        bytes: e.bytes,
        totalBytes: e.totalBytes,
      });
    }
  });
  client.events.on('download:retry', (e) =>
    print('download:retry', `download: ${e.reason}; resuming at ${e.offset} in ${e.delayMs} ms`, {
      reason: e.reason,
      offset: e.offset,
      delayMs: e.delayMs,
    }),
  );
  client.events.on('update:paused', (e) =>
    print('update:paused', `paused ${e.point}: ${e.reason}`, { point: e.point, reason: e.reason }),
  );
  client.events.on('health:result', (e) =>
    print(
      'health:result',
      `health ${e.results.map((r) => `${r.name}=${r.ok ? 'ok' : `failed (${r.error})`}`).join(' ')}`,
      {
        results: e.results.map((r) => ({
          name: r.name,
          ok: r.ok,
          ...(r.ok ? {} : { error: String(r.error) }),
        })),
      },
    ),
  );
  client.events.on('update:done', (e) =>
    print('update:done', `update ${e.updateId} ${e.outcome}${e.error ? `: ${e.error}` : ''}`, {
      updateId: e.updateId,
      outcome: e.outcome,
      ...(e.error ? { error: String(e.error) } : {}),
    }),
  );
  client.events.on('agent:error', (e) =>
    print('agent:error', `error: ${errorText(e.error)}`, { error: errorText(e.error) }),
  );
}

/** The flags of `otakit device run`. */
export interface RunFlags {
  server: string;
  key: string;
  dataDir: string;
  deviceType: string;
  identity?: string[];
  tenantToken?: string;
  installer?: string;
  trustedKey?: string[];
  minVersion?: string;
  /** Update poll interval, ms. */
  pollInterval: number;
  inventoryPoll: number;
  retryPoll: number;
  bandwidth?: number;
  scriptsDir?: string;
  maintenanceWindow?: string;
  downloadOnly?: boolean;
  ca?: string;
  json?: boolean;
  /** The IoT Core registry (`projects/P/locations/L/registries/R`) for telemetry. */
  registry?: string;
  /** The device's id in that registry: turns on telemetry with the same key. */
  iotDeviceId?: string;
  /** The MQTT bridge. */
  iotMqtt?: string;
  /** The HTTP bridge (fallback when an MQTT publish fails). */
  iotHttp?: string;
  /** Telemetry interval, ms. */
  telemetryInterval?: number;
  /** A command printing a JSON object of metrics. */
  telemetryCommand?: string;
}

/** Parses `HH:MM-HH:MM` (UTC). @internal */
export function parseWindow(value: string): { start: string; end: string; utc: true } {
  const m = /^(\d{1,2}:\d{2})-(\d{1,2}:\d{2})$/.exec(value);
  if (!m) throw usageError(`--maintenance-window expects HH:MM-HH:MM, got ${value}`);
  return { start: m[1]!, end: m[2]!, utc: true };
}

/** The flags of `otakit device install`. */
export interface InstallFlags {
  dataDir: string;
  deviceType?: string;
  installer?: string;
  trustedKey?: string[];
  json?: boolean;
}

async function trustedKeys(paths: string[] | undefined): Promise<string[] | undefined> {
  if (!paths?.length) return undefined;
  return Promise.all(paths.map((p) => readPublicKeyFile(p, '--trusted-key')));
}

/** Runs the agent until SIGTERM or SIGINT (`otakit device run`). */
export async function runAgent(opts: RunFlags): Promise<void> {
  baselineWasmOnly();
  const dataDir = resolve(opts.dataDir);
  // A registry device needs no --identity: it is the one `otakit iot sync` preauthorizes.
  const identity =
    (opts.identity ?? []).length === 0 && opts.iotDeviceId !== undefined
      ? { device_id: opts.iotDeviceId }
      : parseIdentity(opts.identity ?? []);
  if (Object.keys(identity).length === 0)
    throw usageError('give at least one --identity k=v (or --iot-device-id)');
  const iot = opts.iotDeviceId === undefined ? undefined : iotTarget(opts);
  const keys = await trustedKeys(opts.trustedKey);
  const transport: TransportOptions = await transportOptions(opts.ca);
  const options: DeviceClientOptions = {
    serverUrl: opts.server,
    privateKey: await readPrivateKeyFile(opts.key),
    identity,
    deviceType: opts.deviceType,
    dataDir,
    installers: [parseInstaller(opts.installer ?? `simulated:${join(dataDir, 'device')}`)],
    poll: {
      updateIntervalMs: opts.pollInterval,
      inventoryIntervalMs: opts.inventoryPoll * 1000,
      // A fast poll also retries fast: the first backoff step never exceeds the poll interval.
      retry: {
        baseDelayMs: Math.min(60_000, opts.retryPoll * 1000, opts.pollInterval),
        maxDelayMs: opts.retryPoll * 1000,
      },
    },
    ...transport,
    // Node's HTTP client rather than undici's pool, whose parser is llhttp compiled to WebAssembly:
    // with the device bundle's lazy undici agents, idle RSS 51.9 -> 46.8 MiB (bench/device.bench.ts,
    // paired). A proxy from the environment still goes through undici's proxy agents.
    transport: 'node',
    ...(opts.tenantToken ? { tenantToken: opts.tenantToken } : {}),
    policy: {
      ...(keys ? { trustedKeys: keys } : {}),
      ...(opts.minVersion ? { minVersion: opts.minVersion } : {}),
    },
    ...(opts.bandwidth ? { download: { bytesPerSecond: opts.bandwidth } } : {}),
    ...(opts.scriptsDir ? { stateScripts: { scriptsDir: resolve(opts.scriptsDir) } } : {}),
    pause: {
      ...(opts.maintenanceWindow ? { maintenanceWindow: parseWindow(opts.maintenanceWindow) } : {}),
      ...(opts.downloadOnly ? { downloadOnly: true } : {}),
    },
  };
  const client = new DeviceClient(options);
  optimiseFromFirstUpdate(client.events);
  const print = eventPrinter(opts.json === true);
  logEvents(client, print);
  const telemetry = iot === undefined ? undefined : await startTelemetry(client, iot, options, print);
  const ac = new AbortController();
  const stop = (signal: string) => {
    print('agent:signal', `${signal}: stopping`, { signal });
    ac.abort();
  };
  const onTerm = () => stop('SIGTERM');
  const onInt = () => stop('SIGINT');
  const onUsr1 = () => {
    print('agent:signal', 'SIGUSR1: proceeding with held updates', { signal: 'SIGUSR1' });
    client.proceed();
  };
  process.once('SIGTERM', onTerm);
  process.once('SIGINT', onInt);
  process.on('SIGUSR1', onUsr1);
  print('agent:start', `agent started: server ${opts.server}, data dir ${dataDir}`, {
    server: opts.server,
    dataDir,
    pollIntervalMs: opts.pollInterval,
  });
  try {
    await client.run({ signal: ac.signal });
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    process.off('SIGUSR1', onUsr1);
    await telemetry?.stop();
    await client.close();
  }
  print('agent:stop', 'agent stopped');
}

/**
 * Installs an artifact file without a server (`otakit device install`). A failed install is a
 * {@link CliError} `ERR_CLI_FAILED` (exit 3) after the events were printed.
 */
export async function installFile(file: string, opts: InstallFlags): Promise<void> {
  const dataDir = resolve(opts.dataDir);
  const deviceType = opts.deviceType ?? (await new ProvidesStore(dataDir).readDeviceType());
  if (!deviceType) throw usageError(`no --device-type given and no device_type file in ${dataDir}`);
  const keys = await trustedKeys(opts.trustedKey);
  const client = new DeviceClient({
    deviceType,
    dataDir,
    installers: [parseInstaller(opts.installer ?? `simulated:${join(dataDir, 'device')}`)],
    ...(keys ? { policy: { trustedKeys: keys } } : {}),
  });
  // With --json the events stay quiet: stdout carries the one result document.
  const print: EventPrinter = opts.json ? () => {} : eventPrinter(false);
  logEvents(client, print);
  try {
    const pending = await client.resume();
    if (pending) {
      print('update:resumed', `finished the interrupted update ${pending.updateId}: ${pending.outcome}`);
    }
    const result = await client.installFromFile(file);
    if (opts.json) {
      printJson({
        updateId: result.updateId,
        outcome: result.outcome,
        artifactName: result.artifactName ?? null,
        error: result.error ?? null,
        ...(pending ? { resumed: { updateId: pending.updateId, outcome: pending.outcome } } : {}),
      });
    }
    if (result.outcome !== 'success') {
      throw new CliError(
        'ERR_CLI_FAILED',
        `install of ${file} ended in ${result.outcome}${result.error ? `: ${result.error}` : ''}`,
        { exitCode: EXIT.FAILED },
      );
    }
  } finally {
    await client.close();
  }
}
