import { loadPrivateKey, type RequestOptions } from '@otakit/core';
import { EventEmitter } from 'eventemitter3';
import { DeviceJwt } from './device-jwt.js';
import type {
  CommandMessage,
  ConfigMessage,
  IotCoreDeviceEvents,
  IotCoreDeviceOptions,
  PublishOptions,
} from './device-options.js';
import { IotCoreError } from './errors.js';
import { HttpBridge } from './http-bridge.js';
import { iotCoreJwtAlgorithm } from './jwt.js';
import { MqttSession } from './mqtt-session.js';
import { devicePath, isValidSubfolder, topics } from './topics.js';

export {
  type CommandMessage,
  type ConfigMessage,
  DEFAULT_MQTT_URL,
  type IotCoreDeviceEvents,
  type IotCoreDeviceOptions,
  type PublishOptions,
} from './device-options.js';

type Payload = string | Uint8Array;

/**
 * A device's connection to Cloud IoT Core (or a compatible bridge) with the key the Mender client
 * uses: telemetry, state, config and commands over MQTT (client id = device path, password = JWT,
 * renewed with a fresh JWT before it expires, reconnecting with jittered backoff), or telemetry and
 * state over the HTTP bridge (`:publishEvent`, `:setState`, `Authorization: Bearer <JWT>`).
 *
 * @example
 * ```ts
 * const device = new IotCoreDevice({
 *   project: 'my-project', location: 'us-central1', registry: 'fleet', deviceId: 'g-42',
 *   privateKey: await readFile('/var/lib/mender/mender-agent.pem', 'utf8'),
 * })
 * device.onConfig(({ data }) => apply(JSON.parse(data.toString())))
 * await device.publishTelemetry(JSON.stringify({ temp: 21.5 }))
 * await device.close()
 * ```
 */
export class IotCoreDevice extends EventEmitter<IotCoreDeviceEvents> {
  /** `projects/…/devices/{deviceId}`: the MQTT client id. */
  readonly path: string;
  /** The device id in the registry. */
  readonly deviceId: string;
  /** How telemetry and state travel. */
  readonly transport: 'mqtt' | 'http';
  readonly #opts: IotCoreDeviceOptions;
  readonly #jwt: DeviceJwt;
  readonly #session: MqttSession;
  #http: HttpBridge | undefined;
  #closed = false;

