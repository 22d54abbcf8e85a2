import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeArtifact } from '@otakit/core';
import { ManagementClient } from '@otakit/management-client';
import { type IotCoreSandbox, type Sandbox, startIotCoreSandbox, startSandbox } from '@otakit/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRegressions, type FleetSimulator, parseRegression, startFleetSimulator } from '../src/index.js';

const REG = { project: 'otakit-sandbox', location: 'us-central1', registry: 'devices' };

let mender: Sandbox;
let iot: IotCoreSandbox;
let mgmt: ManagementClient;
let dir: string;
let fleet: FleetSimulator;

async function until<T>(what: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function deploy(name: string): Promise<string> {
  const image = join(dir, `${name}.img`);
  await writeFile(image, randomBytes(64 * 1024));
  const path = join(dir, `${name}.mender`);
  await writeArtifact(
    { type: 'rootfs-image', artifactName: name, deviceTypes: ['sim-board'], files: [image] },
    path,
  );
  await mgmt.artifacts.upload(path);
  const ids: string[] = [];
  for await (const d of mgmt.devices.list({ status: 'accepted' })) if (d.id) ids.push(d.id);
  const id = await mgmt.deployments.create({ name, artifactName: name, devices: ids });
  await mgmt.deployments.waitFor(id, {
    interval: 200,
    maxInterval: 500,
    signal: AbortSignal.timeout(60_000),
  });
  return id;
}

const samples = (release: string) =>
  iot.telemetry
    .map((m) => JSON.parse(m.data.toString('utf8')) as { artifact_name: string; cpu_temp: number })
    .filter((m) => m.artifact_name === release)
    .map((m) => m.cpu_temp);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

beforeAll(async () => {
  mender = await startSandbox({ port: 0 });
  iot = await startIotCoreSandbox({ port: 0, ...REG });
  mgmt = new ManagementClient({ serverUrl: mender.url, auth: mender.managementToken() });
  dir = await mkdtemp(join(tmpdir(), 'otakit-sim-'));
  fleet = await startFleetSimulator({
    menderUrl: mender.url,
    management: mgmt,
    iot: { ...REG, apiUrl: iot.url, mqttUrl: iot.mqttUrl ?? '', token: iot.adminToken ?? '' },
    devices: 4,
    dataDir: join(dir, 'fleet'),
    telemetryIntervalMs: 200,
    pollIntervalMs: 300,
    metrics: ({ index }) => ({ cpu_temp: 50 + index }),
    regress: [parseRegression('release-2.1:cpu_temp:+30%')],
    healthy: ({ release }) => release !== 'release-bad',
  });
}, 60_000);
afterAll(async () => {
  await fleet?.stop();
  await mgmt?.close();
  await iot?.close();
  await mender?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('parseRegression', () => {
  it('reads relative and absolute changes and applies them to the named release only', () => {
    const r = parseRegression('release-2.1:cpu_temp:+30%');
    expect(r).toEqual({ release: 'release-2.1', metric: 'cpu_temp', change: '+30%' });
    expect(parseRegression('r:errors:+1').change).toBe(1);
    expect(() => parseRegression('release-2.1:cpu_temp')).toThrow(TypeError);
    expect(applyRegressions('release-2.1', { cpu_temp: 50, other: 1 }, [r])).toEqual({
      cpu_temp: 65,
      other: 1,
    });
    expect(applyRegressions('release-2.0', { cpu_temp: 50 }, [r])).toEqual({ cpu_temp: 50 });
  });
});

describe('a simulated fleet on both planes', () => {
  it('registers every device, syncs it into Mender with its key, and publishes telemetry', async () => {
    expect(fleet.sync?.counts.preauthorized).toBe(4);
    expect(fleet.devices.map((d) => d.id)).toEqual(['sim-1', 'sim-2', 'sim-3', 'sim-4']);
    await until(async () => (await mgmt.devices.list({ status: 'accepted' }).toArray()).length === 4);
    await until(() => new Set(iot.telemetry.map((m) => m.deviceId)).size === 4);
    expect(samples('unknown').length).toBeGreaterThan(0);
  });

  it('makes a named release regress and keeps the others as they were', async () => {
    await deploy('release-2.0');
    await until(() => samples('release-2.0').length >= 8);
    await deploy('release-2.1');
    await until(() => samples('release-2.1').length >= 8);
    const before = mean(samples('release-2.0'));
    const after = mean(samples('release-2.1'));
    expect(before).toBeCloseTo(51.5, 0);
    expect(after / before).toBeCloseTo(1.3, 1);
    expect([...(await fleet.releases()).values()]).toEqual(Array(4).fill('release-2.1'));
  });

  it('fails the health check of an unhealthy release: every device rolls back', async () => {
    const outcomes: string[] = [];
    fleet.on('update', (e) => outcomes.push(e.outcome));
    const id = await deploy('release-bad');
    const stats = await mgmt.deployments.statistics(id);
    expect(stats.failure).toBe(4);
    await until(() => outcomes.length === 4);
    expect(outcomes).toEqual(Array(4).fill('failure'));
    expect([...(await fleet.releases()).values()]).toEqual(Array(4).fill('release-2.1'));
  });
});
