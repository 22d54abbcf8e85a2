import { ConflictError, generateDeviceKey, NotFoundError, UnauthorizedError } from '@otakit/core';
import { type IotCoreSandbox, startIotCoreSandbox } from '@otakit/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient, rpcStatusOf, toDeviceCredential } from '../src/index.js';
import { discoveryMethods, type Exchange, startRecordingProxy, validateAgainst } from './helpers.js';

const REG = { project: 'otakit-sandbox', location: 'us-central1', registry: 'devices' };
const PARENT = `/v1/projects/${REG.project}/locations/${REG.location}/registries/${REG.registry}/devices`;

describe('RegistryClient against the IoT Core sandbox', () => {
  let iot: IotCoreSandbox;
  let proxy: Awaited<ReturnType<typeof startRecordingProxy>>;
  let registry: RegistryClient;

  beforeAll(async () => {
    iot = await startIotCoreSandbox({ port: 0, mqtt: false });
    proxy = await startRecordingProxy(iot.url);
    registry = new RegistryClient({ ...REG, baseUrl: proxy.url, auth: async () => iot.adminToken ?? '' });
  });
  afterAll(async () => {
    await registry.close();
    await proxy.close();
    await iot.close();
  });

  const last = (): Exchange => proxy.exchanges.at(-1) as Exchange;

  it('creates devices with RSA and ES256 keys, sending and receiving v1 Device shapes', async () => {
    const rsa = await generateDeviceKey({ type: 'rsa', bits: 2048 });
    const ec = await generateDeviceKey({ type: 'ecdsa-p256' });
    const created = await registry.devices.create({
      id: 'g-rsa-1',
      credentials: [toDeviceCredential(rsa.publicKeyPem)],
      metadata: { site: 'lab' },
    });
    const ex = last();
    expect(ex.method).toBe('POST');
    expect(ex.url).toBe(PARENT);
    expect(ex.headers.authorization).toBe(`Bearer ${iot.adminToken}`);
    expect(validateAgainst('Device', JSON.parse(ex.body))).toEqual([]);
    expect(validateAgainst('Device', JSON.parse(ex.responseBody))).toEqual([]);
    expect(created.id).toBe('g-rsa-1');
    expect(created.numId).toMatch(/^\d+$/);
    expect(created.name).toBe(
      `projects/${REG.project}/locations/${REG.location}/registries/${REG.registry}/devices/${created.numId}`,
    );
    expect(created.credentials?.[0]?.publicKey).toEqual({ format: 'RSA_PEM', key: rsa.publicKeyPem });
    expect(created.credentials?.[0]?.expirationTime).toBe('1970-01-01T00:00:00Z');

    await registry.devices.create({ id: 'g-ec-1', credentials: [toDeviceCredential(ec.privateKey)] });
    expect(validateAgainst('Device', JSON.parse(last().responseBody))).toEqual([]);
  });

  it('refuses a duplicate id with ALREADY_EXISTS and a key that does not match its format', async () => {
    const err = await registry.devices.create({ id: 'g-rsa-1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(rpcStatusOf(err)).toBe('ALREADY_EXISTS');
    const body = JSON.parse(last().responseBody) as {
      error: { code: number; message: string; status: string };
    };
    expect(body.error.code).toBe(409);
    expect(validateAgainst('Status', { code: body.error.code, message: body.error.message })).toEqual([]);
    const ec = await generateDeviceKey({ type: 'ecdsa-p256' });
    const bad = await registry.devices
      .create({ id: 'g-bad', credentials: [{ publicKey: { format: 'RSA_PEM', key: ec.publicKeyPem } }] })
      .catch((e: unknown) => e);
    expect(rpcStatusOf(bad)).toBe('INVALID_ARGUMENT');
  });

  it('lists only id and numId without a field mask, credentials and blocked with one', async () => {
    const bare = await registry.devices.list({ fieldMask: [] });
    expect(new URL(last().url, 'http://x').searchParams.has('fieldMask')).toBe(false);
    expect(validateAgainst('ListDevicesResponse', JSON.parse(last().responseBody))).toEqual([]);
    for (const d of bare.items) expect(Object.keys(d).sort()).toEqual(['id', 'numId']);

    const full = await registry.devices.list();
    const q = new URL(last().url, 'http://x').searchParams;
    expect(q.get('fieldMask')).toBe('credentials,blocked,metadata');
    expect(validateAgainst('ListDevicesResponse', JSON.parse(last().responseBody))).toEqual([]);
    expect(full.items.map((d) => d.id).sort()).toEqual(['g-ec-1', 'g-rsa-1']);
    expect(full.items.every((d) => (d.credentials?.length ?? 0) === 1)).toBe(true);
    expect(full.items.find((d) => d.id === 'g-rsa-1')?.metadata).toEqual({ site: 'lab' });
  });

  it('follows nextPageToken across pages with for await', async () => {
    for (let i = 0; i < 5; i++) await registry.devices.create({ id: `g-page-${i}` });
    const before = proxy.exchanges.length;
    const ids: string[] = [];
    for await (const d of registry.devices.list({ pageSize: 2 })) ids.push(d.id);
    const calls = proxy.exchanges.slice(before);
    expect(ids.sort()).toEqual([
      'g-ec-1',
      'g-page-0',
      'g-page-1',
      'g-page-2',
      'g-page-3',
      'g-page-4',
      'g-rsa-1',
    ]);
    expect(calls).toHaveLength(4);
    const tokens = calls.map((c) => new URL(c.url, 'http://x').searchParams.get('pageToken'));
    expect(tokens[0]).toBeNull();
    for (let i = 1; i < calls.length; i++) {
      expect(tokens[i]).toBe(
        (JSON.parse(calls[i - 1]?.responseBody ?? '{}') as { nextPageToken?: string }).nextPageToken,
      );
    }
    expect(JSON.parse(calls.at(-1)?.responseBody ?? '{}')).not.toHaveProperty('nextPageToken');
    const some = await registry.devices.list({ deviceIds: ['g-page-1', 'g-page-3'] }).toArray();
    expect(some.map((d) => d.id).sort()).toEqual(['g-page-1', 'g-page-3']);
  });

  it('gets by id or numeric id, patches with an updateMask, deletes', async () => {
    const d = await registry.devices.get('g-rsa-1');
    expect(validateAgainst('Device', JSON.parse(last().responseBody))).toEqual([]);
    const byNum = await registry.devices.get(d.numId ?? '', { fieldMask: ['id', 'blocked'] });
    expect(byNum).toEqual({ id: 'g-rsa-1' });

    const rotated = await generateDeviceKey({ type: 'ecdsa-p256' });
    const patched = await registry.devices.patch('g-rsa-1', {
      blocked: true,
      credentials: [toDeviceCredential(rotated.publicKeyPem, { expirationTime: '2099-01-01T00:00:00Z' })],
    });
    const ex = last();
    expect(ex.method).toBe('PATCH');
    expect(new URL(ex.url, 'http://x').searchParams.get('updateMask')).toBe('blocked,credentials');
    expect(validateAgainst('Device', JSON.parse(ex.body))).toEqual([]);
    expect(patched.blocked).toBe(true);
    expect(patched.credentials?.[0]?.publicKey?.format).toBe('ES256_PEM');

    await registry.devices.delete('g-page-0');
    expect(last().method).toBe('DELETE');
    const gone = await registry.devices.get('g-page-0').catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(NotFoundError);
    expect(rpcStatusOf(gone)).toBe('NOT_FOUND');
  });

  it('refuses a camelCase field mask like the service, and a wrong admin token', async () => {
    const err = await registry.devices.list({ fieldMask: ['lastHeartbeatTime' as never] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(rpcStatusOf(err)).toBe('INVALID_ARGUMENT');
    const wrong = new RegistryClient({ ...REG, baseUrl: iot.url, auth: 'not-the-token', maxRetries: 0 });
    const denied = await wrong.devices.get('g-ec-1').catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(UnauthorizedError);
    expect(rpcStatusOf(denied)).toBe('UNAUTHENTICATED');
    await wrong.close();
  });

  it('sends modifyCloudToDeviceConfig with base64 binaryData and reads back DeviceConfig', async () => {
    const config = await registry.devices.modifyConfig('g-ec-1', '{"mender_server":"https://mender.local"}');
    expect(JSON.parse(last().body)).toEqual({
      binaryData: Buffer.from('{"mender_server":"https://mender.local"}').toString('base64'),
    });
    expect(validateAgainst('ModifyCloudToDeviceConfigRequest', JSON.parse(last().body))).toEqual([]);
    expect(validateAgainst('DeviceConfig', config)).toEqual([]);
    expect(config.version).toBe('2');
  });

  it('sent only methods, paths and query parameters the discovery document declares', () => {
    const methods = discoveryMethods();
    expect(proxy.exchanges.length).toBeGreaterThan(10);
    for (const ex of proxy.exchanges) {
      const url = new URL(ex.url, 'http://x');
      const path = url.pathname.slice(1);
      const match = methods.find((m) => m.httpMethod === ex.method && m.pattern.test(path));
      expect(match, `${ex.method} ${path}`).toBeDefined();
      for (const name of url.searchParams.keys()) {
        expect(match?.parameters, `${match?.id} ?${name}`).toContain(name);
      }
    }
  });
});
