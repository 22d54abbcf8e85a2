import { createHash, type KeyObject, randomUUID } from 'node:crypto';
import {
  ConflictError,
  type HttpClient,
  NotFoundError,
  type ObtainedToken,
  RefreshingToken,
  type RequestOptions,
  signMenderRequest,
  type TokenRequestOptions,
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
  /** Renew the token this long before `exp`, ms. Default 3 600 000 (or a tenth of the lifetime, if shorter). */
  renewBeforeMs?: number;
  /** Called after each successful authentication. */
  onAuthenticated?: () => void;
}

/**
 * The device API of a Mender server: authentication with a signed auth request, inventory,
 * deployment checks, status and log reports. The device token is core's {@link RefreshingToken}
 * (renewed before `exp`, one auth request shared by concurrent callers) given to each call as its
 * token source, so core's {@link HttpClient} re-authenticates once on a 401 and re-sends the call once.
 */
export class DeviceApi {
  readonly #opts: DeviceApiOptions;
  readonly #pubkey: string;
  readonly #tokens: RefreshingToken;
  #v2NextMissing = false;
  #inventoryHash: string | undefined;

  constructor(opts: DeviceApiOptions) {
    this.#opts = opts;
    this.#pubkey = toSpkiPem(opts.privateKey);
    this.#tokens = new RefreshingToken({ obtain: (options) => this.#authenticate(options) });
  }

  /** The current device token, if any (never log it). */
  get token(): string | undefined {
    return this.#tokens.current;
  }

  /** The public key (SPKI PEM) sent in auth requests; preauthorize the device with it. */
  get publicKeyPem(): string {
    return this.#pubkey;
  }

  /**
   * Sends a signed auth request and keeps the token (an auth request already in flight is shared).
   * Of `options`, `signal` and `timeout` apply. Throws `DeviceError` `ERR_DEVICE_PENDING` while the
   * server has not accepted the device (401).
   */
  authenticate(options: TokenRequestOptions = {}): Promise<string> {
    return this.#tokens.refresh(this.#tokens.current, options);
  }

  async #authenticate(options: TokenRequestOptions): Promise<ObtainedToken> {
    const source = this.#opts.identity;
    const identity = typeof source === 'function' ? await source() : source;
    const payload: Record<string, string> = { id_data: serializeIdentity(identity), pubkey: this.#pubkey };
    if (this.#opts.tenantToken) payload.tenant_token = this.#opts.tenantToken;
    const body = JSON.stringify(payload);
    const signature = signMenderRequest(body, this.#opts.privateKey);
    let token: string;
    try {
      const res = await this.#opts.http.request<string>({
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
        method: 'POST',
        path: '/api/devices/v1/authentication/auth_requests',
        body,
        contentType: 'application/json',
        headers: { 'x-men-signature': signature },
        responseType: 'text',
        auth: false,
        idempotencyKey: randomUUID(),
      });
      token = res.data.trim();
    } catch (err) {
      if (err instanceof UnauthorizedError) {
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
    this.#inventoryHash = undefined;
    this.#opts.onAuthenticated?.();
    return { token, renewAt: await this.#renewAt(token) };
  }

  /**
   * When the token is due for renewal, epoch ms: a margin before `exp` (the renewal setting, or a
   * tenth of the lifetime if shorter). The lifetime comes from the token itself (the device clock
   * may be off); `iat` is the server's.
   */
  async #renewAt(token: string): Promise<number | undefined> {
    const times = await tokenTimes(token);
    if (times.exp === undefined) return undefined;
    const lifetimeMs = (times.exp - (times.iat ?? Date.now() / 1000)) * 1000;
    const marginMs = Math.min(this.#opts.renewBeforeMs ?? 3_600_000, Math.max(0, lifetimeMs / 10));
    return times.exp * 1000 - marginMs;
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
    if (hash === this.#inventoryHash && this.#tokens.current !== undefined) return false;
    await this.#opts.http.request({
      ...options,
      method: 'PATCH',
      path: '/api/devices/v1/inventory/device/attributes',
      json: list,
      responseType: 'void',
      auth: this.#tokens,
      idempotencyKey: randomUUID(),
    });
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
        const res = await this.#opts.http.request<unknown>({
          ...options,
          method: 'POST',
          path: '/api/devices/v2/deployments/device/deployments/next',
          json: { device_provides: deviceProvides },
          auth: this.#tokens,
          idempotencyKey: randomUUID(),
        });
        return parse(res.status, res.data);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        this.#v2NextMissing = true;
      }
    }
    const res = await this.#opts.http.request<unknown>({
      ...options,
      method: 'GET',
      path: '/api/devices/v1/deployments/device/deployments/next',
      query: {
        artifact_name: deviceProvides.artifact_name ?? 'unknown',
        device_type: deviceProvides.device_type ?? 'unknown',
      },
      auth: this.#tokens,
    });
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
      await this.#opts.http.request({
        ...options,
        method: 'PUT',
        path: `/api/devices/v1/deployments/device/deployments/${encodeURIComponent(deploymentId)}/status`,
        json: substate === undefined ? { status } : { status, substate: substate.slice(0, 200) },
        responseType: 'void',
        auth: this.#tokens,
      });
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
    await this.#opts.http.request({
      ...options,
      method: 'PUT',
      path: `/api/devices/v1/deployments/device/deployments/${encodeURIComponent(deploymentId)}/log`,
      json: { messages },
      responseType: 'void',
      auth: this.#tokens,
    });
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
