import {
  type DeviceKey,
  generateDeviceKey,
  loadPublicKey,
  publicKeysEqual,
  signMenderRequest,
} from '@otakit/core';
import { ManagementClient } from '@otakit/management-client';
import { type IotCoreSandbox, type Sandbox, startIotCoreSandbox, startSandbox } from '@otakit/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DeviceSyncResult,
  IotCoreError,
  type MenderAdmission,
  type MenderDevice,
  menderAdmission,
  preauthorizeFromRegistry,
  RegistryClient,
  toDeviceCredential,
} from '../src/index.js';

const REG = { project: 'otakit-sandbox', location: 'us-central1', registry: 'devices' };

/** The device's own Mender authentication request, signed with its key, as the Mender client sends it. */
async function authenticate(menderUrl: string, deviceId: string, key: DeviceKey): Promise<number> {
  const body = JSON.stringify({ id_data: JSON.stringify({ device_id: deviceId }), pubkey: key.publicKeyPem });
  const res = await fetch(`${menderUrl}/api/devices/v1/authentication/auth_requests`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-men-signature': signMenderRequest(body, key.privateKey),
    },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

describe('preauthorizeFromRegistry with the IoT Core sandbox and the Mender sandbox', () => {
  let iot: IotCoreSandbox;
  let mender: Sandbox;
  let registry: RegistryClient;
  let mgmt: ManagementClient;
  let admission: MenderAdmission;
  const keys: Record<string, DeviceKey> = {};
  const writes: string[] = [];

  const menderDevices = async (): Promise<Map<string, MenderDevice>> => {
    const out = new Map<string, MenderDevice>();
    for await (const d of admission.listDevices()) out.set(JSON.stringify(d.identity), d);
    return out;
  };
  const byId = (report: { devices: DeviceSyncResult[] }, id: string) =>
    report.devices.find(
      (d) => d.deviceId === id || (d.deviceId === undefined && d.identity.device_id === id),
    );

  beforeAll(async () => {
    [iot, mender] = await Promise.all([
      startIotCoreSandbox({ port: 0, mqtt: false }),
      startSandbox({ port: 0 }),
    ]);
    registry = new RegistryClient({ ...REG, baseUrl: iot.url, auth: iot.adminToken ?? '' });
    mgmt = new ManagementClient({
      serverUrl: mender.url,
      auth: { email: mender.adminEmail, password: mender.adminPassword },
    });
    mgmt.events.on('request', (e) => {
      if (e.method !== 'GET') writes.push(`${e.method} ${new URL(e.url).pathname}`);
    });
    admission = menderAdmission(mgmt);
    keys.a = await generateDeviceKey({ type: 'rsa', bits: 2048 });
    keys.b = await generateDeviceKey({ type: 'ecdsa-p256' });
    keys.c = await generateDeviceKey({ type: 'ecdsa-p256' });
    keys.d = await generateDeviceKey({ type: 'ecdsa-p256' });
    keys.cOld = await generateDeviceKey({ type: 'ecdsa-p256' });
    await registry.devices.create({ id: 'dev-a', credentials: [toDeviceCredential(keys.a.publicKeyPem)] });
    await registry.devices.create({ id: 'dev-b', credentials: [toDeviceCredential(keys.b.publicKeyPem)] });
    await registry.devices.create({
      id: 'dev-c',
      credentials: [
        toDeviceCredential(keys.cOld.publicKeyPem, { expirationTime: '2020-01-01T00:00:00Z' }),
        toDeviceCredential(keys.c.publicKeyPem),
      ],
    });
    await registry.devices.create({
      id: 'dev-d',
      credentials: [toDeviceCredential(keys.d.publicKeyPem, { expirationTime: '2021-06-01T00:00:00Z' })],
    });
    // A Mender device this sync does not manage (another identity scheme).
    const other = await generateDeviceKey({ type: 'ecdsa-p256' });
    await mgmt.devices.preauthorize({ identity: { mac: '00:11:22:33:44:55' }, pubkey: other.publicKeyPem });
  });
  afterAll(async () => {
    await registry?.close();
    await mgmt?.close();
    await Promise.all([iot?.close(), mender?.close()]);
  });

  it('first sync preauthorizes every device with its active keys; expired credentials are skipped', async () => {
    const run = preauthorizeFromRegistry({ registry, mender: admission });
    const seen: DeviceSyncResult[] = [];
    run.on('device', (r) => seen.push(r));
    const report = await run;
    expect(seen).toHaveLength(report.devices.length);
    expect(report.counts).toMatchObject({ preauthorized: 3, skipped: 1, failed: 0, decommissioned: 0 });
    expect(byId(report, 'dev-d')).toMatchObject({ outcome: 'skipped', reason: 'no-active-credential' });
    expect(byId(report, 'dev-c')?.skippedCredentials).toEqual([{ index: 0, reason: 'expired' }]);

    const devices = await menderDevices();
    for (const id of ['dev-a', 'dev-b', 'dev-c']) {
      const d = devices.get(JSON.stringify({ device_id: id }));
      expect(d?.status).toBe('preauthorized');
      expect(d?.authSets).toHaveLength(1);
      const key = keys[id.slice(4)] as DeviceKey;
      expect(publicKeysEqual(loadPublicKey(d?.authSets[0]?.pubkey ?? ''), key.publicKey)).toBe(true);
      expect(byId(report, id)?.menderId).toBe(d?.id);
    }
    expect(devices.has(JSON.stringify({ device_id: 'dev-d' }))).toBe(false);
    // The same key the device uses for IoT Core gets it into Mender.
    expect(await authenticate(mender.url, 'dev-a', keys.a as DeviceKey)).toBe(200);
    expect(await authenticate(mender.url, 'dev-b', keys.b as DeviceKey)).toBe(200);
  });

  it('a second sync with nothing changed makes no Mender change', async () => {
    writes.length = 0;
    const report = await preauthorizeFromRegistry({ registry, mender: admission });
    expect(report.counts).toMatchObject({ unchanged: 3, skipped: 1, preauthorized: 0, updated: 0 });
    expect(report.devices.flatMap((d) => d.changes)).toEqual([]);
    expect(writes.filter((w) => !w.includes('/useradm/auth/login'))).toEqual([]);
  });

  it('follows key rotation: the new key is added to the same Mender device and the old one removed', async () => {
    const before = (await menderDevices()).get(JSON.stringify({ device_id: 'dev-a' }));
    const rotated = await generateDeviceKey({ type: 'ecdsa-p256' });
    await registry.devices.patch('dev-a', { credentials: [toDeviceCredential(rotated.publicKeyPem)] });
    const report = await preauthorizeFromRegistry({ registry, mender: admission });
    const a = byId(report, 'dev-a');
    expect(a).toMatchObject({ outcome: 'updated', reason: 'rotated', menderId: before?.id });
    expect(a?.changes.map((c) => c.type)).toEqual(['preauthorize', 'dismiss']);
    const after = (await menderDevices()).get(JSON.stringify({ device_id: 'dev-a' }));
    expect(after?.id).toBe(before?.id);
    expect(after?.authSets).toHaveLength(1);
    expect(publicKeysEqual(loadPublicKey(after?.authSets[0]?.pubkey ?? ''), rotated.publicKey)).toBe(true);
    expect(await authenticate(mender.url, 'dev-a', keys.a as DeviceKey)).toBe(401);
    expect(await authenticate(mender.url, 'dev-a', rotated)).toBe(200);
    keys.a = rotated;
    // The refused attempt with the old key left a pending auth set: not a registry key, so dismissed.
    const again = await preauthorizeFromRegistry({ registry, mender: admission });
    expect(byId(again, 'dev-a')?.changes.map((c) => c.type)).toEqual(['dismiss']);
    const third = await preauthorizeFromRegistry({ registry, mender: admission });
    expect(byId(third, 'dev-a')?.outcome).toBe('unchanged');
  });

  it('dismisses a pending auth set whose key is only an expired registry credential', async () => {
    expect(await authenticate(mender.url, 'dev-c', keys.cOld as DeviceKey)).toBe(401);
    const pending = (await menderDevices()).get(JSON.stringify({ device_id: 'dev-c' }));
    expect(pending?.authSets.map((s) => s.status).sort()).toEqual(['pending', 'preauthorized']);
    const report = await preauthorizeFromRegistry({ registry, mender: admission });
    expect(byId(report, 'dev-c')).toMatchObject({ outcome: 'updated', reason: 'rotated' });
    const after = (await menderDevices()).get(JSON.stringify({ device_id: 'dev-c' }));
    expect(after?.authSets.map((s) => s.status)).toEqual(['preauthorized']);
  });

  it('rejects a blocked device in Mender, and lets it back in when unblocked', async () => {
    await registry.devices.patch('dev-b', { blocked: true });
    const report = await preauthorizeFromRegistry({ registry, mender: admission });
    expect(byId(report, 'dev-b')).toMatchObject({ outcome: 'rejected', reason: 'blocked' });
    const b = (await menderDevices()).get(JSON.stringify({ device_id: 'dev-b' }));
    expect(b?.authSets.map((s) => s.status)).toEqual(['rejected']);
    expect(await authenticate(mender.url, 'dev-b', keys.b as DeviceKey)).toBe(401);
    const again = await preauthorizeFromRegistry({ registry, mender: admission });
    expect(byId(again, 'dev-b')).toMatchObject({ outcome: 'unchanged', changes: [] });

    await registry.devices.patch('dev-b', { blocked: false });
    const unblocked = await preauthorizeFromRegistry({ registry, mender: admission });
    expect(byId(unblocked, 'dev-b')).toMatchObject({ outcome: 'updated', reason: 'key-added' });
    expect(await authenticate(mender.url, 'dev-b', keys.b as DeviceKey)).toBe(200);
  });

  it('decommissions a device deleted from the registry and leaves unmanaged Mender devices alone', async () => {
    await registry.devices.delete('dev-c');
    const report = await preauthorizeFromRegistry({ registry, mender: admission });
    const c = byId(report, 'dev-c');
    expect(c).toMatchObject({ deviceId: undefined, outcome: 'decommissioned', reason: 'deleted' });
    const devices = await menderDevices();
    expect(devices.has(JSON.stringify({ device_id: 'dev-c' }))).toBe(false);
    expect(devices.has(JSON.stringify({ mac: '00:11:22:33:44:55' }))).toBe(true);
    expect(report.devices.some((d) => d.identity.mac !== undefined)).toBe(false);
  });

  it('accepts a device that asked Mender with its registry key before the sync ran', async () => {
    const early = await generateDeviceKey({ type: 'ecdsa-p256' });
    await registry.devices.create({ id: 'dev-f', credentials: [toDeviceCredential(early.publicKeyPem)] });
    expect(await authenticate(mender.url, 'dev-f', early)).toBe(401);
    const report = await preauthorizeFromRegistry({ registry, mender: admission });
    expect(byId(report, 'dev-f')).toMatchObject({ outcome: 'updated', reason: 'pending-accepted' });
    expect(byId(report, 'dev-f')?.changes.map((c) => c.type)).toEqual(['accept']);
    expect(await authenticate(mender.url, 'dev-f', early)).toBe(200);
  });

  it('plans without changing anything in a dry run', async () => {
    const fresh = await generateDeviceKey({ type: 'rsa', bits: 2048 });
    await registry.devices.create({ id: 'dev-e', credentials: [toDeviceCredential(fresh.privateKey)] });
    writes.length = 0;
    const changes: string[] = [];
    const run = preauthorizeFromRegistry({ registry, mender: admission, dryRun: true });
    run.on('change', ({ deviceId, change }) => changes.push(`${deviceId}:${change.type}`));
    const report = await run;
    expect(report.dryRun).toBe(true);
    expect(byId(report, 'dev-e')?.outcome).toBe('preauthorized');
    expect(changes).toEqual(['dev-e:preauthorize']);
    expect(writes.filter((w) => !w.includes('/useradm/auth/login'))).toEqual([]);
    expect((await menderDevices()).has(JSON.stringify({ device_id: 'dev-e' }))).toBe(false);
  });

  it('refuses to remove every managed device when the registry lists none', async () => {
    iot.addRegistry({ ...REG, registry: 'empty' });
    const empty = new RegistryClient({
      ...REG,
      registry: 'empty',
      baseUrl: iot.url,
      auth: iot.adminToken ?? '',
    });
    const err = await preauthorizeFromRegistry({ registry: empty, mender: admission }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(IotCoreError);
    expect((err as IotCoreError).code).toBe('ERR_IOTCORE_SYNC_EMPTY_REGISTRY');
    expect((await menderDevices()).has(JSON.stringify({ device_id: 'dev-a' }))).toBe(true);
    await empty.close();
  });

  it('uses a custom identity and the decommission policy for blocked devices', async () => {
    iot.addRegistry({ ...REG, registry: 'custom' });
    const custom = new RegistryClient({
      ...REG,
      registry: 'custom',
      baseUrl: iot.url,
      auth: iot.adminToken ?? '',
    });
    const k = await generateDeviceKey({ type: 'ecdsa-p256' });
    await custom.devices.create({
      id: 'unit-1',
      credentials: [toDeviceCredential(k.publicKeyPem)],
      metadata: { serial: 'SN-1' },
    });
    const identity = (d: { id: string; metadata?: Record<string, string> }) => ({
      serial: d.metadata?.serial ?? d.id,
    });
    const first = await preauthorizeFromRegistry({
      registry: custom,
      mender: admission,
      identity,
      onDeleted: 'skip',
    });
    expect(first.counts.preauthorized).toBe(1);
    expect((await menderDevices()).has(JSON.stringify({ serial: 'SN-1' }))).toBe(true);
    await custom.devices.patch('unit-1', { blocked: true });
    const blocked = await preauthorizeFromRegistry({
      registry: custom,
      mender: admission,
      identity,
      onBlocked: 'decommission',
    });
    expect(blocked.devices).toHaveLength(1);
    expect(blocked.devices[0]).toMatchObject({ outcome: 'decommissioned', reason: 'blocked' });
    expect((await menderDevices()).has(JSON.stringify({ serial: 'SN-1' }))).toBe(false);

    const k2 = await generateDeviceKey({ type: 'ecdsa-p256' });
    await custom.devices.create({
      id: 'unit-2',
      credentials: [toDeviceCredential(k2.publicKeyPem)],
      metadata: { serial: 'SN-2' },
    });
    await custom.devices.create({
      id: 'unit-3',
      credentials: [toDeviceCredential(k.publicKeyPem)],
      metadata: { serial: 'SN-2' },
    });
    const clash = await preauthorizeFromRegistry({
      registry: custom,
      mender: admission,
      identity,
      concurrency: 1,
    });
    expect(clash.counts).toMatchObject({ preauthorized: 1, failed: 1 });
    const failed = clash.devices.find((d) => d.outcome === 'failed');
    expect(failed).toMatchObject({ deviceId: 'unit-3', reason: 'identity-collision' });
    expect(failed?.error).toBeInstanceOf(IotCoreError);
    await custom.close();
  });
});

describe('preauthorizeFromRegistry at fleet scale and under failure', () => {
  let iot: IotCoreSandbox;
  let mender: Sandbox;
  let registry: RegistryClient;
  let mgmt: ManagementClient;
  let admission: MenderAdmission;

  beforeAll(async () => {
    [iot, mender] = await Promise.all([
      startIotCoreSandbox({ port: 0, mqtt: false }),
      startSandbox({ port: 0 }),
    ]);
    registry = new RegistryClient({ ...REG, baseUrl: iot.url, auth: iot.adminToken ?? '' });
    mgmt = new ManagementClient({
      serverUrl: mender.url,
      auth: { email: mender.adminEmail, password: mender.adminPassword },
    });
    admission = menderAdmission(mgmt);
    for (let i = 0; i < 24; i++) {
      const k = await generateDeviceKey({ type: 'ecdsa-p256' });
      await registry.devices.create({
        id: `fleet-${String(i).padStart(2, '0')}`,
        credentials: [toDeviceCredential(k.publicKeyPem)],
      });
    }
  });
  afterAll(async () => {
    await registry?.close();
    await mgmt?.close();
    await Promise.all([iot?.close(), mender?.close()]);
  });

  it('reports a failing device and goes on with the others, then catches up on the next run', async () => {
    let failOnce = true;
    const flaky: MenderAdmission = {
      ...admission,
      listDevices: (o) => admission.listDevices(o),
      async preauthorize(identity, pem, options) {
        if (identity.device_id === 'fleet-07' && failOnce) {
          failOnce = false;
          throw new Error('mender hiccup');
        }
        return admission.preauthorize(identity, pem, options);
      },
    };
    const report = await preauthorizeFromRegistry({ registry, mender: flaky, concurrency: 8 });
    expect(report.counts).toMatchObject({ preauthorized: 23, failed: 1 });
    const failed = report.devices.find((d) => d.outcome === 'failed');
    expect(failed?.deviceId).toBe('fleet-07');
    expect(failed?.error).toEqual(new Error('mender hiccup'));

    const again = await preauthorizeFromRegistry({ registry, mender: flaky, concurrency: 8 });
    expect(again.counts).toMatchObject({ preauthorized: 1, unchanged: 23, failed: 0 });
    let count = 0;
    for await (const d of admission.listDevices()) if (d.status === 'preauthorized') count++;
    expect(count).toBe(24);
  });

  it('stops with the abort reason when the signal aborts', async () => {
    const controller = new AbortController();
    const reason = new Error('operator stopped the sync');
    controller.abort(reason);
    const err = await preauthorizeFromRegistry({
      registry,
      mender: admission,
      signal: controller.signal,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBe(reason);
  });
});
