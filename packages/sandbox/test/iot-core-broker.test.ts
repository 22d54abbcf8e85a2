/**
 * The IoT Core MQTT bridge (aedes) over real sockets with mqtt.js: who may connect, publish and
 * subscribe, JWT expiry, IoT Core's size limits, and the telemetry sink's acknowledgement contract.
 */
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { signJwt } from '@otakit/core';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type IotCoreSandbox,
  startIotCoreSandbox,
  type TelemetryRecord,
  type TelemetrySink,
} from '../src/index.js';
import { call } from './helpers.js';

const PROJECT = 'otakit-sandbox';
const REG_PATH = `projects/${PROJECT}/locations/us-central1/registries/devices`;
const P = `/v1/${REG_PATH}/devices`;

const keyA = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const keyB = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const keyR = generateKeyPairSync('rsa', { modulusLength: 2048 });
const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }) as string;
const nowS = () => Math.floor(Date.now() / 1000);
const claims = (extra: Record<string, unknown> = {}) => ({
  iat: nowS(),
  exp: nowS() + 600,
  aud: PROJECT,
  ...extra,
});

/** A compact JWT with a hand-made header, for algorithms jose refuses to sign with these keys. */
function forged(alg: 'HS256' | 'none', body: Record<string, unknown>, secret = 'shared'): string {
  const h = Buffer.from(JSON.stringify({ alg, typ: 'JWT' })).toString('base64url');
  const p = Buffer.from(JSON.stringify(body)).toString('base64url');
  if (alg === 'none') return `${h}.${p}.`;
  return `${h}.${p}.${createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url')}`;
}

/** Resolves when the client's connection closes (an error before it, e.g. ECONNRESET, is ignored). */
function closed(c: MqttClient): Promise<void> {
  c.on('error', () => {});
  return new Promise((resolve) => c.once('close', () => resolve()));
}

/** Resolves with the next message the client receives. */
function nextMessage(c: MqttClient): Promise<[string, Buffer]> {
  return new Promise((resolve) => c.once('message', (topic, payload) => resolve([topic, payload])));
}

/** A sink whose writes the test settles by hand. */
class HeldSink implements TelemetrySink {
  readonly records: TelemetryRecord[] = [];
  readonly held: Array<{ record: TelemetryRecord; resolve: () => void; reject: (e: Error) => void }> = [];
  readonly log: string[] = [];
  #waiters: Array<() => void> = [];

