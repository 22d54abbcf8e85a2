import type { KeyObject } from 'node:crypto';
import type { BackoffOptions, Logger, RequestOptions, TlsOptions } from '@otakit/core';

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
