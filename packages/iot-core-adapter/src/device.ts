import type { KeyObject } from 'node:crypto';
import {
  AbortError,
  Backoff,
  type BackoffOptions,
  type Logger,
  loadPrivateKey,
  type RequestOptions,
  type TlsOptions,
} from '@otakit/core';
import { EventEmitter } from 'eventemitter3';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { IotCoreError } from './errors.js';
import { HttpBridge } from './http-bridge.js';
import { iotCoreJwtAlgorithm, mintIotCoreJwtDetailed } from './jwt.js';
import { devicePath, isValidSubfolder, topics } from './topics.js';

/** Google's MQTT bridge. */
export const DEFAULT_MQTT_URL = 'mqtts://mqtt.googleapis.com:8883';

/** Options of {@link IotCoreDevice}. */
export interface IotCoreDeviceOptions {
  /** The project id (also the JWT audience). */
  project: string;
  /** The registry's region. */
  location: string;
  /** The registry id. */
  registry: string;
  /** The device id in the registry (the string id, not the numeric one). */
  deviceId: string;
  /** The device's private key (the Mender client's `mender-agent.pem`): RSA or ECDSA P-256. */
  privateKey: KeyObject | string | Uint8Array;
  /** Passphrase of an encrypted PEM key. */
  passphrase?: string;
  /** `'mqtt'` (default; needed for config and commands) or `'http'`. */
  transport?: 'mqtt' | 'http';
  /** MQTT bridge URL. Default {@link DEFAULT_MQTT_URL}; `mqtt://` for plain TCP (sandbox). */
  mqttUrl?: string;
  /** HTTP bridge root. Default `https://cloudiotdevice.googleapis.com`. */
  httpBaseUrl?: string;
  /** JWT lifetime in seconds. Default 3600 (at most 86 400). */
  jwtTtlSeconds?: number;
  /**
   * How long before the JWT expires the MQTT connection is renewed with a fresh one (the bridge
   * closes connections whose token expired). Default 10 % of the lifetime, at least 1 s, at most 5 min.
   */
  refreshMarginSeconds?: number;
  /** TLS for the bridges: `ca` (e.g. Google's roots or the LTS set, or DigiCert for ClearBlade), client cert/key. */
  tls?: TlsOptions;
  /**
   * MQTT reconnect backoff, core's `BackoffOptions` (full jitter by default): first ceiling and
   * largest ceiling in ms. Default 1 000 / 60 000.
   */
  reconnect?: Partial<BackoffOptions>;
  /** MQTT keep-alive in seconds. Default 60 (the bridge drops connections idle 20 min). */
  keepaliveSeconds?: number;
  /** The clock, for JWT `iat`/`exp` (default `() => new Date()`). */
  now?: () => Date;
  /** Debug lines (renewals); silent by default. */
  logger?: Logger;
}

/** A config message from `/devices/{id}/config`. */
export interface ConfigMessage {
  /** The config payload as sent with `modifyCloudToDeviceConfig`. */
  data: Buffer;
}

/** A command from `/devices/{id}/commands[/subfolder]`. */
export interface CommandMessage {
  /** The command payload. */
  data: Buffer;
  /** The subfolder, when the command was sent with one. */
  subfolder: string | undefined;
}

/** Events of an {@link IotCoreDevice}. */
export interface IotCoreDeviceEvents {
  /** Connected to the MQTT bridge (again, after a renewal or a drop). */
  connect: () => void;
  /** The MQTT connection ended; a reconnect follows unless the device was closed. */
  disconnect: (e: { reason: string }) => void;
  /** The bridge refused the connection (CONNACK return code, e.g. 5: not authorized). */
  refused: (e: { returnCode: number | undefined; message: string }) => void;
  /** A reconnect is scheduled in `delayMs`. */
  reconnect: (e: { attempt: number; delayMs: number }) => void;
  /** A fresh JWT was minted (`exp` in seconds since the epoch). */
  token: (e: { exp: number }) => void;
  config: (message: ConfigMessage) => void;
  command: (message: CommandMessage) => void;
  /** A transport error (also surfaced through rejected calls where there is one). */
  error: (err: Error) => void;
}

