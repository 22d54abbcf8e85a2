import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDeviceKey } from '@otakit/core';
import { type Sandbox, startSandbox } from '@otakit/sandbox';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceClient, type DeviceClientOptions, SimulatedInstaller } from '../../src/index.js';
import { deviceKey, Mgmt, makeArtifact } from './sandbox-helpers.js';

let sandbox: Sandbox;
let mgmt: Mgmt;

beforeEach(async () => {
  sandbox = await startSandbox({ port: 0 });
  mgmt = new Mgmt(sandbox);
});
afterEach(async () => {
  await sandbox.close();
});

async function device(overrides: Partial<DeviceClientOptions> = {}) {
  const key = await deviceKey();
  const dataDir = await mkdtemp(join(tmpdir(), 'otakit-dev-'));
  const sim = new SimulatedInstaller({ dir: join(dataDir, 'device') });
  const identity = { mac: `02:00:00:${Math.random().toString(16).slice(2, 8)}` };
  const deviceId = await mgmt.preauthorize(identity, key.publicKeyPem);
  const client = new DeviceClient({
    serverUrl: sandbox.url,
    privateKey: key.privateKey,
    identity,
    deviceType: 'test-device',
    dataDir,
    installers: [sim],
    statusReports: { retry: { baseDelayMs: 10 } },
    download: { retry: { baseDelayMs: 5, maxDelayMs: 20 } },
    ...overrides,
  });
  const states: string[] = [];
  const statuses: string[] = [];
  client.events.on('state:enter', (e) => states.push(e.state));
  client.events.on('deployment:status', (e) => statuses.push(e.error ? `${e.status}!` : e.status));
  return { client, sim, deviceId, dataDir, states, statuses };
}

async function deployNew(
  deviceId: string,
  name: string,
  opts: Parameters<typeof makeArtifact>[0] | object = {},
) {
  const art = await makeArtifact({ name, ...opts });
  await mgmt.upload(art.path);
  const deploymentId = await mgmt.deploy(name, [deviceId]);
  return { ...art, deploymentId };
}

