import type { KeyObject } from 'node:crypto';
import {
  AbortError,
  type Logger,
  loadPublicKey,
  mapConcurrent,
  publicKeysEqual,
  toSpkiPem,
} from '@otakit/core';
import type { MenderAdmission, MenderAuthSet, MenderDevice } from './admission.js';
import { credentialPublicKey, isCredentialActive } from './credentials.js';
import { IotCoreError } from './errors.js';
import { SYNC_FIELD_MASK } from './registry.js';
import {
  type DeviceSyncResult,
  type SyncChange,
  type SyncOutcome,
  type SyncReport,
  SyncRun,
} from './sync-report.js';
import type { Device } from './types.js';

/** The registry side of a sync: a {@link RegistryClient} or anything that lists devices the same way. */
export interface RegistrySource {
  /** `RegistryClient.devices`. */
  devices: {
    list(options?: { signal?: AbortSignal; fieldMask?: readonly string[] }): AsyncIterable<Device>;
  };
}

/** What to do with the Mender device of a blocked or deleted registry device. */
export type RemovalPolicy = 'reject' | 'decommission' | 'skip';

/** Options of {@link preauthorizeFromRegistry}. */
export interface PreauthorizeFromRegistryOptions {
  /** The registry to read (a {@link RegistryClient}). */
  registry: RegistrySource;
  /** The Mender side, e.g. `menderAdmission(managementClient)`. */
  mender: MenderAdmission;
  /**
   * The Mender identity of a registry device; the device's identity script must print exactly these
   * attributes. Default `{ device_id: device.id }`.
   */
  identity?: (device: Device) => Record<string, string>;
  /**
   * Which Mender devices this sync manages (and so may reject or decommission when their registry
   * device is gone). Default: devices whose identity has exactly the attribute names the `identity`
   * function produces (`device_id` by default).
   */
  isManaged?: (identity: Record<string, unknown>) => boolean;
  /** Blocked registry device: `'reject'` (default) its Mender auth sets, `'decommission'`, or `'skip'`. */
  onBlocked?: RemovalPolicy;
  /** Managed Mender device absent from the registry: `'reject'`, `'decommission'` (default), `'skip'`. */
  onDeleted?: RemovalPolicy;
  /**
   * Auth sets whose key is no longer an active registry credential (rotated out or expired):
   * `'dismiss'` (default: deleted; a device still on an old accepted key authenticates again with the
   * new one), `'reject'` (a preauthorized one, which Mender cannot reject, is deleted), `'keep'`.
   */
  onStaleKey?: 'dismiss' | 'reject' | 'keep';
  /** Mender calls in flight at once. Default 4. */
  concurrency?: number;
  /** Compute and report the changes without making them. */
  dryRun?: boolean;
  /** Allow removing every managed device when the registry lists none. Default false (throws). */
  allowEmptyRegistry?: boolean;
  /** Clock for credential expiry (default now). */
  now?: Date;
  /** Stops the sync between Mender calls; it rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Debug and warning lines; silent by default. */
  logger?: Logger;
}

/** Canonical JSON of an identity (sorted keys), as Mender compares identities. @internal */
export function identityKey(identity: Record<string, unknown>): string {
  const keys = Object.keys(identity).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(identity[k])}`).join(',')}}`;
}

const defaultIdentity = (device: Device): Record<string, string> => ({ device_id: device.id });

function samePubkey(a: KeyObject, pem: string): boolean {
  try {
    return publicKeysEqual(a, loadPublicKey(pem));
  } catch {
    return false;
  }
}

/**
 * Runs `work` over `items` with core's `mapConcurrent`; the first failure (an abort, which `work`
 * rethrows) is thrown once the items in flight have settled. A failing listing rejects at once.
 */
async function forEachConcurrently<T>(
  items: AsyncIterable<T>,
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let failure: { error: unknown } | undefined;
  await mapConcurrent(items, work, {
    concurrency,
    onResult: (result) => {
      if (!result.ok) failure ??= { error: result.error };
    },
  });
  if (failure !== undefined) throw failure.error;
}

/**
 * Makes Mender admission follow a Cloud IoT Core-compatible registry, idempotently: every active
 * registry credential of a device is preauthorized in Mender under the device's identity (so the
 * device is accepted with the key it already uses for IoT Core); a rotated key is added to the
 * existing Mender device and the key it replaces dismissed; blocked devices are rejected (or
 * decommissioned); devices deleted from the registry are decommissioned (or rejected). Expired and
 * unreadable credentials are skipped. A second run with nothing changed makes no Mender call.
 *
 * Failures of single devices are reported (`outcome: 'failed'`) and do not stop the others; a
 * registry or Mender listing failure rejects the run.
 *
 * @throws {@link IotCoreError} `ERR_IOTCORE_SYNC_EMPTY_REGISTRY` when the registry lists no device
 *   but Mender holds managed ones, unless `allowEmptyRegistry`.
 *
 * @example
 * ```ts
 * const run = preauthorizeFromRegistry({ registry, mender: menderAdmission(mgmt) })
 * run.on('change', ({ deviceId, change }) => console.log(deviceId, change.type))
 * const report = await run
 * console.log(report.counts)
 * ```
 */
