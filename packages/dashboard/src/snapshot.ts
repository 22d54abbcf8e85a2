/**
 * The fleet snapshot: one row per device joining the management plane (Mender devices, inventory,
 * deployments) and the data plane (telemetry store, IoT Core registry), plus releases, deployments
 * with per-device progress and gated rollouts. Devices are joined on Mender's identity attribute
 * `device_id`, which is the registry's (and the telemetry store's) device id.
 */

import { telemetryDeviceId } from '@otakit/core';
import { type RolloutView, readRollouts } from './rollouts.js';
import type {
  ManagementSource,
  MenderAttribute,
  MenderDeployment,
  RegistryDevice,
  RegistrySource,
  TelemetryRow,
  TelemetrySource,
} from './sources.js';

/** One device of the fleet, both planes joined. */
export interface FleetDevice {
  /** The registry/telemetry device id (Mender identity `device_id`); the Mender id when it has none. */
  id: string;
  /** Mender's device id, when Mender knows the device. */
  menderId: string | null;
  /** Mender admission status (`accepted`, `preauthorized`, …); null when Mender does not know it. */
  menderStatus: string | null;
  /** `active` or `blocked` in the registry; null without a registry or when it does not list the device. */
  registryStatus: 'active' | 'blocked' | null;
  /** The release it runs: its latest telemetry's artifact name, else its inventory's `artifact_name`. */
  release: string | null;
  /** Its static group in Mender's inventory. */
  group: string | null;
  /** Last contact with Mender (`check_in_time`, else `updated_ts`), ISO time. */
  menderLastSeen: string | null;
  /** Last telemetry received, ISO time. */
  telemetryLastSeen: string | null;
  /** Last event the registry recorded (`lastEventTime`), ISO time. */
  registryLastEvent: string | null;
  /** Its latest telemetry's numeric fields. */
  metrics: Record<string, number>;
  /** Its state in an active deployment, if any. */
  deployment: { id: string; status: string } | null;
}

/** A release and how many devices run it. */
export interface ReleaseCount {
  name: string;
  devices: number;
}

/** A deployment with its per-device progress (devices only for active deployments). */
export interface DeploymentView {
  id: string;
  name: string;
  artifactName: string;
  status: string;
  created: string | null;
  finished: string | null;
  /** Devices per deployment state (`success`, `downloading`, …). */
  statistics: Record<string, number>;
  /** Each device's state; listed for active deployments only. */
  devices: { id: string; menderId: string; status: string }[];
}

/** A plane that could not be read this round; the rest of the snapshot is still served. */
export interface SourceError {
  source: 'mender' | 'telemetry' | 'registry' | 'rollouts';
  message: string;
}

/** What `/api/fleet` returns and `/api/events` pushes. */
export interface FleetSnapshot {
  generatedAt: string;
  devices: FleetDevice[];
  releases: ReleaseCount[];
  deployments: DeploymentView[];
  rollouts: RolloutView[];
  /** The metric names seen in the latest telemetry, sorted. */
  metrics: string[];
  groups: string[];
  errors: SourceError[];
}

/** Where {@link buildSnapshot} reads from. */
export interface SnapshotSources {
  management: ManagementSource;
  telemetry: TelemetrySource;
  registry?: RegistrySource | undefined;
  rolloutStateFiles?: readonly string[] | undefined;
}

const ACTIVE = new Set(['pending', 'inprogress', 'scheduled']);
const PER_PAGE = 500;
/** Most deployments shown (the newest). */
const MAX_DEPLOYMENTS = 50;

async function collect<T>(it: AsyncIterable<T>, max = Number.POSITIVE_INFINITY): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) {
    out.push(x);
    if (out.length >= max) break;
  }
  return out;
}

