// src/errors.ts
import { brandErrorClass, OtakitError } from '@otakit/core';

var TelemetryErrorCodes = {
  /** A message or query was malformed (missing device id, unknown kind, payload too large, bad time). */
  INVALID: 'ERR_TELEMETRY_INVALID',
  /** The ingest queue is full: the caller should slow down and retry (the publisher is told). */
  BACKPRESSURE: 'ERR_TELEMETRY_BACKPRESSURE',
  /** The database refused or failed the write: the messages were not stored. */
  WRITE: 'ERR_TELEMETRY_WRITE',
  /** The database failed a query. */
  QUERY: 'ERR_TELEMETRY_QUERY',
  /** The store was closed. */
  CLOSED: 'ERR_TELEMETRY_CLOSED',
  /** The store target could not be opened (bad URL, unreachable server, locked file). */
  OPEN: 'ERR_TELEMETRY_OPEN',
};
var TelemetryError = class extends OtakitError {};
brandErrorClass(TelemetryError, 'TelemetryError');
var TelemetryValidationError = class extends TelemetryError {
  constructor(message, options) {
    super(TelemetryErrorCodes.INVALID, message, options);
  }
};
brandErrorClass(TelemetryValidationError, 'TelemetryValidationError');
var TelemetryBackpressureError = class extends TelemetryError {
  /** How many messages were waiting to be stored when this one was refused. */
  queued;
  constructor(queued, limit) {
    super(
      TelemetryErrorCodes.BACKPRESSURE,
      `telemetry ingest queue is full (${queued} of ${limit} messages waiting to be stored)`,
    );
    this.queued = queued;
  }
};
brandErrorClass(TelemetryBackpressureError, 'TelemetryBackpressureError');
var TelemetryWriteError = class extends TelemetryError {
  constructor(message, options) {
    super(TelemetryErrorCodes.WRITE, message, options);
  }
};
brandErrorClass(TelemetryWriteError, 'TelemetryWriteError');
var TelemetryQueryError = class extends TelemetryError {
  constructor(message, options) {
    super(TelemetryErrorCodes.QUERY, message, options);
  }
};
brandErrorClass(TelemetryQueryError, 'TelemetryQueryError');
var TelemetryClosedError = class extends TelemetryError {
  constructor() {
    super(TelemetryErrorCodes.CLOSED, 'the telemetry store is closed');
  }
};
brandErrorClass(TelemetryClosedError, 'TelemetryClosedError');
var TelemetryOpenError = class extends TelemetryError {
  constructor(message, options) {
    super(TelemetryErrorCodes.OPEN, message, options);
  }
};
brandErrorClass(TelemetryOpenError, 'TelemetryOpenError');

// src/message.ts
import { randomUUID } from 'crypto';

var DEFAULT_MESSAGE_LIMITS = { maxPayloadBytes: 256 * 1024, maxMetrics: 256 };
var MAX_ID = 512;
var MAX_NAME = 1024;
var MAX_DEPTH = 8;
var decoder = new TextDecoder('utf-8', { fatal: true });
var encoder = new TextEncoder();
var LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
function wellFormed(text) {
  return LONE_SURROGATE.test(text) ? Buffer.from(text, 'utf8').toString('utf8') : text;
}
function requireText(value, what, max, allowEmpty = false) {
  if (typeof value !== 'string' || (!allowEmpty && value === '')) {
    throw new TelemetryValidationError(`${what} must be a non-empty string`);
  }
  if (value.length > max) throw new TelemetryValidationError(`${what} is longer than ${max} characters`);
  if (value.includes('\0')) throw new TelemetryValidationError(`${what} contains a NUL character`);
  return wellFormed(value);
}
function optionalText(value, what) {
  if (value === void 0 || value === null) return null;
  return requireText(value, what, MAX_NAME, true);
}
function toEpochMs(value, what = 'receivedAt') {
  if (value === void 0) return Date.now();
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw new TelemetryValidationError(`${what} is not a valid time`);
  return ms;
}
function toStoredRow(message, limits = DEFAULT_MESSAGE_LIMITS) {
  if (typeof message !== 'object' || message === null) {
    throw new TelemetryValidationError('a telemetry message must be an object');
  }
  const id = message.id === void 0 ? randomUUID() : requireText(message.id, 'id', MAX_ID);
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
  let parsed;
  let payloadJson = null;
  let payloadRaw = null;
  let payloadEncoding;
  if (text === void 0) {
    payloadRaw = Buffer.from(message.payload).toString('base64');
    payloadEncoding = 'base64';
  } else if (isStorableJson(text)) {
    parsed = JSON.parse(text);
    payloadJson = text;
    payloadEncoding = 'json';
  } else if (text.includes('\0')) {
    payloadRaw = Buffer.from(text, 'utf8').toString('base64');
    payloadEncoding = 'base64';
  } else {
    payloadRaw = text;
    payloadEncoding = 'utf8';
  }
  const fromPayload = (key) => {
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
    if (!Object.hasOwn(parsed, key)) return null;
    const value = parsed[key];
    return typeof value === 'string' && value.length <= MAX_NAME && !value.includes('\0')
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
function payloadText(payload) {
  if (payload instanceof Uint8Array) {
    try {
      return { text: decoder.decode(payload), bytes: payload.byteLength };
    } catch {
      return { text: void 0, bytes: payload.byteLength };
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
function isStorableJson(text) {
  if (text.includes('\\u0000')) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
function extractMetrics(value, max) {
  const out = [];
  const walk = (node, prefix, depth) => {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || depth > MAX_DEPTH) return;
    for (const key of Object.keys(node)) {
      if (out.length >= max) return;
      const child = node[key];
      const path = prefix === '' ? key : `${prefix}.${key}`;
      if (typeof child === 'number' && Number.isFinite(child)) {
        if (path.length <= MAX_NAME && !path.includes('\0')) out.push([wellFormed(path), child]);
      } else if (typeof child === 'object' && child !== null) {
        walk(child, path, depth + 1);
      }
    }
  };
  walk(value, '', 0);
  return out;
}
function metricsJson(metrics) {
  return JSON.stringify(Object.fromEntries(metrics));
}
function messageColumnValues(row, receivedAt) {
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

export {
  DEFAULT_MESSAGE_LIMITS,
  messageColumnValues,
  TelemetryBackpressureError,
  TelemetryClosedError,
  TelemetryError,
  TelemetryErrorCodes,
  TelemetryOpenError,
  TelemetryQueryError,
  TelemetryValidationError,
  TelemetryWriteError,
  toEpochMs,
  toStoredRow,
};
//# sourceMappingURL=chunk-ADMBPFET.js.map