export function preauthorizeFromRegistry(options: PreauthorizeFromRegistryOptions): SyncRun {
  return new SyncRun((self) => runSync(options, self));
}

async function runSync(options: PreauthorizeFromRegistryOptions, run: SyncRun): Promise<SyncReport> {
  const {
    registry,
    mender,
    identity = defaultIdentity,
    onBlocked = 'reject',
    onDeleted = 'decommission',
    onStaleKey = 'dismiss',
    concurrency = 4,
    dryRun = false,
    now = new Date(),
    signal,
    logger,
  } = options;
  const call = signal === undefined ? {} : { signal };
  const check = () => {
    if (signal?.aborted) throw signal.reason ?? new AbortError('the sync was aborted');
  };

  const byIdentity = new Map<string, MenderDevice>();
  for await (const d of mender.listDevices(call)) byIdentity.set(identityKey(d.identity), d);
  check();

  const results: DeviceSyncResult[] = [];
  const seen = new Set<string>();
  const owners = new Map<string, string>();
  let attributeNames: string | undefined = options.identity === undefined ? 'device_id' : undefined;

  const finish = (r: DeviceSyncResult) => {
    results.push(r);
    run.emit('device', r);
    logger?.debug('iot-core sync: device', { deviceId: r.deviceId, outcome: r.outcome, reason: r.reason });
  };
  const apply = async (r: DeviceSyncResult, change: SyncChange, action: () => Promise<unknown>) => {
    r.changes.push(change);
    run.emit('change', { deviceId: r.deviceId, change });
    if (!dryRun) await action();
  };

  const removeFromMender = async (r: DeviceSyncResult, m: MenderDevice, policy: RemovalPolicy) => {
    if (policy === 'skip') {
      r.outcome = 'skipped';
      return;
    }
    if (policy === 'decommission') {
      await apply(r, { type: 'decommission', menderId: m.id }, () => mender.decommission(m.id, call));
      r.outcome = 'decommissioned';
      return;
    }
    for (const a of m.authSets) {
      if (a.status === 'accepted' || a.status === 'pending') {
        await apply(r, { type: 'reject', authSetId: a.id }, () =>
          mender.setAuthSetStatus(m.id, a.id, 'rejected', call),
        );
      } else if (a.status === 'preauthorized') {
        await apply(r, { type: 'dismiss', authSetId: a.id }, () => mender.dismissAuthSet(m.id, a.id, call));
      }
    }
    r.outcome = r.changes.length > 0 ? 'rejected' : 'unchanged';
  };

  const syncDevice = async (device: Device) => {
    check();
    const id = identity(device);
    const key = identityKey(id);
    const owner = owners.get(key);
    if (owner !== undefined) {
      // Two registry devices, one Mender identity: syncing both would fight over its keys.
      return finish({
        deviceId: device.id,
        identity: id,
        menderId: undefined,
        outcome: 'failed',
        reason: 'identity-collision',
        changes: [],
        skippedCredentials: [],
        error: new IotCoreError(
          'ERR_IOTCORE_OPTIONS',
          `devices ${owner} and ${device.id} map to the same Mender identity ${key}`,
        ),
      });
    }
    owners.set(key, device.id);
    seen.add(key);
    attributeNames ??= Object.keys(id).sort().join(',');
    const m = byIdentity.get(key);
    const r: DeviceSyncResult = {
      deviceId: device.id,
      identity: id,
      menderId: m?.id,
      outcome: 'unchanged',
      changes: [],
      skippedCredentials: [],
    };
    try {
      if (device.blocked === true) {
        r.reason = 'blocked';
        if (m === undefined) r.outcome = onBlocked === 'skip' ? 'skipped' : 'unchanged';
        else await removeFromMender(r, m, onBlocked);
        return finish(r);
      }
      const active: KeyObject[] = [];
      (device.credentials ?? []).forEach((c, index) => {
        if (!isCredentialActive(c, now)) {
          r.skippedCredentials.push({ index, reason: 'expired' });
          return;
        }
        try {
          const k = credentialPublicKey(c);
          if (!active.some((a) => publicKeysEqual(a, k))) active.push(k);
        } catch (err) {
          r.skippedCredentials.push({ index, reason: err instanceof Error ? err.message : String(err) });
        }
      });
      if (active.length === 0) {
        r.outcome = 'skipped';
        r.reason = 'no-active-credential';
        return finish(r);
      }
      const sets: MenderAuthSet[] = m?.authSets ?? [];
      let menderId = m?.id;
      let added = 0;
      let accepted = 0;
      for (const k of active) {
        const existing = sets.find((a) => samePubkey(k, a.pubkey));
        if (existing?.status === 'pending' && m !== undefined) {
          // The device asked Mender with a key the registry vouches for before the sync ran.
          await apply(r, { type: 'accept', authSetId: existing.id }, () =>
            mender.setAuthSetStatus(m.id, existing.id, 'accepted', call),
          );
          accepted++;
          continue;
        }
        if (existing && existing.status !== 'rejected') continue;
        const pem = toSpkiPem(k);
        const force = menderId !== undefined;
        await apply(
          r,
          { type: 'preauthorize', pubkey: pem, force, ...(menderId ? { menderId } : {}) },
          async () => {
            const res = await mender.preauthorize(id, pem, { ...call, force });
            menderId ??= res.id;
          },
        );
        added++;
        // A dry run creates nothing, but the device's further keys would be forced onto it.
        if (dryRun && menderId === undefined) menderId = '';
      }
      r.menderId = menderId || undefined;
      let removed = 0;
      if (m !== undefined && onStaleKey !== 'keep') {
        for (const a of sets) {
          if (active.some((k) => samePubkey(k, a.pubkey))) continue;
          if (onStaleKey === 'dismiss') {
            await apply(r, { type: 'dismiss', authSetId: a.id }, () =>
              mender.dismissAuthSet(m.id, a.id, call),
            );
          } else if (a.status === 'preauthorized') {
            // Mender cannot reject a preauthorized auth set: delete it.
            await apply(r, { type: 'dismiss', authSetId: a.id }, () =>
              mender.dismissAuthSet(m.id, a.id, call),
            );
          } else if (a.status === 'accepted' || a.status === 'pending') {
            await apply(r, { type: 'reject', authSetId: a.id }, () =>
              mender.setAuthSetStatus(m.id, a.id, 'rejected', call),
            );
          } else {
            continue;
          }
          removed++;
        }
      }
      if (m === undefined) r.outcome = 'preauthorized';
      else if (added > 0 || accepted > 0 || removed > 0) {
        r.outcome = 'updated';
        r.reason = removed > 0 ? 'rotated' : added > 0 ? 'key-added' : 'pending-accepted';
      }
    } catch (err) {
      if (signal?.aborted) throw err;
      r.outcome = 'failed';
      r.error = err;
      logger?.warn('iot-core sync: device failed', { deviceId: device.id });
    }
    finish(r);
  };

  let listed = 0;
  async function* registryDevices(): AsyncGenerator<Device> {
    for await (const d of registry.devices.list({ ...call, fieldMask: SYNC_FIELD_MASK })) {
      listed++;
      yield d;
    }
  }
  await forEachConcurrently(registryDevices(), concurrency, syncDevice);
  check();

  const isManaged =
    options.isManaged ??
    ((identityData: Record<string, unknown>) =>
      attributeNames !== undefined && Object.keys(identityData).sort().join(',') === attributeNames);
  const gone = [...byIdentity.entries()].filter(([k, d]) => !seen.has(k) && isManaged(d.identity));
  if (listed === 0 && gone.length > 0 && onDeleted !== 'skip' && options.allowEmptyRegistry !== true) {
    throw new IotCoreError(
      'ERR_IOTCORE_SYNC_EMPTY_REGISTRY',
      `the registry listed no device, so ${gone.length} managed Mender device(s) would be removed; pass allowEmptyRegistry: true if that is meant`,
    );
  }
  async function* goneDevices() {
    yield* gone.map(([, d]) => d);
  }
  await forEachConcurrently(goneDevices(), concurrency, async (m) => {
    check();
    const r: DeviceSyncResult = {
      deviceId: undefined,
      identity: m.identity,
      menderId: m.id,
      outcome: 'unchanged',
      reason: 'deleted',
      changes: [],
      skippedCredentials: [],
    };
    try {
      await removeFromMender(r, m, onDeleted);
    } catch (err) {
      if (signal?.aborted) throw err;
      r.outcome = 'failed';
      r.error = err;
    }
    finish(r);
  });

  const counts: Record<SyncOutcome, number> = {
    preauthorized: 0,
    updated: 0,
    unchanged: 0,
    rejected: 0,
    decommissioned: 0,
    skipped: 0,
    failed: 0,
  };
  for (const r of results) counts[r.outcome]++;
  return { devices: results, counts, dryRun };
}
