/**
 * A local Cloud IoT Core-compatible server: the v1 device manager subset (devices list/get/create/
 * patch/delete, config and commands), the device HTTP bridge (publishEvent/setState/config) and an
 * MQTT 3.1.1 bridge, all verifying device JWTs against the registered keys.
 *
 * @module
 */
import type { EventEmitter } from 'node:events';
import Fastify from 'fastify';
import { MqttBridge } from './mqtt-bridge.js';
import { registerV1Routes } from './routes.js';
import { RpcError } from './status.js';
import {
  type IotCoreSandboxEvents,
  type IotCoreStateReport,
  type IotCoreTelemetry,
  IotCoreWorld,
} from './world.js';

export type { IotCoreSandboxEvents, IotCoreStateReport, IotCoreTelemetry } from './world.js';

/** A registry the sandbox serves. */
export interface IotCoreSandboxRegistry {
  /** The project id (also the `aud` device JWTs must carry). */
  project: string;
  /** The region, e.g. `us-central1`. */
  location: string;
  /** The registry id. */
  registry: string;
}

/** The default admin bearer token of {@link startIotCoreSandbox}. */
export const DEFAULT_IOT_CORE_ADMIN_TOKEN = 'iot-core-sandbox-token';

/** The registry {@link startIotCoreSandbox} serves when none is given. */
export const DEFAULT_IOT_CORE_REGISTRY: Readonly<IotCoreSandboxRegistry> = Object.freeze({
  project: 'otakit-sandbox',
  location: 'us-central1',
  registry: 'devices',
});

/** Options of {@link startIotCoreSandbox}. */
export interface IotCoreSandboxOptions {
  /** HTTP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on (default `127.0.0.1`). */
  host?: string;
  /** Serve the MQTT bridge too (default true). */
  mqtt?: boolean;
  /** MQTT port; 0 (default) picks a free one. */
  mqttPort?: number;
  /** Registries to serve (default one: {@link DEFAULT_IOT_CORE_REGISTRY}). */
  registries?: IotCoreSandboxRegistry[];
  /**
   * The bearer token the device manager API requires (default {@link DEFAULT_IOT_CORE_ADMIN_TOKEN});
   * `null` serves it without authentication. Device bridges always require a device JWT.
   */
  adminToken?: string | null;
  /** The clock (default `() => new Date()`), for JWT `iat`/`exp` checks and timestamps. */
  now?: () => Date;
}

/** A running IoT Core sandbox. */
export interface IotCoreSandbox {
  /** Base URL of the device manager API and the HTTP bridge, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** `mqtt://127.0.0.1:port` of the MQTT bridge, when enabled. */
  readonly mqttUrl: string | undefined;
  /** The admin bearer token (undefined when the API is open). */
  readonly adminToken: string | undefined;
  /** The registries served. */
  readonly registries: readonly IotCoreSandboxRegistry[];
  /** Every telemetry event accepted, oldest first. */
  readonly telemetry: readonly IotCoreTelemetry[];
  /** Every state report accepted, oldest first. */
  readonly states: readonly IotCoreStateReport[];
  /** `telemetry`, `state`, `mqtt:connect`, `mqtt:refused`, `mqtt:disconnect`. */
  readonly events: EventEmitter<IotCoreSandboxEvents>;
  /** Adds a registry (idempotent). */
  addRegistry(registry: IotCoreSandboxRegistry): void;
  /** Whether a device (string id) of a registry has an open MQTT connection. */
  isConnected(deviceId: string, registry?: IotCoreSandboxRegistry): boolean;
  /** Stops both servers and drops every connection. */
  close(): Promise<void>;
}

/**
 * Starts a Cloud IoT Core-compatible sandbox on 127.0.0.1: the `cloudiot.googleapis.com` v1 device
 * manager subset under `/v1/projects/…/devices` (list with `fieldMask`/`pageToken`, get, create,
 * patch with `updateMask`, delete, `:modifyCloudToDeviceConfig`, `:sendCommandToDevice`,
 * `/states`), the device HTTP bridge (`:publishEvent`, `:setState`, `/config`) and an MQTT bridge.
 * Errors are Google error bodies (`{error: {code, message, status}}`). State is in memory.
 *
 * @example
 * ```ts
 * const iot = await startIotCoreSandbox({ port: 0 })
 * // device manager: GET `${iot.url}/v1/projects/otakit-sandbox/locations/us-central1/registries/devices/devices`
 * // with `Authorization: Bearer ${iot.adminToken}`; MQTT bridge at iot.mqttUrl
 * await iot.close()
 * ```
 */
export async function startIotCoreSandbox(options: IotCoreSandboxOptions = {}): Promise<IotCoreSandbox> {
  const host = options.host ?? '127.0.0.1';
  const adminToken =
    options.adminToken === null ? undefined : (options.adminToken ?? DEFAULT_IOT_CORE_ADMIN_TOKEN);
  const world = new IotCoreWorld(adminToken, options.now ?? (() => new Date()));
  const registries: IotCoreSandboxRegistry[] = [];
  const addRegistry = (r: IotCoreSandboxRegistry) => {
    world.addRegistry(r.project, r.location, r.registry);
    if (!registries.some((x) => registryKey(x) === registryKey(r))) registries.push({ ...r });
  };
  for (const r of options.registries ?? [DEFAULT_IOT_CORE_REGISTRY]) addRegistry(r);

  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.setErrorHandler((err, _request, reply) => {
    const rpc =
      err instanceof RpcError
        ? err
        : typeof (err as { statusCode?: number }).statusCode === 'number' &&
            (err as { statusCode: number }).statusCode < 500
          ? new RpcError('INVALID_ARGUMENT', 'Invalid JSON payload received.')
          : new RpcError('INTERNAL', 'Internal error encountered.');
    void reply.code(rpc.httpStatus).type('application/json; charset=UTF-8').send(rpc.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    const rpc = new RpcError(
      'NOT_FOUND',
      `The requested URL ${request.url.split('?')[0]} was not found on this server.`,
    );
    void reply.code(404).send(rpc.toJSON());
  });
  await registerV1Routes(app, world);
  await app.listen({ port: options.port ?? 0, host });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;

  let bridge: MqttBridge | undefined;
  let mqttUrl: string | undefined;
  if (options.mqtt !== false) {
    bridge = new MqttBridge(world);
    try {
      const mqttPort = await bridge.listen(options.mqttPort ?? 0, host);
      mqttUrl = `mqtt://${host}:${mqttPort}`;
    } catch (err) {
      await app.close();
      throw err;
    }
  }

  return {
    url: `http://${host}:${port}`,
    mqttUrl,
    adminToken,
    registries,
    telemetry: world.telemetry,
    states: world.states,
    events: world.events,
    addRegistry,
    isConnected(deviceId, registry = registries[0] ?? DEFAULT_IOT_CORE_REGISTRY) {
      const reg = world.registry(registry.project, registry.location, registry.registry);
      const d = reg?.devices.get(deviceId);
      return d !== undefined && bridge?.isConnected(d) === true;
    },
    async close() {
      await Promise.all([app.close(), bridge?.close()]);
    },
  };
}

function registryKey(r: IotCoreSandboxRegistry): string {
  return `${r.project}/${r.location}/${r.registry}`;
}
