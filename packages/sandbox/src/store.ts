import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  type DeviceDeploymentRecord,
  type DeviceRecord,
  type DeviceTokenRecord,
  emptyState,
  type SandboxState,
} from './state.js';
import { loadState, writeFileAtomic } from './state-file.js';

/** `deviceDeployments` key of a device deployment. */
const ddKey = (deploymentId: string, deviceId: string): string => `${deploymentId}:${deviceId}`;

/** Adds `value` to the set under `key`, creating the set. */
function addTo(index: Map<string, Set<string>>, key: string, value: string): void {
  const set = index.get(key);
  if (set) set.add(value);
  else index.set(key, new Set([value]));
}

/** Removes `value` from the set under `key`, dropping the set once empty. */
function removeFrom(index: Map<string, Set<string>>, key: string, value: string): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) index.delete(key);
}

/** Whether a device has an accepted auth set (its status is then `accepted`). */
const hasAcceptedAuthSet = (device: DeviceRecord): boolean =>
  device.auth_sets.some((a) => a.status === 'accepted');

/**
 * Holds the sandbox state and, with a data directory, saves it to `state.json` atomically whenever
 * a request changed it (see {@link Store.markChanged} and {@link Store.flush}).
 *
 * Devices, device tokens and device deployments are added and removed only through the store's
 * methods, which keep in-memory indexes (identity → device, device → tokens, device and deployment
 * → device deployments, accepted devices) so per-request lookups do not scan the fleet. The indexes
 * are derived: never saved, rebuilt from the state when it is loaded. Each answers exactly what the
 * scan it replaces would, in the same order.
 */
export class Store {
  readonly state: SandboxState;
  readonly dataDir: string | undefined;
  private dirty = false;

  /** Normalised identity → the first device (in `state.devices` order) with that identity. */
  private readonly byIdentity = new Map<string, DeviceRecord>();
  /**
   * Identities held by more than one device. Only a hand-edited state file can have them (the API
   * never creates a second device for a known identity); removing the indexed one rescans.
   */
  private readonly sharedIdentities = new Set<string>();
  /** Device id → `deviceTokens` keys of its tokens. */
  private readonly tokensByDevice = new Map<string, Set<string>>();
  /** Device id → `deviceDeployments` keys of its device deployments, in state order. */
  private readonly ddsByDevice = new Map<string, Set<string>>();
  /** Deployment id → `deviceDeployments` keys of its device deployments, in state order. */
  private readonly ddsByDeployment = new Map<string, Set<string>>();
  /** Devices with an accepted auth set. */
  private readonly acceptedDevices = new Set<DeviceRecord>();
  /** The device records currently in `state.devices` (a removed record is never counted again). */
  private readonly storedDevices = new WeakSet<DeviceRecord>();

  constructor(dataDir?: string) {
    this.dataDir = dataDir;
    if (dataDir) {
      mkdirSync(dataDir, { recursive: true });
      this.state = loadState(join(dataDir, 'state.json'));
    } else {
      this.state = emptyState();
    }
    this.rebuildIndexes();
  }

  /** Records that the state changed; saved on the next {@link Store.flush}. */
  markChanged(): void {
    this.dirty = true;
  }

  /** Saves the state if it changed and a data directory is set. */
  flush(): void {
    if (!this.dirty) return;
    this.dirty = false;
    if (!this.dataDir) return;
    writeFileAtomic(join(this.dataDir, 'state.json'), JSON.stringify(this.state));
  }

  /** Derives every index from the state (at load). */
  private rebuildIndexes(): void {
    for (const device of Object.values(this.state.devices)) this.indexDevice(device);
    for (const [jti, t] of Object.entries(this.state.deviceTokens))
      addTo(this.tokensByDevice, t.device_id, jti);
    for (const [key, dd] of Object.entries(this.state.deviceDeployments)) {
      addTo(this.ddsByDevice, dd.device_id, key);
      addTo(this.ddsByDeployment, dd.deployment_id, key);
    }
  }

  private indexDevice(device: DeviceRecord): void {
    this.storedDevices.add(device);
    const key = device.identity_key;
    // A record without a key (not one the sandbox wrote) matches no lookup, as before.
    if (typeof key === 'string') {
      if (!this.byIdentity.has(key)) this.byIdentity.set(key, device);
      else if (this.byIdentity.get(key) !== device) this.sharedIdentities.add(key);
    }
    this.updateDeviceStatus(device);
  }

  /** The device with the normalised identity `identityKey`, if any. */
  deviceByIdentity(identityKey: string): DeviceRecord | undefined {
    return this.byIdentity.get(identityKey);
  }

  /** Stores a new device under its id. */
  putDevice(device: DeviceRecord): void {
    const previous = this.state.devices[device.id];
    if (previous && previous !== device) this.deleteDevice(device.id);
    this.state.devices[device.id] = device;
    this.indexDevice(device);
    this.markChanged();
  }

