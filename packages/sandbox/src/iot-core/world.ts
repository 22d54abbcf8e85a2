import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { RpcError } from './status.js';
import type { DeviceRecord, RegistryRecord, StoredCredential } from './store.js';
import type { SinkGate, TelemetryRecord } from './telemetry-sink.js';

/** One telemetry event the sandbox accepted. */
export interface IotCoreTelemetry {
  /** `projects/{p}/locations/{l}/registries/{r}`. */
  registry: string;
  /** The device's string id. */
  deviceId: string;
  /** The device's numeric id. */
  deviceNumId: string;
  /** The subfolder (`/devices/{id}/events/{subFolder}` or `subFolder` over HTTP), if any. */
  subFolder: string | undefined;
  /** The payload bytes. */
  data: Buffer;
  /** The bridge it came through. */
  transport: 'http' | 'mqtt';
  /** When the sandbox accepted it. */
  receivedAt: Date;
}

/** One state report the sandbox accepted. */
export interface IotCoreStateReport {
  /** `projects/{p}/locations/{l}/registries/{r}`. */
  registry: string;
  /** The device's string id. */
  deviceId: string;
  /** The device's numeric id. */
  deviceNumId: string;
  /** The state bytes. */
  data: Buffer;
  /** The bridge it came through. */
  transport: 'http' | 'mqtt';
  /** When the sandbox accepted it. */
  receivedAt: Date;
}

/** Events of an IoT Core sandbox (`sandbox.events.on('telemetry', ...)`). */
export interface IotCoreSandboxEvents {
  /** A telemetry event was accepted. */
  telemetry: [IotCoreTelemetry];
  /** A state report was accepted. */
  state: [IotCoreStateReport];
  /** An MQTT connection was accepted (`clientId` is the device path). */
  'mqtt:connect': [{ clientId: string; deviceId: string }];
  /** An MQTT connection was refused with a CONNACK return code. */
  'mqtt:refused': [{ clientId: string; returnCode: number; reason: string }];
  /** An MQTT connection ended. */
  'mqtt:disconnect': [{ clientId: string; deviceId: string; reason: string }];
}

/** What the MQTT bridge does when the admin API changes a device. @internal */
export interface BridgeHooks {
  configChanged(reg: RegistryRecord, d: DeviceRecord): void;
  command(reg: RegistryRecord, d: DeviceRecord, data: Buffer, subfolder: string | undefined): boolean;
  deviceChanged(reg: RegistryRecord, d: DeviceRecord): void;
}

/** The sandbox's in-memory state: registries, devices, recorded telemetry and state. @internal */
export class IotCoreWorld {
  readonly registries = new Map<string, RegistryRecord>();
  readonly telemetry: IotCoreTelemetry[] = [];
  readonly states: IotCoreStateReport[] = [];
  readonly events = new EventEmitter<IotCoreSandboxEvents>();
  readonly adminToken: string | undefined;
  readonly now: () => Date;
  hooks: BridgeHooks | undefined;
  /** How many accepted events (and state reports) `telemetry` (and `states`) keep, newest last. */
  recentMessages = DEFAULT_RECENT_MESSAGES;
  /** Where accepted telemetry and state go before they are acknowledged. */
  sink: SinkGate | undefined;
  /** Called after every change of registries or devices (persistence). */
  onChange: (() => void) | undefined;
  #nextNum = 2_800_000_000_000_000n;

  constructor(adminToken: string | undefined, now: () => Date) {
    this.adminToken = adminToken;
    this.now = now;
  }

  /** The last numeric id handed out (persisted so ids never repeat across restarts). */
  get lastNumId(): bigint {
    return this.#nextNum;
  }

