import { randomUUID } from 'node:crypto';
import { rename } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { HttpClient, Logger, RequestOptions } from '@otakit/core';
import { EventEmitter } from 'eventemitter3';
import type {
  DeploymentInstructions,
  DeploymentLogEntry,
  DeviceApi,
  InventoryValue,
} from './api/device-api.js';
import { DaemonLoop } from './daemon-loop.js';
import { DeviceError, DeviceErrorCodes } from './errors.js';
import { type DeviceClientEvents, safeEmit } from './events.js';
import type { DeviceClientOptions, RunOptions } from './options.js';
import { StateScriptRunner } from './scripts/state-scripts.js';
import { defaultHealthChecks, deploymentChannel, linkServer } from './server-link.js';
import { type InstalledArtifact, ProvidesStore } from './state/provides-store.js';
import { StateStore } from './state/state-store.js';
import { UpdateMachine, type UpdateResult } from './update/machine.js';
import { ProceedGate } from './update/proceed-gate.js';
import type { DeploymentStatus, UpdateRecord, UpdateSource } from './update/states.js';

/** The version of @otakit/device-client (sent in the inventory as `otakit_client_version`). */
export const DEVICE_CLIENT_VERSION = '0.1.0';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * The device side of Mender OTA updates: authenticates, sends inventory, polls for deployments,
 * downloads (resuming), verifies, installs through an {@link Installer}, reboots, runs health
 * checks, commits or rolls back, and reports to the server, with every step persisted so a power
 * cut never leaves the device between images.
 *
 * @example
 * ```ts
 * const client = new DeviceClient({
 *   serverUrl: 'https://mender.example.com', privateKey: readFileSync('key.pem', 'utf8'),
 *   identity: { mac: '02:00:00:00:00:01' }, deviceType: 'rpi4', dataDir: '/var/lib/otakit',
 *   installers: [new SimulatedInstaller({ dir: '/var/lib/otakit/device' })],
 * });
 * client.events.on('state:enter', (e) => console.log(e.state));
 * await client.run({ signal: AbortSignal.timeout(3_600_000) });
 * ```
 */
export class DeviceClient {
  /** Typed events ({@link DeviceClientEvents}). */
  readonly events: EventEmitter<DeviceClientEvents> = new EventEmitter<DeviceClientEvents>();
  /** The provides store (installed artifact name, group, provides; `device_type` file). */
  readonly provides: ProvidesStore;
  /** The persisted state of the update in progress. */
  readonly states: StateStore;
  readonly #o: DeviceClientOptions;
  readonly #http: HttpClient;
  readonly #ownsHttp: boolean;
  readonly #api: DeviceApi | undefined;
  readonly #machine: UpdateMachine;
  readonly #logger: Logger;
  readonly #gate = new ProceedGate();
  readonly #daemon: DaemonLoop;
  #busy = false;

