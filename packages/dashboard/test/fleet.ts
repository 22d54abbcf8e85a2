/**
 * A real two-plane fleet for the dashboard's tests and benchmark: a sandbox (Mender) with devices
 * preauthorized under identity `device_id`, devices that authenticate with signed requests, report
 * inventory and go through deployments the way the Mender client does, and a telemetry store
 * (DuckDB in memory) holding release-tagged messages.
 */

import { type DeviceKey, generateDeviceKey, signMenderRequest } from '@otakit/core';
import { ManagementClient } from '@otakit/management-client';
import { type Sandbox, startSandbox } from '@otakit/sandbox';
import { openTelemetryStore, type TelemetryMessage, type TelemetryStore } from '@otakit/telemetry';
import { request } from 'undici';

export const REGISTRY = 'projects/demo/locations/europe-west1/registries/fleet';
export const DEVICE_TYPE = 'qemux86-64';

/** A device of the fleet, device side. */
export interface FleetTestDevice {
  deviceId: string;
  key: DeviceKey;
  menderId: string;
  /** Device JWT once authenticated. */
  jwt?: string;
}

/** The planes and the client the dashboard reads them through. */
export interface TestFleet {
  sandbox: Sandbox;
  management: ManagementClient;
  telemetry: TelemetryStore;
  devices: FleetTestDevice[];
  close(): Promise<void>;
}

