import type { KeyObject } from 'node:crypto';
import { parseCredentialKey, type VerifyCredential } from './keys.js';
import { RpcError } from './status.js';

/** A device credential as stored (v1 JSON shape). @internal */
export interface StoredCredential {
  publicKey: { format: string; key: string };
  expirationTime?: string;
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
  config: { version: number; cloudUpdateTime: string; deviceAckTime?: string; binaryData: string };
  state?: { updateTime: string; binaryData: string };
  states: Array<{ updateTime: string; binaryData: string }>;
  lastEventTime?: string;
  lastStateTime?: string;
  lastHeartbeatTime?: string;
  lastConfigSendTime?: string;
  lastConfigAckTime?: string;
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

/** Parses a `google-fieldmask` (comma-separated snake_case paths). @internal */
export function parseFieldMask(mask: unknown, param: string): Set<string> | undefined {
  if (mask === undefined || mask === '') return undefined;
  const text = Array.isArray(mask) ? mask.join(',') : String(mask);
  const fields = new Set<string>();
  for (const raw of text.split(',')) {
    const f = raw.trim();
    if (f === '') continue;
    if (!Object.hasOwn(DEVICE_FIELDS, f)) {
      throw new RpcError('INVALID_ARGUMENT', `The field '${f}' is invalid in '${param}'.`);
    }
    fields.add(f);
  }
  return fields.size === 0 ? undefined : fields;
}

/** Renders a device as v1 JSON with the fields of `mask` (all when undefined). @internal */
export function renderDevice(
  reg: RegistryRecord,
  d: DeviceRecord,
  mask: Set<string> | undefined,
  always: readonly string[] = [],
): Record<string, unknown> {
  const full: Record<string, unknown> = {
    id: d.id,
    name: `projects/${reg.project}/locations/${reg.location}/registries/${reg.id}/devices/${d.numId}`,
    numId: d.numId,
    credentials: d.credentials.map((c) => ({
      publicKey: { format: c.publicKey.format, key: c.publicKey.key },
      expirationTime: c.expirationTime ?? UNSET_TIME,
    })),
    lastHeartbeatTime: d.lastHeartbeatTime,
    lastEventTime: d.lastEventTime,
    lastStateTime: d.lastStateTime,
    lastConfigAckTime: d.lastConfigAckTime,
    lastConfigSendTime: d.lastConfigSendTime,
    blocked: d.blocked ? true : undefined,
    config: {
      version: String(d.config.version),
      cloudUpdateTime: d.config.cloudUpdateTime,
      ...(d.config.deviceAckTime ? { deviceAckTime: d.config.deviceAckTime } : {}),
      ...(d.config.binaryData ? { binaryData: d.config.binaryData } : {}),
    },
    state: d.state,
    logLevel: d.logLevel,
    metadata: Object.keys(d.metadata).length > 0 ? { ...d.metadata } : undefined,
    gatewayConfig: { gatewayType: 'NON_GATEWAY' },
  };
  const out: Record<string, unknown> = {};
  for (const [snake, json] of Object.entries(DEVICE_FIELDS)) {
    if (mask !== undefined && !mask.has(snake) && !always.includes(snake)) continue;
    const value = full[json];
    if (value === undefined) continue;
    if (Array.isArray(value) && value.length === 0) continue;
    out[json] = value;
  }
  return out;
}

/** Validates and parses `credentials` of a create/patch body. @internal */
export function parseCredentials(value: unknown): StoredCredential[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new RpcError('INVALID_ARGUMENT', "Invalid value at 'device.credentials'");
  if (value.length > 3) {
    throw new RpcError('INVALID_ARGUMENT', 'A device can have at most 3 credentials.');
  }
  return value.map((c: unknown, i) => {
    const cred = (typeof c === 'object' && c !== null ? c : {}) as Record<string, unknown>;
    const pk = (
      typeof cred.publicKey === 'object' && cred.publicKey !== null ? cred.publicKey : {}
    ) as Record<string, unknown>;
    const parsed = parseCredentialKey(pk.format, pk.key, i + 1);
    let expirationTime: string | undefined;
    if (cred.expirationTime !== undefined && cred.expirationTime !== UNSET_TIME) {
      if (typeof cred.expirationTime !== 'string' || Number.isNaN(Date.parse(cred.expirationTime))) {
        throw new RpcError(
          'INVALID_ARGUMENT',
          `Invalid value at 'device.credentials[${i}].expiration_time' (type.googleapis.com/google.protobuf.Timestamp)`,
        );
      }
      expirationTime = cred.expirationTime;
    }
    return {
      publicKey: { format: pk.format as string, key: pk.key as string },
      ...(expirationTime ? { expirationTime } : {}),
      parsed,
    };
  });
}

/** Validates `metadata` of a create/patch body. @internal */
export function parseMetadata(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new RpcError('INVALID_ARGUMENT', "Invalid value at 'device.metadata'");
  }
  const out: Record<string, string> = Object.create(null);
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > 500) throw new RpcError('INVALID_ARGUMENT', 'At most 500 metadata pairs.');
  for (const [k, v] of entries) {
    if (!/^[a-zA-Z][-a-zA-Z0-9._+~%]+$/.test(k) || Buffer.byteLength(k) >= 128) {
      throw new RpcError('INVALID_ARGUMENT', `Invalid metadata key '${k}'.`);
    }
    if (typeof v !== 'string' || Buffer.byteLength(v) > 32 * 1024) {
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
    expiresAtMs: c.expirationTime ? Date.parse(c.expirationTime) : 0,
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
