/**
 * The Mender side of a registry sync, as an interface this package declares: any client of the
 * Mender device authentication API fits, and {@link menderAdmission} adapts an
 * `@otakit/management-client` `ManagementClient` without importing it.
 *
 * @module
 */

/** An auth set of a Mender device (one identity + key pair). */
export interface MenderAuthSet {
  /** The auth set id. */
  id: string;
  /** PEM public key. */
  pubkey: string;
  /** `pending`, `accepted`, `rejected` or `preauthorized`. */
  status: string;
}

/** A Mender device as the sync sees it. */
export interface MenderDevice {
  /** The Mender device id. */
  id: string;
  /** The identity attributes the device authenticates with. */
  identity: Record<string, unknown>;
  /** Admission status (`accepted`, `preauthorized`, `pending`, `rejected`, `noauth`). */
  status: string | undefined;
  authSets: MenderAuthSet[];
}

/** Per-call options the sync passes on. */
export interface AdmissionCallOptions {
  /** Aborts the call. */
  signal?: AbortSignal;
}

/**
 * What {@link preauthorizeFromRegistry} needs from Mender's device authentication: list devices,
 * preauthorize an identity + key (idempotently: an existing device is not an error), change or
 * dismiss auth sets, decommission.
 */
export interface MenderAdmission {
  /** Every device with its identity and auth sets. */
  listDevices(options?: AdmissionCallOptions): AsyncIterable<MenderDevice>;
  /**
   * Preauthorizes `identity` with `pubkeyPem`. With `force`, adds the key as a new auth set of an
   * existing device (key rotation). When the device exists and `force` is false, resolves with
   * `created: false` (HTTP 409 handled) instead of failing.
   */
  preauthorize(
    identity: Record<string, string>,
    pubkeyPem: string,
    options?: AdmissionCallOptions & { force?: boolean },
  ): Promise<{ id: string; created: boolean }>;
  /** Sets an auth set's status (`rejected` to shut a device out, `accepted`). */
  setAuthSetStatus(
    deviceId: string,
    authSetId: string,
    status: 'accepted' | 'rejected',
    options?: AdmissionCallOptions,
  ): Promise<void>;
  /** Deletes one auth set (a preauthorized key no longer valid). */
  dismissAuthSet(deviceId: string, authSetId: string, options?: AdmissionCallOptions): Promise<void>;
  /** Removes a device and its auth sets. */
  decommission(deviceId: string, options?: AdmissionCallOptions): Promise<void>;
}

/** A Mender device as `@otakit/management-client` returns it (devauth v2 JSON). */
export interface ManagementDeviceLike {
  id?: string;
  identity_data?: Record<string, unknown>;
  status?: string;
  auth_sets?: Array<{ id?: string; pubkey?: string; status?: string }>;
}

/**
 * The part of an `@otakit/management-client` `ManagementClient` that {@link menderAdmission} uses,
 * typed structurally so this package does not import the management client.
 */
export interface ManagementClientLike {
  /** `ManagementClient.devices`. */
  devices: {
    list(options?: { signal?: AbortSignal; perPage?: number }): AsyncIterable<ManagementDeviceLike>;
    preauthorize(
      input: { identity: Record<string, string>; pubkey: string; force?: boolean },
      options?: { ifExists?: 'throw' | 'return'; signal?: AbortSignal },
    ): Promise<{ id: string; created: boolean }>;
    setAuthSetStatus(
      deviceId: string,
      authSetId: string,
      status: 'accepted' | 'rejected',
      options?: { signal?: AbortSignal },
    ): Promise<void>;
    dismissAuthSet(deviceId: string, authSetId: string, options?: { signal?: AbortSignal }): Promise<void>;
    decommission(deviceId: string, options?: { signal?: AbortSignal }): Promise<void>;
  };
}

function withSignal(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}

/**
 * Adapts an `@otakit/management-client` `ManagementClient` (or anything shaped like one) to
 * {@link MenderAdmission}: lists with 500 devices a page and preauthorizes with
 * `ifExists: 'return'`, so a re-run meets existing devices without errors.
 *
 * @example
 * ```ts
 * import { ManagementClient } from '@otakit/management-client'
 * const mender = menderAdmission(new ManagementClient({ serverUrl, auth: { email, password } }))
 * ```
 */
export function menderAdmission(client: ManagementClientLike): MenderAdmission {
  const devices = client.devices;
  return {
    async *listDevices(options = {}) {
      for await (const d of devices.list({ perPage: 500, ...withSignal(options.signal) })) {
        if (typeof d.id !== 'string') continue;
        yield {
          id: d.id,
          identity: d.identity_data ?? {},
          status: d.status,
          authSets: (d.auth_sets ?? []).flatMap((a) =>
            typeof a.id === 'string' && typeof a.pubkey === 'string'
              ? [{ id: a.id, pubkey: a.pubkey, status: a.status ?? '' }]
              : [],
          ),
        };
      }
    },
    async preauthorize(identity, pubkeyPem, options = {}) {
      const result = await devices.preauthorize(
        { identity, pubkey: pubkeyPem, ...(options.force ? { force: true } : {}) },
        { ifExists: 'return', ...withSignal(options.signal) },
      );
      return { id: result.id, created: result.created };
    },
    setAuthSetStatus: (deviceId, authSetId, status, options = {}) =>
      devices.setAuthSetStatus(deviceId, authSetId, status, withSignal(options.signal)),
    dismissAuthSet: (deviceId, authSetId, options = {}) =>
      devices.dismissAuthSet(deviceId, authSetId, withSignal(options.signal)),
    decommission: (deviceId, options = {}) => devices.decommission(deviceId, withSignal(options.signal)),
  };
}
