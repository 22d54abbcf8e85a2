import { statfs } from 'node:fs/promises';
import { freemem, loadavg, totalmem, uptime } from 'node:os';
import { EventEmitter } from 'eventemitter3';
import type { CommandMessage, IotCoreDevice } from './device.js';
import { IotCoreError } from './errors.js';

/**
 * The keys otakit writes into every telemetry and state message so the data plane knows which
 * release a device runs (and which deployment it is in). The telemetry store reads them; every
 * other numeric top-level field of a telemetry message is a metric.
 */
export const TELEMETRY_KEYS = {
  artifactName: 'artifact_name',
  softwareVersion: 'software_version',
  deploymentId: 'deployment_id',
  deploymentStatus: 'deployment_status',
  timestamp: 'ts',
} as const;

/** What {@link DeviceTelemetry} needs of the OTA agent; a `DeviceClient` has all of it. */
export interface TelemetryAgent {
  /** The installed artifact: its name and its `artifact_provides`. */
  installed(): Promise<{ artifactName: string; provides: Record<string, string> }>;
  /** The agent's typed events (`deployment:status`, `update:done`). */
  readonly events: {
    // Method syntax (bivariant parameters) so a typed EventEmitter such as DeviceClient's fits.
    on(event: 'deployment:status' | 'update:done', fn: (e: AgentEvent) => void): unknown;
    off(event: 'deployment:status' | 'update:done', fn: (e: AgentEvent) => void): unknown;
  };
  /** Asks the agent to poll for a deployment now (optional: commands are ignored without it). */
  checkNow?(): void;
}

/** What DeviceTelemetry reads of the agent's `deployment:status` and `update:done` events. */
export interface AgentEvent {
  deploymentId?: string | undefined;
  status?: string;
  outcome?: string;
}

/** A metric value: numbers are aggregated by the store; strings and booleans are kept as they are. */
export type MetricValue = number | string | boolean;

/** Options of {@link DeviceTelemetry}. */
export interface DeviceTelemetryOptions {
  /** The data-plane connection, made with the same private key as the Mender agent. */
  device: IotCoreDevice;
  /** A second connection over the HTTP bridge, used when an MQTT publish fails. */
  httpFallback?: IotCoreDevice;
  /** The OTA agent whose release every message carries. */
  agent: TelemetryAgent;
  /** How often a telemetry message is published, ms. Default 60 000. */
  intervalMs?: number;
  /** The user's own metrics, merged over the built-in ones. */
  metrics?: () => Record<string, MetricValue> | Promise<Record<string, MetricValue>>;
  /** Publish the built-in metrics (uptime, load, memory, free space of `dataDir`). Default true. */
  builtinMetrics?: boolean;
  /** The directory whose free space is reported as `disk_free_bytes` (the agent's data dir). */
  dataDir?: string;
  /** The telemetry subfolder. Default none (the registry's default Pub/Sub topic). */
  subfolder?: string;
  /**
   * The provides key whose value is the software version. Default: `rootfs-image.version`, else the
   * first `*.version` key, else the artifact name.
   */
  versionKey?: string;
  /** The clock (tests). */
  now?: () => Date;
}

/** Events of a {@link DeviceTelemetry}. */
export interface DeviceTelemetryEvents {
  /** A telemetry message was published (its JSON object). */
  telemetry: (message: Record<string, unknown>) => void;
  /** A state report was published (its JSON object). */
  state: (state: Record<string, unknown>) => void;
  /** A command arrived; `handled` when it asked for an update check and the agent took it. */
  command: (e: { command: string; handled: boolean }) => void;
  /** A publish failed on every transport; the next tick tries again. Never thrown. */
  error: (err: Error) => void;
}

/** The commands the agent understands, as a plain string or `{"command": "..."}`. */
export const CHECK_UPDATE_COMMAND = 'check-update';

/** IoT Core accepts at most one state update per second per device. */
const STATE_MIN_INTERVAL_MS = 1000;

