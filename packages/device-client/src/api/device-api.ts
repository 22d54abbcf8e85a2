import { createHash, type KeyObject, randomUUID } from 'node:crypto';
import {
  ConflictError,
  type HttpClient,
  NotFoundError,
  type RequestOptions,
  signMenderRequest,
  toSpkiPem,
  UnauthorizedError,
} from '@otakit/core';
import { DeviceError, DeviceErrorCodes } from '../errors.js';
import type { DeploymentStatus } from '../update/states.js';
import { type IdentitySource, serializeIdentity, tokenTimes } from './identity.js';

/** What `next` answers when a deployment is waiting for the device. */
export interface DeploymentInstructions {
  /** The deployment id (for status and log reports). */
  id: string;
  artifact: {
    id?: string;
    artifact_name: string;
    source: { uri: string; expire?: string };
    device_types_compatible?: string[];
  };
}

/** An inventory attribute value. */
export type InventoryValue = string | number | string[] | number[];

/** One line of a deployment log. */
export interface DeploymentLogEntry {
  timestamp: string;
  level: string;
  message: string;
}

/** Largest deployment log uploaded, in bytes (as the Mender client: just under 1 MB). */
export const MAX_LOG_BYTES = 1000 * 1000 - 256;

/** Options of {@link DeviceApi}. */
export interface DeviceApiOptions {
  http: HttpClient;
  privateKey: KeyObject;
  identity: IdentitySource;
  tenantToken?: string | undefined;
  /** Renew the token this many seconds before `exp`. Default 3600 (or a tenth of the lifetime, if shorter). */
  renewBeforeSeconds?: number;
  /** Called after each successful authentication. */
  onAuthenticated?: () => void;
}

/**
 * The device API of a Mender server: authentication with a signed auth request, inventory,
 * deployment checks, status and log reports. Keeps the device token, renews it before `exp`, and on
 * a 401 re-authenticates once and retries.
 */
export class DeviceApi {
  readonly #opts: DeviceApiOptions;
  readonly #pubkey: string;
  #token: string | undefined;
  #tokenExp: number | undefined;
  #tokenIat = 0;
  #authInFlight: Promise<string> | undefined;
  #v2NextMissing = false;
  #inventoryHash: string | undefined;

  constructor(opts: DeviceApiOptions) {
    this.#opts = opts;
    this.#pubkey = toSpkiPem(opts.privateKey);
  }

  /** The current device token, if any (never log it). */
  get token(): string | undefined {
    return this.#token;
  }

  /** The public key (SPKI PEM) sent in auth requests; preauthorize the device with it. */
  get publicKeyPem(): string {
    return this.#pubkey;
  }

