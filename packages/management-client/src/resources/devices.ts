import { randomUUID } from 'node:crypto';
import { ConflictError, type PagePromise, type RequestOptions } from '@otakit/core';
import { type BulkOptions, type BulkResult, runBulk } from '../bulk.js';
import { idFromLocation, type ListOptions, seg, type Transport } from '../transport.js';
import type { AuthSet, AuthSetStatus, Device, DeviceStatus, IdentityData } from '../types.js';

const BASE = '/api/management/v2/devauth';

/** Filters of {@link DevicesResource.list}. */
export interface DeviceListOptions extends ListOptions {
  /** Only devices with this admission status. */
  status?: DeviceStatus;
  /** Only these device ids. */
  id?: string[];
}

/** One device to preauthorize. */
export interface PreauthorizeInput {
  /** The identity the device will present (e.g. `{ mac: '00:11:22:33:44:55' }`); values must match exactly. */
  identity: IdentityData | Record<string, unknown>;
  /** The device's public key, PEM `PUBLIC KEY` (SPKI). */
  pubkey: string;
  /** Add the auth set even if a device with this identity exists (Mender's `force`). */
  force?: boolean;
}

/** Options of {@link DevicesResource.preauthorize}. */
export interface PreauthorizeOptions extends RequestOptions {
  /**
   * What to do when a device with the same identity already exists (HTTP 409): `'throw'` a
   * `ConflictError` (default), or `'return'` the existing device (idempotent mode, safe to re-run).
   */
  ifExists?: 'throw' | 'return';
}

/** What {@link DevicesResource.preauthorize} did. */
export interface PreauthorizeResult {
  /** The device id (new, or the existing device's in idempotent mode). */
  id: string;
  /** True when the server created the device now; false when it already existed. */
  created: boolean;
  /** The existing device, when `created` is false (Mender returns it with the 409). */
  device?: Device;
}

/** Options of accept/reject: which auth set to act on. */
export interface AuthSetOptions extends RequestOptions {
  /** The auth set; by default the device's newest auth set eligible for the change. */
  authSetId?: string;
}

/**
 * Device admission (deviceauth v2): list, count, preauthorize, accept, reject, dismiss,
 * decommission, revoke tokens; and bounded-concurrency bulk variants.
 */
export class DevicesResource {
  readonly #t: Transport;

  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /**
   * Lists devices, optionally by status. `await` for the first page, `for await` for all devices.
   *
   * @example
   * ```ts
   * for await (const d of mgmt.devices.list({ status: 'pending' })) console.log(d.id, d.identity_data)
   * ```
   */
  list(opts: DeviceListOptions = {}): PagePromise<Device> {
    const { status, id, ...rest } = opts;
    return this.#t.list<Device>(`${BASE}/devices`, { status, id }, rest);
  }

