import { type DeviceKey, generateDeviceKey, signMenderRequest } from '@otakit/core';
import { request } from 'undici';

/** A device simulated over the device API: signed auth requests, polling, status reports. */
export class FakeDevice {
  readonly identity: Record<string, string>;
  readonly key: DeviceKey;
  readonly #url: string;
  token: string | undefined;

  constructor(url: string, identity: Record<string, string>, key: DeviceKey) {
    this.#url = url;
    this.identity = identity;
    this.key = key;
  }

  static async create(url: string, identity: Record<string, string>, key?: DeviceKey): Promise<FakeDevice> {
    return new FakeDevice(url, identity, key ?? (await generateDeviceKey({ type: 'ed25519' })));
  }

  get pubkey(): string {
    return this.key.publicKeyPem;
  }

  /** Sends a signed auth request; keeps the token on 200. Resolves with the status. */
  async authenticate(): Promise<number> {
    const body = JSON.stringify({ id_data: JSON.stringify(this.identity), pubkey: this.key.publicKeyPem });
    const res = await request(`${this.#url}/api/devices/v1/authentication/auth_requests`, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'x-men-signature': signMenderRequest(body, this.key.privateKey),
      },
    });
    const text = await res.body.text();
    if (res.statusCode === 200) this.token = text;
    return res.statusCode;
  }

  async #call(
    method: 'GET' | 'PUT',
    path: string,
    json?: unknown,
  ): Promise<{ status: number; body: string }> {
    const res = await request(`${this.#url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token ?? ''}`,
        ...(json === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
    });
    return { status: res.statusCode, body: await res.body.text() };
  }

  /** Reports inventory attributes. */
  async reportInventory(attributes: Array<{ name: string; value: string | number }>): Promise<number> {
    return (await this.#call('PUT', '/api/devices/v1/inventory/device/attributes', attributes)).status;
  }

  /** Asks for the next deployment; the deployment id, or undefined (204). Throws on other statuses. */
  async next(artifactName = 'factory', deviceType = 'otakit-test'): Promise<string | undefined> {
    const q = new URLSearchParams({ artifact_name: artifactName, device_type: deviceType });
    const res = await this.#call('GET', `/api/devices/v1/deployments/device/deployments/next?${q}`);
    if (res.status === 204) return undefined;
    if (res.status !== 200) throw new Error(`next: HTTP ${res.status} ${res.body}`);
    return (JSON.parse(res.body) as { id: string }).id;
  }

  /** Reports a deployment status; resolves with the HTTP status. */
  async report(deploymentId: string, status: string): Promise<number> {
    return (
      await this.#call('PUT', `/api/devices/v1/deployments/device/deployments/${deploymentId}/status`, {
        status,
      })
    ).status;
  }

  /** Uploads a deployment log. */
  async log(deploymentId: string, message: string): Promise<number> {
    const messages = [{ timestamp: new Date().toISOString(), level: 'error', message }];
    return (
      await this.#call('PUT', `/api/devices/v1/deployments/device/deployments/${deploymentId}/log`, {
        messages,
      })
    ).status;
  }

  /** Takes a deployment to the end: downloading, installing, then `outcome`. */
  async complete(deploymentId: string, outcome: 'success' | 'failure'): Promise<void> {
    for (const status of ['downloading', 'installing', outcome]) {
      const code = await this.report(deploymentId, status);
      if (code === 409) return; // aborted meanwhile
      if (code !== 204) throw new Error(`report ${status}: HTTP ${code}`);
    }
  }
}