  constructor(options: DeviceClientOptions) {
    this.#o = { ...options, dataDir: resolve(options.dataDir) };
    this.#logger = options.logger ?? silent;
    const dataDir = this.#o.dataDir;
    this.provides = new ProvidesStore(dataDir);
    this.states = new StateStore(dataDir);
    const link = linkServer(options, this.#logger, () => safeEmit(this.#ctx(), 'auth:accepted', {}));
    this.#http = link.http;
    this.#ownsHttp = link.ownsHttp;
    this.#api = link.api;
    const api = link.api;
    const healthChecks = options.healthChecks ?? defaultHealthChecks(api);
    this.#machine = new UpdateMachine({
      dataDir,
      deviceType: options.deviceType,
      installers: options.installers,
      http: this.#http,
      channel: api ? deploymentChannel(api, (o) => this.checkForUpdate(o)) : undefined,
      gate: this.#gate,
      states: this.states,
      provides: this.provides,
      policy: options.policy ?? {},
      pause: options.pause ?? {},
      download: options.download ?? {},
      statusReports: options.statusReports ?? {},
      healthChecks,
      maxStateStores: options.maxStateStores ?? 28,
      events: this.events,
      logger: this.#logger,
      scripts: options.stateScripts === false ? undefined : new StateScriptRunner(options.stateScripts ?? {}),
    });
    this.#daemon = new DaemonLoop(
      {
        resume: (o) => this.resume(o),
        hasToken: () => this.#api?.token !== undefined,
        authenticate: (o) => this.authenticate(o),
        sendInventory: (o) => this.sendInventory({}, o),
        checkForUpdate: (o) => this.checkForUpdate(o),
        installDeployment: (deployment, o) => this.installDeployment(deployment, o),
      },
      options.poll ?? {},
      this.#ctx(),
    );
  }

  #ctx() {
    return { events: this.events, logger: this.#logger };
  }

  #requireApi(): DeviceApi {
    if (!this.#api) throw new TypeError('DeviceClient: this call needs serverUrl, privateKey and identity');
    return this.#api;
  }

  /** The public key PEM (SPKI) to preauthorize the device with. */
  get publicKeyPem(): string {
    return this.#requireApi().publicKeyPem;
  }

  /**
   * Sends a signed auth request and keeps the token (renewed before `exp`; on a 401 any call
   * re-authenticates once and is sent once more). Of `options`, `signal` and `timeout` apply.
   * Throws `DeviceError` `ERR_DEVICE_PENDING` while the device is not accepted.
   */
  authenticate(options?: RequestOptions): Promise<string> {
    return this.#requireApi().authenticate(options);
  }

  /**
   * Sends the inventory: the given attributes plus `device_type`, `artifact_name`, the provides and
   * the client version (skipped when unchanged since the last success).
   */
  async sendInventory(
    attributes: Record<string, InventoryValue> = {},
    options?: RequestOptions,
  ): Promise<boolean> {
    const installed = await this.provides.read();
    const extra = this.#o.inventory ? await this.#o.inventory() : {};
    const sent = await this.#requireApi().sendInventory(
      {
        ...installed.provides,
        device_type: this.#o.deviceType,
        artifact_name: installed.artifactName,
        otakit_client_version: DEVICE_CLIENT_VERSION,
        ...extra,
        ...attributes,
      },
      options,
    );
    if (sent) safeEmit(this.#ctx(), 'inventory:sent', { attributes: Object.keys(attributes).length });
    return sent;
  }

  /** Asks the server for a deployment (v2 `next` with `device_provides`, v1 on 404). */
  async checkForUpdate(options?: RequestOptions): Promise<DeploymentInstructions | undefined> {
    const next = await this.#requireApi().checkForUpdate(
      await this.provides.deviceProvides(this.#o.deviceType),
      options,
    );
    safeEmit(this.#ctx(), 'update:check', {
      deploymentId: next?.id,
      artifactName: next?.artifact.artifact_name,
    });
    return next;
  }

  /** Reports a deployment status; a 409 throws `DeviceError` `ERR_DEVICE_DEPLOYMENT_ABORTED`. */
  reportStatus(
    deploymentId: string,
    status: DeploymentStatus,
    substate?: string,
    options?: RequestOptions,
  ): Promise<void> {
    return this.#requireApi().reportStatus(deploymentId, status, substate, options);
  }

  /** Uploads a deployment log (bounded to 1 MB, newest entries kept). */
  uploadLog(deploymentId: string, entries: DeploymentLogEntry[], options?: RequestOptions): Promise<void> {
    return this.#requireApi().uploadLog(deploymentId, entries, options);
  }

  /** The installed artifact (name, group, provides). */
  installed(): Promise<InstalledArtifact> {
    return this.provides.read();
  }

  /** Releases download-only holds and re-checks paused updates now. */
  proceed(): void {
    this.#gate.proceed();
  }

  /**
   * Asks the daemon ({@link DeviceClient.run}) to check for a deployment now instead of at its next
   * poll, e.g. when a command from the cloud says a deployment is waiting. An update already
   * running is not disturbed; the check happens when the daemon next waits.
   */
  checkNow(): void {
    this.#daemon.checkNow();
  }

  /** Installs a deployment from `checkForUpdate()` through the state machine. */
  installDeployment(deployment: DeploymentInstructions, options: RunOptions = {}): Promise<UpdateResult> {
    return this.#start(
      deployment.id,
      {
        kind: 'deployment',
        deploymentId: deployment.id,
        url: deployment.artifact.source.uri,
        expire: deployment.artifact.source.expire,
      },
      options.signal,
    );
  }

  /** Installs an artifact file through the same state machine, without a server. */
  installFromFile(path: string, options: RunOptions = {}): Promise<UpdateResult> {
    return this.#start(`standalone-${randomUUID()}`, { kind: 'file', path: resolve(path) }, options.signal);
  }

  /** Downloads (resuming) and installs an artifact from a URL, without a server. */
  installFromUrl(url: string, options: RunOptions = {}): Promise<UpdateResult> {
    return this.#start(`standalone-${randomUUID()}`, { kind: 'url', url }, options.signal);
  }

  /**
   * Continues the update that was in progress when the process stopped (crash, power cut, reboot),
   * if any. Resolves undefined when there was none.
   */
  async resume(options: RunOptions = {}): Promise<UpdateResult | undefined> {
    await this.provides.writeDeviceType(this.#o.deviceType);
    let record: UpdateRecord | undefined;
    try {
      record = await this.states.load();
    } catch (err) {
      if (!(err instanceof DeviceError && err.code === DeviceErrorCodes.CORRUPT_STATE)) throw err;
      // An unreadable record cannot be continued: keep it for inspection and go on without it
      // (an image left on trial is reverted by the bootloader's boot counting).
      const aside = `${this.states.path}.corrupt-${Date.now()}`;
      await rename(this.states.path, aside);
      safeEmit(this.#ctx(), 'agent:error', { during: 'resume', error: err });
      this.#logger.error('otakit device: unreadable update state moved aside', { path: aside });
      return undefined;
    }
    if (!record) return undefined;
    return this.#exclusive(record, true, options.signal);
  }

  async #start(id: string, source: UpdateSource, signal?: AbortSignal): Promise<UpdateResult> {
    await this.provides.writeDeviceType(this.#o.deviceType);
    const existing = await this.states.load();
    if (existing) {
      throw new DeviceError(
        DeviceErrorCodes.UPDATE_IN_PROGRESS,
        `update ${existing.id} is in progress; call resume() first`,
      );
    }
    const record: UpdateRecord = {
      version: 1,
      id,
      source,
      state: 'Download',
      storeCount: 0,
      startedAt: new Date().toISOString(),
    };
    return this.#exclusive(record, false, signal);
  }

  async #exclusive(record: UpdateRecord, resumed: boolean, signal?: AbortSignal): Promise<UpdateResult> {
    if (this.#busy) throw new DeviceError(DeviceErrorCodes.UPDATE_IN_PROGRESS, 'another update is running');
    this.#busy = true;
    this.#gate.begin(record.id);
    try {
      safeEmit(this.#ctx(), 'update:start', { updateId: record.id, source: record.source.kind, resumed });
      return await this.#machine.run(record, signal);
    } finally {
      this.#busy = false;
      this.#gate.end(record.id);
    }
  }

  /**
   * The daemon loop: resumes an interrupted update, then authenticates (waiting while the device
   * is pending), sends inventory every `poll.inventoryIntervalMs`, polls for deployments every
   * `poll.updateIntervalMs` and installs them; errors back off from 60 s with full jitter up to the cap
   * (`Retry-After` honoured). Resolves when `signal` aborts; an update stopped that way resumes at
   * the next start.
   */
  async run(options: RunOptions = {}): Promise<void> {
    this.#requireApi();
    await this.#daemon.run(options);
  }

  /** Closes the HTTP client the device client built. */
  async close(): Promise<void> {
    if (this.#ownsHttp) await this.#http.close();
  }
}
