import {
  type CloudIotOperationId,
  type CloudIotQuery,
  type CloudIotRequestBody,
  HttpClient,
  type HttpClientOptions,
  type Page,
  PagePromise,
  type PageResult,
  type RequestOptions,
} from '@otakit/core';
import type { Device, DeviceConfig, DeviceField, ListDevicesResponse } from './types.js';

/** The discovery id of a device method (`list` -> `cloudiot.projects.locations.registries.devices.list`). */
type DeviceOp<Method extends string> = Extract<
  CloudIotOperationId,
  `cloudiot.projects.locations.registries.devices.${Method}`
>;

/** The v1 API root of Google Cloud IoT Core. Successors serve the same shapes at their own URL. */
export const DEFAULT_IOT_CORE_API_URL = 'https://cloudiot.googleapis.com';

/** What a sync needs from `list`: keys, blocked flag and metadata (snake_case, as the API wants). */
export const SYNC_FIELD_MASK: readonly DeviceField[] = ['credentials', 'blocked', 'metadata'];

/** Options of {@link RegistryClient}: where the registry is, how to authenticate, and the transport. */
export interface RegistryClientOptions extends Omit<HttpClientOptions, 'baseUrl' | 'auth'> {
  /** API root; paths `v1/projects/…` resolve against it. Default {@link DEFAULT_IOT_CORE_API_URL}. */
  baseUrl?: string | URL;
  /** The project id. */
  project: string;
  /** The region, e.g. `us-central1`. */
  location: string;
  /** The registry id. */
  registry: string;
  /**
   * OAuth2 access token (scope `https://www.googleapis.com/auth/cloudiot` or `cloud-platform`), or a
   * function returning a fresh one; called before every attempt. Sent as `Authorization: Bearer`.
   */
  auth: string | (() => string | Promise<string>);
}

/** Options of {@link RegistryDevices.list}. */
export interface ListDevicesOptions extends RequestOptions {
  /**
   * Fields to return besides `id` and `numId`, snake_case. Default {@link SYNC_FIELD_MASK}: without
   * a mask the service returns no credentials at all.
   */
  fieldMask?: readonly DeviceField[];
  /** Page size (0: the server picks; at most 500). Default 500. */
  pageSize?: number;
  /** Only these device ids (at most 10 000). */
  deviceIds?: readonly string[];
  /** Only these numeric ids. */
  deviceNumIds?: readonly string[];
}

/** The fields of a new device ({@link RegistryDevices.create}). */
export type NewDevice = Pick<
  Device,
  'id' | 'credentials' | 'blocked' | 'metadata' | 'logLevel' | 'gatewayConfig'
> & {
  config?: Pick<DeviceConfig, 'binaryData'>;
};

/** What {@link RegistryDevices.patch} may change: the service's mutable fields. */
export type DevicePatch = Pick<Device, 'credentials' | 'blocked' | 'metadata' | 'logLevel'>;

const PATCH_FIELDS: Record<keyof DevicePatch, DeviceField> = {
  credentials: 'credentials',
  blocked: 'blocked',
  metadata: 'metadata',
  logLevel: 'log_level',
};

/**
 * `projects.locations.registries.devices` of one registry: list (page promise over `pageToken`),
 * get, create, patch, delete, `modifyCloudToDeviceConfig`, `sendCommandToDevice`. A device is named
 * by its string id or its numeric id.
 */
export class RegistryDevices {
  readonly #http: HttpClient;
  readonly #parent: string;

  /** @internal */
  constructor(http: HttpClient, parent: string) {
    this.#http = http;
    this.#parent = parent;
  }