  write(record: TelemetryRecord): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.held.push({
        record,
        resolve: () => {
          this.records.push(record);
          this.log.push(`stored ${Buffer.from(record.payload).toString()}`);
          resolve();
        },
        reject,
      });
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  /** Resolves once `n` writes are held. */
  async until(n: number): Promise<void> {
    while (this.held.length < n) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
}

describe('IoT Core MQTT bridge (aedes)', () => {
  let iot: IotCoreSandbox;
  let sink: TelemetrySink;
  const clients: MqttClient[] = [];
  const admin = () => ({ token: iot.adminToken ?? '' });

  const options = (deviceId: string, password: string): IClientOptions => ({
    clientId: `${REG_PATH}/devices/${deviceId}`,
    username: 'unused',
    password,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
  });

  const connect = async (deviceId: string, password: string): Promise<MqttClient> => {
    const client = await mqtt.connectAsync(iot.mqttUrl ?? '', options(deviceId, password));
    clients.push(client);
    return client;
  };

  /** Connects and expects a CONNACK refusal; resolves with its return code. */
  const refused = async (deviceId: string, password: string): Promise<number | undefined> => {
    const err = await mqtt.connectAsync(iot.mqttUrl ?? '', options(deviceId, password)).then(
      (c) => {
        clients.push(c);
        return undefined;
      },
      (e: unknown) => e as { code?: number },
    );
    expect(err).toBeDefined();
    return err?.code;
  };

  beforeAll(async () => {
    iot = await startIotCoreSandbox({
      port: 0,
      telemetrySink: { write: (r) => sink.write(r) },
    });
    for (const [id, key] of [
      ['dev-a', keyA.publicKey],
      ['dev-b', keyB.publicKey],
    ] as const) {
      const res = await call(iot.url, 'POST', P, {
        ...admin(),
        json: { id, credentials: [{ publicKey: { format: 'ES256_PEM', key: spki(key) } }] },
      });
      expect(res.status).toBe(200);
    }
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.endAsync(true).catch(() => {});
  });
  afterAll(() => iot?.close());

  const instantSink = (): HeldSink => {
    const s = new HeldSink();
    sink = {
      write: (r) => {
        const p = s.write(r);
        s.held.at(-1)?.resolve();
        return p;
      },
    };
    return s;
  };

  describe('authentication', () => {
    it('accepts an ES256 JWT for its own device path', async () => {
      const c = await connect('dev-a', await signJwt(claims(), keyA.privateKey));
      expect(c.connected).toBe(true);
      expect(iot.isConnected('dev-a')).toBe(true);
    });

    it('refuses a JWT for another project, an expired one, an HS256 one and alg none with CONNACK 5', async () => {
      const reasons: string[] = [];
      const onRefused = (e: { reason: string }) => reasons.push(e.reason);
      iot.events.on('mqtt:refused', onRefused);
      const tokens = [
        await signJwt(claims({ aud: 'someone-else' }), keyA.privateKey),
        await signJwt(claims({ iat: nowS() - 3600, exp: nowS() - 60 }), keyA.privateKey),
        forged('HS256', claims()),
        forged('HS256', claims(), spki(keyA.publicKey)),
        forged('none', claims()),
        await signJwt(claims(), keyB.privateKey), // dev-b's key for dev-a
        await signJwt(claims({ exp: nowS() + 25 * 3600 }), keyA.privateKey),
      ];
      for (const token of tokens) expect(await refused('dev-a', token)).toBe(5);
      iot.events.off('mqtt:refused', onRefused);
      expect(reasons).toEqual([
        'JWT audience does not match the project',
        'The authorization token expired.',
        'unsupported JWT alg (RS256 or ES256 only)',
        'unsupported JWT alg (RS256 or ES256 only)',
        'unsupported JWT alg (RS256 or ES256 only)',
        'JWT signature does not match any of the device credentials',
        expect.stringMatching(/lifetime/),
      ]);
      for (const r of reasons) expect(r).not.toMatch(/eyJ/); // never the token
    });

    it('refuses a client id that is not a device path (2) and a blocked device (5)', async () => {
      const token = await signJwt(claims(), keyA.privateKey);
      const err = await mqtt
        .connectAsync(iot.mqttUrl ?? '', { ...options('dev-a', token), clientId: 'dev-a' })
        .catch((e: { code?: number }) => e);
      expect((err as { code?: number }).code).toBe(2);
      await call(iot.url, 'PATCH', `${P}/dev-b?updateMask=blocked`, { ...admin(), json: { blocked: true } });
      expect(await refused('dev-b', await signJwt(claims(), keyB.privateKey))).toBe(5);
      await call(iot.url, 'PATCH', `${P}/dev-b?updateMask=blocked`, { ...admin(), json: { blocked: false } });
    });

    it('closes the connection when its JWT expires', async () => {
      const c = await connect('dev-a', await signJwt(claims({ exp: nowS() + 2 }), keyA.privateKey));
      const [disconnect] = (await once(iot.events, 'mqtt:disconnect')) as [
        { reason: string; deviceId: string },
      ];
      expect(disconnect).toMatchObject({ deviceId: 'dev-a', reason: 'The authorization token expired.' });
      if (c.connected) await closed(c);
      expect(c.connected).toBe(false);
      expect(iot.isConnected('dev-a')).toBe(false);
    });
  });

  describe('authorization', () => {
    it("closes the connection of a device that publishes to another device's topic, storing nothing", async () => {
      const s = instantSink();
      const c = await connect('dev-a', await signJwt(claims(), keyA.privateKey));
      const isClosed = closed(c);
      c.publish('/devices/dev-b/events', 'spoofed', { qos: 1 });
      await isClosed;
      expect(s.records).toEqual([]);
      expect(iot.telemetry.some((t) => t.data.toString() === 'spoofed')).toBe(false);
    });

    it("grants 128 for another device's commands and config, and delivers commands only to their device", async () => {
      instantSink();
      const a = await connect('dev-a', await signJwt(claims(), keyA.privateKey));
      // mqtt.js rejects a SUBACK that refuses anything; the packet carries what was granted.
      const suback = await a
        .subscribeAsync({
          '/devices/dev-b/commands/#': { qos: 1 },
          '/devices/dev-b/config': { qos: 1 },
          '#': { qos: 0 },
          '/devices/dev-a/commands/#': { qos: 2 },
        })
        .then(
          () => undefined,
          (e: { packet?: { granted?: number[] } }) => e.packet,
        );
      // QoS 2 is downgraded to 1; the others are refused.
      expect(suback?.granted).toEqual([128, 128, 128, 1]);
      const seen: string[] = [];
      a.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
      const notConnected = await call(iot.url, 'POST', `${P}/dev-b:sendCommandToDevice`, {
        ...admin(),
        json: { binaryData: Buffer.from('for b').toString('base64') },
      });
      expect(notConnected.json()).toMatchObject({ error: { status: 'FAILED_PRECONDITION' } });
      const delivered = nextMessage(a);
      const sent = await call(iot.url, 'POST', `${P}/dev-a:sendCommandToDevice`, {
        ...admin(),
        json: { binaryData: Buffer.from('for a').toString('base64'), subfolder: 'power' },
      });
      expect(sent.status).toBe(200);
      await delivered;
      expect(seen).toEqual(['/devices/dev-a/commands/power for a']);
    });

    it('delivers the current config right after a subscription to /config, and each new version', async () => {
      instantSink();
      await call(iot.url, 'POST', `${P}/dev-a:modifyCloudToDeviceConfig`, {
        ...admin(),
        json: { binaryData: Buffer.from('config-1').toString('base64') },
      });
      const a = await connect('dev-a', await signJwt(claims(), keyA.privateKey));
      const first = nextMessage(a);
      await a.subscribeAsync('/devices/dev-a/config', { qos: 1 });
      const [topic, payload] = await first;
      expect([topic, payload.toString()]).toEqual(['/devices/dev-a/config', 'config-1']);
      const second = nextMessage(a);
      await call(iot.url, 'POST', `${P}/dev-a:modifyCloudToDeviceConfig`, {
        ...admin(),
        json: { binaryData: Buffer.from('config-2').toString('base64') },
      });
      expect((await second)[1].toString()).toBe('config-2');
    });

    it('refuses a 300 KB telemetry message and a state over 64 KB by closing the connection', async () => {
      const s = instantSink();
      for (const [topic, size] of [
        ['/devices/dev-a/events', 300 * 1024],
        ['/devices/dev-a/state', 64 * 1024 + 1],
      ] as const) {
        const c = await connect('dev-a', await signJwt(claims(), keyA.privateKey));
        const isClosed = closed(c);
        c.publish(topic, Buffer.alloc(size, 0x61), { qos: 1 });
        await isClosed;
      }
      expect(s.records).toEqual([]);
      // A message at the limit goes through.
      const c = await connect('dev-a', await signJwt(claims(), keyA.privateKey));
      await c.publishAsync('/devices/dev-a/events', Buffer.alloc(256 * 1024, 0x62), { qos: 1 });
      expect(s.records).toHaveLength(1);
      expect(s.records[0]?.payload.length).toBe(256 * 1024);
    });

    it('cuts off a packet announcing more than it may carry while it arrives', async () => {
      const s = instantSink();
      const c = await connect('dev-a', await signJwt(claims(), keyA.privateKey));
      // The bridge resets the socket mid-packet: an ECONNRESET, then the close.
      const isClosed = closed(c);
      // PUBLISH QoS 0 with a remaining length of 100 MiB (varint 0x80 0x80 0x80 0x32), then 400 KiB
      // of it: the bridge must not wait for (and buffer) the rest.
      const topic = Buffer.from('/devices/dev-a/events');
      c.stream.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x32, 0, topic.length]));
      c.stream.write(Buffer.concat([topic, Buffer.alloc(400 * 1024, 0x63)]));
      await isClosed;
      expect(s.records).toEqual([]);
    });

    it('closes the connection on a QoS 2 publish', async () => {
      const s = instantSink();
      const c = await connect('dev-a', await signJwt(claims(), keyA.privateKey));
      const isClosed = closed(c);
      c.publish('/devices/dev-a/events', 'qos2', { qos: 2 });
      await isClosed;
      expect(s.records).toEqual([]);
    });
  });

  describe('telemetry sink', () => {
    it('sends the QoS 1 PUBACK only after the sink stored the message', async () => {
      const s = new HeldSink();
      sink = s;
      const c = await connect('dev-a', await signJwt(claims(), keyA.privateKey));
      const acked = c.publishAsync('/devices/dev-a/events/engine/rpm', 'r1', { qos: 1 }).then(() => {
        s.log.push('puback r1');
      });
      await s.until(1);
      // A whole HTTP round trip through the sandbox while the write is held: still no PUBACK.
      expect((await call(iot.url, 'GET', P, admin())).status).toBe(200);
      expect(s.log).toEqual([]);
      s.held[0]?.resolve();
      await acked;
      expect(s.log).toEqual(['stored r1', 'puback r1']);
      expect(s.records[0]).toMatchObject({
        projectId: PROJECT,
        location: 'us-central1',
        registryId: 'devices',
        deviceId: 'dev-a',
        kind: 'event',
        subfolder: 'engine/rpm',
      });
      expect(s.records[0]?.deviceNumId).toMatch(/^\d+$/);
      expect(s.records[0]?.receivedAt).toBeInstanceOf(Date);
    });

    it('hands state to the sink as kind state, without a subfolder', async () => {
      const s = instantSink();
      const c = await connect('dev-a', await signJwt(claims(), keyA.privateKey));
      await c.publishAsync('/devices/dev-a/state', '{"fw":"2"}', { qos: 1 });
      expect(s.records).toHaveLength(1);
      expect(s.records[0]?.kind).toBe('state');
      expect('subfolder' in (s.records[0] ?? {})).toBe(false);
      expect(Buffer.from(s.records[0]?.payload ?? []).toString()).toBe('{"fw":"2"}');
    });

    it('closes the MQTT connection without PUBACK when the sink fails, and records nothing', async () => {
      const s = new HeldSink();
      sink = s;
      const before = iot.telemetry.length;
      const c = await connect('dev-a', await signJwt(claims(), keyA.privateKey));
      let acked = false;
      c.publish('/devices/dev-a/events', 'lost?', { qos: 1 }, (err) => {
        if (!err) acked = true;
      });
      const isClosed = closed(c);
      await s.until(1);
      s.held[0]?.reject(new Error('disk full'));
      await isClosed;
      expect(acked).toBe(false);
      expect(iot.telemetry.length).toBe(before);
    });

    it('answers the HTTP bridge with 503 UNAVAILABLE when the sink fails, and 200 once it stored', async () => {
      const s = new HeldSink();
      sink = s;
      const token = await signJwt(claims(), keyA.privateKey);
      const publish = () =>
        call(iot.url, 'POST', `${P}/dev-a:publishEvent`, {
          headers: { authorization: `Bearer ${token}` },
          json: { binaryData: Buffer.from('over http').toString('base64'), subFolder: 'x' },
        });
      const failing = publish();
      await s.until(1);
      s.held[0]?.reject(new Error('disk full'));
      const res = await failing;
      expect(res.status).toBe(503);
      expect(res.json()).toMatchObject({ error: { code: 503, status: 'UNAVAILABLE' } });
      expect(res.text).not.toContain('disk full');

      const ok = publish();
      await s.until(2);
      s.held[1]?.resolve();
      expect((await ok).status).toBe(200);
      expect(s.records.map((r) => [r.kind, r.subfolder])).toEqual([['event', 'x']]);
      const state = call(iot.url, 'POST', `${P}/dev-a:setState`, {
        headers: { authorization: `Bearer ${token}` },
        json: { state: { binaryData: Buffer.from('st').toString('base64') } },
      });
      await s.until(3);
      s.held[2]?.resolve();
      expect((await state).status).toBe(200);
      expect(s.records[1]?.kind).toBe('state');
    });
  });
});

