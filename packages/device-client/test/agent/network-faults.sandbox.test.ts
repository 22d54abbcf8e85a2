import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FaultConfig, type Sandbox, startSandbox } from '@otakit/sandbox';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceClient, type DeviceClientOptions, SimulatedInstaller } from '../../src/index.js';
import { FaultServer } from './fault-server.js';
import { deviceKey, Mgmt, makeArtifact } from './sandbox-helpers.js';

const SIZE = 4 * 1024 * 1024;
const DOWNLOADS = '/api/devices/v1/deployments/download/';
let sandbox: Sandbox;
let mgmt: Mgmt;
let clockOffsetMs = 0;

beforeEach(async () => {
  clockOffsetMs = 0;
  sandbox = await startSandbox({ port: 0, now: () => new Date(Date.now() + clockOffsetMs) });
  mgmt = new Mgmt(sandbox);
});
afterEach(async () => {
  await sandbox.close();
});

/** Deploys a fresh artifact to a fresh device, turns the faults on and installs. */
async function updateUnder(faults: FaultConfig, overrides: Partial<DeviceClientOptions> = {}) {
  const key = await deviceKey();
  const dataDir = await mkdtemp(join(tmpdir(), 'otakit-nf-'));
  const identity = { mac: `02:00:00:${Math.random().toString(16).slice(2, 8)}` };
  const deviceId = await mgmt.preauthorize(identity, key.publicKeyPem);
  const name = `nf-${Math.random().toString(16).slice(2, 8)}`;
  const art = await makeArtifact({ name, size: SIZE });
  await mgmt.upload(art.path);
  const deploymentId = await mgmt.deploy(name, [deviceId]);
  const client = new DeviceClient({
    serverUrl: sandbox.url,
    privateKey: key.privateKey,
    identity,
    deviceType: 'test-device',
    dataDir,
    installers: [new SimulatedInstaller({ dir: join(dataDir, 'device') })],
    statusReports: { retry: { baseDelayMs: 10 } },
    retry: { baseDelayMs: 10, maxDelayMs: 50 },
    download: { retry: { baseDelayMs: 5, maxDelayMs: 20 }, stallTimeoutMs: 500 },
    ...overrides,
  });
  let networkBytes = 0;
  let totalBytes = 0;
  const retries: string[] = [];
  client.events.on('download:progress', (e) => {
    networkBytes = e.networkBytes;
    totalBytes = e.totalBytes ?? 0;
  });
  client.events.on('download:retry', (e) => retries.push(e.reason));
  await client.authenticate();
  const next = await client.checkForUpdate();
  sandbox.faults.set(faults);
  const result = await client.installDeployment(next!, {});
  sandbox.faults.clear();
  await client.close();
  return {
    result,
    networkBytes,
    totalBytes,
    retries,
    serverStatus: await mgmt.deviceStatus(deploymentId, deviceId),
    client,
  };
}