  #path(device?: string, suffix = ''): string {
    const base = `/v1/${this.#parent}/devices`;
    return device === undefined ? base : `${base}/${encodeURIComponent(device)}${suffix}`;
  }

  /**
   * Lists the registry's devices. `await` it for the first page; `for await` it for every device
   * across pages (following `nextPageToken`).
   *
   * @example
   * ```ts
   * for await (const d of registry.devices.list()) console.log(d.id, d.blocked, d.credentials?.length)
   * ```
   */
  list(options: ListDevicesOptions = {}): PagePromise<Device> {
    const { fieldMask = SYNC_FIELD_MASK, pageSize = 500, deviceIds, deviceNumIds, ...rest } = options;
    let pageNumber = 0;
    const fetchPage = async (pageToken: string | undefined): Promise<PageResult<Device>> => {
      const res = await this.#http.request<ListDevicesResponse | undefined>({
        ...rest,
        method: 'GET',
        path: this.#path(),
        query: {
          fieldMask: fieldMask.length > 0 ? fieldMask.join(',') : undefined,
          pageSize,
          pageToken,
          deviceIds: deviceIds && deviceIds.length > 0 ? [...deviceIds] : undefined,
          deviceNumIds: deviceNumIds && deviceNumIds.length > 0 ? [...deviceNumIds] : undefined,
        } satisfies CloudIotQuery<DeviceOp<'list'>>,
      });
      const next = res.data?.nextPageToken;
      pageNumber += 1;
      const page: Page<Device> = {
        items: res.data?.devices ?? [],
        totalCount: undefined,
        page: pageNumber,
        perPage: pageSize,
        hasNext: next !== undefined && next !== '',
      };
      return { page, next: page.hasNext ? () => fetchPage(next) : undefined };
    };
    return new PagePromise(() => fetchPage(undefined), rest.signal);
  }

  /** Gets one device; all fields unless `fieldMask` names some. Throws `NotFoundError`. */
  async get(
    device: string,
    options: RequestOptions & { fieldMask?: readonly DeviceField[] } = {},
  ): Promise<Device> {
    const { fieldMask, ...rest } = options;
    const res = await this.#http.request<Device>({
      ...rest,
      method: 'GET',
      path: this.#path(device),
      query: {
        fieldMask: fieldMask && fieldMask.length > 0 ? fieldMask.join(',') : undefined,
      } satisfies CloudIotQuery<DeviceOp<'get'>>,
    });
    return res.data;
  }

  /**
   * Creates a device. Throws `ConflictError` (`ALREADY_EXISTS`) when the id is taken and
   * `BadRequestError` (`INVALID_ARGUMENT`) for a bad key.
   */
  async create(device: NewDevice, options: RequestOptions = {}): Promise<Device> {
    const res = await this.#http.request<Device>({
      ...options,
      method: 'POST',
      path: this.#path(),
      json: device satisfies CloudIotRequestBody<DeviceOp<'create'>>,
    });
    return res.data;
  }

  /**
   * Changes the mutable fields given (`credentials`, `blocked`, `metadata`, `logLevel`), sending the
   * matching snake_case `updateMask`. A field given as `undefined` is cleared.
   *
   * @example
   * ```ts
   * await registry.devices.patch('g-42', { blocked: true })
   * await registry.devices.patch('g-42', { credentials: [toDeviceCredential(newKey)] })  // rotation
   * ```
   */
  async patch(device: string, patch: DevicePatch, options: RequestOptions = {}): Promise<Device> {
    const mask = (Object.keys(patch) as Array<keyof DevicePatch>)
      .filter((k) => Object.hasOwn(PATCH_FIELDS, k))
      .map((k) => PATCH_FIELDS[k]);
    const res = await this.#http.request<Device>({
      ...options,
      method: 'PATCH',
      path: this.#path(device),
      query: { updateMask: mask.join(',') } satisfies CloudIotQuery<DeviceOp<'patch'>>,
      json: patch satisfies CloudIotRequestBody<DeviceOp<'patch'>>,
    });
    return res.data;
  }

  /** Deletes a device. Throws `NotFoundError` when there is none. */
  async delete(device: string, options: RequestOptions = {}): Promise<void> {
    await this.#http.request({
      ...options,
      method: 'DELETE',
      path: this.#path(device),
      responseType: 'void',
    });
  }

  /**
   * Sets the device's config (`modifyCloudToDeviceConfig`); `versionToUpdate` (0 = unconditional)
   * makes the change conditional. Delivered on `/devices/{id}/config`.
   */
  async modifyConfig(
    device: string,
    data: string | Uint8Array,
    options: RequestOptions & { versionToUpdate?: number | string } = {},
  ): Promise<DeviceConfig> {
    const { versionToUpdate, ...rest } = options;
    const res = await this.#http.request<DeviceConfig>({
      ...rest,
      method: 'POST',
      path: this.#path(device, ':modifyCloudToDeviceConfig'),
      json: {
        ...(versionToUpdate === undefined ? {} : { versionToUpdate: String(versionToUpdate) }),
        binaryData: Buffer.from(data).toString('base64'),
      } satisfies CloudIotRequestBody<DeviceOp<'modifyCloudToDeviceConfig'>>,
    });
    return res.data;
  }

  /**
   * Sends a command (`sendCommandToDevice`) to a device connected over MQTT and subscribed to
   * `/devices/{id}/commands/#`; `FAILED_PRECONDITION` (a `BadRequestError`) otherwise.
   */
  async sendCommand(
    device: string,
    data: string | Uint8Array,
    options: RequestOptions & { subfolder?: string } = {},
  ): Promise<void> {
    const { subfolder, ...rest } = options;
    await this.#http.request({
      ...rest,
      method: 'POST',
      path: this.#path(device, ':sendCommandToDevice'),
      json: {
        binaryData: Buffer.from(data).toString('base64'),
        ...(subfolder === undefined ? {} : { subfolder }),
      } satisfies CloudIotRequestBody<DeviceOp<'sendCommandToDevice'>>,
      responseType: 'void',
    });
  }
}

