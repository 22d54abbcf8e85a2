/**
 * Reading request bodies and writing responses by Google's proto3 JSON mapping of the messages in
 * `../shared/specs/iot-core/resources.proto` and `device_manager.proto`: a field may be named by its
 * lowerCamelCase JSON name or its proto name; `null` means the default; an unknown name is refused;
 * enums are names or numbers; int64 are strings or numbers; bytes are base64 (standard or URL-safe,
 * padding optional); timestamps are RFC 3339. Responses write enum names, or numbers when the
 * caller asked for `$alt=json;enum-encoding=int` (what Google's REST clients send).
 * @internal
 */
import { RpcError } from './status.js';
import type { GatewayAuthMethod, GatewayType, LogLevel, PublicKeyFormat, V1Schemas } from './v1-types.js';

/** An enum: names by number (the names are the generated `cloudiot:v1` enum's). @internal */
export type EnumDef<Name extends string = string> = Readonly<Record<number, Name>>;

/** The kind of one field. @internal */
export type FieldKind =
  | 'string'
  | 'bool'
  | 'int64'
  | 'uint64'
  | 'bytes'
  | 'timestamp'
  | 'any'
  | 'map<string,string>'
  | { enum: EnumDef; type: string }
  | { message: MessageDef };

/** One field of a message. @internal */
export interface FieldDef {
  /** The proto (snake_case) name. */
  proto: string;
  kind: FieldKind;
  repeated?: boolean;
}

/** A message: fields by JSON name. @internal */
export type MessageDef = Readonly<Record<string, FieldDef>>;

/**
 * The fields of the `cloudiot:v1` schema `Name`, exactly: a message definition that misses a field
 * of the generated type, or names one it does not have, does not compile.
 */
type FieldsOf<Name extends keyof V1Schemas> = Readonly<Record<keyof V1Schemas[Name], FieldDef>>;

/**
 * An enum definition for the generated `cloudiot:v1` enum `Name`: it must give a number to every
 * name of `Name`, and to nothing else, or it does not compile.
 */
function enumOf<Name extends string>() {
  return <const Def extends Readonly<Record<number, Name>>>(
    def: Def & ([Name] extends [Def[keyof Def]] ? unknown : { missing: Exclude<Name, Def[keyof Def]> }),
  ): EnumDef => def;
}

/** `google.cloud.iot.v1.PublicKeyFormat`. @internal */
export const PUBLIC_KEY_FORMAT = enumOf<PublicKeyFormat>()({
  0: 'UNSPECIFIED_PUBLIC_KEY_FORMAT',
  1: 'RSA_X509_PEM',
  2: 'ES256_PEM',
  3: 'RSA_PEM',
  4: 'ES256_X509_PEM',
});
/** `google.cloud.iot.v1.LogLevel`. @internal */
export const LOG_LEVEL = enumOf<LogLevel>()({
  0: 'LOG_LEVEL_UNSPECIFIED',
  10: 'NONE',
  20: 'ERROR',
  30: 'INFO',
  40: 'DEBUG',
});
/** `google.cloud.iot.v1.GatewayType`. @internal */
export const GATEWAY_TYPE = enumOf<GatewayType>()({
  0: 'GATEWAY_TYPE_UNSPECIFIED',
  1: 'GATEWAY',
  2: 'NON_GATEWAY',
});
/** `google.cloud.iot.v1.GatewayAuthMethod`. @internal */
export const GATEWAY_AUTH_METHOD = enumOf<GatewayAuthMethod>()({
  0: 'GATEWAY_AUTH_METHOD_UNSPECIFIED',
  1: 'ASSOCIATION_ONLY',
  2: 'DEVICE_AUTH_TOKEN_ONLY',
  3: 'ASSOCIATION_AND_DEVICE_AUTH_TOKEN',
});

const PUBLIC_KEY_CREDENTIAL: MessageDef = {
  format: { proto: 'format', kind: { enum: PUBLIC_KEY_FORMAT, type: 'TYPE_ENUM' } },
  key: { proto: 'key', kind: 'string' },
} satisfies FieldsOf<'PublicKeyCredential'>;
const DEVICE_CREDENTIAL: MessageDef = {
  publicKey: { proto: 'public_key', kind: { message: PUBLIC_KEY_CREDENTIAL } },
  expirationTime: { proto: 'expiration_time', kind: 'timestamp' },
} satisfies FieldsOf<'DeviceCredential'>;
const DEVICE_CONFIG: MessageDef = {
  version: { proto: 'version', kind: 'int64' },
  cloudUpdateTime: { proto: 'cloud_update_time', kind: 'timestamp' },
  deviceAckTime: { proto: 'device_ack_time', kind: 'timestamp' },
  binaryData: { proto: 'binary_data', kind: 'bytes' },
} satisfies FieldsOf<'DeviceConfig'>;
const DEVICE_STATE: MessageDef = {
  updateTime: { proto: 'update_time', kind: 'timestamp' },
  binaryData: { proto: 'binary_data', kind: 'bytes' },
} satisfies FieldsOf<'DeviceState'>;
const GATEWAY_CONFIG: MessageDef = {
  gatewayType: { proto: 'gateway_type', kind: { enum: GATEWAY_TYPE, type: 'TYPE_ENUM' } },
  gatewayAuthMethod: { proto: 'gateway_auth_method', kind: { enum: GATEWAY_AUTH_METHOD, type: 'TYPE_ENUM' } },
  lastAccessedGatewayId: { proto: 'last_accessed_gateway_id', kind: 'string' },
  lastAccessedGatewayTime: { proto: 'last_accessed_gateway_time', kind: 'timestamp' },
} satisfies FieldsOf<'GatewayConfig'>;