/**
 * Joins a device's two planes: publishes telemetry and state to a Cloud IoT Core-compatible bridge,
 * each message carrying the release the OTA agent runs (`artifact_name`, `software_version`) and,
 * while an update runs, its deployment id and status; and turns a `check-update` command from the
 * cloud into an immediate deployment check.
 *
 * @example
 * ```ts
 * const key = await readFile('/var/lib/mender/mender-agent.pem', 'utf8')
 * const agent = new DeviceClient({ serverUrl, privateKey: key, ... })
 * const device = new IotCoreDevice({ project, location, registry, deviceId, privateKey: key })
 * const telemetry = new DeviceTelemetry({ device, agent, intervalMs: 30_000, metrics: () => ({ cpu_temp: readTemp() }) })
 * await telemetry.start()
 * await agent.run({ signal })
 * await telemetry.stop()
 * ```
 */
export class DeviceTelemetry extends EventEmitter<DeviceTelemetryEvents> {
  readonly #o: DeviceTelemetryOptions;
  readonly #now: () => Date;
  #timer: NodeJS.Timeout | undefined;
  #stateTimer: NodeJS.Timeout | undefined;
  #lastStateAt = 0;
  #deployment: { id: string; status: string; finished: boolean } | undefined;
  #running = false;
  #unsubscribe: Array<() => void> = [];

