import { generateDeviceKey, NotFoundError } from '@otakit/core';
import { type Sandbox, startSandbox } from '@otakit/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DeviceLookup, ManagementClient, telemetryDeviceId, telemetryDeviceIds } from '../src/index.js';

describe('telemetryDeviceId', () => {
  it("is the identity's device_id: the device's id in the IoT Core registry", () => {
    expect(telemetryDeviceId({ id: 'mender-1', identity_data: { device_id: 'g-42', mac: 'x' } })).toBe(
      'g-42',
    );
  });

  it('falls back to the Mender id when the identity has no usable device_id', () => {
    expect(telemetryDeviceId({ id: 'mender-1', identity_data: { mac: '00:11' } })).toBe('mender-1');
    expect(telemetryDeviceId({ id: 'mender-2', identity_data: { device_id: 42 } })).toBe('mender-2');
    expect(telemetryDeviceId({ id: 'mender-3', identity_data: { device_id: '' } })).toBe('mender-3');
    expect(telemetryDeviceId({ id: 'mender-4' })).toBe('mender-4');
  });
});

/** A device lookup over a map that counts its reads and how many ran at once. */
function lookup(identities: Record<string, Record<string, unknown>>) {
  const reads: string[] = [];
  let running = 0;
  let peak = 0;
  const devices: DeviceLookup = {
    async get(id) {
      reads.push(id);
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setImmediate(resolve));
      running--;
      const identity = identities[id];
      if (identity === undefined) {
        throw new NotFoundError({ status: 404, method: 'GET', url: `http://mender/devices/${id}` });
      }
      return { id, identity_data: identity };
    },
  };
  return { devices, reads, peak: () => peak };
}

describe('telemetryDeviceIds', () => {
  it('maps ids in the order given, reading each device once across calls', async () => {
    const { devices, reads } = lookup({ a: { device_id: 'g-a' }, b: { mac: '1' }, c: { device_id: 'g-c' } });
    const ids = telemetryDeviceIds(devices);
    expect(await ids(['c', 'a', 'b', 'a'])).toEqual(['g-c', 'g-a', 'b', 'g-a']);
    expect(await ids(['b', 'c'])).toEqual(['b', 'g-c']);
    expect(reads.sort()).toEqual(['a', 'b', 'c']);
  });

  it('reads at most `concurrency` devices at a time', async () => {
    const identities = Object.fromEntries(
      Array.from({ length: 20 }, (_, i) => [`d${i}`, { device_id: `g${i}` }]),
    );
    const { devices, peak } = lookup(identities);
    const out = await telemetryDeviceIds(devices, { concurrency: 3 })(Object.keys(identities));
    expect(out).toEqual(Array.from({ length: 20 }, (_, i) => `g${i}`));
    expect(peak()).toBe(3);
  });

  it('rejects with the typed error of a device it cannot read, and remembers nothing wrong', async () => {
    const { devices, reads } = lookup({ a: { device_id: 'g-a' } });
    const ids = telemetryDeviceIds(devices);
    await expect(ids(['a', 'gone'])).rejects.toBeInstanceOf(NotFoundError);
    await expect(ids(['gone'])).rejects.toBeInstanceOf(NotFoundError);
    expect(reads.filter((id) => id === 'gone')).toHaveLength(2);
  });
});

describe('telemetryDeviceIds against the sandbox', () => {
  let sandbox: Sandbox;
  let mgmt: ManagementClient;

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0 });
    mgmt = new ManagementClient({
      serverUrl: sandbox.url,
      auth: { email: sandbox.adminEmail, password: sandbox.adminPassword },
    });
  });

  afterAll(async () => {
    await mgmt?.close();
    await sandbox?.close();
  });

  it('gives a registry device its registry id and any other device its Mender id', async () => {
    const key = await generateDeviceKey({ type: 'ed25519' });
    const registry = await mgmt.devices.preauthorize({
      identity: { device_id: 'g-7' },
      pubkey: key.publicKeyPem,
    });
    const other = await mgmt.devices.preauthorize({
      identity: { mac: '00:00:00:00:00:07' },
      pubkey: (await generateDeviceKey({ type: 'ed25519' })).publicKeyPem,
    });
    expect(await telemetryDeviceIds(mgmt.devices)([registry.id, other.id])).toEqual(['g-7', other.id]);
  });
});
