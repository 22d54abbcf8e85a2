/**
 * `otakit iot …` against the IoT Core sandbox and the Mender sandbox over real HTTP: a device
 * registered in the registry with its key is preauthorized in Mender with the same key by `sync`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DeviceKey, generateDeviceKey, loadPublicKey, publicKeysEqual } from '@otakit/core';
import { RegistryClient, toDeviceCredential } from '@otakit/iot-core-adapter';
import { ManagementClient } from '@otakit/management-client';
import { type IotCoreSandbox, type Sandbox, startIotCoreSandbox, startSandbox } from '@otakit/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Run, run as runCli } from './helpers.js';

const REGISTRY = 'projects/otakit-sandbox/locations/us-central1/registries/devices';

let mender: Sandbox;
let iot: IotCoreSandbox;
let dir: string;
let token: string;
let keyA: DeviceKey;
let keyB: DeviceKey;
let keyAFile: string;
let keyBPubFile: string;

async function run(...argv: string[]): Promise<Run> {
  try {
    return await runCli(...argv);
  } finally {
    process.exitCode = undefined;
  }
}
const iotFlags = () => ['--iot-url', iot.url, '--iot-token', iot.adminToken ?? '', '--registry', REGISTRY];
const menderFlags = () => ['--server', mender.url, '--token', token];

beforeAll(async () => {
  mender = await startSandbox({ port: 0 });
  iot = await startIotCoreSandbox({ port: 0 });
  token = await mender.managementToken();
  dir = await mkdtemp(join(tmpdir(), 'otakit-cli-iot-'));
  keyA = await generateDeviceKey({ type: 'ecdsa-p256' });
  keyB = await generateDeviceKey({ type: 'rsa', bits: 2048 });
  keyAFile = join(dir, 'a.key');
  keyBPubFile = join(dir, 'b.pub');
  await writeFile(keyAFile, keyA.privateKeyPem, { mode: 0o600 });
  await writeFile(keyBPubFile, keyB.publicKeyPem);
});
afterAll(async () => {
  await iot?.close();
  await mender?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('otakit iot devices', () => {
  it('creates devices from a private key (sending only its public half) or a public key', async () => {
    const a = await run(
      'iot',
      'devices',
      'create',
      'dev-a',
      '--public-key',
      keyAFile,
      ...iotFlags(),
      '--json',
    );
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    const created = JSON.parse(a.stdout);
    expect(created.id).toBe('dev-a');
    const sent = created.credentials[0].publicKey;
    expect(sent.format).toBe('ES256_PEM');
    expect(sent.key).not.toContain('PRIVATE');
    expect(publicKeysEqual(loadPublicKey(sent.key), loadPublicKey(keyA.publicKeyPem))).toBe(true);

    const b = await run('iot', 'devices', 'create', 'dev-b', '--public-key', keyBPubFile, ...iotFlags());
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/^created dev-b \(numId \d+\)/);

    const again = await run('iot', 'devices', 'create', 'dev-b', '--public-key', keyBPubFile, ...iotFlags());
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/ALREADY_EXISTS: .*exist/i);
  });

  it('lists, gets, blocks and unblocks', async () => {
    const list = await run('iot', 'devices', 'list', ...iotFlags(), '--json');
    expect(list.code).toBe(0);
    expect(
      JSON.parse(list.stdout)
        .map((d: { id: string }) => d.id)
        .sort(),
    ).toEqual(['dev-a', 'dev-b']);
    const table = await run('iot', 'devices', 'list', ...iotFlags());
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+NUM ID\s+BLOCKED/);

    expect((await run('iot', 'devices', 'block', 'dev-b', ...iotFlags())).stdout).toBe('dev-b blocked\n');
    const got = await run('iot', 'devices', 'get', 'dev-b', ...iotFlags(), '--json');
    expect(JSON.parse(got.stdout).blocked).toBe(true);
    await run('iot', 'devices', 'unblock', 'dev-b', ...iotFlags());
    const got2 = await run('iot', 'devices', 'get', 'dev-b', ...iotFlags(), '--json');
    expect(JSON.parse(got2.stdout).blocked ?? false).toBe(false);
  });

  it('takes the connection from the environment, and says what is missing', async () => {
    const env = { ...process.env };
    try {
      process.env.OTAKIT_IOT_URL = iot.url;
      process.env.OTAKIT_IOT_TOKEN = iot.adminToken ?? '';
      process.env.OTAKIT_IOT_REGISTRY = REGISTRY;
      const list = await run('iot', 'devices', 'list', '--json');
      expect(list.code).toBe(0);
      expect(JSON.parse(list.stdout)).toHaveLength(2);
      delete process.env.OTAKIT_IOT_REGISTRY;
      const missing = await run('iot', 'devices', 'list');
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toMatch(/--registry/);
      const bad = await run('iot', 'devices', 'list', '--registry', 'devices');
      expect(bad.stderr).toMatch(/projects\/P\/locations\/L\/registries\/R/);
    } finally {
      process.env = env;
    }
  });
});

describe('otakit iot sync', () => {
  it('preauthorizes registry devices in Mender with the same keys, idempotently, and follows a block and a delete', async () => {
    const first = await run('iot', 'sync', ...iotFlags(), ...menderFlags(), '--json');
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const report = JSON.parse(first.stdout);
    expect(report.counts.preauthorized).toBe(2);

    const mgmt = new ManagementClient({ serverUrl: mender.url, auth: token });
    try {
      const devices = await mgmt.devices.list({ status: 'preauthorized' }).toArray();
      const byId = new Map(devices.map((d) => [d.identity_data?.device_id, d]));
      expect([...byId.keys()].sort()).toEqual(['dev-a', 'dev-b']);
      const a = byId.get('dev-a');
      expect(
        publicKeysEqual(loadPublicKey(a?.auth_sets?.[0]?.pubkey ?? ''), loadPublicKey(keyA.publicKeyPem)),
      ).toBe(true);

      // nothing changed: nothing to do
      const second = await run('iot', 'sync', ...iotFlags(), ...menderFlags(), '--json');
      expect(JSON.parse(second.stdout).counts.unchanged).toBe(2);

      // block dev-b, delete dev-a: a human-readable report says what changed
      await run('iot', 'devices', 'block', 'dev-b', ...iotFlags());
      await run('iot', 'devices', 'delete', 'dev-a', ...iotFlags());
      const third = await run('iot', 'sync', ...iotFlags(), ...menderFlags());
      expect(third.code).toBe(0);
      expect(third.stdout).toMatch(/dev-b: rejected/);
      expect(third.stdout).toMatch(/decommissioned 1/);
    } finally {
      await mgmt.close();
    }
  });

  it('--watch keeps following the registry until interrupted', async () => {
    const watching = run(
      'iot',
      'sync',
      ...iotFlags(),
      ...menderFlags(),
      '--watch',
      '--interval',
      '0.2',
      '--json',
    );
    // another CLI run would take over the captured stdout: register dev-c with the library
    const keyC = await generateDeviceKey({ type: 'ecdsa-p256' });
    const registry = new RegistryClient({
      project: 'otakit-sandbox',
      location: 'us-central1',
      registry: 'devices',
      baseUrl: iot.url,
      auth: iot.adminToken ?? '',
    });
    await registry.devices.create({ id: 'dev-c', credentials: [toDeviceCredential(keyC.publicKeyPem)] });
    await registry.close();
    const mgmt = new ManagementClient({ serverUrl: mender.url, auth: token });
    try {
      const end = Date.now() + 15_000;
      let found = false;
      while (!found && Date.now() < end) {
        const devices = await mgmt.devices.list({ status: 'preauthorized' }).toArray();
        found = devices.some((d) => d.identity_data?.device_id === 'dev-c');
        if (!found) await new Promise((r) => setTimeout(r, 100));
      }
      expect(found).toBe(true);
    } finally {
      await mgmt.close();
    }
    // let a few more runs go by: each finds nothing left to do
    await new Promise((r) => setTimeout(r, 2000));
    process.emit('SIGINT');
    const r = await watching;
    expect(r.code).toBe(0);
    const reports = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(reports.length).toBeGreaterThanOrEqual(2);
    const last = reports.at(-1).devices.find((d: { deviceId: string }) => d.deviceId === 'dev-c');
    expect(last.outcome).toBe('unchanged');
    expect(
      reports.some((x) =>
        x.devices.some(
          (d: { deviceId: string; outcome: string }) =>
            d.deviceId === 'dev-c' && d.outcome === 'preauthorized',
        ),
      ),
    ).toBe(true);
  });

  it('refuses a bad interval and policy before calling anyone', async () => {
    const r = await run('iot', 'sync', ...iotFlags(), ...menderFlags(), '--interval', '0');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--interval/);
    const p = await run('iot', 'sync', ...iotFlags(), ...menderFlags(), '--on-blocked', 'explode');
    expect(p.stderr).toMatch(/--on-blocked/);
  });
});
