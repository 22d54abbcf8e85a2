import { randomUUID } from 'node:crypto';
import { nowIso, nowSeconds, type SandboxContext } from './context.js';
import { updateDeploymentFinished } from './deployments.js';
import { signJwt } from './signing.js';
import {
  type AuthSetRecord,
  type AuthSetStatus,
  type DeviceRecord,
  type InventoryRecord,
  isFinished,
} from './state.js';

/** Device status derived from its auth sets: accepted > preauthorized > pending > rejected > noauth. */
export function deviceStatus(device: DeviceRecord): AuthSetStatus | 'noauth' {
  for (const s of ['accepted', 'preauthorized', 'pending', 'rejected'] as const) {
    if (device.auth_sets.some((a) => a.status === s)) return s;
  }
  return 'noauth';
}

/** The deviceauth `Device` object. */
export function renderDevice(device: DeviceRecord): Record<string, unknown> {
  return {
    id: device.id,
    identity_data: device.identity_data,
    status: deviceStatus(device),
    created_ts: device.created_ts,
    updated_ts: device.updated_ts,
    ...(device.check_in_time ? { check_in_time: device.check_in_time } : {}),
    auth_sets: device.auth_sets.map((a) => ({
      id: a.id,
      identity_data: a.identity_data,
      pubkey: a.pubkey,
      ts: a.ts,
      status: a.status,
    })),
    decommissioning: device.decommissioning,
  };
}

/** Finds a device by its normalised identity (an index lookup, not a scan). */
export function findDeviceByIdentity(ctx: SandboxContext, identityKey: string): DeviceRecord | undefined {
  return ctx.store.deviceByIdentity(identityKey);
}

/** Creates a device (and its inventory record with the identity scope). */
export function createDevice(
  ctx: SandboxContext,
  identity: Record<string, unknown>,
  identityKey: string,
): DeviceRecord {
  const ts = nowIso(ctx);
  const device: DeviceRecord = {
    id: randomUUID(),
    identity_data: identity,
    identity_key: identityKey,
    created_ts: ts,
    updated_ts: ts,
    decommissioning: false,
    auth_sets: [],
  };
  ctx.store.putDevice(device);
  return device;
}

/** Adds an auth set to a device. */
export function addAuthSet(
  ctx: SandboxContext,
  device: DeviceRecord,
  pubkey: string,
  status: AuthSetStatus,
): AuthSetRecord {
  const authSet: AuthSetRecord = {
    id: randomUUID(),
    identity_data: device.identity_data,
    pubkey,
    status,
    ts: nowIso(ctx),
  };
  device.auth_sets.push(authSet);
  device.updated_ts = authSet.ts;
  ctx.store.updateDeviceStatus(device);
  syncInventoryIdentity(ctx, device);
  return authSet;
}

/**
 * Changes an auth set's status. Accepting one rejects the device's other accepted set; moving an
 * accepted set away revokes the device's tokens.
 */
export function setAuthSetStatus(
  ctx: SandboxContext,
  device: DeviceRecord,
  authSet: AuthSetRecord,
  status: AuthSetStatus,
): void {
  if (authSet.status === status) return;
  if (authSet.status === 'accepted') revokeDeviceTokens(ctx, device.id);
  if (status === 'accepted') {
    for (const other of device.auth_sets) {
      if (other !== authSet && other.status === 'accepted') other.status = 'rejected';
    }
    revokeDeviceTokens(ctx, device.id);
  }
  authSet.status = status;
  device.updated_ts = nowIso(ctx);
  ctx.store.updateDeviceStatus(device);
  syncInventoryIdentity(ctx, device);
}

/** Issues a device JWT for an accepted auth set (jti = auth set id, like the real server). */
export function issueDeviceToken(
  ctx: SandboxContext,
  device: DeviceRecord,
  authSet: AuthSetRecord,
): Promise<string> {
  const iat = nowSeconds(ctx);
  const exp = iat + ctx.deviceTokenTtl;
  ctx.store.putDeviceToken({
    jti: authSet.id,
    device_id: device.id,
    auth_set_id: authSet.id,
    exp,
  });
  return signJwt(
    {
      jti: authSet.id,
      sub: device.id,
      iss: ctx.deviceIssuer,
      iat,
      exp,
      'mender.device': true,
      'mender.plan': 'enterprise',
      'mender.trial': false,
    },
    ctx.secrets.jwtKey,
  );
}

/** Whether one more device may be accepted under the device limit. */
export function canAcceptDevice(ctx: SandboxContext, device: DeviceRecord): boolean {
  if (ctx.maxDevices < 0 || deviceStatus(device) === 'accepted') return true;
  return ctx.store.acceptedDeviceCount() + 1 <= ctx.maxDevices;
}

/** Drops every token of a device. */
export function revokeDeviceTokens(ctx: SandboxContext, deviceId: string): void {
  ctx.store.deleteDeviceTokensOf(deviceId);
  ctx.store.markChanged();
}

/**
 * Removes a device from every service, as the decommission workflow does: deviceauth record,
 * tokens, inventory, configuration; unfinished device deployments become `decommissioned`.
 */
export function removeDevice(ctx: SandboxContext, deviceId: string): void {
  revokeDeviceTokens(ctx, deviceId);
  ctx.store.deleteDevice(deviceId);
  delete ctx.store.state.inventory[deviceId];
  delete ctx.store.state.deviceConfigs[deviceId];
  for (const dd of ctx.store.deviceDeploymentsOfDevice(deviceId)) {
    if (!isFinished(dd.status)) {
      dd.status = 'decommissioned';
      dd.finished = nowIso(ctx);
      const deployment = ctx.store.state.deployments[dd.deployment_id];
      if (deployment) updateDeploymentFinished(ctx, deployment);
    }
  }
  ctx.store.markChanged();
}

/** The inventory record of a device, created when missing. */
export function inventoryOf(ctx: SandboxContext, deviceId: string): InventoryRecord {
  let record = ctx.store.state.inventory[deviceId];
  if (!record) {
    const ts = nowIso(ctx);
    record = { id: deviceId, created_ts: ts, updated_ts: ts, attributes: {} };
    ctx.store.state.inventory[deviceId] = record;
    ctx.store.markChanged();
  }
  return record;
}

/** Mirrors a device's identity data and status into the inventory's `identity` scope. */
export function syncInventoryIdentity(ctx: SandboxContext, device: DeviceRecord): void {
  const inv = inventoryOf(ctx, device.id);
  const ts = nowIso(ctx);
  for (const [k, v] of Object.entries(inv.attributes)) if (v.scope === 'identity') delete inv.attributes[k];
  for (const [name, value] of Object.entries(device.identity_data)) {
    inv.attributes[`identity/${name}`] = { name, scope: 'identity', value, timestamp: ts };
  }
  inv.attributes['identity/status'] = {
    name: 'status',
    scope: 'identity',
    value: deviceStatus(device),
    timestamp: ts,
  };
  inv.attributes['system/created_ts'] = { name: 'created_ts', scope: 'system', value: inv.created_ts };
  inv.updated_ts = ts;
  inv.attributes['system/updated_ts'] = { name: 'updated_ts', scope: 'system', value: ts };
  ctx.store.markChanged();
}
