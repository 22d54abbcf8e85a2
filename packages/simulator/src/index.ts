/**
 * @otakit/simulator: a fleet of simulated devices in one process, for demos, the fleet page and
 * load tests. Each device has its own key (ECDSA P-256, one key for both planes), is registered in
 * a Cloud IoT Core-compatible registry, is preauthorized in Mender by the registry sync, runs the
 * real otakit device agent with the simulated A/B installer, and publishes telemetry tagged with
 * the release it runs, whose metrics can be made to regress on a named release.
 *
 * @packageDocumentation
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type DeviceKey, generateDeviceKey, mapConcurrent } from '@otakit/core';
import { DeviceClient, SimulatedInstaller } from '@otakit/device-client';
import {
  DeviceTelemetry,
  IotCoreDevice,
  menderAdmission,
  preauthorizeFromRegistry,
  RegistryClient,
  type SyncReport,
  toDeviceCredential,
} from '@otakit/iot-core-adapter';
import type { ManagementClient } from '@otakit/management-client';
import { EventEmitter } from 'eventemitter3';
import { Agent } from 'undici';

/** A metric made worse on one release: `+30%` (relative) or `+5` (absolute). */
export interface RegressionRule {
  release: string;
  metric: string;
  change: `${'+' | '-'}${number}%` | number;
}

/**
 * Parses `release:metric:change`, e.g. `release-2.1:cpu_temp:+30%` or `release-2.1:errors:+1`.
 * @throws TypeError
 */
export function parseRegression(spec: string): RegressionRule {
  const m = /^(.+):([A-Za-z0-9_.\-/]+):([+-]\d+(?:\.\d+)?)(%?)$/.exec(spec);
  if (!m) throw new TypeError(`a regression is release:metric:+N% or release:metric:+N, got "${spec}"`);
  const [, release, metric, amount, pct] = m as unknown as [string, string, string, string, string];
  return { release, metric, change: pct ? (`${amount}%` as RegressionRule['change']) : Number(amount) };
}

/** Applies the rules that name `release` to a sample. */
export function applyRegressions(
  release: string,
  sample: Record<string, number>,
  rules: readonly RegressionRule[],
): Record<string, number> {
  const out = { ...sample };
  for (const r of rules) {
    if (r.release !== release || typeof out[r.metric] !== 'number') continue;
    const v = out[r.metric] as number;
    out[r.metric] =
      typeof r.change === 'number' ? v + r.change : v * (1 + Number(r.change.slice(0, -1)) / 100);
  }
  return out;
}

/** The metrics every simulated device reports by default: a temperature and an error count. */
export function defaultMetrics(index: number): Record<string, number> {
  return {
    cpu_temp: Math.round((48 + (index % 7) + Math.random() * 3) * 10) / 10,
    errors: Math.random() < 0.02 ? 1 : 0,
  };
}

/** Options of {@link startFleetSimulator}. */
export interface FleetSimulatorOptions {
  /** The Mender server the agents talk to. */
  menderUrl: string;
  /** The management client the registry sync preauthorizes devices with. */
  management: ManagementClient;
  /** The IoT Core-compatible registry and its MQTT bridge. */
  iot: {
    project: string;
    location: string;
    registry: string;
    /** The device manager API root. */
    apiUrl: string;
    /** The MQTT bridge (`mqtt://…`). */
    mqttUrl: string;
    /** Bearer token of the device manager API. */
    token: string;
  };
  /** How many devices. */
  devices: number;
  /** Where each device keeps its state, under `<dataDir>/<id>`. */
  dataDir: string;
  /** Device ids are `<idPrefix><n>` (zero-padded). Default `sim-`. */
  idPrefix?: string;
  /** The devices' `device_type`. Default `sim-board`. */
  deviceType?: string;
  /** Public keys the agents trust for artifact signatures (unsigned artifacts refused when given). */
  trustedKeys?: string[];
  /** How often each device publishes telemetry, ms. Default 5 000. */
  telemetryIntervalMs?: number;
  /** How often each agent polls for a deployment, ms. Default 5 000. */
  pollIntervalMs?: number;
  /** The metrics of a sample (default {@link defaultMetrics}); regressions are applied on top. */
  metrics?: (device: { id: string; index: number; release: string }) => Record<string, number>;
  /** Metrics made worse on named releases. */
  regress?: RegressionRule[];
  /** Whether a device's application is healthy on a release (its post-reboot health check). */
  healthy?: (device: { id: string; release: string }) => boolean;
  /** How many devices are set up at once. Default 16. */
  concurrency?: number;
}

/** One simulated device. */
export interface SimulatedDevice {
  readonly id: string;
  readonly key: DeviceKey;
  readonly agent: DeviceClient;
  readonly telemetry: DeviceTelemetry;
  readonly iot: IotCoreDevice;
}

/** Events of a {@link FleetSimulator}. */
export interface FleetSimulatorEvents {
  /** A device's update ended. */
  update: (e: { deviceId: string; outcome: string; artifactName?: string | undefined }) => void;
  /** A device hit an error it retries (agent or telemetry). */
  error: (e: { deviceId: string; error: unknown }) => void;
}

/** A running simulated fleet; `stop()` ends every agent and connection. */
export class FleetSimulator extends EventEmitter<FleetSimulatorEvents> {
  readonly devices: SimulatedDevice[] = [];
  /** What the registry sync did when the fleet started. */
  sync: SyncReport | undefined;
  readonly #stop = new AbortController();
  readonly #running: Promise<void>[] = [];
  readonly #dispatcher = new Agent({ connections: 64 });
  #stopped = false;

  /** @internal */
  get dispatcher(): Agent {
    return this.#dispatcher;
  }

