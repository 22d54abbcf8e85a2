import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { signJwt } from '@otakit/core';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IotCoreSandbox, startIotCoreSandbox, type TelemetryRecord } from '../src/index.js';
import { RedeliveryIds, type SentPublishes } from '../src/iot-core/redelivery.js';
import { call } from './helpers.js';

const PROJECT = 'otakit-sandbox';
const REG_PATH = `projects/${PROJECT}/locations/us-central1/registries/devices`;
const DEVICE = `${REG_PATH}/devices/dev-q`;
const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }) as string;

describe('RedeliveryIds', () => {
  const pub = (packetId: number | undefined, payload: string, dup = false, qos = 1) => ({
    qos,
    packetId,
    dup,
    payload: Buffer.from(payload),
  });

  it('gives a message repeated on the next connection the id it had', () => {
    const ids = new RedeliveryIds();
    const first: SentPublishes = new Map();
    const a = ids.idFor(DEVICE, first, pub(7, 'x'));
    const b = ids.idFor(DEVICE, first, pub(8, 'y'));
    ids.ended(DEVICE, first);
    const second: SentPublishes = new Map();
    // mqtt.js redelivers without the DUP flag; a spec client sets it. Both are recognised.
    expect(ids.idFor(DEVICE, second, pub(7, 'x'))).toBe(a);
    expect(ids.idFor(DEVICE, second, pub(8, 'y', true))).toBe(b);
    // Consumed: the same bytes under the same packet id again are a new message.
    expect(ids.idFor(DEVICE, second, pub(7, 'x'))).not.toBe(a);
  });

  it('never merges different bytes, other devices, QoS 0 or non-DUP repeats on a live connection', () => {
    const ids = new RedeliveryIds();
    const live: SentPublishes = new Map();
    const a = ids.idFor(DEVICE, live, pub(1, 'x'));
    expect(ids.idFor(DEVICE, live, pub(1, 'x'))).not.toBe(a);
    const c = ids.idFor(DEVICE, live, pub(2, 'z'));
    expect(ids.idFor(DEVICE, live, pub(2, 'z', true))).toBe(c);
    ids.ended(DEVICE, live);
    expect(ids.idFor(DEVICE, new Map(), pub(2, 'other'))).not.toBe(c);
    expect(ids.idFor(`${REG_PATH}/devices/other`, new Map(), pub(2, 'z'))).not.toBe(c);
    const q0 = ids.idFor(DEVICE, new Map(), pub(undefined, 'z', false, 0));
    expect(q0).not.toBe(c);
  });

  it('remembers a bounded window per connection and forgets deleted devices', () => {
    const ids = new RedeliveryIds();
    const live: SentPublishes = new Map();
    const first = ids.idFor(DEVICE, live, pub(1, 'm1'));
    for (let i = 2; i <= 200; i++) ids.idFor(DEVICE, live, pub(i, `m${i}`));
    expect(live.size).toBe(64);
    ids.ended(DEVICE, live);
    expect(ids.idFor(DEVICE, new Map(), pub(1, 'm1'))).not.toBe(first);
    const recent = [...live.values()].at(-1)?.id;
    ids.forget(DEVICE);
    expect(ids.idFor(DEVICE, new Map(), pub(200, 'm200'))).not.toBe(recent);
  });
});

describe('IoT Core MQTT bridge: a QoS 1 redelivery after a lost PUBACK', () => {
  let iot: IotCoreSandbox;
  const records: TelemetryRecord[] = [];
  let hold: (() => void) | undefined;
  let held: Promise<void> | undefined;

  beforeAll(async () => {
    iot = await startIotCoreSandbox({
      port: 0,
      telemetrySink: {
        async write(r) {
          if (hold === undefined && held === undefined) {
            held = new Promise<void>((resolve) => {
              hold = resolve;
            });
            await held;
          }
          records.push(r);
        },
      },
    });
    const res = await call(iot.url, 'POST', `/v1/${REG_PATH}/devices`, {
      token: iot.adminToken ?? '',
      json: { id: 'dev-q', credentials: [{ publicKey: { format: 'ES256_PEM', key: spki(key.publicKey) } }] },
    });
    expect(res.status).toBe(200);
  });
  afterAll(async () => iot.close());

  /** A client whose every QoS 1 publish uses packet id 7, as a client may after each PUBACK. */
  const connect = async (): Promise<MqttClient> => {
    const now = Math.floor(Date.now() / 1000);
    const password = await signJwt({ iat: now, exp: now + 600, aud: PROJECT }, key.privateKey);
    const opts: IClientOptions = {
      clientId: DEVICE,
      username: 'unused',
      password,
      protocolVersion: 4,
      reconnectPeriod: 0,
      messageIdProvider: {
        allocate: () => 7,
        getLastAllocated: () => 7,
        register: () => true,
        deallocate: () => {},
        clear: () => {},
      },
    };
    return mqtt.connectAsync(iot.mqttUrl ?? '', opts);
  };

  it('hands the sink the same message id, so a store keyed on it keeps one row', async () => {
    const first = await connect();
    first.publish('/devices/dev-q/events', 'reading-1', { qos: 1 });
    while (hold === undefined) await new Promise((r) => setTimeout(r, 5));
    // The connection drops while the store writes: the PUBACK can never reach the device.
    first.stream.destroy();
    await new Promise<void>((resolve) => first.once('close', () => resolve()));
    hold();
    while (records.length < 1) await new Promise((r) => setTimeout(r, 5));

    const second = await connect();
    await second.publishAsync('/devices/dev-q/events', 'reading-1', { qos: 1 });
    await second.publishAsync('/devices/dev-q/events', 'reading-1', { qos: 1 });
    await second.endAsync();

    expect(records.map((r) => Buffer.from(r.payload).toString())).toEqual([
      'reading-1',
      'reading-1',
      'reading-1',
    ]);
    // The redelivery repeats the first message's id; the later publish is a new message.
    expect(records[1]?.messageId).toBe(records[0]?.messageId);
    expect(records[2]?.messageId).not.toBe(records[0]?.messageId);
    expect(new Set(records.map((r) => r.messageId)).size).toBe(2);
  });

  it('keeps only the latest messages in memory', async () => {
    const small = await startIotCoreSandbox({ port: 0, mqtt: false, recentMessages: 4 });
    try {
      await call(small.url, 'POST', `/v1/${REG_PATH}/devices`, {
        token: small.adminToken ?? '',
        json: {
          id: 'dev-q',
          credentials: [{ publicKey: { format: 'ES256_PEM', key: spki(key.publicKey) } }],
        },
      });
      const now = Math.floor(Date.now() / 1000);
      const token = await signJwt({ iat: now, exp: now + 600, aud: PROJECT }, key.privateKey);
      for (let i = 0; i < 20; i++) {
        const res = await call(small.url, 'POST', `/v1/${DEVICE}:publishEvent`, {
          headers: { authorization: `Bearer ${token}` },
          json: { binaryData: Buffer.from(`m${i}`).toString('base64') },
        });
        expect(res.status).toBe(200);
      }
      const kept = small.telemetry.map((t) => t.data.toString());
      expect(kept.length).toBeGreaterThanOrEqual(4);
      expect(kept.length).toBeLessThanOrEqual(5);
      expect(kept.at(-1)).toBe('m19');
      expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => `m${20 - kept.length + i}`));
      await expect(startIotCoreSandbox({ port: 0, recentMessages: -1 })).rejects.toThrow(RangeError);
    } finally {
      await small.close();
    }
  });
});
