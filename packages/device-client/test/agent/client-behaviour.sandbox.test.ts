import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient } from '@otakit/core';
import { type Sandbox, startSandbox } from '@otakit/sandbox';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceApi } from '../../src/api/device-api.js';
import { DeviceClient, type DeviceClientOptions, SimulatedInstaller } from '../../src/index.js';
import { deviceKey, Mgmt, makeArtifact } from './sandbox-helpers.js';

let sandbox: Sandbox;
let mgmt: Mgmt;
beforeEach(async () => {
  sandbox = await startSandbox({ port: 0, deviceTokenTtlSeconds: 3600 });
  mgmt = new Mgmt(sandbox);
});
afterEach(async () => {
  await sandbox.close();
});

async function device(overrides: Partial<DeviceClientOptions> = {}) {
  const key = await deviceKey();
  const dataDir = await mkdtemp(join(tmpdir(), 'otakit-cb-'));
  const identity = { mac: `02:00:00:${Math.random().toString(16).slice(2, 8)}` };
  const deviceId = await mgmt.preauthorize(identity, key.publicKeyPem);
  const client = new DeviceClient({
    serverUrl: sandbox.url,
    privateKey: key.privateKey,
    identity,
    deviceType: 'test-device',
    dataDir,
    installers: [new SimulatedInstaller({ dir: join(dataDir, 'device') })],
    ...overrides,
  });
  return { client, deviceId, key, identity, dataDir };
}

describe('device API behaviour', () => {
  it('throws ERR_DEVICE_PENDING for a device that is not accepted', async () => {
    const key = await deviceKey();
    const http = new HttpClient({ baseUrl: sandbox.url });
    const api = new DeviceApi({ http, privateKey: key.privateKey, identity: { mac: 'unknown' } });
    await expect(api.authenticate()).rejects.toMatchObject({ code: 'ERR_DEVICE_PENDING' });
    await http.close();
  });

  it('re-authenticates once and retries when the token is revoked (401)', async () => {
    const d = await device();
    await d.client.authenticate();
    // Revoke the token: the server forgets it, the next call answers 401.
    const token = (await d.client.authenticate()).split('.')[1]!;
    const jti = (JSON.parse(Buffer.from(token, 'base64url').toString()) as { jti: string }).jti;
    await mgmt.call('DELETE', `/api/management/v2/devauth/tokens/${jti}`);
    let auths = 0;
    d.client.events.on('auth:accepted', () => auths++);
    expect(await d.client.sendInventory({ extra: 'x' })).toBe(true);
    expect(auths).toBe(1);
  });

  it('renews the token before it expires', async () => {
    await sandbox.close();
    // Tokens issued 3500 s ago with a 3600 s lifetime: 100 s left, inside the renewal margin.
    sandbox = await startSandbox({
      port: 0,
      deviceTokenTtlSeconds: 3600,
      now: () => new Date(Date.now() - 3_500_000),
    });
    mgmt = new Mgmt(sandbox);
    const d = await device();
    let auths = 0;
    d.client.events.on('auth:accepted', () => auths++);
    await d.client.authenticate();
    await d.client.sendInventory({ a: '1' });
    expect(auths).toBe(2);
  });

  it('sends inventory with device type, artifact name and client version, and skips unchanged inventory', async () => {
    const d = await device();
    expect(await d.client.sendInventory({ kernel: '6.1' })).toBe(true);
    expect(await d.client.sendInventory({ kernel: '6.1' })).toBe(false);
    const res = await mgmt.call('GET', `/api/management/v1/inventory/devices/${d.deviceId}`);
    const attrs = ((await res.json()) as { attributes: { name: string; value: unknown }[] }).attributes;
    const byName = Object.fromEntries(attrs.map((a) => [a.name, a.value]));
    expect(byName).toMatchObject({ kernel: '6.1', device_type: 'test-device', artifact_name: 'unknown' });
    expect(byName.otakit_client_version).toBeDefined();
  });

  it('falls back to GET v1 next when v2 answers 404', async () => {
    const d = await device();
    const art = await makeArtifact({ name: 'v1-fallback' });
    await mgmt.upload(art.path);
    const dep = await mgmt.deploy('v1-fallback', [d.deviceId]);
    sandbox.faults.set({ disableV2Next: true });
    expect((await d.client.checkForUpdate())?.id).toBe(dep);
  });

  it('checkNow() cuts the hour-long poll wait short and installs the waiting deployment', async () => {
    const d = await device({ poll: { updateIntervalMs: 3_600_000, inventoryIntervalMs: 3_600_000 } });
    const stop = new AbortController();
    const waits: string[] = [];
    const firstWait = new Promise<void>((resolve) =>
      d.client.events.on('agent:wait', (e) => {
        waits.push(e.reason);
        if (e.reason === 'poll' && e.delayMs > 60_000) resolve();
      }),
    );
    const done = new Promise<string>((resolve) =>
      d.client.events.on('update:done', (e) => resolve(e.outcome)),
    );
    const running = d.client.run({ signal: stop.signal });
    try {
      await firstWait; // polled once, found nothing, now waits an hour
      const art = await makeArtifact({ name: 'now-please' });
      await mgmt.upload(art.path);
      const dep = await mgmt.deploy('now-please', [d.deviceId]);
      d.client.checkNow();
      expect(await done).toBe('success');
      expect(await mgmt.deviceStatus(dep, d.deviceId)).toBe('success');
      expect((await d.client.installed()).artifactName).toBe('now-please');
    } finally {
      stop.abort();
      await running;
    }
  });
});

