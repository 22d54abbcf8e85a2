import {
  HttpClient,
  type HttpClientOptions,
  type HttpEvents,
  mapConcurrent,
  type TokenSource,
} from '@otakit/core';
import type { EventEmitter } from 'eventemitter3';
import { ArtifactsResource, ReleasesResource } from './resources/artifacts.js';
import { DeploymentsResource } from './resources/deployments.js';
import { DeviceConfigResource } from './resources/deviceconfig.js';
import { DevicesResource } from './resources/devices.js';
import { InventoryResource } from './resources/inventory.js';
import type { RolloutOptions } from './rollout/options.js';
import { Rollout } from './rollout/rollout.js';
import { type ManagementAuth, managementTokenSource } from './session.js';
import { Transport } from './transport.js';

/** Options of a {@link ManagementClient}: the server, how to authenticate, and transport options. */
export interface ManagementClientOptions extends Omit<HttpClientOptions, 'baseUrl' | 'auth'> {
  /** The Mender server, e.g. `https://hosted.mender.io` or `http://127.0.0.1:8080`. */
  serverUrl: string | URL;
  /** A token (user JWT or personal access token), `{ personalAccessToken }`, or `{ email, password }`. */
  auth?: ManagementAuth;
}

/**
 * A client of the Mender management APIs, grouped by resource: `devices`, `inventory`,
 * `artifacts`, `releases`, `deployments`, `deviceconfig`, plus health-gated `rollout`s.
 * Every method takes a last `RequestOptions` (`{ signal, timeout, maxRetries, headers }`).
 *
 * @example
 * ```ts
 * const mgmt = new ManagementClient({ serverUrl: 'https://mender.example.com', auth: { email, password } })
 * for await (const device of mgmt.devices.list({ status: 'pending' })) await mgmt.devices.accept(device.id!)
 * await mgmt.close()
 * ```
 */
export class ManagementClient {
  /** Device admission (deviceauth v2). */
  readonly devices: DevicesResource;
  /** Device inventory and static groups. */
  readonly inventory: InventoryResource;
  /** Artifacts. */
  readonly artifacts: ArtifactsResource;
  /** Releases. */
  readonly releases: ReleasesResource;
  /** Deployments. */
  readonly deployments: DeploymentsResource;
  /** Device configuration. */
  readonly deviceconfig: DeviceConfigResource;
  /** The underlying HTTP client (for calls this client does not wrap). */
  readonly http: HttpClient;
  readonly #auth: TokenSource;

  constructor(options: ManagementClientOptions) {
    const { serverUrl, auth, ...transport } = options;
    this.#auth = managementTokenSource(auth, () => this.http);
    this.http = new HttpClient({ ...transport, baseUrl: serverUrl, auth: this.#auth });
    const t = new Transport(this.http);
    this.devices = new DevicesResource(t);
    this.inventory = new InventoryResource(t);
    this.artifacts = new ArtifactsResource(t);
    this.releases = new ReleasesResource(t);
    this.deployments = new DeploymentsResource(t);
    this.deviceconfig = new DeviceConfigResource(t);
  }

  /** Typed transport events: `request`, `response`, `retry` (URLs redacted, never tokens). */
  get events(): EventEmitter<HttpEvents> {
    return this.http.events;
  }

  /**
   * The bearer token in use, logging in first when the client was given `{ email, password }`.
   * Handle it like a password.
   */
  async token(): Promise<string | undefined> {
    return this.#auth.token();
  }

  /**
   * Starts a health-gated rollout: one deployment per phase on the device list, aborting the
   * current phase and stopping when the failure rate crosses the threshold or devices go silent.
   *
   * @example
   * ```ts
   * const rollout = mgmt.rollout({
   *   artifactName: 'app-1.2', group: 'fleet',
   *   phases: [{ percent: 5, soak: 600_000 }, { percent: 25, soak: 600_000 }, {}],
   *   abortWhen: { failureRate: 0.1, minFinished: 5 }, silentAfter: 3_600_000,
   *   stateFile: './rollout-app-1.2.json',
   * })
   * rollout.on('phase:start', (e) => console.log('phase', e.phase, e.deploymentId))
   * const result = await rollout // { status: 'succeeded' | 'aborted', reason?, state }
   * ```
   */
  rollout(options: RolloutOptions): Rollout {
    return new Rollout(
      {
        createDeployment: (input, opts) => this.deployments.create(input, opts),
        getDeployment: (id, opts) => this.deployments.get(id, opts),
        statistics: (id, opts) => this.deployments.statistics(id, opts),
        abortDeployment: (id, opts) => this.deployments.abort(id, opts),
        groupDevices: (group, opts) => this.inventory.groups.devices(group, opts),
        deviceStatuses: async (id, opts) => {
          const out: Array<{ id: string; status?: string }> = [];
          for await (const d of this.deployments.devices(id, { ...opts, perPage: 500 })) {
            if (d.id !== undefined) out.push({ id: d.id, ...(d.status ? { status: d.status } : {}) });
          }
          return out;
        },
        installedArtifacts: async (devices, opts) => {
          const releases: Record<string, string> = Object.create(null);
          const results = await mapConcurrent(devices, (id) => this.inventory.get(id, opts), {
            concurrency: 8,
          });
          for (const r of results) {
            if (!r.ok) throw r.error;
            const name = r.value.attributes?.find(
              (a) => a.name === 'artifact_name' && a.scope === 'inventory',
            );
            if (typeof name?.value === 'string') releases[r.item] = name.value;
          }
          return releases;
        },
      },
      options,
    );
  }

  /** Closes the connections the client opened (an injected `dispatcher` is left to its owner). */
  async close(): Promise<void> {
    await this.http.close();
  }
}
