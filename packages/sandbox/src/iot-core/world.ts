import { EventEmitter } from 'node:events';
import type { DeviceRecord, RegistryRecord, StoredCredential } from './store.js';

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
  #nextNum = 2_800_000_000_000_000n;

  constructor(adminToken: string | undefined, now: () => Date) {
    this.adminToken = adminToken;
    this.now = now;
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
    return d;
  }

  deleteDevice(reg: RegistryRecord, d: DeviceRecord): void {
    reg.devices.delete(d.id);
    this.hooks?.deviceChanged(reg, d);
  }

  deviceChanged(reg: RegistryRecord, d: DeviceRecord): void {
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
    this.hooks?.configChanged(reg, d);
    return d.config;
  }

  sendCommand(reg: RegistryRecord, d: DeviceRecord, data: Buffer, subfolder: string | undefined): boolean {
    return this.hooks?.command(reg, d, data, subfolder) ?? false;
  }

  recordTelemetry(
    reg: RegistryRecord,
    d: DeviceRecord,
    data: Buffer,
    subFolder: string | undefined,
    transport: 'http' | 'mqtt',
  ): void {
    const receivedAt = this.now();
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
    this.telemetry.push(event);
    this.events.emit('telemetry', event);
  }

  recordState(reg: RegistryRecord, d: DeviceRecord, data: Buffer, transport: 'http' | 'mqtt'): void {
    const receivedAt = this.now();
    const state = { updateTime: receivedAt.toISOString(), binaryData: data.toString('base64') };
    d.state = state;
    d.lastStateTime = state.updateTime;
    d.states.unshift(state);
    d.states.length = Math.min(d.states.length, 10);
    const report: IotCoreStateReport = {
      registry: registryPath(reg),
      deviceId: d.id,
      deviceNumId: d.numId,
      data,
      transport,
      receivedAt,
    };
    this.states.push(report);
    this.events.emit('state', report);
  }
}

/** `projects/{p}/locations/{l}/registries/{r}`. @internal */
export function registryPath(reg: RegistryRecord): string {
  return `projects/${reg.project}/locations/${reg.location}/registries/${reg.id}`;
}
