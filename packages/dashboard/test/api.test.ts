import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryClient } from '@otakit/iot-core-adapter';
import { type IotCoreSandbox, startIotCoreSandbox } from '@otakit/sandbox';
import { startTelemetryApi, TelemetryHttpClient } from '@otakit/telemetry';
import { vectorPath } from '@otakit/test-support';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONTENT_SECURITY_POLICY,
  type Dashboard,
  DashboardOptionsError,
  type FleetSnapshot,
  startDashboard,
} from '../src/index.js';
import {
  connectDevice,
  deployArtifact,
  GATE_DECISION,
  gatedRolloutState,
  nextDeployment,
  reportStatus,
  startTestFleet,
  type TestFleet,
  telemetryFor,
} from './fleet.js';

const ARTIFACT = 'shared-rootfs-1';

async function get(url: string): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const res = await request(url);
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

/** Reads server-sent events from `/api/events` until `until` accepts a snapshot. */
async function nextSnapshot(
  url: string,
  until: (s: FleetSnapshot) => boolean,
  trigger?: () => Promise<void>,
): Promise<FleetSnapshot> {
  const ac = new AbortController();
  const res = await request(`${url}/api/events`, { signal: ac.signal });
  expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
  let buf = '';
  let triggered = false;
  try {
    for await (const chunk of res.body) {
      buf += chunk.toString();
      let end = buf.indexOf('\n\n');
      while (end >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const data = block.split('\n').find((l) => l.startsWith('data: '));
        if (block.startsWith('event: fleet') && data) {
          const snap = JSON.parse(data.slice(6)) as FleetSnapshot;
          if (until(snap)) return snap;
          if (trigger && !triggered) {
            triggered = true;
            await trigger();
          }
        }
        end = buf.indexOf('\n\n');
      }
    }
  } finally {
    ac.abort();
  }
  throw new Error('event stream ended');
}