/** Options of {@link IotCoreDevice.publishTelemetry}. */
export interface PublishOptions extends RequestOptions {
  /** Telemetry subfolder: `/devices/{id}/events/{subfolder}` (MQTT) or `subFolder` (HTTP). */
  subfolder?: string;
  /** MQTT QoS (0 or 1). Default 1. */
  qos?: 0 | 1;
}

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
  readonly #key: KeyObject;
  readonly #opts: IotCoreDeviceOptions;
  readonly #now: () => Date;
  #jwt: { token: string; exp: number } | undefined;
  #minting: Promise<string> | undefined;
  #http: HttpBridge | undefined;
  #mqtt: MqttClient | undefined;
  #connected: Promise<void> | undefined;
  #resolveConnected: (() => void) | undefined;
  #closed = false;
  readonly #reconnect: Backoff;
  #opening = 0;
  #timer: NodeJS.Timeout | undefined;
  #configHandlers = new Set<(m: ConfigMessage) => void>();
  #commandHandlers = new Set<(m: CommandMessage) => void>();

  constructor(options: IotCoreDeviceOptions) {
    super();
    for (const k of ['project', 'location', 'registry', 'deviceId'] as const) {
      if (typeof options[k] !== 'string' || options[k] === '') {
        throw new IotCoreError('ERR_IOTCORE_OPTIONS', `${k} is required`);
      }
    }
    this.#opts = options;
    this.#now = options.now ?? (() => new Date());
    this.deviceId = options.deviceId;
    this.transport = options.transport ?? 'mqtt';
    this.path = devicePath(options);
    const key =
      typeof options.privateKey === 'object' && 'asymmetricKeyType' in options.privateKey
        ? options.privateKey
        : loadPrivateKey(options.privateKey as string | Uint8Array, options.passphrase);
    iotCoreJwtAlgorithm(key);
    this.#key = key;
    this.#reconnect = new Backoff({ baseDelayMs: 1000, maxDelayMs: 60_000, ...options.reconnect });
  }

  /**
   * A JWT valid for at least the refresh margin, minted anew (through core's `signJwt`) when
   * needed; concurrent callers share one mint.
   */
  currentJwt(): Promise<string> {
    const nowS = this.#now().getTime() / 1000;
    if (this.#jwt !== undefined && this.#jwt.exp - nowS > this.#margin()) {
      return Promise.resolve(this.#jwt.token);
    }
    this.#minting ??= mintIotCoreJwtDetailed({
      privateKey: this.#key,
      projectId: this.#opts.project,
      ttlSeconds: this.#ttl(),
      now: this.#now(),
    })
      .then((jwt) => {
        this.#jwt = { token: jwt.token, exp: jwt.exp };
        this.emit('token', { exp: jwt.exp });
        return jwt.token;
      })
      .finally(() => {
        this.#minting = undefined;
      });
    return this.#minting;
  }

  #ttl(): number {
    return this.#opts.jwtTtlSeconds ?? 3600;
  }

  #margin(): number {
    return this.#opts.refreshMarginSeconds ?? Math.min(300, Math.max(1, Math.floor(this.#ttl() / 10)));
  }

  /**
   * Connects to the MQTT bridge; resolves once connected. Refusals (e.g. a device not registered
   * yet) are retried with backoff until it succeeds, `signal` aborts, or {@link close} is called.
   */
  connect(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#closed) return Promise.reject(new IotCoreError('ERR_IOTCORE_CLOSED', 'the device was closed'));
    if (this.transport !== 'mqtt') return Promise.resolve();
    if (this.#connected === undefined) {
      this.#pending();
      this.#open();
    }
    const { signal } = options;
    const connected = this.#connected ?? Promise.resolve();
    if (signal === undefined) return connected;
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason ?? new AbortError('connect aborted'));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      connected.then(
        () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }

  /** Whether the MQTT connection is up. */
  get connected(): boolean {
    return this.#mqtt?.connected === true;
  }

  /** Mints the JWT, then opens the MQTT connection with it (a failed mint counts as a refused try). */
  #open(): void {
    clearTimeout(this.#timer);
    const opening = ++this.#opening;
    this.currentJwt().then(
      (password) => {
        if (!this.#closed && opening === this.#opening) this.#openWith(password);
      },
      (err: unknown) => {
        if (this.#closed || opening !== this.#opening) return;
        this.emit('error', err instanceof Error ? err : new Error(String(err)));
        this.#scheduleReconnect();
      },
    );
  }

  #openWith(password: string): void {
    const url = this.#opts.mqttUrl ?? DEFAULT_MQTT_URL;
    const tls = this.#opts.tls;
    const options: IClientOptions = {
      clientId: this.path,
      username: 'unused',
      password,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      keepalive: this.#opts.keepaliveSeconds ?? 60,
      connectTimeout: 30_000,
      resubscribe: false,
      ...(tls?.ca === undefined ? {} : { ca: tls.ca as string | Buffer | string[] | Buffer[] }),
      ...(tls?.cert === undefined ? {} : { cert: tls.cert }),
      ...(tls?.key === undefined ? {} : { key: tls.key }),
      ...(tls?.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tls.rejectUnauthorized }),
    };
    const client = connect(url, options);
    this.#mqtt = client;
    let refused = false;
    client.on('connect', () => {
      if (this.#mqtt !== client) return;
      this.#reconnect.reset();
      this.#subscribe(client);
      this.#scheduleRenewal();
      this.#resolveConnected?.();
      this.emit('connect');
    });
    client.on('message', (topic, payload) => this.#message(topic, payload));
    client.on('error', (err: Error & { code?: number }) => {
      if (typeof err.code === 'number') {
        refused = true;
        this.emit('refused', { returnCode: err.code, message: err.message });
      } else {
        this.emit('error', err);
      }
    });
    client.on('close', () => {
      if (this.#mqtt !== client) return;
      this.#mqtt = undefined;
      clearTimeout(this.#timer);
      client.removeAllListeners('connect');
      client.end(true);
      if (this.#closed) return;
      this.#pending();
      this.emit('disconnect', { reason: refused ? 'refused' : 'connection closed' });
      this.#scheduleReconnect();
    });
  }

  #subscribe(client: MqttClient): void {
    const wanted: Record<string, { qos: 0 | 1 }> = {};
    if (this.#configHandlers.size > 0) wanted[topics.config(this.deviceId)] = { qos: 1 };
    if (this.#commandHandlers.size > 0) wanted[topics.commands(this.deviceId)] = { qos: 1 };
    if (Object.keys(wanted).length === 0) return;
    client.subscribe(wanted, (err) => {
      if (err) this.emit('error', err);
    });
  }

  #message(topic: string, payload: Buffer): void {
    if (topic === topics.config(this.deviceId)) {
      const m = { data: payload };
      this.emit('config', m);
      for (const h of this.#configHandlers) h(m);
      return;
    }
    const prefix = `/devices/${this.deviceId}/commands`;
    if (topic === prefix || topic.startsWith(`${prefix}/`)) {
      const m = {
        data: payload,
        subfolder: topic.length > prefix.length ? topic.slice(prefix.length + 1) : undefined,
      };
      this.emit('command', m);
      for (const h of this.#commandHandlers) h(m);
    }
  }

  #scheduleRenewal(): void {
    clearTimeout(this.#timer);
    const exp = this.#jwt?.exp ?? 0;
    const ms = Math.max(0, (exp - this.#margin()) * 1000 - this.#now().getTime());
    this.#timer = setTimeout(() => this.#renew(), ms);
    this.#timer.unref();
  }

  #renew(): void {
    const old = this.#mqtt;
    if (old === undefined || this.#closed) return;
    this.#opts.logger?.debug('iot-core: renewing the MQTT connection with a fresh JWT', {
      device: this.deviceId,
    });
    this.#mqtt = undefined;
    this.#jwt = undefined;
    this.#pending();
    old.removeAllListeners('close');
    old.end(false, {}, () => {
      this.emit('disconnect', { reason: 'token renewal' });
      if (!this.#closed) this.#open();
    });
  }

  #scheduleReconnect(): void {
    const delayMs = this.#reconnect.next();
    this.emit('reconnect', { attempt: this.#reconnect.failures, delayMs });
    this.#timer = setTimeout(() => {
      if (!this.#closed) this.#open();
    }, delayMs);
  }

  /**
   * Receives configuration (`/devices/{id}/config`; the latest is delivered right after
   * subscribing). Needs MQTT. Returns a function that removes the handler.
   */
  onConfig(handler: (message: ConfigMessage) => void): () => void {
    this.#requireMqtt('onConfig');
    this.#configHandlers.add(handler);
    if (this.#configHandlers.size === 1 && this.#mqtt?.connected) this.#subscribe(this.#mqtt);
    return () => this.#configHandlers.delete(handler);
  }

  /** Receives commands (`/devices/{id}/commands/#`). Needs MQTT. Returns a function that removes the handler. */
  onCommand(handler: (message: CommandMessage) => void): () => void {
    this.#requireMqtt('onCommand');
    this.#commandHandlers.add(handler);
    if (this.#commandHandlers.size === 1 && this.#mqtt?.connected) this.#subscribe(this.#mqtt);
    return () => this.#commandHandlers.delete(handler);
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

  async #publish(topic: string, data: Buffer, qos: 0 | 1, signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      await this.connect(signal === undefined ? {} : { signal });
      const client = this.#mqtt;
      if (client?.connected) {
        await client.publishAsync(topic, data, { qos });
        return;
      }
      // Between a drop and the reconnect: wait for the next connection.
      this.#pending();
    }
  }

  /** Makes `connect()` wait for the next connection. */
  #pending(): void {
    this.#connected = new Promise((resolve) => {
      this.#resolveConnected = resolve;
    });
  }

  /** Closes the MQTT connection and the HTTP client; no reconnect follows. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#resolveConnected?.();
    const client = this.#mqtt;
    this.#mqtt = undefined;
    if (client) await client.endAsync(false).catch(() => client.end(true));
    await this.#http?.close();
  }
}
