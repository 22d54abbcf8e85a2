/** `mgmt.deviceconfig` over real HTTP against the sandbox, with a device reporting its configuration. */
import { generateDeviceKey } from '@otakit/core';
import { type Sandbox, startSandbox } from '@otakit/sandbox';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadRequestError, ManagementClient, NotFoundError, UnauthorizedError } from '../src/index.js';
import { FakeDevice } from './fake-device.js';

const DEVICE_CONFIG = '/api/devices/v1/deviceconfig/configuration';
const UNKNOWN = '6f1d2c3b-4a59-4e8f-9b7a-0c1d2e3f4a5b';

let sandbox: Sandbox;
let mgmt: ManagementClient;

/** The device side of deviceconfig, with the device's own token. */
async function deviceCall(
  device: FakeDevice,
  method: 'GET' | 'PUT',
  json?: unknown,
): Promise<{ status: number; body: string }> {
  const res = await request(`${sandbox.url}${DEVICE_CONFIG}`, {
    method,
    headers: {
      authorization: `Bearer ${device.token ?? ''}`,
      ...(json === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  });
  return { status: res.statusCode, body: await res.body.text() };
}

async function acceptedDevice(sn: string): Promise<{ device: FakeDevice; id: string }> {
  const device = await FakeDevice.create(sandbox.url, { sn }, await generateDeviceKey({ type: 'ed25519' }));
  const { id } = await mgmt.devices.preauthorize({ identity: device.identity, pubkey: device.pubkey });
  expect(await device.authenticate()).toBe(200);
  return { device, id };
}

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
  mgmt = new ManagementClient({
    serverUrl: sandbox.url,
    auth: { email: sandbox.adminEmail, password: sandbox.adminPassword },
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
  });
});

afterAll(async () => {
  await mgmt?.close();
  await sandbox?.close();
});

describe('deviceconfig against the sandbox', () => {
  it('sets the desired configuration, the device reads it and reports what it applied', async () => {
    const { device, id } = await acceptedDevice('cfg-1');
    const empty = await mgmt.deviceconfig.get(id);
    expect(empty).toMatchObject({ id, configured: {}, reported: {} });
    expect(empty.updated_ts).toBeTypeOf('string');
    expect(empty.reported_ts).toBeUndefined();
    expect(empty.deployment_id).toBeUndefined();

    await mgmt.deviceconfig.set(id, { mode: 'eco', level: '3' });
    const configured = await mgmt.deviceconfig.get(id);
    expect(configured.configured).toEqual({ mode: 'eco', level: '3' });
    expect(configured.reported).toEqual({});
    expect(Date.parse(configured.updated_ts!)).toBeGreaterThanOrEqual(Date.parse(empty.updated_ts!));

    // set replaces, it does not merge
    await mgmt.deviceconfig.set(id, { mode: 'eco' });
    expect((await mgmt.deviceconfig.get(id)).configured).toEqual({ mode: 'eco' });

    const seen = await deviceCall(device, 'GET');
    expect(seen.status).toBe(200);
    expect(JSON.parse(seen.body)).toEqual({ mode: 'eco' });
    expect((await deviceCall(device, 'PUT', { mode: 'eco', extra: 'kept-by-device' })).status).toBe(204);

    const reported = await mgmt.deviceconfig.get(id);
    expect(reported.configured).toEqual({ mode: 'eco' });
    expect(reported.reported).toEqual({ mode: 'eco', extra: 'kept-by-device' });
    expect(Number.isFinite(Date.parse(reported.reported_ts!))).toBe(true);
  });

  it('deploy creates a configuration deployment the device receives through next and completes', async () => {
    const { device, id } = await acceptedDevice('cfg-2');
    await mgmt.deviceconfig.set(id, { timezone: 'Europe/Oslo' });
    const deploymentId = await mgmt.deviceconfig.deploy(id, { retries: 1 });
    expect(deploymentId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await mgmt.deviceconfig.get(id)).deployment_id).toBe(deploymentId);

    const deployment = await mgmt.deployments.get(deploymentId);
    expect(deployment).toMatchObject({ id: deploymentId, type: 'configuration', device_count: 1 });
    expect(JSON.parse(deployment.configuration!)).toEqual({ timezone: 'Europe/Oslo' });

    expect(await device.next()).toBe(deploymentId);
    await device.complete(deploymentId, 'success');
    expect((await deviceCall(device, 'PUT', { timezone: 'Europe/Oslo' })).status).toBe(204);

    expect((await mgmt.deployments.get(deploymentId)).status).toBe('finished');
    expect(await mgmt.deployments.statistics(deploymentId)).toMatchObject({ success: 1 });
    const after = await mgmt.deviceconfig.get(id);
    expect(after.reported).toEqual(after.configured);
    expect(await device.next()).toBeUndefined();
  });

  it('deploy without options sends the default body and works', async () => {
    const { id } = await acceptedDevice('cfg-3');
    const deploymentId = await mgmt.deviceconfig.deploy(id);
    expect(JSON.parse((await mgmt.deployments.get(deploymentId)).configuration!)).toEqual({});
  });

  it('maps the sandbox errors: unknown device 404, invalid values 400, device tokens 401', async () => {
    await expect(mgmt.deviceconfig.get(UNKNOWN)).rejects.toBeInstanceOf(NotFoundError);
    await expect(mgmt.deviceconfig.deploy(UNKNOWN)).rejects.toBeInstanceOf(NotFoundError);
    const { device, id } = await acceptedDevice('cfg-4');
    await expect(mgmt.deviceconfig.set(id, { blank: '' })).rejects.toBeInstanceOf(BadRequestError);
    await expect(mgmt.deviceconfig.deploy(id, { retries: -1 })).rejects.toBeInstanceOf(BadRequestError);
    expect((await deviceCall(device, 'PUT', { n: 1 })).status).toBe(400);

    const asDevice = new ManagementClient({
      serverUrl: sandbox.url,
      auth: device.token!,
      retry: { baseDelayMs: 1, maxDelayMs: 5 },
    });
    try {
      await expect(asDevice.deviceconfig.get(id)).rejects.toBeInstanceOf(UnauthorizedError);
    } finally {
      await asDevice.close();
    }
  });
});