/** `google.cloud.iot.v1.Device`. @internal */
export const DEVICE: MessageDef = {
  id: { proto: 'id', kind: 'string' },
  name: { proto: 'name', kind: 'string' },
  numId: { proto: 'num_id', kind: 'uint64' },
  credentials: { proto: 'credentials', kind: { message: DEVICE_CREDENTIAL }, repeated: true },
  lastHeartbeatTime: { proto: 'last_heartbeat_time', kind: 'timestamp' },
  lastEventTime: { proto: 'last_event_time', kind: 'timestamp' },
  lastStateTime: { proto: 'last_state_time', kind: 'timestamp' },
  lastConfigAckTime: { proto: 'last_config_ack_time', kind: 'timestamp' },
  lastConfigSendTime: { proto: 'last_config_send_time', kind: 'timestamp' },
  blocked: { proto: 'blocked', kind: 'bool' },
  lastErrorTime: { proto: 'last_error_time', kind: 'timestamp' },
  lastErrorStatus: { proto: 'last_error_status', kind: 'any' },
  config: { proto: 'config', kind: { message: DEVICE_CONFIG } },
  state: { proto: 'state', kind: { message: DEVICE_STATE } },
  logLevel: { proto: 'log_level', kind: { enum: LOG_LEVEL, type: 'TYPE_ENUM' } },
  metadata: { proto: 'metadata', kind: 'map<string,string>' },
  gatewayConfig: { proto: 'gateway_config', kind: { message: GATEWAY_CONFIG } },
} satisfies FieldsOf<'Device'>;

/** `ModifyCloudToDeviceConfigRequest` (body `*`). @internal */
export const MODIFY_CONFIG_REQUEST: MessageDef = {
  versionToUpdate: { proto: 'version_to_update', kind: 'int64' },
  binaryData: { proto: 'binary_data', kind: 'bytes' },
} satisfies FieldsOf<'ModifyCloudToDeviceConfigRequest'>;

/** `SendCommandToDeviceRequest` (body `*`). @internal */
export const SEND_COMMAND_REQUEST: MessageDef = {
  binaryData: { proto: 'binary_data', kind: 'bytes' },
  subfolder: { proto: 'subfolder', kind: 'string' },
} satisfies FieldsOf<'SendCommandToDeviceRequest'>;

/** A proto3 JSON value read into canonical form (JSON names, enum names, int64 and timestamps as strings, bytes as Buffer). @internal */
export type Parsed = { [json: string]: ParsedValue };
/** @internal */
export type ParsedValue =
  | string
  | boolean
  | Buffer
  | Parsed
  | Parsed[]
  | ParsedValue[]
  | Record<string, string>;

const invalid = (path: string, type: string, value: unknown) =>
  new RpcError('INVALID_ARGUMENT', `Invalid value at '${path}' (${type}), ${JSON.stringify(value)}`);

/**
 * Reads a JSON object as the message `def`. Returns an object without a prototype whose keys are
 * JSON names, with `null` fields left out.
 * @internal
 */
export function readMessage(value: unknown, def: MessageDef, path: string): Parsed {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RpcError('INVALID_ARGUMENT', `Invalid JSON payload received. Expected an object at '${path}'.`);
  }
  const out: Parsed = Object.create(null);
  for (const [key, raw] of Object.entries(value)) {
    const json = Object.hasOwn(def, key) ? key : findByProto(def, key);
    if (json === undefined) {
      throw new RpcError(
        'INVALID_ARGUMENT',
        `Invalid JSON payload received. Unknown name ${JSON.stringify(key)}${path ? ` at '${path}'` : ''}: Cannot find field.`,
      );
    }
    if (Object.hasOwn(out, json)) {
      throw new RpcError(
        'INVALID_ARGUMENT',
        `Invalid JSON payload received. Field ${JSON.stringify(json)} was set more than once.`,
      );
    }
    if (raw === null) continue;
    const field = def[json] as FieldDef;
    const at = path ? `${path}.${field.proto}` : field.proto;
    if (field.repeated) {
      if (!Array.isArray(raw)) throw invalid(at, 'TYPE_MESSAGE', raw);
      out[json] = raw.map((item, i) => readValue(item, field.kind, `${at}[${i}]`)) as ParsedValue[];
    } else {
      out[json] = readValue(raw, field.kind, at);
    }
  }
  return out;
}