  /**
   * Sends a signed auth request and keeps the token. Throws `DeviceError` `ERR_DEVICE_PENDING` while
   * the server has not accepted the device (401).
   */
  authenticate(options: RequestOptions = {}): Promise<string> {
    this.#authInFlight ??= this.#authenticate(options).finally(() => {
      this.#authInFlight = undefined;
    });
    return this.#authInFlight;
  }

  async #authenticate(options: RequestOptions): Promise<string> {
    const source = this.#opts.identity;
    const identity = typeof source === 'function' ? await source() : source;
    const payload: Record<string, string> = { id_data: serializeIdentity(identity), pubkey: this.#pubkey };
    if (this.#opts.tenantToken) payload.tenant_token = this.#opts.tenantToken;
    const body = JSON.stringify(payload);
    const signature = signMenderRequest(body, this.#opts.privateKey);
    try {
      const res = await this.#opts.http.request<string>({
        ...options,
        method: 'POST',
        path: '/api/devices/v1/authentication/auth_requests',
        body,
        contentType: 'application/json',
        headers: { ...options.headers, 'x-men-signature': signature },
        responseType: 'text',
        auth: false,
        idempotencyKey: randomUUID(),
      });
      const token = res.data.trim();
      this.#token = token;
      const times = await tokenTimes(token);
      this.#tokenExp = times.exp;
      // The lifetime comes from the token itself (the device clock may be off); `iat` is the server's.
      this.#tokenIat = times.iat ?? Date.now() / 1000;
      this.#inventoryHash = undefined;
      this.#opts.onAuthenticated?.();
      return token;
    } catch (err) {
      if (err instanceof UnauthorizedError) {
        this.#token = undefined;
        throw new DeviceError(
          DeviceErrorCodes.DEVICE_PENDING,
          'the device is not accepted by the server yet',
          {
            cause: err,
          },
        );
      }
      throw err;
    }
  }

  /** Whether the token is missing or due for renewal (within the margin before `exp`). */
  #needsToken(): boolean {
    if (this.#token === undefined) return true;
    if (this.#tokenExp === undefined) return false;
    const now = Date.now() / 1000;
    const lifetime = this.#tokenExp - this.#tokenIat;
    const margin = Math.min(this.#opts.renewBeforeSeconds ?? 3600, Math.max(0, lifetime / 10));
    return now >= this.#tokenExp - margin;
  }

  /** Sends an authorised call: authenticates first if needed; on 401 re-authenticates once and retries. */
  async #call<T>(run: (token: string) => Promise<T>, options: RequestOptions): Promise<T> {
    if (this.#needsToken()) await this.authenticate(options);
    try {
      return await run(this.#token!);
    } catch (err) {
      if (!(err instanceof UnauthorizedError)) throw err;
      this.#token = undefined;
      await this.authenticate(options);
      return run(this.#token!);
    }
  }

  #authHeaders(token: string, options: RequestOptions): Record<string, string> {
    return { ...options.headers, authorization: `Bearer ${token}` };
  }

  /**
   * Upserts inventory attributes (`PATCH /api/devices/v1/inventory/device/attributes`). Skips the
   * call when the attributes are unchanged since the last success (the cache is dropped on
   * re-authentication). Returns whether a request was sent.
   */
  async sendInventory(
    attributes: Record<string, InventoryValue>,
    options: RequestOptions = {},
  ): Promise<boolean> {
    const list = Object.keys(attributes)
      .sort()
      .map((name) => ({ name, value: attributes[name] }));
    const hash = createHash('sha256').update(JSON.stringify(list)).digest('hex');
    if (hash === this.#inventoryHash && this.#token !== undefined) return false;
    await this.#call(
      (token) =>
        this.#opts.http.request({
          ...options,
          method: 'PATCH',
          path: '/api/devices/v1/inventory/device/attributes',
          json: list,
          responseType: 'void',
          headers: this.#authHeaders(token, options),
          idempotencyKey: randomUUID(),
        }),
      options,
    );
    this.#inventoryHash = hash;
    return true;
  }

  /**
   * Asks for a deployment: `POST /api/devices/v2/deployments/device/deployments/next` with
   * `device_provides`, falling back to `GET /api/devices/v1/.../next` on 404 (as the Mender client).
   * Resolves undefined when there is nothing to do (204).
   */
  async checkForUpdate(
    deviceProvides: Record<string, string>,
    options: RequestOptions = {},
  ): Promise<DeploymentInstructions | undefined> {
    const parse = (status: number, data: unknown): DeploymentInstructions | undefined => {
      if (status === 204 || data === undefined || data === null || data === '') return undefined;
      const d = data as DeploymentInstructions;
      if (typeof d.id !== 'string' || typeof d.artifact?.source?.uri !== 'string') {
        throw new DeviceError(DeviceErrorCodes.BAD_RESPONSE, 'the deployment answer has no id or source uri');
      }
      return d;
    };
    if (!this.#v2NextMissing) {
      try {
        const res = await this.#call(
          (token) =>
            this.#opts.http.request<unknown>({
              ...options,
              method: 'POST',
              path: '/api/devices/v2/deployments/device/deployments/next',
              json: { device_provides: deviceProvides },
              headers: this.#authHeaders(token, options),
              idempotencyKey: randomUUID(),
            }),
          options,
        );
        return parse(res.status, res.data);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        this.#v2NextMissing = true;
      }
    }
    const res = await this.#call(
      (token) =>
        this.#opts.http.request<unknown>({
          ...options,
          method: 'GET',
          path: '/api/devices/v1/deployments/device/deployments/next',
          query: {
            artifact_name: deviceProvides.artifact_name ?? 'unknown',
            device_type: deviceProvides.device_type ?? 'unknown',
          },
          headers: this.#authHeaders(token, options),
        }),
      options,
    );
    return parse(res.status, res.data);
  }

  /**
   * Reports a deployment status (`PUT .../deployments/{id}/status`). A 409 (the deployment was
   * aborted) throws `DeviceError` `ERR_DEVICE_DEPLOYMENT_ABORTED`.
   */
  async reportStatus(
    deploymentId: string,
    status: DeploymentStatus,
    substate?: string,
    options: RequestOptions = {},
  ): Promise<void> {
    try {
      await this.#call(
        (token) =>
          this.#opts.http.request({
            ...options,
            method: 'PUT',
            path: `/api/devices/v1/deployments/device/deployments/${encodeURIComponent(deploymentId)}/status`,
            json: substate === undefined ? { status } : { status, substate: substate.slice(0, 200) },
            responseType: 'void',
            headers: this.#authHeaders(token, options),
          }),
        options,
      );
    } catch (err) {
      if (err instanceof ConflictError) {
        throw new DeviceError(DeviceErrorCodes.DEPLOYMENT_ABORTED, `deployment ${deploymentId} was aborted`, {
          cause: err,
        });
      }
      throw err;
    }
  }

  /**
   * Uploads a deployment log (`PUT .../deployments/{id}/log`), keeping the newest entries within
   * {@link MAX_LOG_BYTES} and saying so in a first entry when it had to cut.
   */
  async uploadLog(
    deploymentId: string,
    entries: DeploymentLogEntry[],
    options: RequestOptions = {},
  ): Promise<void> {
    const messages = boundLog(entries);
    if (messages.length === 0) return;
    await this.#call(
      (token) =>
        this.#opts.http.request({
          ...options,
          method: 'PUT',
          path: `/api/devices/v1/deployments/device/deployments/${encodeURIComponent(deploymentId)}/log`,
          json: { messages },
          responseType: 'void',
          headers: this.#authHeaders(token, options),
        }),
      options,
    );
  }
}

/** Keeps the newest log entries whose JSON fits in {@link MAX_LOG_BYTES}. @internal */
export function boundLog(entries: DeploymentLogEntry[], maxBytes = MAX_LOG_BYTES): DeploymentLogEntry[] {
  const clean = entries.map((e) => ({
    timestamp: e.timestamp || new Date().toISOString(),
    level: e.level || 'info',
    message: e.message || '(empty)',
  }));
  let size = 16;
  let i = clean.length;
  while (i > 0) {
    const entrySize = Buffer.byteLength(JSON.stringify(clean[i - 1])) + 1;
    if (size + entrySize > maxBytes - 200) break;
    size += entrySize;
    i--;
  }
  if (i === 0) return clean;
  return [
    {
      timestamp: clean[i]?.timestamp ?? new Date().toISOString(),
      level: 'warning',
      message: `(THE ORIGINAL LOG WAS ${i} ENTRIES LONGER; THE OLDEST ENTRIES WERE CUT TO STAY UNDER 1 MB)`,
    },
    ...clean.slice(i),
  ];
}
