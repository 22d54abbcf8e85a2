/**
 * What the sandbox keeps: the records of its Mender services (deviceauth, useradm, inventory,
 * deployments, deviceconfig) as plain JSON, and the empty state.
 */

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
  /** `configuration` for a deviceconfig deployment (absent: a software deployment). */
  type?: 'configuration';
  /** Configuration deployments: the configuration (JSON object text) the artifact is generated from. */
  configuration?: string;
  /** Configuration deployments: the `retries` asked for (kept, not acted on). */
  retries?: number;
  /** Configuration deployments: the `update_control_map` given (kept, not acted on). */
  update_control_map?: Record<string, unknown>;
}

/** A device's configuration (the deviceconfig service's record). */
export interface DeviceConfigRecord {
  id: string;
  /** Desired configuration, set by management `PUT`. */
  configured: Record<string, string>;
  /** Configuration the device reported with the device `PUT`. */
  reported: Record<string, string>;
  /** Latest configuration deployment. */
  deployment_id?: string;
  /** When `configured` last changed. */
  updated_ts: string;
  /** When the device last reported. */
  reported_ts?: string;
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
  /** deviceconfig records by device id. */
  deviceConfigs: Record<string, DeviceConfigRecord>;
}

/** The record maps of a {@link SandboxState}. */
export const STATE_MAPS = [
  'devices',
  'deviceTokens',
  'pats',
  'revokedUserTokens',
  'inventory',
  'artifacts',
  'deployments',
  'deviceDeployments',
  'deviceConfigs',
] as const;

/** A dictionary without a prototype: keys taken from requests (`__proto__`, ...) are plain keys. */
export function dict<T>(from?: Record<string, T>): Record<string, T> {
  return Object.assign(Object.create(null) as Record<string, T>, from);
}

/** An empty state. */
export function emptyState(): SandboxState {
  const state = { version: 1 } as SandboxState;
  for (const key of STATE_MAPS) (state as unknown as Record<string, unknown>)[key] = dict();
  return state;
}
