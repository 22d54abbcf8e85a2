import { type DeviceKey, generateDeviceKey } from '@otakit/core';
import { type IotCoreSandbox, startIotCoreSandbox } from '@otakit/sandbox';
import { EventEmitter } from 'eventemitter3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeviceTelemetry,
  IotCoreDevice,
  RegistryClient,
  type TelemetryAgent,
  toDeviceCredential,
} from '../src/index.js';

const REG = { project: 'otakit-sandbox', location: 'us-central1', registry: 'devices' };

/** A stand-in for DeviceClient's surface: the installed artifact and the typed events. */
class FakeAgent implements TelemetryAgent {
  readonly events = new EventEmitter();
  artifactName = 'release-1';
  provides: Record<string, string> = { 'rootfs-image.version': '1.0.0' };
  checks = 0;
  async installed() {
    return { artifactName: this.artifactName, provides: this.provides };
  }
  checkNow() {
    this.checks++;
  }
}

async function until<T>(what: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = what();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const json = (data: Buffer) => JSON.parse(data.toString('utf8')) as Record<string, unknown>;

describe('DeviceTelemetry: release-tagged telemetry and state with the Mender key', () => {
  let iot: IotCoreSandbox;
  let registry: RegistryClient;
  let key: DeviceKey;
  const closers: Array<() => Promise<unknown>> = [];

  const connect = (deviceId: string, transport: 'mqtt' | 'http' = 'mqtt') => {
    const d = new IotCoreDevice({
      ...REG,
      deviceId,
      privateKey: key.privateKeyPem,
      mqttUrl: iot.mqttUrl,
      httpBaseUrl: iot.url,
      transport,
      reconnect: { baseDelayMs: 50, maxDelayMs: 200 },
    });
    closers.push(() => d.close());
    return d;
  };

  beforeAll(async () => {
    iot = await startIotCoreSandbox({ port: 0 });
    registry = new RegistryClient({ ...REG, baseUrl: iot.url, auth: iot.adminToken ?? '' });
    key = await generateDeviceKey({ type: 'ecdsa-p256' });
    for (const id of ['tele-1', 'tele-2', 'tele-3']) {
      await registry.devices.create({ id, credentials: [toDeviceCredential(key.publicKeyPem)] });
    }
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await registry?.close();
    await iot?.close();
  });

  it('tags every message with the running release and follows a deployment as it happens', async () => {
    const agent = new FakeAgent();
    const t = new DeviceTelemetry({
      device: connect('tele-1'),
      agent,
      intervalMs: 100_000,
      metrics: () => ({ cpu_temp: 48.5, artifact_name: 'spoofed', ['__proto__']: 7 }),
      dataDir: '/tmp',
    });
    closers.push(() => t.stop());
    await t.start();

    const first = await until(() => iot.telemetry.find((m) => m.deviceId === 'tele-1'));
    const m = json(first.data);
    expect(m.artifact_name).toBe('release-1');
    expect(m.software_version).toBe('1.0.0');
    expect(m.cpu_temp).toBe(48.5);
    expect(Object.hasOwn(m, '__proto__')).toBe(true);
    expect(typeof m.uptime_s).toBe('number');
    expect(typeof m.mem_used_pct).toBe('number');
    expect(typeof m.disk_free_bytes).toBe('number');
    expect(m.deployment_id).toBeUndefined();
    const s0 = await until(() => iot.states.find((s) => s.deviceId === 'tele-1'));
    expect(json(s0.data)).toMatchObject({ artifact_name: 'release-1', software_version: '1.0.0' });

    // the agent reports a deployment: the state carries its id and status
    agent.events.emit('deployment:status', { deploymentId: 'dep-42', status: 'downloading' });
    const s1 = await until(() =>
      iot.states.find((s) => s.deviceId === 'tele-1' && json(s.data).deployment_status === 'downloading'),
    );
    expect(json(s1.data)).toMatchObject({ deployment_id: 'dep-42', artifact_name: 'release-1' });
    expect(t.deployment).toEqual({ id: 'dep-42', status: 'downloading', finished: false });

    // the update commits: the next state and telemetry say release 2, with no deployment
    agent.artifactName = 'release-2';
    agent.provides = { 'rootfs-image.version': '2.0.0' };
    agent.events.emit('deployment:status', { deploymentId: 'dep-42', status: 'success' });
    agent.events.emit('update:done', { deploymentId: 'dep-42', outcome: 'success' });
    const t2 = await until(() =>
      iot.telemetry.find((x) => x.deviceId === 'tele-1' && json(x.data).artifact_name === 'release-2'),
    );
    expect(json(t2.data)).toMatchObject({ software_version: '2.0.0' });
    expect(json(t2.data).deployment_id).toBeUndefined();
    const s2 = await until(() =>
      iot.states.find((s) => s.deviceId === 'tele-1' && json(s.data).artifact_name === 'release-2'),
    );
    // the state keeps how the last deployment ended
    expect(json(s2.data)).toMatchObject({ deployment_id: 'dep-42', deployment_status: 'success' });
    expect(t.deployment).toEqual({ id: 'dep-42', status: 'success', finished: true });
    // states were coalesced to IoT Core's one per second: never two within 1 s
    // (the time each was sent, not received, so a slow broker cannot squeeze them together)
    const times = iot.states
      .filter((s) => s.deviceId === 'tele-1')
      .map((s) => Date.parse(json(s.data).ts as string));
    expect(times.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < times.length; i++) {
      expect((times[i] as number) - (times[i - 1] as number)).toBeGreaterThanOrEqual(990);
    }
  });

  it('turns a check-update command from the cloud into an immediate check', async () => {
    const agent = new FakeAgent();
    const t = new DeviceTelemetry({ device: connect('tele-2'), agent, intervalMs: 100_000 });
    closers.push(() => t.stop());
    const seen: Array<{ command: string; handled: boolean }> = [];
    t.on('command', (c) => seen.push(c));
    await t.start();
    await until(() => iot.states.find((s) => s.deviceId === 'tele-2'));
    await registry.devices.sendCommand('tele-2', JSON.stringify({ command: 'check-update' }));
    await until(() => (agent.checks > 0 ? true : undefined));
    await registry.devices.sendCommand('tele-2', 'reboot');
    await until(() => (seen.length >= 2 ? true : undefined));
    expect(seen).toEqual([
      { command: 'check-update', handled: true },
      { command: 'reboot', handled: false },
    ]);
    expect(agent.checks).toBe(1);
  });

  it('falls back to the HTTP bridge when the MQTT publish fails', async () => {
    const agent = new FakeAgent();
    const broken = connect('tele-3');
    await broken.close(); // every MQTT publish now fails
    // a device whose MQTT side is closed, with the HTTP bridge as fallback
    const viaFallback = new DeviceTelemetry({
      device: broken,
      httpFallback: connect('tele-3', 'http'),
      agent,
      intervalMs: 100_000,
      builtinMetrics: false,
      metrics: () => ({ via: 'fallback' }),
    });
    closers.push(() => viaFallback.stop());
    await viaFallback.publishTelemetry();
    const got = await until(() =>
      iot.telemetry.find((x) => x.deviceId === 'tele-3' && json(x.data).via === 'fallback'),
    );
    expect(got.transport).toBe('http');
    expect(json(got.data)).toMatchObject({ artifact_name: 'release-1' });
    // without a fallback the failure surfaces to the caller
    const noFallback = new DeviceTelemetry({ device: broken, agent, builtinMetrics: false });
    await expect(noFallback.publishTelemetry()).rejects.toThrow();
  });
});