function attr(attributes: MenderAttribute[] | undefined, name: string, scope: string): string | null {
  const a = attributes?.find((x) => x.name === name && (x.scope ?? 'inventory') === scope);
  if (a === undefined || a.value === null || a.value === undefined) return null;
  return Array.isArray(a.value) ? a.value.map(String).join(', ') : String(a.value);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function readDeployments(management: ManagementSource): Promise<DeploymentView[]> {
  const list: MenderDeployment[] = await collect(
    management.deployments.list({ perPage: MAX_DEPLOYMENTS }),
    MAX_DEPLOYMENTS,
  );
  return Promise.all(
    list.map(async (d): Promise<DeploymentView> => {
      const id = d.id ?? '';
      const active = ACTIVE.has(d.status ?? '');
      const [statistics, devices] = await Promise.all([
        management.deployments.statistics(id),
        active ? collect(management.deployments.devices(id, { perPage: PER_PAGE })) : Promise.resolve([]),
      ]);
      const stats: Record<string, number> = {};
      for (const [k, v] of Object.entries((statistics ?? {}) as Record<string, unknown>)) {
        if (typeof v === 'number' && v > 0) stats[k] = v;
      }
      return {
        id,
        name: d.name ?? '',
        artifactName: d.artifact_name ?? '',
        status: d.status ?? '',
        created: d.created ?? null,
        finished: d.finished ?? null,
        statistics: stats,
        devices: devices.map((x) => ({ id: x.id ?? '', menderId: x.id ?? '', status: x.status ?? '' })),
      };
    }),
  );
}

/** Reads both planes once and joins them. A plane that fails is reported in `errors`, not thrown. */
export async function buildSnapshot(sources: SnapshotSources): Promise<FleetSnapshot> {
  const errors: SourceError[] = [];
  const guard = async <T>(source: SourceError['source'], p: Promise<T>, fallback: T): Promise<T> => {
    try {
      return await p;
    } catch (err) {
      errors.push({ source, message: message(err) });
      return fallback;
    }
  };
  const registry = sources.registry;
  const [menderDevices, inventory, deployments, latest, registryDevices, rollouts] = await Promise.all([
    guard('mender', collect(sources.management.devices.list({ perPage: PER_PAGE })), []),
    guard('mender', collect(sources.management.inventory.list({ perPage: PER_PAGE })), []),
    guard('mender', readDeployments(sources.management), []),
    guard('telemetry', sources.telemetry.latest({ limit: 100_000 }), [] as TelemetryRow[]),
    registry
      ? guard(
          'registry',
          collect(registry.devices.list({ fieldMask: ['blocked', 'last_event_time'] })),
          [] as RegistryDevice[],
        )
      : Promise.resolve([] as RegistryDevice[]),
    guard('rollouts', readRollouts(sources.rolloutStateFiles ?? []), []),
  ]);

  const inventoryById = new Map(inventory.map((i) => [i.id ?? '', i.attributes]));
  const telemetryById = new Map(latest.map((t) => [t.deviceId, t]));
  const registryById = new Map(registryDevices.map((r) => [r.id ?? '', r]));
  const menderToJoin = new Map<string, string>();
  const rows = new Map<string, FleetDevice>();

  const empty = (id: string): FleetDevice => ({
    id,
    menderId: null,
    menderStatus: null,
    registryStatus: null,
    release: null,
    group: null,
    menderLastSeen: null,
    telemetryLastSeen: null,
    registryLastEvent: null,
    metrics: {},
    deployment: null,
  });

  for (const d of menderDevices) {
    const menderId = d.id ?? '';
    // The row's id is the device's id in both planes (its registry id when it has one).
    const id = telemetryDeviceId({ id: menderId, identity_data: d.identity_data });
    menderToJoin.set(menderId, id);
    const attrs = inventoryById.get(menderId);
    rows.set(id, {
      ...empty(id),
      menderId,
      menderStatus: d.status ?? null,
      release: attr(attrs, 'artifact_name', 'inventory'),
      group: attr(attrs, 'group', 'system'),
      menderLastSeen: d.check_in_time ?? d.updated_ts ?? null,
    });
  }
  for (const id of [...telemetryById.keys(), ...registryById.keys()]) {
    if (id !== '' && !rows.has(id)) rows.set(id, empty(id));
  }
  for (const row of rows.values()) {
    const t = telemetryById.get(row.id);
    if (t) {
      row.telemetryLastSeen = t.receivedAt;
      row.metrics = t.metrics;
      if (t.artifactName) row.release = t.artifactName;
    }
    const r = registryById.get(row.id);
    if (r) {
      row.registryStatus = r.blocked ? 'blocked' : 'active';
      row.registryLastEvent = r.lastEventTime ?? null;
    }
  }
  for (const dep of deployments) {
    for (const dev of dep.devices) {
      dev.id = menderToJoin.get(dev.menderId) ?? dev.menderId;
      const row = rows.get(dev.id);
      if (row && row.deployment === null) row.deployment = { id: dep.id, status: dev.status };
    }
  }

  const devices = [...rows.values()].sort((a, b) => a.id.localeCompare(b.id));
  const releaseCounts = new Map<string, number>();
  const metrics = new Set<string>();
  const groups = new Set<string>();
  for (const d of devices) {
    if (d.release) releaseCounts.set(d.release, (releaseCounts.get(d.release) ?? 0) + 1);
    if (d.group) groups.add(d.group);
    for (const m of Object.keys(d.metrics)) metrics.add(m);
  }
  return {
    generatedAt: new Date().toISOString(),
    devices,
    releases: [...releaseCounts]
      .map(([name, n]) => ({ name, devices: n }))
      .sort((a, b) => b.devices - a.devices || a.name.localeCompare(b.name)),
    deployments,
    rollouts,
    metrics: [...metrics].sort(),
    groups: [...groups].sort(),
    errors,
  };
}