/**
 * A client of one Cloud IoT Core-compatible registry (Google's `cloudiot.googleapis.com/v1` REST
 * shape, also served by its successors), on the `@otakit/core` transport: retries, timeouts, typed
 * errors (`NotFoundError`, `ConflictError`…; {@link rpcStatusOf} reads the Google status name).
 *
 * @example
 * ```ts
 * const registry = new RegistryClient({
 *   project: 'my-project', location: 'us-central1', registry: 'fleet', auth: () => getAccessToken(),
 * })
 * for await (const device of registry.devices.list()) console.log(device.id, device.credentials)
 * await registry.close()
 * ```
 */
export class RegistryClient {
  /** The registry's devices. */
  readonly devices: RegistryDevices;
  /** `projects/{project}/locations/{location}/registries/{registry}`. */
  readonly path: string;
  /** The project id. */
  readonly project: string;
  /** The region. */
  readonly location: string;
  /** The registry id. */
  readonly registry: string;
  /** The underlying transport (events: `request`, `response`, `retry`). */
  readonly http: HttpClient;

  constructor(options: RegistryClientOptions) {
    const { baseUrl = DEFAULT_IOT_CORE_API_URL, project, location, registry, auth, ...transport } = options;
    this.project = project;
    this.location = location;
    this.registry = registry;
    this.path = `projects/${encodeURIComponent(project)}/locations/${encodeURIComponent(location)}/registries/${encodeURIComponent(registry)}`;
    this.http = new HttpClient({
      ...transport,
      baseUrl,
      auth: typeof auth === 'string' ? () => auth : auth,
    });
    this.devices = new RegistryDevices(this.http, this.path);
  }

  /** The full resource name of a device: `projects/…/registries/{r}/devices/{device}`. */
  devicePath(device: string): string {
    return `${this.path}/devices/${device}`;
  }

  /** Closes the connections the client opened. */
  close(): Promise<void> {
    return this.http.close();
  }
}
