import type { KeyObject } from 'node:crypto';
import { parseCredentialKey, type VerifyCredential } from './keys.js';
import {
  GATEWAY_AUTH_METHOD,
  GATEWAY_TYPE,
  LOG_LEVEL,
  type Parsed,
  PUBLIC_KEY_FORMAT,
  readTimestamp,
  writeEnum,
} from './proto3-json.js';
import { RpcError } from './status.js';
import type { PublicKeyFormat, V1Schemas } from './v1-types.js';

/** A device credential as stored (v1 JSON shape). @internal */
export interface StoredCredential {
  publicKey: Required<V1Schemas['PublicKeyCredential']>;
  expirationTime?: string;
  /** `expirationTime` in epoch ms; 0 when it does not expire. */
  expiresAtMs: number;
  /** Parsed key. */
  parsed: KeyObject;
}

/** A device as stored. @internal */
export interface DeviceRecord {
  id: string;
  numId: string;
  credentials: StoredCredential[];
  blocked: boolean;
  metadata: Record<string, string>;
  logLevel?: string;
  /** `gatewayType` and `gatewayAuthMethod` enum names. */
  gatewayConfig: { gatewayType: string; gatewayAuthMethod?: string };
  config: StoredConfig;
  /** The last 10 configs, newest first (`config` is the first). */
  configVersions: StoredConfig[];
  state?: Required<V1Schemas['DeviceState']>;
  states: Array<Required<V1Schemas['DeviceState']>>;
  lastEventTime?: string;
  lastStateTime?: string;
  lastHeartbeatTime?: string;
  lastConfigSendTime?: string;
  lastConfigAckTime?: string;
}

/** A `DeviceConfig` as stored. @internal */
export interface StoredConfig {
  version: number;
  cloudUpdateTime: string;
  deviceAckTime?: string;
  binaryData: string;
}

/** A registry: `projects/{project}/locations/{location}/registries/{id}`. @internal */
export interface RegistryRecord {
  project: string;
  location: string;
  id: string;
  /** Devices by string id. */
  devices: Map<string, DeviceRecord>;
}

/** Device ids: a letter first, then 2..254 of letters, digits, `-._+~%` (IoT Core's rule). @internal */
export const DEVICE_ID = /^[a-zA-Z][a-zA-Z0-9._+~%-]{2,254}$/;

/** The Device fields a `fieldMask` may name (snake_case) and their JSON names. @internal */
export const DEVICE_FIELDS: Readonly<Record<string, string>> = {
  id: 'id',
  name: 'name',
  num_id: 'numId',
  credentials: 'credentials',
  last_heartbeat_time: 'lastHeartbeatTime',
  last_event_time: 'lastEventTime',
  last_state_time: 'lastStateTime',
  last_config_ack_time: 'lastConfigAckTime',
  last_config_send_time: 'lastConfigSendTime',
  blocked: 'blocked',
  last_error_time: 'lastErrorTime',
  last_error_status: 'lastErrorStatus',
  config: 'config',
  state: 'state',
  log_level: 'logLevel',
  metadata: 'metadata',
  gateway_config: 'gatewayConfig',
};

const UNSET_TIME = '1970-01-01T00:00:00Z';

/** The message fields a mask may name below a top-level field (`config.version`). */
const SUB_FIELDS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  config: {
    version: 'version',
    cloud_update_time: 'cloudUpdateTime',
    device_ack_time: 'deviceAckTime',
    binary_data: 'binaryData',
  },
  state: { update_time: 'updateTime', binary_data: 'binaryData' },
  gateway_config: {
    gateway_type: 'gatewayType',
    gateway_auth_method: 'gatewayAuthMethod',
    last_accessed_gateway_id: 'lastAccessedGatewayId',
    last_accessed_gateway_time: 'lastAccessedGatewayTime',
  },
  last_error_status: { code: 'code', message: 'message', details: 'details' },
};

/**
 * Parses a `google.protobuf.FieldMask` query parameter (comma-separated snake_case paths, as the
 * REST clients send `paths`): top-level Device fields, or one field of `config`, `state`,
 * `gateway_config` or `last_error_status` (`gateway_config.gateway_type`).
 * @internal
 */
export function parseFieldMask(mask: unknown, param: string): Set<string> | undefined {
  if (mask === undefined || mask === '') return undefined;
  const text = Array.isArray(mask) ? mask.join(',') : String(mask);
  const fields = new Set<string>();
  for (const raw of text.split(',')) {
    const f = raw.trim();
    if (f === '') continue;
    const [top = '', sub, ...more] = f.split('.');
    const known =
      Object.hasOwn(DEVICE_FIELDS, top) &&
      (sub === undefined || (more.length === 0 && Object.hasOwn(SUB_FIELDS[top] ?? {}, sub)));
    if (!known) {
      throw new RpcError('INVALID_ARGUMENT', `The field '${f}' is invalid in '${param}'.`);
    }
    fields.add(f);
  }
  return fields.size === 0 ? undefined : fields;
}

/** Renders a stored config as a v1 `DeviceConfig`. @internal */
export function renderConfig(c: StoredConfig): V1Schemas['DeviceConfig'] {
  return {
    version: String(c.version),
    cloudUpdateTime: c.cloudUpdateTime,
    ...(c.deviceAckTime ? { deviceAckTime: c.deviceAckTime } : {}),
    ...(c.binaryData ? { binaryData: c.binaryData } : {}),
  };
}

/**
 * Renders a device as v1 JSON with the fields of `mask` (all when undefined) plus `always`; enums
 * as numbers when `numericEnums`. Fields at their default value are left out, as proto3 JSON does.
 * @internal
 */