  /** @internal */
  run(device: SimulatedDevice): void {
    this.devices.push(device);
    this.#running.push(
      device.agent.run({ signal: this.#stop.signal }).catch((error: unknown) => {
        this.emit('error', { deviceId: device.id, error });
      }),
    );
  }

  /** The release each device runs, by device id. */
  async releases(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const d of this.devices) out.set(d.id, (await d.agent.installed()).artifactName);
    return out;
  }

  /** Stops every agent, telemetry loop and connection. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stop.abort();
    await Promise.all(this.#running);
    await mapConcurrent(
      this.devices,
      async (d) => {
        await d.telemetry.stop();
        await d.iot.close();
        await d.agent.close();
      },
      { concurrency: 32 },
    );
    await this.#dispatcher.close();
  }
}

/**
 * Starts a simulated fleet: keys, registry devices, the registry sync into Mender, then an agent and
 * a telemetry loop per device.
 *
 * @example
 * ```ts
 * const fleet = await startFleetSimulator({
 *   menderUrl, management: mgmt, devices: 100, dataDir: '/tmp/fleet',
 *   iot: { project, location, registry, apiUrl, mqttUrl, token },
 *   regress: [parseRegression('release-2.1:cpu_temp:+30%')],
 * })
 * // ... deploy, watch the telemetry ...
 * await fleet.stop()
 * ```
 */
export async function startFleetSimulator(options: FleetSimulatorOptions): Promise<FleetSimulator> {
  const n = options.devices;
  if (!(Number.isInteger(n) && n >= 1)) throw new TypeError(`devices must be a positive integer, got ${n}`);
  const prefix = options.idPrefix ?? 'sim-';
  const width = String(n).length;
  const ids = Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(width, '0')}`);
  const { project, location, registry: registryId } = options.iot;
  const registry = new RegistryClient({
    project,
    location,
    registry: registryId,
    baseUrl: options.iot.apiUrl,
    auth: options.iot.token,
  });
  const concurrency = options.concurrency ?? 16;
  const fleet = new FleetSimulator();
  try {
    const keys = new Map<string, DeviceKey>();
    const created = await mapConcurrent(
      ids,
      async (id) => {
        const key = await generateDeviceKey({ type: 'ecdsa-p256' });
        keys.set(id, key);
        const credentials = [toDeviceCredential(key.publicKeyPem)];
        try {
          await registry.devices.create({ id, credentials });
        } catch (err) {
          // Already registered (a sandbox restarted with its data dir): rotate to the new key; the
          // registry sync follows the rotation into Mender.
          if ((err as { status?: number }).status !== 409) throw err;
          await registry.devices.patch(id, { credentials, blocked: false });
        }
      },
      { concurrency },
    );
    const failed = created.find((r) => !r.ok);
    if (failed && !failed.ok) throw failed.error;
    fleet.sync = await preauthorizeFromRegistry({
      registry,
      mender: menderAdmission(options.management),
      concurrency,
    });

    const regress = options.regress ?? [];
    /** The release each device is installing (from its last deployment check). */
    const installing = new Map<string, string>();
    const metrics = options.metrics ?? (({ index }) => defaultMetrics(index));
    for (const [index, id] of ids.entries()) {
      const key = keys.get(id) as DeviceKey;
      const dataDir = join(options.dataDir, id);
      await mkdir(dataDir, { recursive: true });
      const healthy = options.healthy;
      const agent: DeviceClient = new DeviceClient({
        serverUrl: options.menderUrl,
        privateKey: key.privateKeyPem,
        identity: { device_id: id },
        deviceType: options.deviceType ?? 'sim-board',
        dataDir,
        dispatcher: fleet.dispatcher,
        installers: [new SimulatedInstaller({ dir: join(dataDir, 'slots') })],
        ...(options.trustedKeys ? { policy: { trustedKeys: options.trustedKeys } } : {}),
        ...(healthy
          ? {
              healthChecks: [
                {
                  name: 'app',
                  // The update being judged is the one the agent is installing.
                  check: () => healthy({ id, release: installing.get(id) ?? '' }),
                },
              ],
            }
          : {}),
        poll: {
          updateIntervalMs: options.pollIntervalMs ?? 5_000,
          inventoryIntervalMs: 3_600_000,
          retry: { baseDelayMs: 1_000, maxDelayMs: 5_000 },
        },
      });
      agent.events.on('update:check', (e) => {
        if (e.artifactName) installing.set(id, e.artifactName);
      });
      agent.events.on('update:done', (e) =>
        fleet.emit('update', { deviceId: id, outcome: e.outcome, artifactName: e.artifactName }),
      );
      agent.events.on('agent:error', (e) => fleet.emit('error', { deviceId: id, error: e.error }));
      const iot = new IotCoreDevice({
        project,
        location,
        registry: registryId,
        deviceId: id,
        privateKey: key.privateKeyPem,
        mqttUrl: options.iot.mqttUrl,
        reconnect: { baseDelayMs: 500, maxDelayMs: 10_000 },
      });
      iot.on('error', (error) => fleet.emit('error', { deviceId: id, error }));
      const telemetry = new DeviceTelemetry({
        device: iot,
        agent,
        intervalMs: options.telemetryIntervalMs ?? 5_000,
        builtinMetrics: false,
        metrics: async () => {
          const release = (await agent.installed()).artifactName;
          return applyRegressions(release, metrics({ id, index, release }), regress);
        },
      });
      telemetry.on('error', (error) => fleet.emit('error', { deviceId: id, error }));
      fleet.run({ id, key, agent, telemetry, iot });
    }
    await mapConcurrent(fleet.devices, (d) => d.telemetry.start(), { concurrency });
    return fleet;
  } catch (err) {
    await fleet.stop();
    throw err;
  } finally {
    await registry.close();
  }
}
