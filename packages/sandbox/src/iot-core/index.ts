/**
 * A local Cloud IoT Core-compatible server: the v1 device manager subset (devices list/get/create/
 * patch/delete, config and commands), the device HTTP bridge (publishEvent/setState/config) and an
 * MQTT 3.1.1 bridge on aedes, all verifying device JWTs (core's `verifyJwt`, jose) against the
 * registered keys, handing accepted telemetry and state to an optional {@link TelemetrySink}.
 *
 * @module
 */
import type { EventEmitter } from 'node:events';
import Fastify from 'fastify';
import { MqttBridge } from './mqtt-bridge.js';
import { IotCoreStateFile } from './persistence.js';
import { registerV1Routes } from './routes.js';
import { RpcError } from './status.js';
import { SinkGate, type TelemetrySink } from './telemetry-sink.js';
import {
  type IotCoreSandboxEvents,
  type IotCoreStateReport,
  type IotCoreTelemetry,
  IotCoreWorld,
} from './world.js';

export {
  DEFAULT_MAX_IN_FLIGHT_WRITES,
  type TelemetryRecord,
  type TelemetrySink,
} from './telemetry-sink.js';
export {
  DEFAULT_RECENT_MESSAGES,
  type IotCoreSandboxEvents,
  type IotCoreStateReport,
  type IotCoreTelemetry,
} from './world.js';

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
  /**
   * Where every accepted telemetry event and state message goes (MQTT and HTTP bridges). A message
   * is acknowledged (QoS 1 PUBACK, HTTP 200) only after `write` resolved; a rejection is reported to
   * the publisher (HTTP 503 `UNAVAILABLE`; the MQTT connection is closed without PUBACK).
   */
  telemetrySink?: TelemetrySink;
  /**
   * Most sink writes in flight at once (default {@link DEFAULT_MAX_IN_FLIGHT_WRITES}); further
   * messages wait, and their connections stop being read, instead of piling up in memory.
   */
  maxInFlightWrites?: number;
  /**
   * How many of the latest accepted telemetry events and state reports the `telemetry` and
   * `states` lists keep (default {@link DEFAULT_RECENT_MESSAGES}); older ones are dropped in
   * batches, so a long run keeps bounded memory. Give a `telemetrySink` to keep everything.
   */
  recentMessages?: number;
  /**
   * Keep the registries and devices (credentials, metadata, blocked, config versions, states) in
   * `<dataDir>/iot-core.json` so they survive a restart; in memory when omitted.
   */
  dataDir?: string;
}

/** A running IoT Core sandbox. */
export interface IotCoreSandbox {
  /** Base URL of the device manager API and the HTTP bridge, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** `mqtt://127.0.0.1:port` of the MQTT bridge, when enabled. */
  readonly mqttUrl: string | undefined;
  /** The admin bearer token (undefined when the API is open). */
  readonly adminToken: string | undefined;
  /** The data directory, when the registries are persisted. */
  readonly dataDir: string | undefined;
  /** The registries served. */
  readonly registries: readonly IotCoreSandboxRegistry[];
  /** The latest accepted telemetry events (at least `recentMessages` of them), oldest first. */
  readonly telemetry: readonly IotCoreTelemetry[];
  /** The latest accepted state reports (at least `recentMessages` of them), oldest first. */
  readonly states: readonly IotCoreStateReport[];
  /** `telemetry`, `state`, `mqtt:connect`, `mqtt:refused`, `mqtt:disconnect`. */
  readonly events: EventEmitter<IotCoreSandboxEvents>;
  /** Adds a registry (idempotent). */
  addRegistry(registry: IotCoreSandboxRegistry): void;
  /** Whether a device (string id) of a registry has an open MQTT connection. */
  isConnected(deviceId: string, registry?: IotCoreSandboxRegistry): boolean;
  /** Stops both servers, drops every connection and writes the registries (with a data dir). */
  close(): Promise<void>;
}

/**
 * Starts a Cloud IoT Core-compatible sandbox on 127.0.0.1: the `cloudiot.googleapis.com` v1 device
 * manager subset under `/v1/projects/…/devices` (list with `fieldMask`/`pageToken`, get, create,
 * patch with `updateMask`, delete, `:modifyCloudToDeviceConfig`, `:sendCommandToDevice`,
 * `/states`), the device HTTP bridge (`:publishEvent`, `:setState`, `/config`) and an MQTT bridge.
 * Errors are Google error bodies (`{error: {code, message, status}}`). State is in memory unless
 * `dataDir` is given; accepted telemetry and state go to `telemetrySink` before they are acknowledged.
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
  if (options.recentMessages !== undefined) {
    if (!Number.isInteger(options.recentMessages) || options.recentMessages < 0) {
      throw new RangeError('recentMessages must be a non-negative integer');
    }
    world.recentMessages = options.recentMessages;
  }
  if (options.telemetrySink) world.sink = new SinkGate(options.telemetrySink, options.maxInFlightWrites);
  let stateFile: IotCoreStateFile | undefined;
  if (options.dataDir !== undefined) {
    stateFile = new IotCoreStateFile(options.dataDir, world);
    await stateFile.load();
    const file = stateFile;
    world.onChange = () => file.save();
  }
  const registries: IotCoreSandboxRegistry[] = [];
  const addRegistry = (r: IotCoreSandboxRegistry) => {
    world.addRegistry(r.project, r.location, r.registry);
    if (!registries.some((x) => registryKey(x) === registryKey(r))) registries.push({ ...r });
    world.changed();
  };
  for (const r of options.registries ?? [DEFAULT_IOT_CORE_REGISTRY]) addRegistry(r);
  for (const r of world.registries.values()) {
    addRegistry({ project: r.project, location: r.location, registry: r.id });
  }

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
  // An admin change is on disk before its response goes out.
  app.addHook('onSend', async () => {
    await stateFile?.flush();
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
    dataDir: options.dataDir,
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
      await stateFile?.flush();
    },
  };
}

function registryKey(r: IotCoreSandboxRegistry): string {
  return `${r.project}/${r.location}/${r.registry}`;
}
