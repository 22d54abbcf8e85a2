import { once } from 'node:events';
import { type DeviceKey, generateDeviceKey, UnauthorizedError } from '@otakit/core';
import { type IotCoreSandbox, startIotCoreSandbox } from '@otakit/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CommandMessage,
  type ConfigMessage,
  IotCoreDevice,
  RegistryClient,
  rpcStatusOf,
  toDeviceCredential,
} from '../src/index.js';

const REG = { project: 'otakit-sandbox', location: 'us-central1', registry: 'devices' };

describe('IotCoreDevice against the IoT Core sandbox', () => {
  let iot: IotCoreSandbox;
  let registry: RegistryClient;
  let rsa: DeviceKey;
  let ec: DeviceKey;
  let stranger: DeviceKey;
  const open: IotCoreDevice[] = [];

  const device = (
    deviceId: string,
    key: DeviceKey,
    extra: Partial<ConstructorParameters<typeof IotCoreDevice>[0]> = {},
  ) => {
    const d = new IotCoreDevice({
      ...REG,
      deviceId,
      privateKey: key.privateKeyPem,
      mqttUrl: iot.mqttUrl,
      httpBaseUrl: iot.url,
      reconnect: { baseDelayMs: 50, maxDelayMs: 200 },
      ...extra,
    });
    open.push(d);
    return d;
  };

  beforeAll(async () => {
    iot = await startIotCoreSandbox({ port: 0 });
    registry = new RegistryClient({ ...REG, baseUrl: iot.url, auth: iot.adminToken ?? '' });
    rsa = await generateDeviceKey({ type: 'rsa', bits: 2048 });
    ec = await generateDeviceKey({ type: 'ecdsa-p256' });
    stranger = await generateDeviceKey({ type: 'ecdsa-p256' });
    await registry.devices.create({ id: 'dev-rsa', credentials: [toDeviceCredential(rsa.publicKeyPem)] });
    await registry.devices.create({ id: 'dev-ec', credentials: [toDeviceCredential(ec.publicKeyPem)] });
  });
  afterAll(async () => {
    for (const d of open) await d.close();
    await registry?.close();
    await iot?.close();
  });

  describe('over HTTP', () => {
    it('publishes telemetry with a subfolder and state, authenticated by an RS256 JWT', async () => {
      const d = device('dev-rsa', rsa, { transport: 'http' });
      await d.publishTelemetry('{"temp":21.5}', { subfolder: 'sensors/temp' });
      await d.publishState(Buffer.from([0, 1, 2, 255]));
      const t = iot.telemetry.filter((e) => e.deviceId === 'dev-rsa');
      expect(t).toHaveLength(1);
      expect(t[0]).toMatchObject({ subFolder: 'sensors/temp', transport: 'http' });
      expect(t[0]?.data.toString()).toBe('{"temp":21.5}');
      const s = iot.states.filter((e) => e.deviceId === 'dev-rsa');
      expect([...(s[0]?.data ?? [])]).toEqual([0, 1, 2, 255]);
      const stored = await registry.devices.get('dev-rsa', { fieldMask: ['state', 'last_event_time'] });
      expect(stored.state?.binaryData).toBe(Buffer.from([0, 1, 2, 255]).toString('base64'));
      expect(stored.lastEventTime).toBeDefined();
    });

    it('reads the config over HTTP with an ES256 JWT', async () => {
      await registry.devices.modifyConfig('dev-ec', 'hello');
      const d = device('dev-ec', ec, { transport: 'http' });
      const c = await d.getConfig();
      expect(c.data?.toString()).toBe('hello');
      const unchanged = await d.getConfig(c.version);
      expect(unchanged).toEqual({ version: c.version, data: undefined });
    });

    it('is refused with a JWT signed by a key the device does not have', async () => {
      const d = device('dev-ec', stranger, { transport: 'http' });
      const err = await d.publishTelemetry('x').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnauthorizedError);
      expect(rpcStatusOf(err)).toBe('UNAUTHENTICATED');
    });

    it('is refused with an expired JWT', async () => {
      const d = device('dev-ec', ec, { transport: 'http', now: () => new Date(Date.now() - 2 * 3600_000) });
      const err = await d.publishTelemetry('x').catch((e: unknown) => e);
      expect(rpcStatusOf(err)).toBe('UNAUTHENTICATED');
      expect((err as UnauthorizedError).body).toMatchObject({
        error: { message: 'The authorization token expired.' },
      });
    });
  });

  describe('over MQTT', () => {
    it('publishes telemetry and state, and receives config and commands', async () => {
      const d = device('dev-ec', ec);
      const configs: ConfigMessage[] = [];
      const gotConfig = new Promise<void>((resolve) =>
        d.onConfig((m) => {
          configs.push(m);
          resolve();
        }),
      );
      const gotCommand = new Promise<CommandMessage>((resolve) => d.onCommand(resolve));
      await d.connect();
      await gotConfig;
      expect(configs[0]?.data.toString()).toBe('hello');
      await d.publishTelemetry('{"rpm":1200}', { subfolder: 'engine' });
      await d.publishTelemetry('plain', { qos: 1 });
      await d.publishState('{"fw":"1.2.3"}');
      const t = iot.telemetry.filter((e) => e.deviceId === 'dev-ec' && e.transport === 'mqtt');
      expect(t.map((e) => [e.subFolder, e.data.toString()])).toEqual([
        ['engine', '{"rpm":1200}'],
        [undefined, 'plain'],
      ]);
      expect(iot.states.filter((e) => e.transport === 'mqtt').map((e) => e.data.toString())).toEqual([
        '{"fw":"1.2.3"}',
      ]);

      const nextConfig = new Promise<ConfigMessage>((resolve) => d.once('config', resolve));
      await registry.devices.modifyConfig('dev-ec', 'v2');
      expect((await nextConfig).data.toString()).toBe('v2');
      await registry.devices.sendCommand('dev-ec', 'reboot', { subfolder: 'power' });
      const cmd = await gotCommand;
      expect(cmd.data.toString()).toBe('reboot');
      expect(cmd.subfolder).toBe('power');
      await d.close();
      const notConnected = await registry.devices.sendCommand('dev-ec', 'x').catch((e: unknown) => e);
      expect(rpcStatusOf(notConnected)).toBe('FAILED_PRECONDITION');
    });

    it('is refused (CONNACK 5) with a wrong key and keeps retrying', async () => {
      const d = device('dev-rsa', stranger);
      const refusedBySandbox = once(iot.events, 'mqtt:refused');
      const refused = new Promise<{ returnCode: number | undefined }>((resolve) =>
        d.once('refused', resolve),
      );
      const reconnect = new Promise((resolve) => d.once('reconnect', resolve));
      void d.connect().catch(() => {});
      expect((await refused).returnCode).toBe(5);
      const [event] = (await refusedBySandbox) as [{ returnCode: number; reason: string }];
      expect(event.returnCode).toBe(5);
      expect(event.reason).toMatch(/signature/);
      await reconnect;
      await d.close();
      expect(iot.isConnected('dev-rsa')).toBe(false);
    });

    it('reconnects with a fresh JWT before the current one expires', async () => {
      const d = device('dev-rsa', rsa, { jwtTtlSeconds: 3, refreshMarginSeconds: 1 });
      const tokens: number[] = [];
      d.on('token', (e) => tokens.push(e.exp));
      let connects = 0;
      const renewed = new Promise<void>((resolve) =>
        d.on('connect', () => {
          connects++;
          if (connects === 2) resolve();
        }),
      );
      await d.connect();
      await renewed;
      expect(tokens.length).toBeGreaterThanOrEqual(2);
      expect(tokens[1]).toBeGreaterThan(tokens[0] ?? 0);
      await d.publishTelemetry('after renewal');
      expect(iot.telemetry.at(-1)?.data.toString()).toBe('after renewal');
    });

    it('is dropped when the device is blocked, and refused while it stays blocked', async () => {
      const d = device('dev-ec', ec);
      await d.connect();
      const dropped = new Promise((resolve) => d.once('disconnect', resolve));
      const refused = new Promise<{ returnCode: number | undefined }>((resolve) =>
        d.once('refused', resolve),
      );
      await registry.devices.patch('dev-ec', { blocked: true });
      await dropped;
      expect((await refused).returnCode).toBe(5);
      await d.close();
      await registry.devices.patch('dev-ec', { blocked: false });
    });
  });
});
