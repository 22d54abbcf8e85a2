/**
 * The Cloud IoT Core v1 REST resource shapes (JSON names as in the `cloudiot:v1` discovery document,
 * revision 20230328). int64/uint64 values are strings; bytes are base64 strings; times are RFC 3339.
 *
 * Each type is derived from the ones generated from the discovery document ({@link CloudIotSchemas}
 * in `@otakit/core`), so a field can only have the type the API definition gives it. The few fields
 * re-declared below add documentation or are stricter than the definition (proto3 cannot mark a
 * field required; `Device.id` is always present in what the service returns).
 *
 * @module
 */
import type { CloudIotSchemas } from '@otakit/core';

type Schemas = CloudIotSchemas;
type GeneratedPublicKeyCredential = Schemas['PublicKeyCredential'];
type GeneratedDeviceCredential = Schemas['DeviceCredential'];
type GeneratedDeviceConfig = Schemas['DeviceConfig'];
type GeneratedDeviceState = Schemas['DeviceState'];
type GeneratedDevice = Schemas['Device'];
type GeneratedListDevicesResponse = Schemas['ListDevicesResponse'];

/** `PublicKeyFormat`: the format of a device credential's key. */
export type PublicKeyFormat = NonNullable<Schemas['PublicKeyCredential']['format']>;

/** `PublicKeyCredential`. */
export interface PublicKeyCredential extends GeneratedPublicKeyCredential {
  format?: PublicKeyFormat;
  /** PEM: `-----BEGIN PUBLIC KEY-----` (SPKI) or `-----BEGIN CERTIFICATE-----` for the X.509 formats. */
  key?: Schemas['PublicKeyCredential']['key'];
}

/** `DeviceCredential`: one of at most 3 keys of a device. */
export interface DeviceCredential extends GeneratedDeviceCredential {
  publicKey?: PublicKeyCredential;
  /** Ignored for new authentications after this time. Unset is often sent as `1970-01-01T00:00:00Z`. */
  expirationTime?: Schemas['DeviceCredential']['expirationTime'];
}

/** `DeviceConfig`. */
export interface DeviceConfig extends GeneratedDeviceConfig {
  /** int64 as a string. */
  version?: Schemas['DeviceConfig']['version'];
  /** base64. */
  binaryData?: Schemas['DeviceConfig']['binaryData'];
}

/** `DeviceState`. */
export interface DeviceState extends GeneratedDeviceState {
  /** base64. */
  binaryData?: Schemas['DeviceState']['binaryData'];
}

/** `Status` (google.rpc.Status). */
export type RpcStatusBody = Schemas['Status'];

/** `GatewayConfig`. */
export type GatewayConfig = Schemas['GatewayConfig'];

/** `LogLevel`. */
export type LogLevel = NonNullable<Schemas['Device']['logLevel']>;

/**
 * `Device`. `list` returns only `id` and `numId` plus the fields of its `fieldMask`; `get` without a
 * mask returns everything.
 */
export interface Device extends GeneratedDevice {
  /** The user-defined id, unique in the registry. */
  id: NonNullable<Schemas['Device']['id']>;
  /** `projects/{p}/locations/{l}/registries/{r}/devices/{numId}` when sent by the service. */
  name?: Schemas['Device']['name'];
  /** uint64 as a string, server-assigned. */
  numId?: Schemas['Device']['numId'];
  credentials?: DeviceCredential[];
  config?: DeviceConfig;
  state?: DeviceState;
  logLevel?: LogLevel;
}

/** `ListDevicesResponse`. */
export interface ListDevicesResponse extends GeneratedListDevicesResponse {
  devices?: Device[];
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
