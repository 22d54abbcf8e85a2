/**
 * The data plane of `otakit device run`: telemetry and state over the IoT Core MQTT bridge with the
 * agent's own key, tagged with the release it runs (loaded only with `device run`).
 */
import { execFile } from 'node:child_process';
import type { DeviceClient, DeviceClientOptions } from '@otakit/device-client';
import { usageError } from '../shared/errors.js';
import { parseRegistryName } from '../shared/flags.js';
import type { EventPrinter, RunFlags } from './device-agent.js';

/**
 * Runs `command` through the shell and reads its stdout as a JSON object of metrics (numbers,
 * strings, booleans; anything else is dropped). A failing or non-JSON command is an error.
 * @internal
 */
export function commandMetrics(
  command: string,
  timeoutMs = 10_000,
): Promise<Record<string, number | string | boolean>> {
  return new Promise((done, fail) => {
    execFile('/bin/sh', ['-c', command], { timeout: timeoutMs, maxBuffer: 256 * 1024 }, (err, stdout) => {
      if (err) {
        fail(new Error(`--telemetry-command failed: ${err.message}`));
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(stdout);
      } catch {
        fail(new Error('--telemetry-command did not print a JSON object'));
        return;
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        fail(new Error('--telemetry-command did not print a JSON object'));
        return;
      }
      // Own keys only, so `__proto__` stays an ordinary metric name.
      const metrics: Record<string, number | string | boolean> = Object.create(null);
      for (const [k, v] of Object.entries(parsed)) {
        if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') {
          Object.defineProperty(metrics, k, {
            value: v,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
      }
      done(metrics);
    });
  });
}

/** Where and how `device run` publishes telemetry. @internal */
export interface IotTarget {
  project: string;
  location: string;
  registry: string;
  deviceId: string;
  mqttUrl: string;
  httpUrl?: string;
  intervalMs: number;
  command?: string;
}

/** The data-plane settings of `device run` (flags, then environment). @internal */
export function iotTarget(opts: RunFlags): IotTarget {
  const name = opts.registry ?? process.env.OTAKIT_IOT_REGISTRY;
  if (name === undefined) {
    throw usageError(
      '--iot-device-id needs --registry projects/P/locations/L/registries/R (or OTAKIT_IOT_REGISTRY)',
    );
  }
  const where = parseRegistryName(name, '--registry');
  const mqttUrl = opts.iotMqtt ?? process.env.OTAKIT_IOT_MQTT;
  if (!mqttUrl) throw usageError('--iot-device-id needs --iot-mqtt URL (or OTAKIT_IOT_MQTT)');
  return {
    ...where,
    deviceId: opts.iotDeviceId as string,
    mqttUrl,
    ...(opts.iotHttp ? { httpUrl: opts.iotHttp } : {}),
    intervalMs: opts.telemetryInterval ?? 60_000,
    ...(opts.telemetryCommand ? { command: opts.telemetryCommand } : {}),
  };
}

/**
 * The data plane beside the agent: telemetry and state over the IoT Core MQTT bridge, signed with
 * the same key as the Mender requests (JWTs minted from it), each message tagged with the release;
 * a `check-update` command makes the agent poll now.
 */
export async function startTelemetry(
  client: DeviceClient,
  iot: IotTarget,
  options: DeviceClientOptions,
  print: EventPrinter,
): Promise<{ stop(): Promise<void> }> {
  const { DeviceTelemetry, IotCoreDevice } = await import('@otakit/iot-core-adapter');
  const common = {
    project: iot.project,
    location: iot.location,
    registry: iot.registry,
    deviceId: iot.deviceId,
    privateKey: options.privateKey as NonNullable<DeviceClientOptions['privateKey']>,
    ...(options.tls ? { tls: options.tls } : {}),
  };
  const device = new IotCoreDevice({ ...common, mqttUrl: iot.mqttUrl });
  const fallback =
    iot.httpUrl === undefined
      ? undefined
      : new IotCoreDevice({ ...common, transport: 'http', httpBaseUrl: iot.httpUrl });
  device.on('connect', () => print('telemetry:connect', `connected to ${iot.mqttUrl}`));
  device.on('disconnect', (e) =>
    print('telemetry:disconnect', `MQTT connection closed: ${e.reason}`, { reason: e.reason }),
  );
  device.on('error', (err) => print('telemetry:error', `MQTT: ${err.message}`, { error: err.message }));
  const command = iot.command;
  const telemetry = new DeviceTelemetry({
    device,
    ...(fallback ? { httpFallback: fallback } : {}),
    agent: client,
    intervalMs: iot.intervalMs,
    dataDir: options.dataDir,
    ...(command ? { metrics: () => commandMetrics(command) } : {}),
  });
  telemetry.on('telemetry', (m) => print('telemetry:sent', 'telemetry sent', { message: m }));
  telemetry.on('command', (c) =>
    print(
      'telemetry:command',
      `command ${c.command}${c.handled ? ': checking for an update now' : ' (ignored)'}`,
      c,
    ),
  );
  telemetry.on('error', (err) =>
    print('telemetry:error', `telemetry: ${err.message}`, { error: err.message }),
  );
  await telemetry
    .start()
    .catch((err: Error) => print('telemetry:error', `telemetry: ${err.message}`, { error: err.message }));
  return {
    async stop() {
      await telemetry.stop();
      await device.close();
      await fallback?.close();
    },
  };
}