  constructor(options: IotCoreDeviceOptions) {
    super();
    for (const k of ['project', 'location', 'registry', 'deviceId'] as const) {
      if (typeof options[k] !== 'string' || options[k] === '') {
        throw new IotCoreError('ERR_IOTCORE_OPTIONS', `${k} is required`);
      }
    }
    this.#opts = options;
    this.deviceId = options.deviceId;
    this.transport = options.transport ?? 'mqtt';
    this.path = devicePath(options);
    const key =
      typeof options.privateKey === 'object' && 'asymmetricKeyType' in options.privateKey
        ? options.privateKey
        : loadPrivateKey(options.privateKey as string | Uint8Array, options.passphrase);
    iotCoreJwtAlgorithm(key);
    this.#jwt = new DeviceJwt({
      privateKey: key,
      project: options.project,
      ttlSeconds: options.jwtTtlSeconds,
      refreshMarginSeconds: options.refreshMarginSeconds,
      now: options.now ?? (() => new Date()),
      onMint: (exp) => this.emit('token', { exp }),
    });
    this.#session = new MqttSession({
      clientId: this.path,
      deviceId: this.deviceId,
      device: options,
      jwt: this.#jwt,
      events: this,
    });
  }

  /**
   * A JWT valid for at least the refresh margin, minted anew (through core's `signJwt`) when
   * needed; concurrent callers share one mint.
   */
  currentJwt(): Promise<string> {
    return this.#jwt.current();
  }

  /**
   * Connects to the MQTT bridge; resolves once connected. Refusals (e.g. a device not registered
   * yet) are retried with backoff until it succeeds, `signal` aborts, or {@link close} is called.
   */
  connect(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#closed) return Promise.reject(new IotCoreError('ERR_IOTCORE_CLOSED', 'the device was closed'));
    if (this.transport !== 'mqtt') return Promise.resolve();
    return this.#session.connect(options);
  }

  /** Whether the MQTT connection is up. */
  get connected(): boolean {
    return this.#session.connected;
  }

  /**
   * Receives configuration (`/devices/{id}/config`; the latest is delivered right after
   * subscribing). Needs MQTT. Returns a function that removes the handler.
   */
  onConfig(handler: (message: ConfigMessage) => void): () => void {
    this.#requireMqtt('onConfig');
    return this.#session.onConfig(handler);
  }

  /** Receives commands (`/devices/{id}/commands/#`). Needs MQTT. Returns a function that removes the handler. */
  onCommand(handler: (message: CommandMessage) => void): () => void {
    this.#requireMqtt('onCommand');
    return this.#session.onCommand(handler);
  }

  #requireMqtt(what: string): void {
    if (this.transport !== 'mqtt') {
      throw new IotCoreError('ERR_IOTCORE_OPTIONS', `${what} needs the MQTT transport`);
    }
  }

  /**
   * Publishes telemetry: MQTT `/devices/{id}/events[/subfolder]` (QoS 1 by default: resolves on
   * PUBACK), or HTTP `:publishEvent`. Payload at most 256 KB.
   */
  async publishTelemetry(payload: Payload, options: PublishOptions = {}): Promise<void> {
    const { subfolder, qos = 1, ...request } = options;
    if (subfolder !== undefined && !isValidSubfolder(subfolder)) {
      throw new IotCoreError(
        'ERR_IOTCORE_OPTIONS',
        'invalid subfolder (empty segment, + or #, or over 256 characters)',
      );
    }
    const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
    if (this.transport === 'http') return this.#bridge().publishEvent(data, subfolder, request);
    await this.#publish(topics.events(this.deviceId, subfolder), data, qos, request.signal);
  }

  /** Reports device state: MQTT `/devices/{id}/state` (QoS 1) or HTTP `:setState`. At most 64 KB, 1/s. */
  async publishState(state: Payload, options: RequestOptions & { qos?: 0 | 1 } = {}): Promise<void> {
    const { qos = 1, ...request } = options;
    const data = typeof state === 'string' ? Buffer.from(state, 'utf8') : Buffer.from(state);
    if (this.transport === 'http') return this.#bridge().setState(data, request);
    await this.#publish(topics.state(this.deviceId), data, qos, request.signal);
  }

  /**
   * Fetches the configuration over the HTTP bridge (`GET …/config?local_version=`): the current one
   * for `localVersion` 0, else only when a newer version exists (`data` undefined otherwise).
   */
  async getConfig(
    localVersion = 0,
    options: RequestOptions = {},
  ): Promise<{ version: number; data: Buffer | undefined }> {
    return this.#bridge().getConfig(localVersion, options);
  }

  #bridge(): HttpBridge {
    if (this.#closed) throw new IotCoreError('ERR_IOTCORE_CLOSED', 'the device was closed');
    this.#http ??= new HttpBridge({
      baseUrl: this.#opts.httpBaseUrl,
      devicePath: this.path,
      jwt: () => this.currentJwt(),
      tls: this.#opts.tls,
      logger: this.#opts.logger,
    });
    return this.#http;
  }

  #publish(topic: string, data: Buffer, qos: 0 | 1, signal: AbortSignal | undefined): Promise<void> {
    if (this.#closed) return Promise.reject(new IotCoreError('ERR_IOTCORE_CLOSED', 'the device was closed'));
    return this.#session.publish(topic, data, qos, signal);
  }

  /** Closes the MQTT connection and the HTTP client; no reconnect follows. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#session.close();
    await this.#http?.close();
  }
}
