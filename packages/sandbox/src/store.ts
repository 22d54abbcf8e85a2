import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SandboxError } from './errors.js';

/** Auth set statuses as deviceauth stores them. */
export type AuthSetStatus = 'pending' | 'accepted' | 'rejected' | 'preauthorized';

/** One (identity, public key) pair a device presented or was preauthorized with. */
export interface AuthSetRecord {
  id: string;
  identity_data: Record<string, unknown>;
  /** Canonical SPKI PEM. */
  pubkey: string;
  status: AuthSetStatus;
  ts: string;
}

/** A device as deviceauth knows it. */
export interface DeviceRecord {
  id: string;
  identity_data: Record<string, unknown>;
  /** Normalised identity JSON (sorted keys, compact): the identity's lookup key. */
  identity_key: string;
  created_ts: string;
  updated_ts: string;
  check_in_time?: string;
  decommissioning: boolean;
  auth_sets: AuthSetRecord[];
}

/** A device JWT the sandbox issued and still honours. */
export interface DeviceTokenRecord {
  jti: string;
  device_id: string;
  auth_set_id: string;
  exp: number;
}

/** A personal access token (only its id and metadata; the JWT itself is never stored). */
export interface PatRecord {
  id: string;
  name: string;
  created_ts: string;
  expiration_date?: string;
  last_used?: string;
}

/** One inventory attribute. */
export interface AttributeRecord {
  name: string;
  scope: string;
  value: unknown;
  description?: string;
  timestamp?: string;
}

/** A device's inventory. Attributes keyed by `scope/name`. */
export interface InventoryRecord {
  id: string;
  created_ts: string;
  updated_ts: string;
  attributes: Record<string, AttributeRecord>;
}

/** One payload file inside an artifact, as the core reader reported it. */
export interface ArtifactFileRecord {
  payload_index: number;
  name: string;
  size: number;
  checksum: string;
}

/** An uploaded artifact. The file lives at `<artifactsDir>/<id>.mender`. */
export interface ArtifactRecord {
  id: string;
  name: string;
  description: string;
  device_types_compatible: string[];
  artifact_group?: string;
  /** Mender Artifact format version (2 or 3). */
  format_version: number;
  payload_types: string[];
  signed: boolean;
  artifact_provides: Record<string, string>;
  artifact_depends: Record<string, string[]>;
  clears_artifact_provides?: string[];
  files: ArtifactFileRecord[];
  /** Size of the .mender file in bytes. */
  size: number;
  /** SHA-256 of the .mender file (hex): the download ETag. */
  sha256: string;
  modified: string;
}

/** Per-device deployment statuses, including the server-side ones. */
export type DeviceDeploymentStatus =
  | 'pending'
  | 'downloading'
  | 'installing'
  | 'rebooting'
  | 'pause_before_installing'
  | 'pause_before_committing'
  | 'pause_before_rebooting'
  | 'success'
  | 'failure'
  | 'already-installed'
  | 'noartifact'
  | 'aborted'
  | 'decommissioned';

/** Whether a device deployment status is final. */
export function isFinished(status: string): boolean {
  return ['success', 'failure', 'already-installed', 'noartifact', 'aborted', 'decommissioned'].includes(
    status,
  );
}

/** A deployment log line. */
export interface LogMessage {
  timestamp: string;
  level: string;
  message: string;
}

/** The deployment of one device within a deployment. */
export interface DeviceDeploymentRecord {
  id: string;
  deployment_id: string;
  device_id: string;
  status: DeviceDeploymentStatus;
  substate?: string;
  created: string;
  started?: string;
  finished?: string;
  device_type?: string;
  artifact_id?: string;
  /** What the device reported on its first `next` for this deployment. */
  request?: { artifact_name: string; device_type: string };
  log?: LogMessage[];
}

/** A deployment. */
export interface DeploymentRecord {
  id: string;
  name: string;
  artifact_name: string;
  created: string;
  finished?: string;
  aborted: boolean;
  force_installation: boolean;
  all_devices: boolean;
  groups: string[];
  device_ids: string[];
  artifacts: string[];
}

/** Everything the sandbox keeps. Plain JSON, so it can be saved as is. */
export interface SandboxState {
  version: 1;
  devices: Record<string, DeviceRecord>;
  deviceTokens: Record<string, DeviceTokenRecord>;
  pats: Record<string, PatRecord>;
  revokedUserTokens: Record<string, number>;
  inventory: Record<string, InventoryRecord>;
  artifacts: Record<string, ArtifactRecord>;
  deployments: Record<string, DeploymentRecord>;
  deviceDeployments: Record<string, DeviceDeploymentRecord>;
}

const MAPS = [
  'devices',
  'deviceTokens',
  'pats',
  'revokedUserTokens',
  'inventory',
  'artifacts',
  'deployments',
  'deviceDeployments',
] as const;

/** A dictionary without a prototype: keys taken from requests (`__proto__`, ...) are plain keys. */
function dict<T>(from?: Record<string, T>): Record<string, T> {
  return Object.assign(Object.create(null) as Record<string, T>, from);
}

/** An empty state. */
export function emptyState(): SandboxState {
  const state = { version: 1 } as SandboxState;
  for (const key of MAPS) (state as unknown as Record<string, unknown>)[key] = dict();
  return state;
}

/** Writes a file atomically: a temporary file, fsync, then rename over the target. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/**
 * Holds the sandbox state and, with a data directory, saves it to `state.json` atomically whenever
 * a request changed it (see {@link Store.markChanged} and {@link Store.flush}).
 */
export class Store {
  state: SandboxState;
  readonly dataDir: string | undefined;
  private dirty = false;

  constructor(dataDir?: string) {
    this.dataDir = dataDir;
    this.state = emptyState();
    if (dataDir) {
      mkdirSync(dataDir, { recursive: true });
      this.state = loadState(join(dataDir, 'state.json'));
    }
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

  /** Device deployment of `deviceId` in `deploymentId`, if any. */
  deviceDeployment(deploymentId: string, deviceId: string): DeviceDeploymentRecord | undefined {
    return this.state.deviceDeployments[`${deploymentId}:${deviceId}`];
  }

  /** Stores a device deployment. */
  putDeviceDeployment(dd: DeviceDeploymentRecord): void {
    this.state.deviceDeployments[`${dd.deployment_id}:${dd.device_id}`] = dd;
    this.markChanged();
  }

  /** Device deployments of one deployment. */
  deviceDeploymentsOf(deploymentId: string): DeviceDeploymentRecord[] {
    return Object.values(this.state.deviceDeployments).filter((d) => d.deployment_id === deploymentId);
  }
}

function loadState(path: string): SandboxState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw new SandboxError('SANDBOX_STATE', `cannot read ${path}`, { cause: err });
  }
  try {
    const parsed = JSON.parse(text) as SandboxState;
    if (parsed.version !== 1) throw new Error(`unsupported state version ${String(parsed.version)}`);
    const state = emptyState();
    for (const key of MAPS) {
      (state as unknown as Record<string, unknown>)[key] = dict(
        (parsed as unknown as Record<string, Record<string, unknown>>)[key],
      );
    }
    return state;
  } catch (err) {
    throw new SandboxError('SANDBOX_STATE', `cannot parse ${path}`, { cause: err });
  }
}