  constructor(options: DeviceTelemetryOptions) {
    super();
    if (options.intervalMs !== undefined && !(options.intervalMs >= 100)) {
      throw new IotCoreError('ERR_IOTCORE_OPTIONS', 'intervalMs must be at least 100');
    }
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * The agent's latest deployment as its last status report said: the one running, or the last
   * one finished (`finished: true`, with its final status). Undefined before the first.
   */
  get deployment(): { id: string; status: string; finished: boolean } | undefined {
    return this.#deployment;
  }

  /**
   * Connects (MQTT), listens for commands and the agent's deployment events, publishes the state and
   * a first telemetry message, then one every `intervalMs`.
   */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    const { device, agent } = this.#o;
    const onStatus = (e: AgentEvent) => {
      if (e.deploymentId === undefined || e.status === undefined) return;
      this.#deployment = { id: e.deploymentId, status: e.status, finished: false };
      this.#scheduleState();
    };
    const onDone = () => {
      // The state keeps saying how the last deployment ended; telemetry stops carrying it.
      if (this.#deployment) this.#deployment = { ...this.#deployment, finished: true };
      this.#scheduleState();
      this.#tick(false);
    };
    agent.events.on('deployment:status', onStatus);
    agent.events.on('update:done', onDone);
    this.#unsubscribe.push(
      () => agent.events.off('deployment:status', onStatus),
      () => agent.events.off('update:done', onDone),
    );
    if (device.transport === 'mqtt') {
      this.#unsubscribe.push(device.onCommand((m) => this.#command(m)));
      await device.connect();
    }
    await this.publishState().catch((err) => this.#fail(err));
    await this.publishTelemetry().catch((err) => this.#fail(err));
    this.#schedule();
  }

  /** Stops publishing and detaches from the agent (the device connection stays the caller's). */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    clearTimeout(this.#stateTimer);
    for (const off of this.#unsubscribe.splice(0)) off();
  }

  /**
   * The release fields every message carries: the installed artifact and software version, and the
   * deployment while one runs (for a state report, also the last one finished, with how it ended).
   */
  async release(forState = false): Promise<Record<string, string>> {
    const installed = await this.#o.agent.installed();
    const fields: Record<string, string> = Object.create(null);
    fields[TELEMETRY_KEYS.artifactName] = installed.artifactName;
    fields[TELEMETRY_KEYS.softwareVersion] = softwareVersion(installed, this.#o.versionKey);
    if (this.#deployment && (forState || !this.#deployment.finished)) {
      fields[TELEMETRY_KEYS.deploymentId] = this.#deployment.id;
      fields[TELEMETRY_KEYS.deploymentStatus] = this.#deployment.status;
    }
    return fields;
  }

  /** Publishes one telemetry message now: the release fields, then built-in and user metrics. */
  async publishTelemetry(): Promise<Record<string, unknown>> {
    const message: Record<string, unknown> = Object.create(null);
    if (this.#o.builtinMetrics !== false) Object.assign(message, await builtinMetrics(this.#o.dataDir));
    if (this.#o.metrics) {
      for (const [k, v] of Object.entries(await this.#o.metrics())) {
        if (isReserved(k)) continue; // the release fields are the agent's to say
        Object.defineProperty(message, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
    }
    Object.assign(message, await this.release());
    message[TELEMETRY_KEYS.timestamp] = this.#now().toISOString();
    const options = this.#o.subfolder !== undefined ? { subfolder: this.#o.subfolder } : {};
    await this.#publish((d) => d.publishTelemetry(JSON.stringify(message), options));
    this.emit('telemetry', message);
    return message;
  }

  /** Publishes the state now: the release fields and the latest deployment with its status. */
  async publishState(): Promise<Record<string, unknown>> {
    const state: Record<string, unknown> = { ...(await this.release(true)) };
    state[TELEMETRY_KEYS.timestamp] = this.#now().toISOString();
    this.#lastStateAt = Date.now();
    await this.#publish((d) => d.publishState(JSON.stringify(state)));
    this.emit('state', state);
    return state;
  }

  async #publish(send: (device: IotCoreDevice) => Promise<void>): Promise<void> {
    try {
      await send(this.#o.device);
    } catch (err) {
      if (this.#o.httpFallback === undefined) throw err;
      await send(this.#o.httpFallback);
    }
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer = setTimeout(() => this.#tick(true), this.#o.intervalMs ?? 60_000);
    this.#timer.unref();
  }

  #tick(reschedule: boolean): void {
    if (!this.#running) return;
    if (reschedule) this.#schedule();
    this.publishTelemetry().catch((err) => this.#fail(err));
  }

  /** Coalesces state reports to IoT Core's one per second. */
  #scheduleState(): void {
    if (!this.#running || this.#stateTimer !== undefined) return;
    const wait = Math.max(0, this.#lastStateAt + STATE_MIN_INTERVAL_MS - Date.now());
    this.#stateTimer = setTimeout(() => {
      this.#stateTimer = undefined;
      if (this.#running) this.publishState().catch((err) => this.#fail(err));
    }, wait);
  }

  #command(message: CommandMessage): void {
    const command = parseCommand(message.data);
    const wanted = command === CHECK_UPDATE_COMMAND;
    const handled = wanted && typeof this.#o.agent.checkNow === 'function';
    if (handled) this.#o.agent.checkNow?.();
    this.emit('command', { command, handled });
  }

  #fail(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

function isReserved(key: string): boolean {
  return (Object.values(TELEMETRY_KEYS) as string[]).includes(key);
}

function softwareVersion(
  installed: { artifactName: string; provides: Record<string, string> },
  key?: string,
) {
  const p = installed.provides;
  const own = (k: string) => (Object.hasOwn(p, k) ? p[k] : undefined);
  if (key !== undefined) return own(key) ?? installed.artifactName;
  const versionKey = Object.keys(p).find((k) => k.endsWith('.version'));
  return (
    own('rootfs-image.version') ??
    (versionKey !== undefined ? own(versionKey) : undefined) ??
    installed.artifactName
  );
}

/** A command payload: `check-update`, or `{"command": "check-update"}`. */
function parseCommand(data: Buffer): string {
  const text = data.toString('utf8').trim();
  if (text.startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as { command?: unknown };
      if (typeof parsed.command === 'string') return parsed.command;
    } catch {
      // not JSON: the text itself is the command
    }
  }
  return text;
}

/** uptime, load, memory and (with a directory) free disk space. */
async function builtinMetrics(dataDir: string | undefined): Promise<Record<string, number>> {
  const total = totalmem();
  const free = freemem();
  const metrics: Record<string, number> = {
    uptime_s: Math.round(uptime()),
    load1: loadavg()[0] ?? 0,
    mem_free_bytes: free,
    mem_used_pct: Math.round(((total - free) / total) * 10_000) / 100,
  };
  if (dataDir !== undefined) {
    try {
      const s = await statfs(dataDir);
      metrics.disk_free_bytes = s.bavail * s.bsize;
    } catch {
      // the directory is gone or unreadable: report the rest
    }
  }
  return metrics;
}
