/**
 * The Cloud IoT Core v1 REST resource shapes (JSON names as in the `cloudiot:v1` discovery document,
 * revision 20230328). int64/uint64 values are strings; bytes are base64 strings; times are RFC 3339.
 *
 * @module
 */

/** `PublicKeyFormat`: the format of a device credential's key. */
export type PublicKeyFormat =
  | 'UNSPECIFIED_PUBLIC_KEY_FORMAT'
  | 'RSA_PEM'
  | 'RSA_X509_PEM'
  | 'ES256_PEM'
  | 'ES256_X509_PEM';

/** `PublicKeyCredential`. */
export interface PublicKeyCredential {
  format?: PublicKeyFormat;
  /** PEM: `-----BEGIN PUBLIC KEY-----` (SPKI) or `-----BEGIN CERTIFICATE-----` for the X.509 formats. */
  key?: string;
}

/** `DeviceCredential`: one of at most 3 keys of a device. */
export interface DeviceCredential {
  publicKey?: PublicKeyCredential;
  /** Ignored for new authentications after this time. Unset is often sent as `1970-01-01T00:00:00Z`. */
  expirationTime?: string;
}

/** `DeviceConfig`. */
export interface DeviceConfig {
  /** int64 as a string. */
  version?: string;
  cloudUpdateTime?: string;
  deviceAckTime?: string;
  /** base64. */
  binaryData?: string;
}

/** `DeviceState`. */
export interface DeviceState {
  updateTime?: string;
  /** base64. */
  binaryData?: string;
}

/** `Status` (google.rpc.Status). */
export interface RpcStatusBody {
  code?: number;
  message?: string;
  details?: Array<Record<string, unknown>>;
}

/** `GatewayConfig`. */
export interface GatewayConfig {
  gatewayType?: 'GATEWAY_TYPE_UNSPECIFIED' | 'GATEWAY' | 'NON_GATEWAY';
  gatewayAuthMethod?:
    | 'GATEWAY_AUTH_METHOD_UNSPECIFIED'
    | 'ASSOCIATION_ONLY'
    | 'DEVICE_AUTH_TOKEN_ONLY'
    | 'ASSOCIATION_AND_DEVICE_AUTH_TOKEN';
  lastAccessedGatewayId?: string;
  lastAccessedGatewayTime?: string;
}

/** `LogLevel`. */
export type LogLevel = 'LOG_LEVEL_UNSPECIFIED' | 'NONE' | 'ERROR' | 'INFO' | 'DEBUG';

/**
 * `Device`. `list` returns only `id` and `numId` plus the fields of its `fieldMask`; `get` without a
 * mask returns everything.
 */
export interface Device {
  /** The user-defined id, unique in the registry. */
  id: string;
  /** `projects/{p}/locations/{l}/registries/{r}/devices/{numId}` when sent by the service. */
  name?: string;
  /** uint64 as a string, server-assigned. */
  numId?: string;
  credentials?: DeviceCredential[];
  lastHeartbeatTime?: string;
  lastEventTime?: string;
  lastStateTime?: string;
  lastConfigAckTime?: string;
  lastConfigSendTime?: string;
  blocked?: boolean;
  lastErrorTime?: string;
  lastErrorStatus?: RpcStatusBody;
  config?: DeviceConfig;
  state?: DeviceState;
  logLevel?: LogLevel;
  metadata?: Record<string, string>;
  gatewayConfig?: GatewayConfig;
}

/** `ListDevicesResponse`. */
export interface ListDevicesResponse {
  devices?: Device[];
  nextPageToken?: string;
}

/** The snake_case `Device` field names a `fieldMask` or `updateMask` may name. */
export type DeviceField =
  | 'id'
  | 'name'
  | 'num_id'
  | 'credentials'
  | 'last_heartbeat_time'
  | 'last_event_time'
  | 'last_state_time'
  | 'last_config_ack_time'
  | 'last_config_send_time'
  | 'blocked'
  | 'last_error_time'
  | 'last_error_status'
  | 'config'
  | 'state'
  | 'log_level'
  | 'metadata'
  | 'gateway_config';
