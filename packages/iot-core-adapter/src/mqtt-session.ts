import { AbortError, Backoff } from '@otakit/core';
import type { EventEmitter } from 'eventemitter3';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { DeviceJwt } from './device-jwt.js';
import {
  type CommandMessage,
  type ConfigMessage,
  DEFAULT_MQTT_URL,
  type IotCoreDeviceEvents,
  type IotCoreDeviceOptions,
} from './device-options.js';
import { IotCoreError } from './errors.js';
import { topics } from './topics.js';

/** What an {@link MqttSession} is made from. @internal */
export interface MqttSessionOptions {
  /** The MQTT client id: the device path. */
  clientId: string;
  deviceId: string;
  /** The device's options (`mqttUrl`, `tls`, `keepaliveSeconds`, `reconnect`, `logger`). */
  device: IotCoreDeviceOptions;
  /** The JWT presented as the password. */
  jwt: DeviceJwt;
  /** Where `connect`, `disconnect`, `refused`, `reconnect`, `config`, `command` and `error` go. */
  events: EventEmitter<IotCoreDeviceEvents>;
}

/**
 * A device's MQTT session with the bridge: connects with a fresh JWT as the password, renews the
 * connection with a new JWT before the old one expires, reconnects with jittered backoff after a
 * drop or a refusal, subscribes to config and commands while someone listens, and publishes once
 * connected (waiting for the next connection between a drop and the reconnect).
 * @internal
 */
export class MqttSession {
  readonly #o: MqttSessionOptions;
  readonly #reconnect: Backoff;
  #mqtt: MqttClient | undefined;
  #connected: Promise<void> | undefined;
  #resolveConnected: (() => void) | undefined;
  #closed = false;
  #opening = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #configHandlers = new Set<(m: ConfigMessage) => void>();
  readonly #commandHandlers = new Set<(m: CommandMessage) => void>();

  constructor(options: MqttSessionOptions) {
    this.#o = options;
    this.#reconnect = new Backoff({ baseDelayMs: 1000, maxDelayMs: 60_000, ...options.device.reconnect });
  }

  /**
   * Resolves once connected, opening the session on the first call. Refusals are retried with
   * backoff until it succeeds, `signal` aborts, or the session is closed.
   */
  connect(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#closed) return Promise.reject(new IotCoreError('ERR_IOTCORE_CLOSED', 'the device was closed'));
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

  /** Adds a config handler (subscribing at once when it is the first and the session is up). */
  onConfig(handler: (message: ConfigMessage) => void): () => void {
    this.#configHandlers.add(handler);
    if (this.#configHandlers.size === 1 && this.#mqtt?.connected) this.#subscribe(this.#mqtt);
    return () => this.#configHandlers.delete(handler);
  }

  /** Adds a command handler (subscribing at once when it is the first and the session is up). */
  onCommand(handler: (message: CommandMessage) => void): () => void {
    this.#commandHandlers.add(handler);
    if (this.#commandHandlers.size === 1 && this.#mqtt?.connected) this.#subscribe(this.#mqtt);
    return () => this.#commandHandlers.delete(handler);
  }

  /** Publishes once connected; with QoS 1, resolves on PUBACK. */
  async publish(topic: string, data: Buffer, qos: 0 | 1, signal: AbortSignal | undefined): Promise<void> {
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

  /** Ends the connection; no reconnect follows, and waiting `connect` calls resolve. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#resolveConnected?.();
    const client = this.#mqtt;
    this.#mqtt = undefined;
    if (client) await client.endAsync(false).catch(() => client.end(true));
  }

  /** Mints the JWT, then opens the MQTT connection with it (a failed mint counts as a refused try). */
  #open(): void {
    clearTimeout(this.#timer);
    const opening = ++this.#opening;
    this.#o.jwt.current().then(
      (password) => {
        if (!this.#closed && opening === this.#opening) this.#openWith(password);
      },
      (err: unknown) => {
        if (this.#closed || opening !== this.#opening) return;
        this.#o.events.emit('error', err instanceof Error ? err : new Error(String(err)));
        this.#scheduleReconnect();
      },
    );
  }

  #openWith(password: string): void {
    const { device, events } = this.#o;
    const url = device.mqttUrl ?? DEFAULT_MQTT_URL;
    const tls = device.tls;
    const options: IClientOptions = {
      clientId: this.#o.clientId,
      username: 'unused',
      password,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      keepalive: device.keepaliveSeconds ?? 60,
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
      events.emit('connect');
    });
    client.on('message', (topic, payload) => this.#message(topic, payload));
    client.on('error', (err: Error & { code?: number }) => {
      if (typeof err.code === 'number') {
        refused = true;
        events.emit('refused', { returnCode: err.code, message: err.message });
      } else {
        events.emit('error', err);
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
      events.emit('disconnect', { reason: refused ? 'refused' : 'connection closed' });
      this.#scheduleReconnect();
    });
  }

  #subscribe(client: MqttClient): void {
    const deviceId = this.#o.deviceId;
    const wanted: Record<string, { qos: 0 | 1 }> = {};
    if (this.#configHandlers.size > 0) wanted[topics.config(deviceId)] = { qos: 1 };
    if (this.#commandHandlers.size > 0) wanted[topics.commands(deviceId)] = { qos: 1 };
    if (Object.keys(wanted).length === 0) return;
    client.subscribe(wanted, (err) => {
      if (err) this.#o.events.emit('error', err);
    });
  }

  #message(topic: string, payload: Buffer): void {
    const { deviceId, events } = this.#o;
    if (topic === topics.config(deviceId)) {
      const m = { data: payload };
      events.emit('config', m);
      for (const h of this.#configHandlers) h(m);
      return;
    }
    const prefix = `/devices/${deviceId}/commands`;
    if (topic === prefix || topic.startsWith(`${prefix}/`)) {
      const m = {
        data: payload,
        subfolder: topic.length > prefix.length ? topic.slice(prefix.length + 1) : undefined,
      };
      events.emit('command', m);
      for (const h of this.#commandHandlers) h(m);
    }
  }

  #scheduleRenewal(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#renew(), this.#o.jwt.msUntilRenewal());
    this.#timer.unref();
  }

  #renew(): void {
    const old = this.#mqtt;
    if (old === undefined || this.#closed) return;
    this.#o.device.logger?.debug('iot-core: renewing the MQTT connection with a fresh JWT', {
      device: this.#o.deviceId,
    });
    this.#mqtt = undefined;
    this.#o.jwt.forget();
    this.#pending();
    old.removeAllListeners('close');
    old.end(false, {}, () => {
      this.#o.events.emit('disconnect', { reason: 'token renewal' });
      if (!this.#closed) this.#open();
    });
  }

  #scheduleReconnect(): void {
    const delayMs = this.#reconnect.next();
    this.#o.events.emit('reconnect', { attempt: this.#reconnect.failures, delayMs });
    this.#timer = setTimeout(() => {
      if (!this.#closed) this.#open();
    }, delayMs);
  }

  /** Makes `connect()` wait for the next connection. */
  #pending(): void {
    this.#connected = new Promise((resolve) => {
      this.#resolveConnected = resolve;
    });
  }
}
