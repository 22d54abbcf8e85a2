import { randomUUID } from 'node:crypto';
import { nowIso, type SandboxContext } from './context.js';
import {
  type ArtifactRecord,
  type DeploymentRecord,
  type DeviceDeploymentRecord,
  type DeviceDeploymentStatus,
  isFinished,
} from './state.js';

/** Every device deployment status, in the order the statistics list them. */
export const DEVICE_DEPLOYMENT_STATUSES: DeviceDeploymentStatus[] = [
  'success',
  'pending',
  'downloading',
  'rebooting',
  'installing',
  'failure',
  'noartifact',
  'already-installed',
  'aborted',
  'pause_before_installing',
  'pause_before_rebooting',
  'pause_before_committing',
  'decommissioned',
];

/** Statuses a device may report. */
export const REPORTABLE_STATUSES = [
  'downloading',
  'installing',
  'rebooting',
  'success',
  'failure',
  'already-installed',
  'pause_before_installing',
  'pause_before_committing',
  'pause_before_rebooting',
];

/** Per-status device counts of a deployment. */
export function deploymentStatistics(ctx: SandboxContext, deploymentId: string): Record<string, number> {
  const stats: Record<string, number> = {};
  for (const s of DEVICE_DEPLOYMENT_STATUSES) stats[s] = 0;
  for (const dd of ctx.store.deviceDeploymentsOf(deploymentId))
    stats[dd.status] = (stats[dd.status] ?? 0) + 1;
  return stats;
}

/** `pending` (nobody started), `inprogress`, or `finished` (every device finished or aborted). */
export function deploymentStatus(
  ctx: SandboxContext,
  d: DeploymentRecord,
): 'pending' | 'inprogress' | 'finished' {
  const dds = ctx.store.deviceDeploymentsOf(d.id);
  if (d.aborted || dds.every((dd) => isFinished(dd.status))) return 'finished';
  if (dds.every((dd) => dd.status === 'pending')) return 'pending';
  return 'inprogress';
}

/** Sets `finished` on a deployment once every device finished. */
export function updateDeploymentFinished(ctx: SandboxContext, d: DeploymentRecord): void {
  if (!d.finished && deploymentStatus(ctx, d) === 'finished') {
    d.finished = nowIso(ctx);
    ctx.store.markChanged();
  }
}

/** The `DeploymentV1` object. */
export function renderDeployment(ctx: SandboxContext, d: DeploymentRecord): Record<string, unknown> {
  const stats = deploymentStatistics(ctx, d.id);
  const totalSize = d.artifacts.reduce((sum, id) => sum + (ctx.store.state.artifacts[id]?.size ?? 0), 0);
  return {
    id: d.id,
    name: d.name,
    artifact_name: d.artifact_name,
    created: d.created,
    ...(d.finished ? { finished: d.finished } : {}),
    status: deploymentStatus(ctx, d),
    device_count: d.device_ids.length,
    artifacts: d.artifacts,
    groups: d.groups,
    type: d.type ?? 'software',
    ...(d.configuration !== undefined ? { configuration: d.configuration } : {}),
    statistics: { status: stats, total_size: totalSize },
  };
}

/** The `Update` list of an artifact (one per payload). */
export function renderUpdates(a: ArtifactRecord): Record<string, unknown>[] {
  return a.payload_types.map((type, index) => ({
    type_info: { type },
    files: a.files
      .filter((f) => f.payload_index === index)
      .map((f) => ({ name: f.name, checksum: f.checksum, size: f.size, date: a.modified })),
    meta_data: [],
  }));
}

/** The `ArtifactV1` / `ArtifactV2` object. */
export function renderArtifact(a: ArtifactRecord): Record<string, unknown> {
  return {
    id: a.id,
    name: a.name,
    description: a.description,
    device_types_compatible: a.device_types_compatible,
    info: { format: 'mender', version: a.format_version },
    signed: a.signed,
    updates: renderUpdates(a),
    artifact_provides: a.artifact_provides,
    artifact_depends: a.artifact_depends,
    ...(a.clears_artifact_provides ? { clears_artifact_provides: a.clears_artifact_provides } : {}),
    size: a.size,
    modified: a.modified,
  };
}

/** The `DeviceWithImage` object of one device deployment. */
export function renderDeviceDeployment(
  ctx: SandboxContext,
  dd: DeviceDeploymentRecord,
): Record<string, unknown> {
  const artifact = dd.artifact_id ? ctx.store.state.artifacts[dd.artifact_id] : undefined;
  return {
    id: dd.device_id,
    status: dd.status,
    created: dd.created,
    ...(dd.started ? { started: dd.started } : {}),
    ...(dd.finished ? { finished: dd.finished } : {}),
    ...(dd.device_type ? { device_type: dd.device_type } : {}),
    log: (dd.log?.length ?? 0) > 0,
    state: dd.status,
    ...(dd.substate ? { substate: dd.substate } : {}),
    ...(artifact
      ? {
          image: {
            id: artifact.id,
            meta_artifact: {
              name: artifact.name,
              device_types_compatible: artifact.device_types_compatible,
              info: { format: 'mender', version: artifact.format_version },
              signed: artifact.signed,
              updates: renderUpdates(artifact),
              artifact_provides: artifact.artifact_provides,
              artifact_depends: artifact.artifact_depends,
            },
            size: artifact.size,
            modified: artifact.modified,
          },
        }
      : {}),
  };
}

/** Artifacts named `name`, oldest first. */
export function artifactsNamed(ctx: SandboxContext, name: string): ArtifactRecord[] {
  return Object.values(ctx.store.state.artifacts)
    .filter((a) => a.name === name)
    .sort((a, b) => (a.modified < b.modified ? -1 : 1));
}

/**
 * The artifact of a deployment for a device: one with the deployment's name, compatible with the
 * device type, whose other `artifact_depends` are satisfied by the given provides (when known).
 */
export function selectArtifact(
  ctx: SandboxContext,
  d: DeploymentRecord,
  deviceType: string,
  provides?: Record<string, unknown>,
): ArtifactRecord | undefined {
  return artifactsNamed(ctx, d.artifact_name).find((a) => {
    if (!a.device_types_compatible.includes(deviceType)) return false;
    if (!provides) return true;
    return Object.entries(a.artifact_depends).every(
      ([k, allowed]) =>
        k === 'device_type' || (provides[k] !== undefined && allowed.includes(String(provides[k]))),
    );
  });
}

/** Records that `deviceId` has `deploymentId` pending (the device sees it on its next poll). */
export function addPendingDeviceDeployment(
  ctx: SandboxContext,
  deploymentId: string,
  deviceId: string,
  created: string,
): void {
  ctx.store.putDeviceDeployment({
    id: randomUUID(),
    deployment_id: deploymentId,
    device_id: deviceId,
    status: 'pending',
    created,
  });
}