describe('network faults from the sandbox switches', () => {
  for (const at of [0, 0.5, 0.999]) {
    it(`resumes after a reset at ${at * 100} % with under 5 % extra bytes`, async () => {
      const r = await updateUnder({
        resetAfterBytes: { bytes: Math.floor(SIZE * at), count: 1, pathPrefix: DOWNLOADS },
      });
      expect(r.result.outcome).toBe('success');
      expect(r.serverStatus).toBe('success');
      expect(r.retries.length).toBeGreaterThanOrEqual(1);
      expect(r.networkBytes / r.totalBytes).toBeLessThan(1.05);
    });
  }

  it('survives repeated resets on one download', async () => {
    const r = await updateUnder({ resetAfterBytes: { bytes: 700_000, count: 5, pathPrefix: DOWNLOADS } });
    expect(r.result.outcome).toBe('success');
    expect(r.retries.length).toBe(5);
    expect(r.networkBytes / r.totalBytes).toBeLessThan(1.05);
  });

  it('completes when the server ignores Range, skipping the bytes it already has', async () => {
    const r = await updateUnder({
      resetAfterBytes: { bytes: SIZE / 2, count: 1, pathPrefix: DOWNLOADS },
      ignoreRange: { pathPrefix: DOWNLOADS },
    });
    expect(r.result.outcome).toBe('success');
    expect(r.serverStatus).toBe('success');
    // The second response started at byte 0: its prefix was discarded, not installed twice.
    expect(r.networkBytes).toBeGreaterThan(r.totalBytes * 1.4);
  });

  it('asks next again for a fresh link when the link expired mid-download', async () => {
    const r = await updateUnder(
      { resetAfterBytes: { bytes: SIZE / 2, count: 1, pathPrefix: DOWNLOADS } },
      {},
    ).catch((e) => {
      throw e;
    });
    expect(r.result.outcome).toBe('success');
    // Now the same with the clock moved past the link's expiry before the resume.
    const key = await deviceKey();
    const dataDir = await mkdtemp(join(tmpdir(), 'otakit-nf-'));
    const identity = { mac: '02:00:00:ee:ee:ee' };
    const deviceId = await mgmt.preauthorize(identity, key.publicKeyPem);
    const art = await makeArtifact({ name: 'expiring', size: SIZE });
    await mgmt.upload(art.path);
    const deploymentId = await mgmt.deploy('expiring', [deviceId]);
    const client = new DeviceClient({
      serverUrl: sandbox.url,
      privateKey: key.privateKey,
      identity,
      deviceType: 'test-device',
      dataDir,
      installers: [new SimulatedInstaller({ dir: join(dataDir, 'device') })],
      download: { retry: { baseDelayMs: 5, maxDelayMs: 20 } },
    });
    const reasons: string[] = [];
    client.events.on('download:retry', (e) => {
      reasons.push(e.reason);
      clockOffsetMs = 25 * 3600 * 1000;
    });
    const next = await client.checkForUpdate();
    sandbox.faults.set({ resetAfterBytes: { bytes: SIZE / 2, count: 1, pathPrefix: DOWNLOADS } });
    const result = await client.installDeployment(next!);
    expect(result.outcome).toBe('success');
    expect(reasons.some((x) => /link expired/.test(x))).toBe(true);
    expect(await mgmt.deviceStatus(deploymentId, deviceId)).toBe('success');
    await client.close();
  });

  it('retries through a burst of 5xx answers on the device API and the download', async () => {
    const r = await updateUnder({ serverErrors: { ratio: 0.5, count: 6, status: 503 } });
    expect(r.result.outcome).toBe('success');
    expect(r.serverStatus).toBe('success');
  });

  it('honours 429 Retry-After', async () => {
    const r = await updateUnder({ rateLimit: { retryAfter: 1, count: 2 } });
    expect(r.result.outcome).toBe('success');
    expect(r.serverStatus).toBe('success');
  });

  it('detects a stalled download and resumes', async () => {
    const r = await updateUnder({ stall: { afterBytes: SIZE / 3, count: 1, pathPrefix: DOWNLOADS } });
    expect(r.result.outcome).toBe('success');
    expect(r.retries).toContain('ERR_DEVICE_DOWNLOAD_STALLED');
    expect(r.networkBytes / r.totalBytes).toBeLessThan(1.05);
  });

  it('ends an install at once instead of looping when the download answers 404', async () => {
    const server = new FaultServer(Buffer.alloc(10));
    const base = await server.listen();
    const dataDir = await mkdtemp(join(tmpdir(), 'otakit-nf-'));
    const client = new DeviceClient({
      deviceType: 'test-device',
      dataDir,
      installers: [new SimulatedInstaller({ dir: join(dataDir, 'device') })],
    });
    const result = await client.installFromUrl(`${base}/missing/artifact.mender`);
    await server.close();
    expect(result.outcome).toBe('failure');
    expect(result.error).toMatch(/HTTP 404/);
    expect(server.requests).toHaveLength(1);
    expect(await client.states.load()).toBeUndefined();
  });
});