describe('the dashboard API over a real sandbox and telemetry store', () => {
  let fleet: TestFleet;
  let dash: Dashboard;
  let dir: string;
  let deploymentId: string;
  let iot: IotCoreSandbox;
  let registry: RegistryClient;

  beforeAll(async () => {
    // The registry plane: the sandbox's Cloud IoT Core-compatible registry, read with the adapter's client.
    iot = await startIotCoreSandbox({ port: 0 });
    registry = new RegistryClient({
      project: 'otakit-sandbox',
      location: 'us-central1',
      registry: 'devices',
      baseUrl: iot.url,
      auth: iot.adminToken ?? '',
    });
    for (const id of ['dev-0001', 'dev-0002', 'dev-0003']) {
      await registry.devices.create({ id, blocked: id === 'dev-0002' });
    }
    fleet = await startTestFleet(4);
    const [d1, d2, d3] = fleet.devices;
    await connectDevice(fleet, d1!, 'release-1');
    await connectDevice(fleet, d2!, 'release-1');
    await connectDevice(fleet, d3!, 'release-1');
    await fleet.telemetry.appendBatch(
      telemetryFor(
        [
          { deviceId: 'dev-0001', release: 'release-1' },
          { deviceId: 'dev-0002', release: 'release-1' },
          { deviceId: 'dev-0003', release: 'release-2' },
        ],
        20,
      ),
    );
    deploymentId = await deployArtifact(fleet, vectorPath('rootfs-gzip-unsigned.mender'), ARTIFACT, [
      d1!,
      d2!,
    ]);
    dir = mkdtempSync(join(tmpdir(), 'otakit-dash-'));
    writeFileSync(join(dir, 'rollout.json'), JSON.stringify(gatedRolloutState(ARTIFACT)));
    dash = await startDashboard({
      management: fleet.management,
      telemetry: fleet.telemetry,
      registry,
      rolloutStateFiles: [join(dir, 'rollout.json'), join(dir, 'not-yet.json')],
      refreshMs: 100,
    });
  });
  afterAll(async () => {
    await dash?.close();
    await fleet?.close();
    await iot?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('joins both planes into one row per device on identity device_id', async () => {
    const res = await get(`${dash.url}/api/fleet`);
    expect(res.status).toBe(200);
    const snap = JSON.parse(res.text) as FleetSnapshot;
    expect(snap.errors).toEqual([]);
    expect(snap.devices.map((d) => d.id)).toEqual(['dev-0001', 'dev-0002', 'dev-0003', 'dev-0004']);
    const [d1, d2, d3, d4] = snap.devices;
    expect(d1).toMatchObject({
      menderId: fleet.devices[0]!.menderId,
      menderStatus: 'accepted',
      registryStatus: 'active',
      release: 'release-1',
      registryLastEvent: null,
    });
    expect(d1!.telemetryLastSeen).not.toBeNull();
    expect(d1!.menderLastSeen).not.toBeNull();
    expect(typeof d1!.metrics.cpu_temp).toBe('number');
    expect(d2!.registryStatus).toBe('blocked');
    // telemetry's artifact name wins over the inventory's: dev-0003 reports release-2
    expect(d3!.release).toBe('release-2');
    expect(d4).toMatchObject({
      menderStatus: 'preauthorized',
      release: null,
      telemetryLastSeen: null,
      registryStatus: null,
    });
    expect(snap.releases).toEqual([
      { name: 'release-1', devices: 2 },
      { name: 'release-2', devices: 1 },
    ]);
    expect(snap.metrics).toEqual(['cpu_temp', 'mem_free']);
  });

  it('lists the active deployment with each device by its registry id', async () => {
    const snap = JSON.parse((await get(`${dash.url}/api/fleet`)).text) as FleetSnapshot;
    const dep = snap.deployments.find((d) => d.id === deploymentId);
    expect(dep).toMatchObject({ name: 'canary', artifactName: ARTIFACT, statistics: { pending: 2 } });
    expect(dep!.devices.map((d) => [d.id, d.status]).sort()).toEqual([
      ['dev-0001', 'pending'],
      ['dev-0002', 'pending'],
    ]);
    expect(snap.devices[0]!.deployment).toEqual({ id: deploymentId, status: 'pending' });
  });

  it('shows the gated rollout with its gate numbers, skipping a state file not written yet', async () => {
    const snap = JSON.parse((await get(`${dash.url}/api/fleet`)).text) as FleetSnapshot;
    expect(snap.rollouts).toHaveLength(1);
    expect(snap.rollouts[0]).toMatchObject({
      file: 'rollout.json',
      name: 'gated',
      status: 'aborted',
      reason: 'regression',
    });
    expect(snap.rollouts[0]!.phases[0]).toMatchObject({ devices: 2, status: 'aborted' });
    expect(snap.rollouts[0]!.phases[0]!.gates).toEqual([GATE_DECISION]);
    expect(snap.rollouts[0]!.rollback).toEqual({
      status: 'succeeded',
      deployments: [{ artifactName: 'release-1', devices: 2, deploymentId: 'd-back' }],
      skipped: 0,
    });
    expect(snap.rollouts[0]!.phases[1]!.gates).toEqual([]);
  });

  it('pushes a fresh snapshot over server-sent events when a device reports progress', async () => {
    const d1 = fleet.devices[0]!;
    const snap = await nextSnapshot(
      dash.url,
      (s) => s.devices[0]?.deployment?.status === 'downloading',
      async () => {
        expect(await nextDeployment(fleet, d1, 'release-1')).toEqual({
          id: deploymentId,
          artifactName: ARTIFACT,
        });
        await reportStatus(fleet, d1, deploymentId, 'downloading');
      },
    );
    const dep = snap.deployments.find((d) => d.id === deploymentId)!;
    expect(dep.statistics).toMatchObject({ downloading: 1, pending: 1 });
  });

  it('buckets a release metric over time and marks its deployments', async () => {
    const res = await get(`${dash.url}/api/series?release=release-1&metric=cpu_temp`);
    expect(res.status).toBe(200);
    const s = JSON.parse(res.text);
    expect(s.times).toHaveLength(60);
    expect(s.count.reduce((a: number, b: number) => a + b, 0)).toBe(40);
    const means = s.mean.filter((m: number | null) => m !== null);
    expect(means.length).toBeGreaterThan(10);
    for (const m of means) expect(m).toBeGreaterThanOrEqual(50);
    const none = JSON.parse((await get(`${dash.url}/api/series?release=${ARTIFACT}&metric=cpu_temp`)).text);
    expect(none.deployments.map((d: { id: string }) => d.id)).toEqual([deploymentId]);
    expect(none.deployments[0].created).toEqual(expect.any(String));
    expect((await get(`${dash.url}/api/series?release=release-1`)).status).toBe(400);
  });

  it('gives a device its telemetry history and its deployments, and 404 for an unknown one', async () => {
    const res = await get(`${dash.url}/api/devices/dev-0001`);
    expect(res.status).toBe(200);
    const body = JSON.parse(res.text);
    expect(body.device.id).toBe('dev-0001');
    expect(body.telemetry).toHaveLength(20);
    expect(body.telemetry[0].artifactName).toBe('release-1');
    expect(body.deployments).toEqual([
      expect.objectContaining({
        id: deploymentId,
        name: 'canary',
        artifactName: ARTIFACT,
        status: 'downloading',
      }),
    ]);
    expect((await get(`${dash.url}/api/devices/nope`)).status).toBe(404);
  });

  it('serves the page under a strict CSP and never sends the management token', async () => {
    const page = await get(`${dash.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'none'");
    expect(page.text).toContain('<script type="module" src="/assets/app.js">');
    // The current snapshot rides in the page as a JSON data block, so the first paint needs no round trip.
    const embedded = /<script type="application\/json" id="initial-snapshot">(.*?)<\/script>/s.exec(
      page.text,
    );
    expect((JSON.parse(embedded![1]!) as FleetSnapshot).devices.map((d) => d.id)).toContain('dev-0001');
    const js = await get(`${dash.url}/assets/app.js`);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect((await get(`${dash.url}/assets/../package.json`)).status).toBe(404);
    const token = fleet.sandbox.managementToken();
    for (const path of [
      '/',
      '/api/fleet',
      '/api/devices/dev-0001',
      '/api/series?release=release-1&metric=cpu_temp',
    ]) {
      expect((await get(`${dash.url}${path}`)).text).not.toContain(token);
    }
  });

  it('reports a plane that fails in errors and keeps serving the other', async () => {
    const broken = await startDashboard({
      management: fleet.management,
      telemetry: {
        latest: async () => {
          throw new Error('telemetry down');
        },
        messages: async () => [],
      },
    });
    try {
      const snap = JSON.parse((await get(`${broken.url}/api/fleet`)).text) as FleetSnapshot;
      expect(snap.errors).toEqual([{ source: 'telemetry', message: 'telemetry down' }]);
      expect(snap.devices).toHaveLength(4);
      expect(snap.devices[2]!.release).toBe('release-1');
    } finally {
      await broken.close();
    }
  });

  it('reads telemetry over HTTP through TelemetryHttpClient, the token staying on the server', async () => {
    const api = await startTelemetryApi({ store: fleet.telemetry, token: 'telemetry-secret', port: 0 });
    const client = new TelemetryHttpClient({ baseUrl: api.url, auth: () => 'telemetry-secret' });
    const remote = await startDashboard({ management: fleet.management, telemetry: client });
    try {
      const fleetRes = await get(`${remote.url}/api/fleet`);
      const snap = JSON.parse(fleetRes.text) as FleetSnapshot;
      expect(snap.errors).toEqual([]);
      expect(snap.devices.find((d) => d.id === 'dev-0003')!.release).toBe('release-2');
      const series = JSON.parse(
        (await get(`${remote.url}/api/series?release=release-1&metric=cpu_temp`)).text,
      );
      expect(series.count.reduce((a: number, b: number) => a + b, 0)).toBe(40);
      expect(fleetRes.text).not.toContain('telemetry-secret');
    } finally {
      await remote.close();
      await client.close();
      await api.close();
    }
  });

  it('refuses to start without both planes', async () => {
    await expect(
      startDashboard({ management: fleet.management } as unknown as Parameters<typeof startDashboard>[0]),
    ).rejects.toBeInstanceOf(DashboardOptionsError);
  });
});