async function call(
  base: string,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  opts: { jwt?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.jwt) headers.authorization = `Bearer ${opts.jwt}`;
  if (opts.body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await request(new URL(path, base), { method, headers, body: opts.body });
  return { status: res.statusCode, text: await res.body.text() };
}

/** Starts a sandbox and an in-memory telemetry store, and preauthorizes `count` devices. */
export async function startTestFleet(count: number, prefix = 'dev'): Promise<TestFleet> {
  const sandbox = await startSandbox();
  const management = new ManagementClient({ serverUrl: sandbox.url, auth: sandbox.managementToken() });
  const telemetry = await openTelemetryStore(':memory:');
  const devices: FleetTestDevice[] = [];
  const keys = await Promise.all(Array.from({ length: count }, () => generateDeviceKey({ type: 'ed25519' })));
  for (let i = 0; i < count; i += 50) {
    const batch = keys.slice(i, i + 50).map(async (key, j) => {
      const deviceId = `${prefix}-${String(i + j + 1).padStart(4, '0')}`;
      const { id } = await management.devices.preauthorize({
        identity: { device_id: deviceId },
        pubkey: key.publicKeyPem,
      });
      return { deviceId, key, menderId: id };
    });
    devices.push(...(await Promise.all(batch)));
  }
  return {
    sandbox,
    management,
    telemetry,
    devices,
    async close() {
      await management.close();
      await telemetry.close();
      await sandbox.close();
    },
  };
}

/** The device authenticates (signed auth request) and reports its inventory. */
export async function connectDevice(
  fleet: TestFleet,
  device: FleetTestDevice,
  artifactName: string,
): Promise<void> {
  const body = JSON.stringify({
    id_data: JSON.stringify({ device_id: device.deviceId }),
    pubkey: device.key.publicKeyPem,
  });
  const auth = await call(fleet.sandbox.url, 'POST', '/api/devices/v1/authentication/auth_requests', {
    body,
    headers: { 'x-men-signature': signMenderRequest(body, device.key.privateKey) },
  });
  if (auth.status !== 200) throw new Error(`auth of ${device.deviceId}: ${auth.status} ${auth.text}`);
  device.jwt = auth.text;
  await reportInventory(fleet, device, artifactName);
}

/** The device reports the artifact it runs. */
export async function reportInventory(
  fleet: TestFleet,
  device: FleetTestDevice,
  artifactName: string,
): Promise<void> {
  const res = await call(fleet.sandbox.url, 'PUT', '/api/devices/v1/inventory/device/attributes', {
    jwt: device.jwt,
    body: JSON.stringify([
      { name: 'device_type', value: DEVICE_TYPE },
      { name: 'artifact_name', value: artifactName },
    ]),
  });
  if (res.status !== 200) throw new Error(`inventory of ${device.deviceId}: ${res.status} ${res.text}`);
}

/** The device asks for its next deployment; returns its id, or undefined when there is none. */
export async function nextDeployment(
  fleet: TestFleet,
  device: FleetTestDevice,
  running: string,
): Promise<{ id: string; artifactName: string } | undefined> {
  const q = new URLSearchParams({ artifact_name: running, device_type: DEVICE_TYPE });
  const res = await call(
    fleet.sandbox.url,
    'GET',
    `/api/devices/v1/deployments/device/deployments/next?${q}`,
    {
      jwt: device.jwt,
    },
  );
  if (res.status === 204) return undefined;
  if (res.status !== 200) throw new Error(`next of ${device.deviceId}: ${res.status} ${res.text}`);
  const body = JSON.parse(res.text) as { id: string; artifact: { artifact_name: string } };
  return { id: body.id, artifactName: body.artifact.artifact_name };
}

/** The device reports its state in a deployment (`downloading`, `installing`, `success`, …). */
export async function reportStatus(
  fleet: TestFleet,
  device: FleetTestDevice,
  deploymentId: string,
  status: string,
): Promise<void> {
  const res = await call(
    fleet.sandbox.url,
    'PUT',
    `/api/devices/v1/deployments/device/deployments/${deploymentId}/status`,
    { jwt: device.jwt, body: JSON.stringify({ status }) },
  );
  if (res.status !== 204) throw new Error(`status of ${device.deviceId}: ${res.status} ${res.text}`);
}

/** `count` messages per device over the last `minutes`, tagged with the release each runs. */
export function telemetryFor(
  devices: readonly { deviceId: string; release: string }[],
  count: number,
  minutes = 30,
  now = Date.now(),
): TelemetryMessage[] {
  const out: TelemetryMessage[] = [];
  devices.forEach(({ deviceId, release }, d) => {
    for (let i = 0; i < count; i++) {
      const at = now - ((count - i) * minutes * 60_000) / count;
      out.push({
        id: `${deviceId}:${i}`,
        deviceId,
        registry: REGISTRY,
        kind: 'event',
        receivedAt: at,
        payload: {
          artifact_name: release,
          cpu_temp: 50 + (release.endsWith('2') ? 8 : 0) + ((d * 7 + i * 3) % 10) / 2,
          mem_free: 200 + ((d + i) % 50),
        },
      });
    }
  });
  return out;
}

/** Uploads an artifact file and deploys it, as deployment `name`, to these devices; returns its id. */
export async function deployArtifact(
  fleet: TestFleet,
  file: string,
  artifactName: string,
  devices: readonly FleetTestDevice[],
  name = 'canary',
): Promise<string> {
  await fleet.management.artifacts.upload(file);
  return fleet.management.deployments.create({ name, artifactName, devices: devices.map((d) => d.menderId) });
}

/** A gate decision as management-client's gated `rollout()` persists it. */
export const GATE_DECISION = {
  gate: 'cpu_temp:p95:+10%',
  verdict: 'regression',
  reason: 'p95 62.25 is over the limit 59.95',
  updated: { value: 62.25, samples: 40 },
  baseline: { value: 54.5, samples: 120 },
  limit: 59.95,
  window: { from: '2026-12-05T00:00:00Z', to: '2026-12-05T00:10:00Z' },
  at: '2026-12-05T00:10:00Z',
};

/** A rollout state file's content: a gated rollout of `artifactName` that halted on a regression and rolled back. */
export function gatedRolloutState(artifactName: string): Record<string, unknown> {
  return {
    version: 1,
    id: 'r1',
    name: 'gated',
    artifactName,
    status: 'aborted',
    reason: 'regression',
    currentPhase: 0,
    createdAt: '2026-12-05T00:00:00Z',
    updatedAt: '2026-12-05T00:10:00Z',
    rollback: {
      status: 'succeeded',
      deployments: [{ artifactName: 'release-1', devices: ['a', 'b'], deploymentId: 'd-back' }],
      skipped: [],
    },
    phases: [
      {
        index: 0,
        status: 'aborted',
        devices: ['a', 'b'],
        gates: [GATE_DECISION],
      },
      { index: 1, status: 'pending', devices: ['c', 'd', 'e'] },
    ],
  };
}
