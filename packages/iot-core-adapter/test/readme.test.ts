import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDeviceKey } from '@otakit/core';
import { ManagementClient } from '@otakit/management-client';
import { type IotCoreSandbox, type Sandbox, startIotCoreSandbox, startSandbox } from '@otakit/sandbox';
import { readmeBlocks, runReadmeBlock } from '@otakit/test-support';
import { EventEmitter } from 'eventemitter3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  DeviceTelemetry,
  IotCoreDevice,
  menderAdmission,
  preauthorizeFromRegistry,
  RegistryClient,
  toDeviceCredential,
} from '../src/index.js';

const README = new URL('../README.md', import.meta.url);
const blocks = readmeBlocks(README);
const block = (marker: string): string => {
  const found = blocks.find((b) => b.includes(marker));
  if (found === undefined) throw new Error(`no README example contains ${marker}`);
  return found;
};

/** Runs a README block as written (see runReadmeBlock), each run in a module file of its own. */
const runBlock = (code: string, scope: Record<string, unknown> = {}) =>
  runReadmeBlock(
    code,
    new URL(`./readme-${Math.random().toString(36).slice(2)}.generated.ts`, import.meta.url),
    scope,
  );

const AT = { project: 'my-project', location: 'us-central1', registry: 'fleet' };