describe('IoT Core sandbox ingest backpressure', () => {
  it('keeps at most maxInFlightWrites sink writes running and stores every message', async () => {
    const s = new HeldSink();
    let running = 0;
    let most = 0;
    const iot = await startIotCoreSandbox({
      port: 0,
      mqtt: false,
      maxInFlightWrites: 3,
      telemetrySink: {
        async write(r) {
          running++;
          most = Math.max(most, running);
          try {
            await s.write(r);
          } finally {
            running--;
          }
        },
      },
    });
    try {
      await call(iot.url, 'POST', P, {
        token: iot.adminToken ?? '',
        json: { id: 'dev-r', credentials: [{ publicKey: { format: 'RSA_PEM', key: spki(keyR.publicKey) } }] },
      });
      const token = await signJwt(claims(), keyR.privateKey);
      const all = Array.from({ length: 12 }, (_, i) =>
        call(iot.url, 'POST', `${P}/dev-r:publishEvent`, {
          headers: { authorization: `Bearer ${token}` },
          json: { binaryData: Buffer.from(`m${i}`).toString('base64') },
        }),
      );
      // Release writes three at a time: a fourth never starts while three are held.
      for (let released = 0; released < 12; released += 3) {
        await s.until(released + 3);
        expect(running).toBe(3);
        for (const h of s.held.slice(released, released + 3)) h.resolve();
      }
      const statuses = (await Promise.all(all)).map((r) => r.status);
      expect(statuses).toEqual(Array(12).fill(200));
      expect(most).toBe(3);
      expect(s.records.map((r) => Buffer.from(r.payload).toString()).sort()).toEqual(
        Array.from({ length: 12 }, (_, i) => `m${i}`).sort(),
      );
    } finally {
      await iot.close();
    }
  });
});