export function renderDevice(
  reg: RegistryRecord,
  d: DeviceRecord,
  mask: Set<string> | undefined,
  always: readonly string[] = [],
  numericEnums = false,
): Record<string, unknown> {
  const full: Record<string, unknown> = {
    id: d.id,
    name: `projects/${reg.project}/locations/${reg.location}/registries/${reg.id}/devices/${d.numId}`,
    numId: d.numId,
    credentials: d.credentials.map((c) => ({
      publicKey: {
        format: writeEnum(c.publicKey.format, PUBLIC_KEY_FORMAT, numericEnums),
        key: c.publicKey.key,
      },
      expirationTime: c.expirationTime ?? UNSET_TIME,
    })),
    lastHeartbeatTime: d.lastHeartbeatTime,
    lastEventTime: d.lastEventTime,
    lastStateTime: d.lastStateTime,
    lastConfigAckTime: d.lastConfigAckTime,
    lastConfigSendTime: d.lastConfigSendTime,
    blocked: d.blocked ? true : undefined,
    config: renderConfig(d.config),
    state: d.state,
    logLevel:
      d.logLevel && d.logLevel !== 'LOG_LEVEL_UNSPECIFIED'
        ? writeEnum(d.logLevel, LOG_LEVEL, numericEnums)
        : undefined,
    metadata: Object.keys(d.metadata).length > 0 ? ownCopy(d.metadata) : undefined,
    gatewayConfig: {
      gatewayType: writeEnum(d.gatewayConfig.gatewayType, GATEWAY_TYPE, numericEnums),
      ...(d.gatewayConfig.gatewayAuthMethod
        ? {
            gatewayAuthMethod: writeEnum(
              d.gatewayConfig.gatewayAuthMethod,
              GATEWAY_AUTH_METHOD,
              numericEnums,
            ),
          }
        : {}),
    },
  };
  const out: Record<string, unknown> = {};
  for (const [snake, json] of Object.entries(DEVICE_FIELDS)) {
    const whole = mask === undefined || mask.has(snake) || always.includes(snake);
    let value = full[json];
    if (!whole) {
      const subs = [...(mask ?? [])]
        .filter((f) => f.startsWith(`${snake}.`))
        .map((f) => f.slice(snake.length + 1));
      if (subs.length === 0 || typeof value !== 'object' || value === null) continue;
      const picked: Record<string, unknown> = {};
      for (const sub of subs) {
        const name = SUB_FIELDS[snake]?.[sub] ?? sub;
        const v = (value as Record<string, unknown>)[name];
        if (v !== undefined) picked[name] = v;
      }
      value = picked;
    }
    if (value === undefined) continue;
    if (Array.isArray(value) && value.length === 0) continue;
    out[json] = value;
  }
  return out;
}

/** Copies a string map into a plain object, keeping `__proto__` and friends as own keys. @internal */
export function ownCopy(map: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(map)) {
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Validates and parses the `credentials` of a create/patch body read by {@link readMessage}. @internal */
export function parseCredentials(value: unknown): StoredCredential[] {
  if (value === undefined) return [];
  const list = value as Parsed[];
  if (list.length > 3) {
    throw new RpcError('INVALID_ARGUMENT', 'A device can have at most 3 credentials.');
  }
  return list.map((cred, i) => {
    const pk = (cred.publicKey ?? Object.create(null)) as Parsed;
    const parsed = parseCredentialKey(pk.format, pk.key, i + 1);
    let expirationTime: string | undefined;
    let expiresAtMs = 0;
    if (typeof cred.expirationTime === 'string') {
      const t = readTimestamp(cred.expirationTime, `device.credentials[${i}].expiration_time`);
      if (t.ms !== 0) {
        expirationTime = t.text;
        expiresAtMs = t.ms;
      }
    }
    return {
      publicKey: { format: pk.format as PublicKeyFormat, key: pk.key as string },
      ...(expirationTime ? { expirationTime } : {}),
      expiresAtMs,
      parsed,
    };
  });
}

/** Validates the `metadata` map of a create/patch body read by {@link readMessage}. @internal */
export function parseMetadata(value: unknown): Record<string, string> {
  if (value === undefined) return Object.create(null);
  const out: Record<string, string> = Object.create(null);
  const entries = Object.entries(value as Record<string, string>);
  if (entries.length > 500) throw new RpcError('INVALID_ARGUMENT', 'At most 500 metadata pairs.');
  for (const [k, v] of entries) {
    if (!/^[a-zA-Z][-a-zA-Z0-9._+~%]+$/.test(k) || Buffer.byteLength(k) >= 128) {
      throw new RpcError('INVALID_ARGUMENT', `Invalid metadata key '${k}'.`);
    }
    if (Buffer.byteLength(v) > 32 * 1024) {
      throw new RpcError('INVALID_ARGUMENT', `Invalid metadata value for '${k}'.`);
    }
    out[k] = v;
  }
  return out;
}

/** The credentials the bridges verify a JWT against. @internal */
export function verifyCredentials(d: DeviceRecord): VerifyCredential[] {
  return d.credentials.map((c) => ({
    format: c.publicKey.format,
    key: c.parsed,
    expiresAtMs: c.expiresAtMs,
  }));
}

/** Finds a device by string id or numeric id. @internal */
export function findDevice(reg: RegistryRecord, idOrNum: string): DeviceRecord | undefined {
  const byId = reg.devices.get(idOrNum);
  if (byId) return byId;
  if (/^\d+$/.test(idOrNum)) {
    for (const d of reg.devices.values()) if (d.numId === idOrNum) return d;
  }
  return undefined;
}
