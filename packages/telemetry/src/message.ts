/**
 * What a device publishes, as the store receives it ({@link TelemetryMessage}), and the row it
 * becomes ({@link StoredRow}): the payload checked as JSON (kept raw when it is not), its numeric
 * fields extracted, and the release fields taken from the message or from its payload.
 */

import { randomUUID } from 'node:crypto';
import { TelemetryValidationError } from './errors.js';

/** `event` for telemetry (`/devices/{id}/events[/subfolder]`), `state` for state reports. */
export type TelemetryKind = 'event' | 'state';

/** One message a device published, handed to {@link TelemetryStore.append}. */
export interface TelemetryMessage {
  /**
   * A unique id of this message. The store keeps one row per id, so a message delivered twice (a
   * broker retry, a Pub/Sub redelivery) is stored once. Give a stable id, e.g. `pubsub:<messageId>`
   * or `<clientId>:<session>:<packetId>`; without one a random id is generated and a redelivery is
   * stored again.
   */
  id?: string;
  /** The device id in its registry (IoT Core `deviceId`). */
  deviceId: string;
  /** The registry's full name, `projects/P/locations/L/registries/R`. */
  registry: string;
  /** `event` (telemetry) or `state`. */
  kind: TelemetryKind;
  /** The bytes the device published (UTF-8 JSON expected), a string, or a JSON value to serialise. */
  payload: Uint8Array | string | Record<string, unknown> | unknown[];
  /** When the cloud received it (default: now). */
  receivedAt?: Date | number | string;
  /** The events subfolder (`/devices/{id}/events/{subfolder}`); '' or undefined for none. */
  subfolder?: string;
  /** The artifact the device runs; default: the payload's string field `artifact_name`. */
  artifactName?: string;
  /** The software version it runs; default: the payload's string field `software_version`. */
  softwareVersion?: string;
  /** The deployment being installed, if any; default: the payload's string field `deployment_id`. */
  deploymentId?: string;
}

/** The numeric fields of a payload, by dotted path (`mem.free`), as extracted at ingest. */
export type Metrics = Record<string, number>;

/** A message as the store writes it. */
export interface StoredRow {
  id: string;
  deviceId: string;
  registry: string;
  /** Epoch milliseconds. */
  receivedAt: number;
  kind: TelemetryKind;
  subfolder: string;
  artifactName: string | null;
  softwareVersion: string | null;
  deploymentId: string | null;
  /** The payload text when it is valid JSON (that both databases accept), else null. */
  payloadJson: string | null;
  /** The payload when it is not such JSON: its text (`utf8`) or its bytes in base64 (`base64`). */
  payloadRaw: string | null;
  payloadEncoding: 'json' | 'utf8' | 'base64';
  /** The extracted numeric fields, as ordered entries (own-property safe: no object is built). */
  metrics: Array<[string, number]>;
}

/** Limits applied to each message. */
export interface MessageLimits {
  /** Largest payload accepted, in bytes (default 256 KiB, IoT Core's telemetry limit). */
  maxPayloadBytes: number;
  /** Most numeric fields extracted from one payload (default 256); the rest are not extracted. */
  maxMetrics: number;
}

/** The default {@link MessageLimits}. */
export const DEFAULT_MESSAGE_LIMITS: MessageLimits = { maxPayloadBytes: 256 * 1024, maxMetrics: 256 };

const MAX_ID = 512;
const MAX_NAME = 1024;
const MAX_DEPTH = 8;
const decoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/** A UTF-16 surrogate without its pair: no UTF-8 encoding exists for it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * `text` with each lone surrogate replaced by U+FFFD, as its UTF-8 encoding (what both databases
 * store) would have it anyway; the text itself when it has none (the usual case, one regex test).
 */
function wellFormed(text: string): string {
  return LONE_SURROGATE.test(text) ? Buffer.from(text, 'utf8').toString('utf8') : text;
}

function requireText(value: unknown, what: string, max: number, allowEmpty = false): string {
  if (typeof value !== 'string' || (!allowEmpty && value === '')) {
    throw new TelemetryValidationError(`${what} must be a non-empty string`);
  }
  if (value.length > max) throw new TelemetryValidationError(`${what} is longer than ${max} characters`);
  if (value.includes('\u0000')) throw new TelemetryValidationError(`${what} contains a NUL character`);
  return wellFormed(value);
}

function optionalText(value: unknown, what: string): string | null {
  if (value === undefined || value === null) return null;
  return requireText(value, what, MAX_NAME, true);
}

/** The epoch milliseconds of `value` (default now), or a typed error. */
export function toEpochMs(value: Date | number | string | undefined, what = 'receivedAt'): number {
  if (value === undefined) return Date.now();
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw new TelemetryValidationError(`${what} is not a valid time`);
  return ms;
}

/**
 * Checks a message and turns it into the row the store writes. Throws
 * {@link TelemetryValidationError} for a message that cannot be stored (no device id, unknown
 * kind, payload over the limit). A payload that is not valid JSON is kept raw, never dropped.
 */
