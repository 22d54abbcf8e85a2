/**
 * One sandbox process serving both planes (`startSandbox({ iotCore })`), and the IoT Core registries
 * surviving a restart with a data directory.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signJwt } from '@otakit/core';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox, type TelemetryRecord } from '../src/index.js';
import { call, login } from './helpers.js';

const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const spki = key.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const REG = 'projects/fleet-p/locations/europe-west1/registries/cars';
const P = `/v1/${REG}/devices`;
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('startSandbox with iotCore', () => {
  const open: Sandbox[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  const start = async (options: Parameters<typeof startSandbox>[0]) => {
    const s = await startSandbox(options);
    open.push(s);
    return s;
  };
  const iotCoreOf = (s: Sandbox) => {
    if (!s.iotCore) throw new Error('no IoT Core plane');
    return s.iotCore;
  };

  it('serves the Mender API, the device manager, the HTTP bridge and the MQTT bridge from one call', async () => {
    const records: TelemetryRecord[] = [];
    const sandbox = await start({
      iotCore: {
        project: 'fleet-p',
        location: 'europe-west1',
        registry: 'cars',
        telemetrySink: { write: async (r) => void records.push(r) },
      },
    });
    const iot = iotCoreOf(sandbox);
    expect(sandbox.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(iot.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(iot.url).not.toBe(sandbox.url);
    expect(iot.mqttUrl).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    expect(iot.registries).toEqual([{ project: 'fleet-p', location: 'europe-west1', registry: 'cars' }]);
    expect(await login(sandbox)).toMatch(/^ey/);

    const created = await call(iot.url, 'POST', P, {
      token: iot.adminToken ?? '',
      json: { id: 'car-1', credentials: [{ publicKey: { format: 'ES256_PEM', key: spki } }] },
    });
    expect(created.status).toBe(200);
    const token = await signJwt(
      { aud: 'fleet-p', iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600 },
      key.privateKey,
    );
    const http = await call(iot.url, 'POST', `${P}/car-1:publishEvent`, {
      headers: { authorization: `Bearer ${token}` },
      json: { binaryData: b64('via http') },
    });
    expect(http.status).toBe(200);
    const client = await mqtt.connectAsync(iot.mqttUrl ?? '', {
      clientId: `${REG}/devices/car-1`,
      username: 'unused',
      password: token,
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    await client.publishAsync('/devices/car-1/events', 'via mqtt', { qos: 1 });
    await client.endAsync();
    expect(records.map((r) => [r.projectId, r.registryId, Buffer.from(r.payload).toString()])).toEqual([
      ['fleet-p', 'cars', 'via http'],
      ['fleet-p', 'cars', 'via mqtt'],
    ]);
  });

  it('has no IoT Core plane unless asked for', async () => {
    const sandbox = await start({});
    expect(sandbox.iotCore).toBeUndefined();
  });

  it('keeps registries, devices, config versions and states across a restart with a data dir', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'otakit-two-planes-'));
    dirs.push(dataDir);
    const iotOptions = { project: 'fleet-p', location: 'europe-west1', registry: 'cars' };
    const first = await start({ dataDir, iotCore: iotOptions });
    const iot1 = iotCoreOf(first);
    const admin1 = { token: iot1.adminToken ?? '' };
    await call(iot1.url, 'POST', P, {
      ...admin1,
      json: {
        id: 'car-7',
        credentials: [{ publicKey: { format: 'ES256_PEM', key: spki } }],
        metadata: { site: 'north' },
      },
    });
    for (const v of ['c1', 'c2']) {
      await call(iot1.url, 'POST', `${P}/car-7:modifyCloudToDeviceConfig`, {
        ...admin1,
        json: { binaryData: b64(v) },
      });
    }
    await call(iot1.url, 'PATCH', `${P}/car-7?updateMask=blocked`, { ...admin1, json: { blocked: true } });
    await call(iot1.url, 'PATCH', `${P}/car-7?updateMask=blocked`, { ...admin1, json: { blocked: false } });
    const token = await signJwt(
      { aud: 'fleet-p', iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600 },
      key.privateKey,
    );
    for (const st of ['s1', 's2']) {
      const res = await call(iot1.url, 'POST', `${P}/car-7:setState`, {
        headers: { authorization: `Bearer ${token}` },
        json: { state: { binaryData: b64(st) } },
      });
      expect(res.status).toBe(200);
    }
    const before = (await call(iot1.url, 'GET', `${P}/car-7`, admin1)).json();
    await first.close();
    open.splice(open.indexOf(first), 1);

    const file = join(dataDir, 'iot-core.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(() => JSON.parse(readFileSync(file, 'utf8'))).not.toThrow();

    const second = await start({ dataDir, iotCore: iotOptions });
    const iot2 = iotCoreOf(second);
    const admin2 = { token: iot2.adminToken ?? '' };
    const after = (await call(iot2.url, 'GET', `${P}/car-7`, admin2)).json();
    expect(after).toEqual(before);
    expect(after.config).toMatchObject({ version: '3', binaryData: b64('c2') });
    expect(after.metadata).toEqual({ site: 'north' });
    const states = (await call(iot2.url, 'GET', `${P}/car-7/states`, admin2)).json();
    expect(states.deviceStates.map((s: { binaryData: string }) => s.binaryData)).toEqual([
      b64('s2'),
      b64('s1'),
    ]);
    // The restored credential still authenticates the device, and new devices get fresh numeric ids.
    const again = await call(iot2.url, 'POST', `${P}/car-7:publishEvent`, {
      headers: { authorization: `Bearer ${token}` },
      json: { binaryData: b64('after restart') },
    });
    expect(again.status).toBe(200);
    const other = (await call(iot2.url, 'POST', P, { ...admin2, json: { id: 'car-8' } })).json();
    expect(BigInt(other.numId)).toBeGreaterThan(BigInt(after.numId));
    // The Mender side persisted as before.
    expect(await login(second)).toMatch(/^ey/);
  });

  it('refuses to start on an unreadable IoT Core state file', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'otakit-two-planes-'));
    dirs.push(dataDir);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dataDir, 'iot-core.json'), '{"version": 1, "registries": "nope"');
    const err = await startSandbox({ dataDir, iotCore: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_SANDBOX_STATE' });
  });
});