  /** Gets one device. Throws `NotFoundError` when there is none. */
  async get(deviceId: string, opts: RequestOptions = {}): Promise<Device> {
    const res = await this.#t.request<Device>({
      ...opts,
      method: 'GET',
      path: `${BASE}/devices/${seg(deviceId)}`,
    });
    return res.data;
  }

  /** Counts devices, optionally by status. */
  async count(opts: RequestOptions & { status?: DeviceStatus } = {}): Promise<number> {
    const { status, ...rest } = opts;
    const res = await this.#t.request<{ count?: number }>({
      ...rest,
      method: 'GET',
      path: `${BASE}/devices/count`,
      query: { status },
    });
    return res.data?.count ?? 0;
  }

  /** The maximum number of accepted devices (`-1` or `0` when unlimited, as the server says). */
  async maxDevices(opts: RequestOptions = {}): Promise<number> {
    const res = await this.#t.request<{ limit: number }>({
      ...opts,
      method: 'GET',
      path: `${BASE}/limits/max_devices`,
    });
    return res.data.limit;
  }

  /**
   * Preauthorizes a device: when it first authenticates with this identity and key, it is accepted
   * at once. The call is retried on 429/5xx (a retry that meets the device it created counts as a
   * 409); with `ifExists: 'return'` a 409 returns the existing device instead of throwing.
   *
   * @example
   * ```ts
   * const { id, created } = await mgmt.devices.preauthorize(
   *   { identity: { mac: '00:11:22:33:44:55' }, pubkey: pem },
   *   { ifExists: 'return' },
   * )
   * ```
   */
  async preauthorize(input: PreauthorizeInput, opts: PreauthorizeOptions = {}): Promise<PreauthorizeResult> {
    const { ifExists = 'throw', ...rest } = opts;
    try {
      const res = await this.#t.request<unknown>({
        ...rest,
        method: 'POST',
        path: `${BASE}/devices`,
        json: {
          identity_data: input.identity,
          pubkey: input.pubkey,
          ...(input.force === undefined ? {} : { force: input.force }),
        },
        idempotencyKey: rest.idempotencyKey ?? randomUUID(),
        responseType: 'void',
      });
      return { id: idFromLocation(res) ?? '', created: true };
    } catch (err) {
      if (ifExists === 'return' && err instanceof ConflictError) {
        const device = err.body as Device | undefined;
        if (device !== undefined && typeof device === 'object' && typeof device.id === 'string') {
          return { id: device.id, created: false, device };
        }
      }
      throw err;
    }
  }

  /** Sets the status of one auth set (`accepted`, `rejected`, `pending` or `preauthorized`). */
  async setAuthSetStatus(
    deviceId: string,
    authSetId: string,
    status: AuthSetStatus,
    opts: RequestOptions = {},
  ): Promise<void> {
    await this.#t.request<void>({
      ...opts,
      method: 'PUT',
      path: `${BASE}/devices/${seg(deviceId)}/auth/${seg(authSetId)}/status`,
      json: { status },
      responseType: 'void',
    });
  }

  /** Gets the status of one auth set. */
  async getAuthSetStatus(
    deviceId: string,
    authSetId: string,
    opts: RequestOptions = {},
  ): Promise<AuthSetStatus> {
    const res = await this.#t.request<{ status: AuthSetStatus }>({
      ...opts,
      method: 'GET',
      path: `${BASE}/devices/${seg(deviceId)}/auth/${seg(authSetId)}/status`,
    });
    return res.data.status;
  }

  /**
   * Accepts a device: sets its auth set (`authSetId`, or the newest pending one) to `accepted`.
   * Mender rejects the device's other auth sets.
   */
  async accept(deviceId: string, opts: AuthSetOptions = {}): Promise<void> {
    const { authSetId, ...rest } = opts;
    const id =
      authSetId ?? (await this.#pickAuthSet(deviceId, ['pending', 'preauthorized', 'rejected'], rest));
    await this.setAuthSetStatus(deviceId, id, 'accepted', rest);
  }

  /** Rejects a device: sets its auth set (`authSetId`, or the newest pending/accepted one) to `rejected`. */
  async reject(deviceId: string, opts: AuthSetOptions = {}): Promise<void> {
    const { authSetId, ...rest } = opts;
    const id =
      authSetId ?? (await this.#pickAuthSet(deviceId, ['pending', 'accepted', 'preauthorized'], rest));
    await this.setAuthSetStatus(deviceId, id, 'rejected', rest);
  }

  /** Dismisses (deletes) one auth set of a device; a device left without auth sets is removed. */
  async dismissAuthSet(deviceId: string, authSetId: string, opts: RequestOptions = {}): Promise<void> {
    await this.#t.request<void>({
      ...opts,
      method: 'DELETE',
      path: `${BASE}/devices/${seg(deviceId)}/auth/${seg(authSetId)}`,
      responseType: 'void',
    });
  }

  /** Decommissions a device: removes it and its auth sets, and ends its deployments. */
  async decommission(deviceId: string, opts: RequestOptions = {}): Promise<void> {
    await this.#t.request<void>({
      ...opts,
      method: 'DELETE',
      path: `${BASE}/devices/${seg(deviceId)}`,
      responseType: 'void',
    });
  }

  /**
   * Revokes a device token. A device token's id (`jti`) is the id of the auth set it was issued
   * for; the device must authenticate again.
   */
  async revokeToken(tokenId: string, opts: RequestOptions = {}): Promise<void> {
    await this.#t.request<void>({
      ...opts,
      method: 'DELETE',
      path: `${BASE}/tokens/${seg(tokenId)}`,
      responseType: 'void',
    });
  }

  /** Revokes the tokens of every accepted auth set of a device. Returns the token ids revoked. */
  async revokeTokens(deviceId: string, opts: RequestOptions = {}): Promise<string[]> {
    const device = await this.get(deviceId, opts);
    const ids = (device.auth_sets ?? [])
      .filter((a) => a.status === 'accepted' && a.id)
      .map((a) => a.id as string);
    for (const id of ids) await this.revokeToken(id, opts);
    return ids;
  }

  /**
   * Preauthorizes many devices with at most `concurrency` calls at once. Never stops at a failure:
   * each item gets a result. Pass `ifExists: 'return'` to make re-runs succeed.
   *
   * @example
   * ```ts
   * const r = await mgmt.devices.preauthorizeMany(items, { concurrency: 16, ifExists: 'return' })
   * console.log(`${r.succeeded} ok, ${r.failed} failed`)
   * ```
   */
  preauthorizeMany(
    items: Iterable<PreauthorizeInput>,
    opts: BulkOptions<PreauthorizeInput, PreauthorizeResult> & PreauthorizeOptions = {},
  ): Promise<BulkResult<PreauthorizeInput, PreauthorizeResult>> {
    const { concurrency, onResult, ...call } = opts;
    return runBulk(
      items,
      (item) => this.preauthorize(item, call),
      bulkOpts(concurrency, call.signal, onResult),
    );
  }

  /** Accepts many devices (by id) with bounded concurrency, reporting each result. */
  acceptMany(
    deviceIds: Iterable<string>,
    opts: BulkOptions<string, void> & RequestOptions = {},
  ): Promise<BulkResult<string, void>> {
    const { concurrency, onResult, ...call } = opts;
    return runBulk(deviceIds, (id) => this.accept(id, call), bulkOpts(concurrency, call.signal, onResult));
  }

  /** Rejects many devices (by id) with bounded concurrency, reporting each result. */
  rejectMany(
    deviceIds: Iterable<string>,
    opts: BulkOptions<string, void> & RequestOptions = {},
  ): Promise<BulkResult<string, void>> {
    const { concurrency, onResult, ...call } = opts;
    return runBulk(deviceIds, (id) => this.reject(id, call), bulkOpts(concurrency, call.signal, onResult));
  }

  /** Decommissions many devices (by id) with bounded concurrency, reporting each result. */
  decommissionMany(
    deviceIds: Iterable<string>,
    opts: BulkOptions<string, void> & RequestOptions = {},
  ): Promise<BulkResult<string, void>> {
    const { concurrency, onResult, ...call } = opts;
    return runBulk(
      deviceIds,
      (id) => this.decommission(id, call),
      bulkOpts(concurrency, call.signal, onResult),
    );
  }

  async #pickAuthSet(deviceId: string, statuses: string[], opts: RequestOptions): Promise<string> {
    const device = await this.get(deviceId, opts);
    const sets: AuthSet[] = device.auth_sets ?? [];
    for (const status of statuses) {
      const candidates = sets.filter((a) => a.status === status && a.id !== undefined);
      candidates.sort((a, b) => (b.ts ?? '').localeCompare(a.ts ?? ''));
      if (candidates[0]?.id !== undefined) return candidates[0].id;
    }
    const only = sets.length === 1 ? sets[0]?.id : undefined;
    if (only !== undefined) return only;
    throw new TypeError(`device ${deviceId} has no auth set in status ${statuses.join(' or ')}`);
  }
}

function bulkOpts<I, R>(
  concurrency: number | undefined,
  signal: AbortSignal | undefined,
  onResult: ((r: import('../bulk.js').BulkItemResult<I, R>) => void) | undefined,
): BulkOptions<I, R> {
  return {
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(signal === undefined ? {} : { signal }),
    ...(onResult === undefined ? {} : { onResult }),
  };
}