export function toStoredRow(
  message: TelemetryMessage,
  limits: MessageLimits = DEFAULT_MESSAGE_LIMITS,
): StoredRow {
  if (typeof message !== 'object' || message === null) {
    throw new TelemetryValidationError('a telemetry message must be an object');
  }
  const id = message.id === undefined ? randomUUID() : requireText(message.id, 'id', MAX_ID);
  const deviceId = requireText(message.deviceId, 'deviceId', MAX_NAME);
  const registry = requireText(message.registry, 'registry', MAX_NAME);
  if (message.kind !== 'event' && message.kind !== 'state') {
    throw new TelemetryValidationError(
      `kind must be 'event' or 'state', not ${JSON.stringify(message.kind)}`,
    );
  }
  const subfolder = optionalText(message.subfolder, 'subfolder') ?? '';
  const receivedAt = toEpochMs(message.receivedAt);

  const { text, bytes } = payloadText(message.payload);
  if (bytes > limits.maxPayloadBytes) {
    throw new TelemetryValidationError(
      `payload is ${bytes} bytes, over the limit of ${limits.maxPayloadBytes} bytes`,
    );
  }
  const parsed: unknown = text === undefined ? NOT_JSON : parseStorableJson(text);
  let payloadJson: string | null = null;
  let payloadRaw: string | null = null;
  let payloadEncoding: StoredRow['payloadEncoding'];
  if (text === undefined) {
    // Not UTF-8: kept as its bytes.
    payloadRaw = Buffer.from(message.payload as Uint8Array).toString('base64');
    payloadEncoding = 'base64';
  } else if (parsed !== NOT_JSON) {
    payloadJson = text;
    payloadEncoding = 'json';
  } else if (text.includes('\u0000')) {
    // PostgreSQL text cannot hold NUL: keep the bytes.
    payloadRaw = Buffer.from(text, 'utf8').toString('base64');
    payloadEncoding = 'base64';
  } else {
    payloadRaw = text;
    payloadEncoding = 'utf8';
  }

  const fromPayload = (key: string): string | null => {
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
    if (!Object.hasOwn(parsed, key)) return null;
    const value = (parsed as Record<string, unknown>)[key];
    return typeof value === 'string' && value.length <= MAX_NAME && !value.includes('\u0000')
      ? wellFormed(value)
      : null;
  };
  return {
    id,
    deviceId,
    registry,
    receivedAt,
    kind: message.kind,
    subfolder,
    artifactName: optionalText(message.artifactName, 'artifactName') ?? fromPayload('artifact_name'),
    softwareVersion:
      optionalText(message.softwareVersion, 'softwareVersion') ?? fromPayload('software_version'),
    deploymentId: optionalText(message.deploymentId, 'deploymentId') ?? fromPayload('deployment_id'),
    payloadJson,
    payloadRaw,
    payloadEncoding,
    metrics: extractMetrics(parsed, limits.maxMetrics),
  };
}

function payloadText(payload: TelemetryMessage['payload']): { text: string | undefined; bytes: number } {
  if (payload instanceof Uint8Array) {
    try {
      return { text: decoder.decode(payload), bytes: payload.byteLength };
    } catch {
      return { text: undefined, bytes: payload.byteLength };
    }
  }
  if (typeof payload === 'string') {
    const text = wellFormed(payload);
    return { text, bytes: Buffer.byteLength(text, 'utf8') };
  }
  if (typeof payload === 'object' && payload !== null) {
    const text = JSON.stringify(payload);
    return { text, bytes: encoder.encode(text).byteLength };
  }
  throw new TelemetryValidationError('payload must be bytes, a string or a JSON object or array');
}

/** What {@link parseStorableJson} returns for text that is not JSON both databases store. */
const NOT_JSON: unique symbol = Symbol('not JSON');

/**
 * `text` parsed, when it is JSON both databases store: it parses, and it has no `\u0000` escape
 * (which PostgreSQL's jsonb refuses); else {@link NOT_JSON}. Parsed once: the value is what the
 * numeric fields and release fields are read from. JSON.parse creates own properties, so
 * `__proto__` stays a key.
 */
function parseStorableJson(text: string): unknown {
  if (text.includes('\\u0000')) return NOT_JSON;
  try {
    return JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
}

/**
 * The finite numbers in a parsed payload, by dotted path, depth-first in key order, at most `max`.
 * Keys are read with `Object.keys` (own keys only, `__proto__` included) and kept as entries, so no
 * key can touch a prototype. Arrays are not descended into.
 */
export function extractMetrics(value: unknown, max: number): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  const walk = (node: unknown, prefix: string, depth: number): void => {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || depth > MAX_DEPTH) return;
    for (const key of Object.keys(node)) {
      if (out.length >= max) return;
      const child = (node as Record<string, unknown>)[key];
      const path = prefix === '' ? key : `${prefix}.${key}`;
      if (typeof child === 'number' && Number.isFinite(child)) {
        if (path.length <= MAX_NAME && !path.includes('\u0000')) out.push([wellFormed(path), child]);
      } else if (typeof child === 'object' && child !== null) {
        walk(child, path, depth + 1);
      }
    }
  };
  walk(value, '', 0);
  return out;
}

/** The metrics entries as a JSON object text, keys kept as ordinary keys. */
export function metricsJson(metrics: ReadonlyArray<[string, number]>): string {
  // Object.fromEntries defines own data properties: a `__proto__` entry stays a key.
  return JSON.stringify(Object.fromEntries(metrics));
}

/**
 * The values of a row in the column order of `telemetry_messages` (id, device_id, registry,
 * received_at, kind, subfolder, artifact_name, software_version, deployment_id, payload,
 * payload_raw, payload_encoding, metrics), with `receivedAt` as the backend wants its time.
 */
export function messageColumnValues<T>(row: StoredRow, receivedAt: T): Array<string | null | T> {
  return [
    row.id,
    row.deviceId,
    row.registry,
    receivedAt,
    row.kind,
    row.subfolder,
    row.artifactName,
    row.softwareVersion,
    row.deploymentId,
    row.payloadJson,
    row.payloadRaw,
    row.payloadEncoding,
    metricsJson(row.metrics),
  ];
}