describe('README', () => {
  let iot: IotCoreSandbox;
  let mender: Sandbox;
  let registry: RegistryClient;
  let mgmt: ManagementClient;
  let dir: string;
  const env = { ...process.env };

  beforeAll(async () => {
    [iot, mender] = await Promise.all([startIotCoreSandbox({ registries: [AT] }), startSandbox()]);
    registry = new RegistryClient({ ...AT, baseUrl: iot.url, auth: iot.adminToken as string });
    mgmt = new ManagementClient({ serverUrl: mender.url, auth: mender.managementToken() });
    dir = mkdtempSync(join(tmpdir(), 'otakit-adapter-readme-'));
  });
  afterEach(() => {
    process.env = { ...env };
  });
  afterAll(async () => {
    await registry?.close();
    await mgmt?.close();
    await iot?.close();
    await mender?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens with the two-planes story and an example of at most 10 lines of code', () => {
    const intro = readFileSync(README, 'utf8').split('```')[0] as string;
    expect(intro).toMatch(/same public key/);
    expect(intro).toMatch(/DeviceTelemetry/);
    const code = (blocks[0] ?? '').replace(/^import [\s\S]*?from '[^']+';$/gm, '');
    const lines = code.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('//'));
    expect(lines.length).toBeLessThanOrEqual(10);
    expect(blocks[0]).toContain('preauthorizeFromRegistry');
  });

  it('runs the opening example as written: one key admits the device in Mender and signs its telemetry', async () => {
    const key = await generateDeviceKey({ type: 'ecdsa-p256' });
    const keyFile = join(dir, 'mender-agent.pem');
    writeFileSync(keyFile, key.privateKeyPem, { mode: 0o600 });
    await registry.devices.create({ id: 'g-42', credentials: [toDeviceCredential(key.publicKeyPem)] });
    Object.assign(process.env, {
      OTAKIT_IOT_URL: iot.url,
      OTAKIT_IOT_TOKEN: iot.adminToken,
      OTAKIT_IOT_MQTT: iot.mqttUrl,
      OTAKIT_SERVER: mender.url,
      OTAKIT_TOKEN: mender.managementToken(),
      MENDER_KEY: keyFile,
    });
    expect(await runBlock(blocks[0] as string)).toEqual([[1]]);

    // Mender holds g-42 preauthorized, with the very key the registry holds.
    const admitted = [];
    for await (const d of menderAdmission(mgmt).listDevices()) admitted.push(d);
    const g42 = admitted.find((d) => d.identity.device_id === 'g-42');
    expect(g42?.authSets.map((a) => [a.pubkey.trim(), a.status])).toEqual([
      [key.publicKeyPem.trim(), 'preauthorized'],
    ]);
    // And the data plane received its telemetry, signed with the same key.
    const sent = iot.telemetry.filter((t) => t.deviceId === 'g-42');
    expect(sent.map((t) => JSON.parse(t.data.toString()))).toEqual([
      { artifact_name: 'release-1', temp: 21.5 },
    ]);
  });

  it('runs the one-machine example against the sandboxes as written', async () => {
    expect(await runBlock(block('startIotCoreSandbox'))).toEqual([['preauthorized'], ['hello']]);
  });

  it('runs the preauthorization example: a registry device is preauthorized, each change logged', async () => {
    const key = await generateDeviceKey({ type: 'ecdsa-p256' });
    await registry.devices.create({ id: 'g-43', credentials: [toDeviceCredential(key.publicKeyPem)] });
    const info = vi.fn();
    await runBlock(block("run.on('change'"), {
      registry,
      mgmt,
      log: { info },
      preauthorizeFromRegistry,
      menderAdmission,
    });
    expect(info).toHaveBeenCalledWith({ deviceId: 'g-43', change: expect.any(String) });
    const admitted = [];
    for await (const d of menderAdmission(mgmt).listDevices()) admitted.push(d);
    expect(admitted.find((d) => d.identity.device_id === 'g-43')?.authSets[0]?.status).toBe('preauthorized');
  });

  it('runs the device example: config and commands handled, telemetry in a subfolder, state', async () => {
    const key = await generateDeviceKey({ type: 'ecdsa-p256' });
    await registry.devices.create({ id: 'g-44', credentials: [toDeviceCredential(key.publicKeyPem)] });
    await runBlock(block('device.onConfig'), {
      IotCoreDevice,
      ...AT,
      deviceId: 'g-44',
      privateKey: key.privateKey,
      mqttUrl: iot.mqttUrl,
      applyConfig: () => undefined,
      run: () => undefined,
      log: { warn: () => undefined },
      payload: JSON.stringify({ temp: 19.5 }),
    });
    const sent = iot.telemetry.filter((t) => t.deviceId === 'g-44');
    expect(sent.map((t) => [t.subFolder, t.data.toString()])).toEqual([['sensors', '{"temp":19.5}']]);
    const states = iot.states.filter((s) => s.deviceId === 'g-44');
    expect(states.map((s) => s.data.toString())).toEqual(['{"artifact":"release-2"}']);
  });

  it('runs the DeviceTelemetry example: telemetry and state carry the release the agent runs', async () => {
    const key = await generateDeviceKey({ type: 'ecdsa-p256' });
    await registry.devices.create({ id: 'g-45', credentials: [toDeviceCredential(key.publicKeyPem)] });
    const device = new IotCoreDevice({
      ...AT,
      deviceId: 'g-45',
      privateKey: key.privateKey,
      mqttUrl: iot.mqttUrl,
    });
    // The agent as DeviceTelemetry reads it (a DeviceClient has all of it): installed release, events.
    const agent = {
      installed: async () => ({ artifactName: 'release-1', provides: { 'rootfs-image.version': '1.4.2' } }),
      events: new EventEmitter(),
      checkNow: () => undefined,
    };
    try {
      const logged = await runBlock(block('new DeviceTelemetry'), { DeviceTelemetry, device, agent });
      expect(logged).toEqual([['release-1', 47.5]]);
    } finally {
      await device.close();
    }
    const [telemetry] = iot.telemetry
      .filter((t) => t.deviceId === 'g-45')
      .map((t) => JSON.parse(t.data.toString()));
    expect(telemetry).toMatchObject({
      artifact_name: 'release-1',
      software_version: '1.4.2',
      cpu_temp: 47.5,
    });
    const [state] = iot.states.filter((s) => s.deviceId === 'g-45').map((s) => JSON.parse(s.data.toString()));
    expect(state).toMatchObject({ artifact_name: 'release-1', software_version: '1.4.2' });
  });
});