describe('device update against the sandbox', () => {
  it('runs a full update to success and reports each step', async () => {
    const d = await device();
    const dep = await deployNew(d.deviceId, 'release-2');
    const next = await d.client.checkForUpdate();
    expect(next?.id).toBe(dep.deploymentId);
    const result = await d.client.installDeployment(next!);
    expect(result.outcome).toBe('success');
    expect(d.states).toEqual([
      'Download',
      'ArtifactInstall',
      'ArtifactReboot',
      'ArtifactVerifyReboot',
      'ArtifactCommit',
      'Cleanup',
      'ReportStatus',
    ]);
    expect(d.statuses).toEqual(['downloading', 'installing', 'rebooting', 'installing', 'success']);
    expect(await mgmt.deviceStatus(dep.deploymentId, d.deviceId)).toBe('success');
    expect((await d.client.installed()).artifactName).toBe('release-2');
    expect(Object.values(await d.sim.currentContent())[0]?.equals(dep.image)).toBe(true);
    expect(await d.client.states.load()).toBeUndefined();
  });

  it('rolls back when a health check fails and reports failure with the log', async () => {
    const d = await device({
      healthChecks: [{ name: 'app-starts', check: async () => false }],
    });
    const dep = await deployNew(d.deviceId, 'release-bad');
    const result = await d.client.installDeployment((await d.client.checkForUpdate())!);
    expect(result.outcome).toBe('failure');
    expect(d.states).toContain('ArtifactRollback');
    expect(d.states).toContain('ArtifactRollbackReboot');
    expect(d.states).toContain('ArtifactFailure');
    expect(await mgmt.deviceStatus(dep.deploymentId, d.deviceId)).toBe('failure');
    expect(await mgmt.log(dep.deploymentId, d.deviceId)).toContain('health check app-starts');
    expect((await d.client.installed()).artifactName).toBe('unknown');
    expect(await d.sim.activeSlot()).toBe('a');
  });

  it('rolls back when the new image does not boot', async () => {
    const d = await device();
    const dep = await deployNew(d.deviceId, 'release-noboot');
    await d.sim.failNextBoot();
    const result = await d.client.installDeployment((await d.client.checkForUpdate())!);
    expect(result.outcome).toBe('failure');
    expect(await mgmt.deviceStatus(dep.deploymentId, d.deviceId)).toBe('failure');
    expect(await d.sim.activeSlot()).toBe('a');
  });

  it('stops without installing when the deployment is aborted before the download', async () => {
    const d = await device();
    const dep = await deployNew(d.deviceId, 'release-abort-1');
    const next = await d.client.checkForUpdate();
    await mgmt.abort(dep.deploymentId);
    const result = await d.client.installDeployment(next!);
    expect(result.outcome).toBe('aborted');
    expect(d.states).not.toContain('ArtifactInstall');
    expect(await mgmt.deviceStatus(dep.deploymentId, d.deviceId)).toBe('aborted');
  });

  for (const point of ['beforeInstall', 'beforeReboot', 'beforeCommit'] as const) {
    it(`rolls back or cleans up when the deployment is aborted at ${point}`, async () => {
      let deploymentId = '';
      const d = await device({
        pause: {
          hooks: {
            [point]: async () => {
              await mgmt.abort(deploymentId);
              return 'continue';
            },
          },
        },
      });
      const dep = await deployNew(d.deviceId, `release-abort-${point}`);
      deploymentId = dep.deploymentId;
      const result = await d.client.installDeployment((await d.client.checkForUpdate())!);
      expect(result.outcome).toBe('aborted');
      expect((await d.client.installed()).artifactName).toBe('unknown');
      expect(await d.sim.activeSlot()).toBe('a');
      if (point !== 'beforeInstall') expect(d.states).toContain('ArtifactRollback');
      expect(await mgmt.deviceStatus(dep.deploymentId, d.deviceId)).toBe('aborted');
    });
  }

  it('refuses an artifact for another device type', async () => {
    const d = await device();
    const other = await makeArtifact({ name: 'other-type', deviceType: 'another-board' });
    const result = await d.client.installFromFile(other.path);
    expect(result.outcome).toBe('failure');
    expect(result.error).toMatch(/device_type|device type/);
    expect(d.states).not.toContain('ArtifactInstall');
  });

  it('refuses an unsigned artifact when trusted keys are required, and reports failure', async () => {
    const signer = await generateDeviceKey({ type: 'ecdsa-p256' });
    const d = await device({ policy: { trustedKeys: [signer.publicKeyPem] } });
    const dep = await deployNew(d.deviceId, 'release-unsigned');
    const result = await d.client.installDeployment((await d.client.checkForUpdate())!);
    expect(result.outcome).toBe('failure');
    expect(d.states).not.toContain('ArtifactInstall');
    expect(await mgmt.deviceStatus(dep.deploymentId, d.deviceId)).toBe('failure');
  });

  it('installs an artifact signed by a trusted key', async () => {
    const signer = await generateDeviceKey({ type: 'ecdsa-p256' });
    const d = await device({ policy: { trustedKeys: [signer.publicKeyPem] } });
    const dep = await deployNew(d.deviceId, 'release-signed', { signingKey: signer.privateKeyPem });
    const result = await d.client.installDeployment((await d.client.checkForUpdate())!);
    expect(result.outcome).toBe('success');
    expect(await mgmt.deviceStatus(dep.deploymentId, d.deviceId)).toBe('success');
  });

  it('refuses an artifact below the version floor', async () => {
    const d = await device({ policy: { minVersion: '2.0.0' } });
    const old = await makeArtifact({ name: 'old', deviceType: 'test-device', version: '1.9.0' });
    const result = await d.client.installFromFile(old.path);
    expect(result.outcome).toBe('failure');
    expect(result.error).toMatch(/below the floor/);
  });

  it('gets nothing to do for an artifact that is already installed', async () => {
    const d = await device();
    const first = await deployNew(d.deviceId, 'release-same');
    expect((await d.client.installDeployment((await d.client.checkForUpdate())!)).outcome).toBe('success');
    const again = await mgmt.deploy('release-same', [d.deviceId]);
    expect(await d.client.checkForUpdate()).toBeUndefined();
    expect(await mgmt.deviceStatus(again, d.deviceId)).toBe('already-installed');
    expect(first.deploymentId).not.toBe(again);
  });

  it('runs the daemon loop: waits while pending, installs, stops cleanly on abort', async () => {
    const key = await deviceKey();
    const dataDir = await mkdtemp(join(tmpdir(), 'otakit-dev-'));
    const identity = { serial: 'loop-1' };
    const client = new DeviceClient({
      serverUrl: sandbox.url,
      privateKey: key.privateKeyPem,
      identity: async () => identity,
      deviceType: 'test-device',
      dataDir,
      installers: [new SimulatedInstaller({ dir: join(dataDir, 'device') })],
      poll: { updateIntervalMs: 50, retry: { baseDelayMs: 50, maxDelayMs: 100 } },
    });
    const seen: string[] = [];
    const ac = new AbortController();
    let deviceId = '';
    client.events.on('auth:pending', () => {
      if (!seen.includes('pending')) {
        seen.push('pending');
        // Accept the device by preauthorizing its key under the same identity (force upsert).
        void mgmt
          .call('POST', '/api/management/v2/devauth/devices', {
            identity_data: identity,
            pubkey: key.publicKeyPem,
            force: true,
          })
          .then(async (res) => {
            deviceId = res.headers.get('location')!.split('/').pop()!;
            await deployNew(deviceId, 'release-loop');
          });
      }
    });
    client.events.on('update:done', (e) => {
      seen.push(`done:${e.outcome}`);
      ac.abort();
    });
    await client.run({ signal: ac.signal });
    expect(seen).toEqual(['pending', 'done:success']);
    expect((await client.installed()).artifactName).toBe('release-loop');
    await client.close();
  });
});
