/**
 * `otakit device run` on both planes: a registry device, synced into Mender by `otakit iot sync`,
 * runs the agent with `--iot-device-id` and no `--identity`: it is accepted with no further
 * configuration and publishes telemetry tagged with its release, with its own metrics, over MQTT,
 * with the same key; a check-update command from the cloud makes it poll at once.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DeviceKey, generateDeviceKey } from '@otakit/core';
import { RegistryClient, toDeviceCredential } from '@otakit/iot-core-adapter';
import { type Sandbox, startSandbox } from '@otakit/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandMetrics } from '../src/commands/device-telemetry.js';
import { type AgentProcess, run as runCli, startJsonAgent } from './helpers.js';

const REG = { project: 'otakit-sandbox', location: 'us-central1', registry: 'devices' };
const REGISTRY = `projects/${REG.project}/locations/${REG.location}/registries/${REG.registry}`;

let sandbox: Sandbox;
let dir: string;
let key: DeviceKey;
let keyFile: string;
let registry: RegistryClient;
const agents: AgentProcess[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, iotCore: { ...REG } });
  dir = await mkdtemp(join(tmpdir(), 'otakit-cli-devtel-'));
  key = await generateDeviceKey();
  keyFile = join(dir, 'device.key');
  await writeFile(keyFile, key.privateKeyPem, { mode: 0o600 });
  registry = new RegistryClient({
    ...REG,
    baseUrl: sandbox.iotCore?.url ?? '',
    auth: sandbox.iotCore?.adminToken ?? '',
  });
  await registry.devices.create({ id: 'pump-7', credentials: [toDeviceCredential(key.publicKeyPem)] });
});
afterAll(async () => {
  for (const a of agents) await a.stop();
  await registry?.close();
  await sandbox?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('otakit device run --iot-device-id', () => {
  it('is accepted after iot sync with no --identity and publishes release-tagged telemetry with its own metrics', async () => {
    const iot = sandbox.iotCore;
    if (!iot?.mqttUrl) throw new Error('the sandbox has no MQTT bridge');
    const synced = await runCli(
      'iot',
      'sync',
      '--iot-url',
      iot.url,
      '--iot-token',
      iot.adminToken ?? '',
      '--registry',
      REGISTRY,
      '--server',
      sandbox.url,
      '--token',
      sandbox.managementToken(),
      '--json',
    );
    process.exitCode = undefined;
    expect(synced.code).toBe(0);
    expect(JSON.parse(synced.stdout).counts.preauthorized).toBe(1);

    const agent = startJsonAgent([
      '--server',
      sandbox.url,
      '--key',
      keyFile,
      '--data-dir',
      join(dir, 'data'),
      '--device-type',
      'pump',
      '--registry',
      REGISTRY,
      '--iot-device-id',
      'pump-7',
      '--iot-mqtt',
      iot.mqttUrl,
      '--iot-http',
      iot.url,
      '--telemetry-interval',
      '300ms',
      '--telemetry-command',
      `echo '{"flow_lpm": 12.5, "valve": "open", "nested": {"x": 1}}'`,
      '--poll-interval',
      '1h',
    ]);
    agents.push(agent);
    await agent.until('"auth:accepted"');
    await agent.until('"telemetry:sent"');
    const end = Date.now() + 15_000;
    let got: Record<string, unknown> | undefined;
    while (got === undefined && Date.now() < end) {
      const m = iot.telemetry.find((t) => t.deviceId === 'pump-7');
      if (m) got = JSON.parse(m.data.toString('utf8'));
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(got).toMatchObject({
      artifact_name: 'unknown',
      software_version: 'unknown',
      flow_lpm: 12.5,
      valve: 'open',
    });
    expect(got?.nested).toBeUndefined();
    expect(typeof got?.uptime_s).toBe('number');
    const state = iot.states.find((s) => s.deviceId === 'pump-7');
    expect(JSON.parse(state?.data.toString('utf8') ?? '{}')).toMatchObject({ artifact_name: 'unknown' });

    // a command from the cloud: the agent polls now instead of in an hour
    const checksBefore = (agent.output().match(/"update:check"/g) ?? []).length;
    await registry.devices.sendCommand('pump-7', 'check-update');
    await agent.until('"telemetry:command"');
    const end2 = Date.now() + 15_000;
    while ((agent.output().match(/"update:check"/g) ?? []).length <= checksBefore && Date.now() < end2) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((agent.output().match(/"update:check"/g) ?? []).length).toBeGreaterThan(checksBefore);
    expect(await agent.stop()).toBe(0);
  });

  it('refuses --iot-device-id without a registry or an MQTT bridge', async () => {
    const r = await runCli(
      'device',
      'run',
      '--server',
      sandbox.url,
      '--key',
      keyFile,
      '--data-dir',
      join(dir, 'x'),
      '--device-type',
      'pump',
      '--iot-device-id',
      'pump-7',
    );
    process.exitCode = undefined;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--registry/);
  });
});

describe('--telemetry-command', () => {
  it('reads a JSON object of scalars, keeping __proto__ as an ordinary name', async () => {
    const m = await commandMetrics(`echo '{"a": 1, "__proto__": 2, "s": "x", "b": true, "o": {}, "l": [1]}'`);
    expect(Object.keys(m).sort()).toEqual(['__proto__', 'a', 'b', 's']);
    expect(Object.getOwnPropertyDescriptor(m, '__proto__')?.value).toBe(2);
  });

  it('fails clearly on a failing command or one that prints no JSON object', async () => {
    await expect(commandMetrics('exit 3')).rejects.toThrow(/--telemetry-command failed/);
    await expect(commandMetrics('echo hello')).rejects.toThrow(/did not print a JSON object/);
    await expect(commandMetrics('echo [1,2]')).rejects.toThrow(/did not print a JSON object/);
  });
});