  set lastNumId(value: bigint) {
    if (value > this.#nextNum) this.#nextNum = value;
  }

  /** Records that registries or devices changed. */
  changed(): void {
    this.onChange?.();
  }

  addRegistry(project: string, location: string, id: string): RegistryRecord {
    const key = `${project}/${location}/${id}`;
    let reg = this.registries.get(key);
    if (!reg) {
      reg = { project, location, id, devices: new Map() };
      this.registries.set(key, reg);
    }
    return reg;
  }

  registry(project: string, location: string, id: string): RegistryRecord | undefined {
    return this.registries.get(`${project}/${location}/${id}`);
  }

  createDevice(
    reg: RegistryRecord,
    input: {
      id: string;
      credentials: StoredCredential[];
      blocked: boolean;
      metadata: Record<string, string>;
      logLevel: string | undefined;
      gatewayConfig?: DeviceRecord['gatewayConfig'];
      configData: string;
    },
  ): DeviceRecord {
    this.#nextNum += 1n + BigInt(Math.floor(Math.random() * 1000));
    const now = this.now().toISOString();
    const config = { version: 1, cloudUpdateTime: now, binaryData: input.configData };
    const d: DeviceRecord = {
      id: input.id,
      numId: this.#nextNum.toString(),
      credentials: input.credentials,
      blocked: input.blocked,
      metadata: input.metadata,
      ...(input.logLevel ? { logLevel: input.logLevel } : {}),
      gatewayConfig: input.gatewayConfig ?? { gatewayType: 'NON_GATEWAY' },
      config,
      configVersions: [config],
      states: [],
    };
    reg.devices.set(d.id, d);
    this.changed();
    return d;
  }

  deleteDevice(reg: RegistryRecord, d: DeviceRecord): void {
    reg.devices.delete(d.id);
    this.changed();
    this.hooks?.deviceChanged(reg, d);
  }

  deviceChanged(reg: RegistryRecord, d: DeviceRecord): void {
    this.changed();
    this.hooks?.deviceChanged(reg, d);
  }

  modifyConfig(reg: RegistryRecord, d: DeviceRecord, data: Buffer): DeviceRecord['config'] {
    d.config = {
      version: d.config.version + 1,
      cloudUpdateTime: this.now().toISOString(),
      binaryData: data.toString('base64'),
    };
    d.configVersions.unshift(d.config);
    d.configVersions.length = Math.min(d.configVersions.length, 10);
    this.changed();
    this.hooks?.configChanged(reg, d);
    return d.config;
  }

  sendCommand(reg: RegistryRecord, d: DeviceRecord, data: Buffer, subfolder: string | undefined): boolean {
    return this.hooks?.command(reg, d, data, subfolder) ?? false;
  }

  /**
   * Accepts a telemetry event: hands it to the sink (waiting for a slot when too many writes are in
   * flight) and records it once the sink stored it.
   * @throws RpcError `UNAVAILABLE` when the sink refused it (nothing is recorded).
   */
  async recordTelemetry(
    reg: RegistryRecord,
    d: DeviceRecord,
    data: Buffer,
    subFolder: string | undefined,
    transport: 'http' | 'mqtt',
    messageId: string = randomUUID(),
  ): Promise<void> {
    const receivedAt = this.now();
    await this.#store(reg, d, 'event', data, subFolder, receivedAt, messageId);
    d.lastEventTime = receivedAt.toISOString();
    const event: IotCoreTelemetry = {
      registry: registryPath(reg),
      deviceId: d.id,
      deviceNumId: d.numId,
      subFolder,
      data,
      transport,
      receivedAt,
    };
    keepRecent(this.telemetry, event, this.recentMessages);
    this.events.emit('telemetry', event);
  }

  /**
   * Accepts a state report: hands it to the sink, then keeps it as the device's state (last 10).
   * @throws RpcError `UNAVAILABLE` when the sink refused it (the device's state is unchanged).
   */
  async recordState(
    reg: RegistryRecord,
    d: DeviceRecord,
    data: Buffer,
    transport: 'http' | 'mqtt',
    messageId: string = randomUUID(),
  ): Promise<void> {
    const receivedAt = this.now();
    await this.#store(reg, d, 'state', data, undefined, receivedAt, messageId);
    const state = { updateTime: receivedAt.toISOString(), binaryData: data.toString('base64') };
    d.state = state;
    d.lastStateTime = state.updateTime;
    d.states.unshift(state);
    d.states.length = Math.min(d.states.length, 10);
    this.changed();
    const report: IotCoreStateReport = {
      registry: registryPath(reg),
      deviceId: d.id,
      deviceNumId: d.numId,
      data,
      transport,
      receivedAt,
    };
    keepRecent(this.states, report, this.recentMessages);
    this.events.emit('state', report);
  }

  async #store(
    reg: RegistryRecord,
    d: DeviceRecord,
    kind: 'event' | 'state',
    payload: Buffer,
    subfolder: string | undefined,
    receivedAt: Date,
    messageId: string,
  ): Promise<void> {
    if (!this.sink) return;
    const record: TelemetryRecord = {
      projectId: reg.project,
      location: reg.location,
      registryId: reg.id,
      deviceId: d.id,
      deviceNumId: d.numId,
      kind,
      ...(subfolder !== undefined ? { subfolder } : {}),
      receivedAt,
      payload,
      messageId,
    };
    try {
      await this.sink.write(record);
    } catch (err) {
      throw new RpcError('UNAVAILABLE', 'The telemetry store did not accept the message; retry later.', {
        cause: err,
      });
    }
  }
}

/** The default of `IotCoreSandboxOptions.recentMessages`. */
export const DEFAULT_RECENT_MESSAGES = 10_000;

/**
 * Appends `item`, keeping at least the last `limit` items: the oldest are dropped in batches of a
 * quarter of the limit, so a long run neither grows without bound nor moves the array per message.
 */
function keepRecent<T>(list: T[], item: T, limit: number): void {
  list.push(item);
  if (list.length > limit + Math.max(1, limit >> 2)) list.splice(0, list.length - limit);
}

/** `projects/{p}/locations/{l}/registries/{r}`. @internal */
export function registryPath(reg: RegistryRecord): string {
  return `projects/${reg.project}/locations/${reg.location}/registries/${reg.id}`;
}
