import type { RequestOptions } from '@otakit/core';
import { seg, type Transport } from '../transport.js';
import type { ConfigurationValues, DeviceConfiguration } from '../types.js';

const BASE = '/api/management/v1/deviceconfig/configurations/device';

/** Device configuration (the configure add-on): desired and reported key/values per device. */
export class DeviceConfigResource {
  readonly #t: Transport;

  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /** Gets a device's configuration: `configured` (desired) and `reported`. */
  async get(deviceId: string, opts: RequestOptions = {}): Promise<DeviceConfiguration> {
    const res = await this.#t.request<DeviceConfiguration>({
      ...opts,
      method: 'GET',
      path: `${BASE}/${seg(deviceId)}`,
    });
    return res.data;
  }

  /** Sets a device's desired configuration (replaces it). Use `deploy` to push it to the device. */
  async set(deviceId: string, configuration: ConfigurationValues, opts: RequestOptions = {}): Promise<void> {
    await this.#t.request<void>({
      ...opts,
      method: 'PUT',
      path: `${BASE}/${seg(deviceId)}`,
      json: configuration,
      responseType: 'void',
    });
  }

  /** Deploys the device's desired configuration; resolves with the configuration deployment's id. */
  async deploy(deviceId: string, opts: RequestOptions & { retries?: number } = {}): Promise<string> {
    const { retries = 0, ...rest } = opts;
    const res = await this.#t.request<{ deployment_id: string }>({
      ...rest,
      method: 'POST',
      path: `${BASE}/${seg(deviceId)}/deploy`,
      json: { retries },
    });
    return res.data.deployment_id;
  }
}