describe('pause points, maintenance window and download-only mode', () => {
  it('holds before install in download-only mode until proceed(), reporting pause_before_installing', async () => {
    const d = await device({ pause: { downloadOnly: true, recheckMs: 60_000 } });
    const art = await makeArtifact({ name: 'held' });
    await mgmt.upload(art.path);
    const dep = await mgmt.deploy('held', [d.deviceId]);
    const paused = new Promise<void>((r) => d.client.events.once('update:paused', () => r()));
    const done = d.client.installDeployment((await d.client.checkForUpdate())!);
    await paused;
    expect(await mgmt.deviceStatus(dep, d.deviceId)).toBe('pause_before_installing');
    d.client.proceed();
    expect((await done).outcome).toBe('success');
  });

  it('fails the update when a hook says fail, without installing', async () => {
    const d = await device({ pause: { hooks: { beforeInstall: () => 'fail' } } });
    const art = await makeArtifact({ name: 'vetoed' });
    await mgmt.upload(art.path);
    const dep = await mgmt.deploy('vetoed', [d.deviceId]);
    const result = await d.client.installDeployment((await d.client.checkForUpdate())!);
    expect(result.outcome).toBe('failure');
    expect(await mgmt.deviceStatus(dep, d.deviceId)).toBe('failure');
    expect((await d.client.installed()).artifactName).toBe('unknown');
  });

  it('waits outside the maintenance window and installs once it opens', async () => {
    let open = false;
    const d = await device({ pause: { maintenanceWindow: () => open, recheckMs: 60_000 } });
    const art = await makeArtifact({ name: 'windowed' });
    const paused = new Promise<string>((r) => d.client.events.once('update:paused', (e) => r(e.reason)));
    const done = d.client.installFromFile(art.path);
    expect(await paused).toMatch(/maintenance window/);
    open = true;
    d.client.proceed();
    expect((await done).outcome).toBe('success');
  });

  it('holds before commit while the hook pauses, then commits', async () => {
    let calls = 0;
    const d = await device({
      pause: {
        hooks: { beforeCommit: () => (++calls < 3 ? { action: 'pause', retryAfterMs: 1 } : 'continue') },
      },
    });
    const art = await makeArtifact({ name: 'commit-held' });
    const result = await d.client.installFromFile(art.path);
    expect(result.outcome).toBe('success');
    expect(calls).toBe(3);
  });
});

describe('state-store loop cap', () => {
  it('fails an update whose state was stored too often (a reboot loop) and rolls back', async () => {
    const d = await device({ maxStateStores: 3 });
    const art = await makeArtifact({ name: 'looping' });
    const result = await d.client.installFromFile(art.path);
    expect(result.outcome).toBe('failure');
    expect(result.error).toMatch(/loop/);
    expect((await d.client.installed()).artifactName).toBe('unknown');
  });
});