  /** Removes the device stored under `id` (its record only; see `removeDevice` for the rest). */
  deleteDevice(id: string): void {
    const device = this.state.devices[id];
    if (!device) return;
    delete this.state.devices[id];
    this.storedDevices.delete(device);
    this.acceptedDevices.delete(device);
    const key = device.identity_key;
    if (this.byIdentity.get(key) === device) {
      this.byIdentity.delete(key);
      if (this.sharedIdentities.has(key)) {
        const next = Object.values(this.state.devices).find((d) => d.identity_key === key);
        if (next) this.byIdentity.set(key, next);
        else this.sharedIdentities.delete(key);
      }
    }
    this.markChanged();
  }

  /** Re-reads a device's status after its auth sets changed (keeps the accepted count). */
  updateDeviceStatus(device: DeviceRecord): void {
    if (!this.storedDevices.has(device)) return;
    if (hasAcceptedAuthSet(device)) this.acceptedDevices.add(device);
    else this.acceptedDevices.delete(device);
  }

  /** How many devices are accepted. */
  acceptedDeviceCount(): number {
    return this.acceptedDevices.size;
  }

  /** Stores a device token under its jti. */
  putDeviceToken(token: DeviceTokenRecord): void {
    const previous = this.state.deviceTokens[token.jti];
    if (previous) removeFrom(this.tokensByDevice, previous.device_id, token.jti);
    this.state.deviceTokens[token.jti] = token;
    addTo(this.tokensByDevice, token.device_id, token.jti);
    this.markChanged();
  }

  /** Drops the token stored under `jti`; whether there was one. */
  deleteDeviceToken(jti: string): boolean {
    const token = this.state.deviceTokens[jti];
    if (!token) return false;
    delete this.state.deviceTokens[jti];
    removeFrom(this.tokensByDevice, token.device_id, jti);
    this.markChanged();
    return true;
  }

  /** Drops every token of a device. */
  deleteDeviceTokensOf(deviceId: string): void {
    const jtis = this.tokensByDevice.get(deviceId);
    if (!jtis) return;
    this.tokensByDevice.delete(deviceId);
    for (const jti of jtis) delete this.state.deviceTokens[jti];
    this.markChanged();
  }

  /** Device deployment of `deviceId` in `deploymentId`, if any. */
  deviceDeployment(deploymentId: string, deviceId: string): DeviceDeploymentRecord | undefined {
    return this.state.deviceDeployments[ddKey(deploymentId, deviceId)];
  }

  /** Stores a device deployment. */
  putDeviceDeployment(dd: DeviceDeploymentRecord): void {
    const key = ddKey(dd.deployment_id, dd.device_id);
    const previous = this.state.deviceDeployments[key];
    if (previous) {
      // Replaced in place: the key keeps its position (as an object property does).
      if (previous.device_id !== dd.device_id) removeFrom(this.ddsByDevice, previous.device_id, key);
      if (previous.deployment_id !== dd.deployment_id)
        removeFrom(this.ddsByDeployment, previous.deployment_id, key);
    }
    this.state.deviceDeployments[key] = dd;
    addTo(this.ddsByDevice, dd.device_id, key);
    addTo(this.ddsByDeployment, dd.deployment_id, key);
    this.markChanged();
  }

  /** Removes the device deployment stored under `key` (see {@link Store.deviceDeploymentEntriesOfDevice}). */
  deleteDeviceDeployment(key: string): void {
    const dd = this.state.deviceDeployments[key];
    if (!dd) return;
    delete this.state.deviceDeployments[key];
    removeFrom(this.ddsByDevice, dd.device_id, key);
    removeFrom(this.ddsByDeployment, dd.deployment_id, key);
    this.markChanged();
  }

  /** Device deployments of one deployment, in state order. */
  deviceDeploymentsOf(deploymentId: string): DeviceDeploymentRecord[] {
    return this.collect(this.ddsByDeployment.get(deploymentId));
  }

  /** Device deployments of one device, in state order. */
  deviceDeploymentsOfDevice(deviceId: string): DeviceDeploymentRecord[] {
    return this.collect(this.ddsByDevice.get(deviceId));
  }

  /** `[key, device deployment]` pairs of one device, in state order. */
  deviceDeploymentEntriesOfDevice(deviceId: string): [string, DeviceDeploymentRecord][] {
    const out: [string, DeviceDeploymentRecord][] = [];
    for (const key of this.ddsByDevice.get(deviceId) ?? []) {
      out.push([key, this.state.deviceDeployments[key] as DeviceDeploymentRecord]);
    }
    return out;
  }

  private collect(keys: Set<string> | undefined): DeviceDeploymentRecord[] {
    const out: DeviceDeploymentRecord[] = [];
    for (const key of keys ?? []) out.push(this.state.deviceDeployments[key] as DeviceDeploymentRecord);
    return out;
  }
}
