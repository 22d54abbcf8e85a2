import type { PagePromise, RequestOptions } from '@otakit/core';
import { DeploymentWait, type WaitForOptions } from '../deployment-poller.js';
import { idFromLocation, type ListOptions, seg, type Transport } from '../transport.js';
import type {
  Deployment,
  DeploymentDevice,
  DeploymentDeviceStatus,
  DeploymentStatistics,
  DeploymentStatus,
} from '../types.js';

const BASE = '/api/management/v1/deployments/deployments';

/** What to deploy and to which devices: exactly one of `devices`, `group` or `all`. */
export interface CreateDeploymentInput {
  /** The deployment's name. */
  name: string;
  /** The artifact name (release) to deploy. */
  artifactName: string;
  /** These devices. */
  devices?: string[];
  /** The devices of this static group. */
  group?: string;
  /** All accepted devices. */
  all?: boolean;
  /** Install even where the artifact is already installed. */
  forceInstallation?: boolean;
}

/** Filters of {@link DeploymentsResource.list}. */
export interface DeploymentListOptions extends ListOptions {
  status?: DeploymentStatus;
  /** Free-text search in names. */
  search?: string;
}

/** Filters of {@link DeploymentsResource.devices}. */
export interface DeploymentDevicesOptions extends ListOptions {
  status?: DeploymentDeviceStatus | 'pause' | 'active' | 'finished';
}

/** Deployments: create for devices, a group or all devices; list, inspect, abort, wait for. */
export class DeploymentsResource {
  readonly #t: Transport;

  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /**
   * Creates a deployment and resolves with its id. Not retried (a retry could create a second
   * deployment) unless you pass an `idempotencyKey`.
   *
   * @example
   * ```ts
   * const id = await mgmt.deployments.create({ name: 'fix', artifactName: 'app-1.2', group: 'canary' })
   * ```
   */
  async create(input: CreateDeploymentInput, opts: RequestOptions = {}): Promise<string> {
    const targets = [input.devices !== undefined, input.group !== undefined, input.all === true].filter(
      Boolean,
    );
    if (targets.length !== 1) {
      throw new TypeError('create a deployment for exactly one of: devices, group, all');
    }
    const common = {
      name: input.name,
      artifact_name: input.artifactName,
      ...(input.forceInstallation === undefined ? {} : { force_installation: input.forceInstallation }),
    };
    const res =
      input.group !== undefined
        ? await this.#t.request<unknown>({
            ...opts,
            method: 'POST',
            path: `${BASE}/group/${seg(input.group)}`,
            json: common,
            responseType: 'void',
          })
        : await this.#t.request<unknown>({
            ...opts,
            method: 'POST',
            path: BASE,
            json:
              input.all === true ? { ...common, all_devices: true } : { ...common, devices: input.devices },
            responseType: 'void',
          });
    const id = idFromLocation(res);
    if (id === undefined) throw new TypeError('the server did not say the id of the new deployment');
    return id;
  }

  /** Lists deployments, newest first. */
  list(opts: DeploymentListOptions = {}): PagePromise<Deployment> {
    const { status, search, ...rest } = opts;
    return this.#t.list<Deployment>(BASE, { status, search }, rest);
  }

  /** Gets one deployment. */
  async get(deploymentId: string, opts: RequestOptions = {}): Promise<Deployment> {
    const res = await this.#t.request<Deployment>({
      ...opts,
      method: 'GET',
      path: `${BASE}/${seg(deploymentId)}`,
    });
    return res.data;
  }

  /** How many of the deployment's devices are in each state. */
  async statistics(deploymentId: string, opts: RequestOptions = {}): Promise<DeploymentStatistics> {
    const res = await this.#t.request<DeploymentStatistics | { status: DeploymentStatistics }>({
      ...opts,
      method: 'GET',
      path: `${BASE}/${seg(deploymentId)}/statistics`,
    });
    const data = res.data;
    // The v1 endpoint answers the counts flat; accept the v2 shape ({ status: {...} }) too.
    return (
      typeof (data as { status?: unknown }).status === 'object'
        ? (data as { status: DeploymentStatistics }).status
        : data
    ) as DeploymentStatistics;
  }

  /** The deployment's devices with their state, page by page. */
  devices(deploymentId: string, opts: DeploymentDevicesOptions = {}): PagePromise<DeploymentDevice> {
    const { status, ...rest } = opts;
    return this.#t.list<DeploymentDevice>(`${BASE}/${seg(deploymentId)}/devices/list`, { status }, rest);
  }

  /** The deployment log a device uploaded (text). Throws `NotFoundError` when there is none. */
  async deviceLog(deploymentId: string, deviceId: string, opts: RequestOptions = {}): Promise<string> {
    const res = await this.#t.request<string>({
      ...opts,
      method: 'GET',
      path: `${BASE}/${seg(deploymentId)}/devices/${seg(deviceId)}/log`,
      responseType: 'text',
    });
    return res.data;
  }

  /** Aborts a deployment: devices that have not finished it get `aborted`. */
  async abort(deploymentId: string, opts: RequestOptions = {}): Promise<void> {
    await this.#t.request<void>({
      ...opts,
      method: 'PUT',
      path: `${BASE}/${seg(deploymentId)}/status`,
      json: { status: 'aborted' },
      responseType: 'void',
    });
  }

  /**
   * Polls a deployment with backoff until it is finished (or `until` says so), emitting
   * `statistics` events as the counts change. Abort with `signal`.
   *
   * @example
   * ```ts
   * const wait = mgmt.deployments.waitFor(id, { signal: AbortSignal.timeout(3_600_000) })
   * wait.on('statistics', ({ statistics }) => console.log(statistics.success, statistics.failure))
   * const { deployment, statistics } = await wait
   * ```
   */
  waitFor(deploymentId: string, opts: WaitForOptions = {}): DeploymentWait {
    return new DeploymentWait(this, deploymentId, opts);
  }
}