function findByProto(def: MessageDef, proto: string): string | undefined {
  for (const [json, field] of Object.entries(def)) if (field.proto === proto) return json;
  return undefined;
}

function readValue(raw: unknown, kind: FieldKind, at: string): ParsedValue {
  switch (kind) {
    case 'string':
      if (typeof raw !== 'string') throw invalid(at, 'TYPE_STRING', raw);
      return raw;
    case 'bool':
      if (typeof raw !== 'boolean') throw invalid(at, 'TYPE_BOOL', raw);
      return raw;
    case 'int64':
    case 'uint64': {
      const text = typeof raw === 'number' && Number.isSafeInteger(raw) ? String(raw) : raw;
      const re = kind === 'int64' ? /^-?\d{1,19}$/ : /^\d{1,20}$/;
      if (typeof text !== 'string' || !re.test(text)) {
        throw invalid(at, kind === 'int64' ? 'TYPE_INT64' : 'TYPE_UINT64', raw);
      }
      return BigInt(text).toString();
    }
    case 'bytes':
      return readBytes(raw, at);
    case 'timestamp':
      return readTimestamp(raw, at).text;
    case 'any':
      return raw as ParsedValue;
    case 'map<string,string>': {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
        throw invalid(at, 'TYPE_MESSAGE', raw);
      const map: Record<string, string> = Object.create(null);
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') throw invalid(`${at}[${JSON.stringify(k)}]`, 'TYPE_STRING', v);
        Object.defineProperty(map, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      return map;
    }
    default:
      if ('enum' in kind) return readEnum(raw, kind.enum, at);
      return readMessage(raw, kind.message, at);
  }
}

function readEnum(raw: unknown, def: EnumDef, at: string): string {
  if (typeof raw === 'number' && Number.isInteger(raw) && Object.hasOwn(def, raw)) return def[raw] as string;
  if (typeof raw === 'string' && Object.values(def).includes(raw)) return raw;
  throw invalid(at, 'TYPE_ENUM', raw);
}

/** Reads a `bytes` field: standard or URL-safe base64, padding optional. @internal */
export function readBytes(raw: unknown, at: string): Buffer {
  if (
    typeof raw !== 'string' ||
    !/^[A-Za-z0-9+/_-]*={0,2}$/.test(raw) ||
    raw.replace(/=+$/, '').length % 4 === 1
  ) {
    throw new RpcError('INVALID_ARGUMENT', `Invalid value at '${at}' (TYPE_BYTES), Base64 decoding failed`);
  }
  return Buffer.from(raw.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * Reads a `google.protobuf.Timestamp` (RFC 3339, any offset, up to nanoseconds) and writes it as
 * proto3 JSON does: UTC with `Z` and 0, 3, 6 or 9 fractional digits.
 * @internal
 */
export function readTimestamp(raw: unknown, at: string): { text: string; ms: number } {
  const m = typeof raw === 'string' ? RFC3339.exec(raw) : null;
  const bad = () =>
    new RpcError(
      'INVALID_ARGUMENT',
      `Invalid value at '${at}' (type.googleapis.com/google.protobuf.Timestamp), Field '${at}', Invalid time format: ${JSON.stringify(raw)}`,
    );
  if (!m) throw bad();
  const [, y, mo, d, h, mi, s, frac = '', , sign, oh, om] = m;
  const offsetMin = sign ? (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) : 0;
  const seconds =
    Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000 - offsetMin * 60;
  const check = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
  if (
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59 ||
    seconds < -62135596800 ||
    seconds > 253402300799
  ) {
    throw bad();
  }
  const nanos = Number(frac.padEnd(9, '0'));
  return { text: formatTimestamp(seconds, nanos), ms: seconds * 1000 + Math.floor(nanos / 1e6) };
}

/** Writes seconds + nanos as proto3 JSON does. @internal */
export function formatTimestamp(seconds: number, nanos: number): string {
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  if (nanos === 0) return `${base}Z`;
  const digits = String(nanos).padStart(9, '0');
  const frac = nanos % 1e6 === 0 ? digits.slice(0, 3) : nanos % 1e3 === 0 ? digits.slice(0, 6) : digits;
  return `${base}.${frac}Z`;
}

/** Whether the request asked for numeric enums (`$alt=json;enum-encoding=int`). @internal */
export function wantsNumericEnums(alt: unknown): boolean {
  const text = Array.isArray(alt) ? alt.join(';') : typeof alt === 'string' ? alt : '';
  return text
    .split(';')
    .map((p) => p.trim())
    .includes('enum-encoding=int');
}

/** Writes an enum name as a name, or as its number when `numeric`. @internal */
export function writeEnum(name: string, def: EnumDef, numeric: boolean): string | number {
  if (!numeric) return name;
  for (const [n, v] of Object.entries(def)) if (v === name) return Number(n);
  return name;
}
