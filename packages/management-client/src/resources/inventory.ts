import { randomUUID } from 'node:crypto';
import type { PagePromise, QueryValue, RequestOptions } from '@otakit/core';
import { type ListOptions, seg, type Transport } from '../transport.js';
import type {
  FilterPredicate,
  InventoryAttribute,
  InventoryDevice,
  SelectAttribute,
  SortCriteria,
} from '../types.js';

const V1 = '/api/management/v1/inventory';
const V2 = '/api/management/v2/inventory';

/** Filters of {@link InventoryResource.list}. */
export interface InventoryListOptions extends ListOptions {
  /**
   * Attribute filters: `{ 'inventory/device_type': 'rpi4', 'tags/site': 'berlin' }`. A key without a
   * scope means `inventory/`.
   */
  filters?: Record<string, string | number | boolean>;
  /** Only devices of this static group. */
  group?: string;
  /** Only devices that are (true) or are not (false) in a group. */
  hasGroup?: boolean;
  /** Sort, as Mender writes it: `attribute:asc` or `scope/attribute:desc`. */
  sort?: string;
}

/** The body of an inventory search (v2 `filters/search`), without paging. */
export interface InventorySearch {
  /** Predicates, combined with AND. */
  filters?: FilterPredicate[];
  /** Only these devices. */
  deviceIds?: string[];
  /** Attributes to return (all when absent). */
  attributes?: SelectAttribute[];
  sort?: SortCriteria[];
  /** Free-text query. */
  text?: string;
}

/** Static groups of the inventory. */
export class GroupsResource {
  readonly #t: Transport;

  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /** The names of all static groups (optionally only those with devices in an admission status). */
  async list(opts: RequestOptions & { status?: string } = {}): Promise<string[]> {
    const { status, ...rest } = opts;
    const res = await this.#t.request<string[]>({
      ...rest,
      method: 'GET',
      path: `${V1}/groups`,
      query: { status },
    });
    return res.data ?? [];
  }

  /** The group a device belongs to, or `undefined`. */
  async of(deviceId: string, opts: RequestOptions = {}): Promise<string | undefined> {
    const res = await this.#t.request<{ group?: string | null }>({
      ...opts,
      method: 'GET',
      path: `${V1}/devices/${seg(deviceId)}/group`,
    });
    return res.data?.group ?? undefined;
  }

  /** Puts a device into a static group (moving it out of any other). */
  async assign(deviceId: string, group: string, opts: RequestOptions = {}): Promise<void> {
    await this.#t.request<void>({
      ...opts,
      method: 'PUT',
      path: `${V1}/devices/${seg(deviceId)}/group`,
      json: { group },
      responseType: 'void',
    });
  }

  /** Takes a device out of a static group. */
  async remove(deviceId: string, group: string, opts: RequestOptions = {}): Promise<void> {
    await this.#t.request<void>({
      ...opts,
      method: 'DELETE',
      path: `${V1}/devices/${seg(deviceId)}/group/${seg(group)}`,
      responseType: 'void',
    });
  }

  /** Adds many devices to a group in one call. Resolves with the server's counts when it sends them. */
  async addDevices(group: string, deviceIds: string[], opts: RequestOptions = {}): Promise<unknown> {
    const res = await this.#t.request<unknown>({
      ...opts,
      method: 'PATCH',
      path: `${V1}/groups/${seg(group)}/devices`,
      json: deviceIds,
      // Adding the same devices again changes nothing: safe to retry.
      idempotencyKey: opts.idempotencyKey ?? randomUUID(),
    });
    return res.data;
  }

  /** Removes many devices from a group in one call. */
  async removeDevices(group: string, deviceIds: string[], opts: RequestOptions = {}): Promise<unknown> {
    const res = await this.#t.request<unknown>({
      ...opts,
      method: 'DELETE',
      path: `${V1}/groups/${seg(group)}/devices`,
      json: deviceIds,
    });
    return res.data;
  }

  /** Deletes a group (its devices stay, ungrouped). */
  async delete(group: string, opts: RequestOptions = {}): Promise<void> {
    await this.#t.request<void>({
      ...opts,
      method: 'DELETE',
      path: `${V1}/groups/${seg(group)}`,
      responseType: 'void',
    });
  }

  /** The ids of the devices of a group, page by page. */
  devices(group: string, opts: ListOptions = {}): PagePromise<string> {
    return this.#t.list<string>(`${V1}/groups/${seg(group)}/devices`, undefined, opts);
  }
}

/** Device inventory: attributes reported by devices, tags, and static groups. */
export class InventoryResource {
  readonly #t: Transport;
  /** Static groups. */
  readonly groups: GroupsResource;

  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
    this.groups = new GroupsResource(transport);
  }

  /**
   * Lists devices with their attributes, filtered by attribute values, group or sort.
   *
   * @example
   * ```ts
   * for await (const d of mgmt.inventory.list({ filters: { 'inventory/device_type': 'rpi4' } })) use(d)
   * ```
   */
  list(opts: InventoryListOptions = {}): PagePromise<InventoryDevice> {
    const { filters, group, hasGroup, sort, ...rest } = opts;
    // Spread defines own keys, so a filter on an attribute named `__proto__` is sent like any other.
    const query: Record<string, QueryValue> = { group, has_group: hasGroup, sort, ...filters };
    return this.#t.list<InventoryDevice>(`${V1}/devices`, query, rest);
  }

  /**
   * Searches devices with predicates (inventory v2 `filters/search`).
   *
   * @example
   * ```ts
   * const hits = mgmt.inventory.search({
   *   filters: [{ scope: 'inventory', attribute: 'device_type', type: '$eq', value: 'rpi4' }],
   * })
   * for await (const d of hits) console.log(d.id)
   * ```
   */
  search(search: InventorySearch = {}, opts: ListOptions = {}): PagePromise<InventoryDevice> {
    const body: Record<string, unknown> = {};
    if (search.filters !== undefined) body.filters = search.filters;
    if (search.deviceIds !== undefined) body.device_ids = search.deviceIds;
    if (search.attributes !== undefined) body.attributes = search.attributes;
    if (search.sort !== undefined) body.sort = search.sort;
    if (search.text !== undefined) body.text = search.text;
    return this.#t.listByBody<InventoryDevice>(`${V2}/filters/search`, body, opts);
  }

  /** Gets one device's inventory. */
  async get(deviceId: string, opts: RequestOptions = {}): Promise<InventoryDevice> {
    const res = await this.#t.request<InventoryDevice>({
      ...opts,
      method: 'GET',
      path: `${V1}/devices/${seg(deviceId)}`,
    });
    return res.data;
  }

  /** A device's attributes (all scopes). */
  async attributes(deviceId: string, opts: RequestOptions = {}): Promise<InventoryAttribute[]> {
    return (await this.get(deviceId, opts)).attributes ?? [];
  }

  /** Replaces a device's tags (`tags` scope attributes). */
  async setTags(
    deviceId: string,
    tags: Array<{ name: string; value: string; description?: string }>,
    opts: RequestOptions = {},
  ): Promise<void> {
    await this.#t.request<void>({
      ...opts,
      method: 'PUT',
      path: `${V1}/devices/${seg(deviceId)}/tags`,
      json: tags,
      responseType: 'void',
    });
  }
}
