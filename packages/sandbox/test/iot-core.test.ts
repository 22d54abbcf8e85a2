import { generateKeyPairSync, sign } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IotCoreSandbox, startIotCoreSandbox } from '../src/index.js';
import { call } from './helpers.js';

const P = '/v1/projects/otakit-sandbox/locations/us-central1/registries/devices/devices';
const CLIENT_ID = 'projects/otakit-sandbox/locations/us-central1/registries/devices/devices/';

const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const spki = (k: typeof ec.publicKey) => k.export({ type: 'spki', format: 'pem' }) as string;

function jwt(
  claims: Record<string, unknown>,
  key = ec.privateKey,
  alg: string = key.asymmetricKeyType === 'rsa' ? 'RS256' : 'ES256',
): string {
  const h = Buffer.from(JSON.stringify({ alg, typ: 'JWT' })).toString('base64url');
  const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const input = Buffer.from(`${h}.${p}`);
  const s =
    alg === 'RS256'
      ? sign('sha256', input, key)
      : alg === 'ES256'
        ? sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' })
        : Buffer.alloc(0);
  return `${h}.${p}.${s.toString('base64url')}`;
}

const now = () => Math.floor(Date.now() / 1000);
const valid = () => ({ iat: now(), exp: now() + 600, aud: 'otakit-sandbox' });

/** MQTT 3.1.1 CONNECT, byte by byte. */
function connectPacket(clientId: string, password: string | undefined, level = 4): Buffer {
  const str = (s: string) => {
    const b = Buffer.from(s);
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
  };
  const flags = password === undefined ? 0x02 : 0xc2;
  const body = Buffer.concat([
    str('MQTT'),
    Buffer.from([level, flags, 0, 60]),
    str(clientId),
    ...(password === undefined ? [] : [str('unused'), str(password)]),
  ]);
  const len: number[] = [];
  let n = body.length;
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    len.push(b);
  } while (n > 0);
  return Buffer.concat([Buffer.from([0x10, ...len]), body]);
}

async function mqttExchange(url: string, packets: Buffer[]): Promise<{ data: Buffer; closed: boolean }> {
  const { hostname, port } = new URL(url);
  const socket: Socket = netConnect(Number(port), hostname);
  const chunks: Buffer[] = [];
  socket.on('data', (c) => chunks.push(c));
  await new Promise((resolve) => socket.once('connect', resolve));
  for (const p of packets) socket.write(p);
  const closed = await new Promise<boolean>((resolve) => {
    socket.once('close', () => resolve(true));
    // A PINGREQ answered means the connection is still open after the packets.
    socket.write(Buffer.from([0xc0, 0]));
    socket.on('data', () => {
      if (Buffer.concat(chunks).includes(Buffer.from([0xd0, 0]))) resolve(false);
    });
  });
  socket.destroy();
  return { data: Buffer.concat(chunks), closed };
}

describe('IoT Core sandbox', () => {
  let iot: IotCoreSandbox;
  const admin = () => iot.adminToken ?? '';

  beforeAll(async () => {
    iot = await startIotCoreSandbox({ port: 0 });
    const created = await call(iot.url, 'POST', P, {
      token: admin(),
      json: {
        id: 'dev-1',
        credentials: [
          { publicKey: { format: 'ES256_PEM', key: spki(ec.publicKey) } },
          {
            publicKey: { format: 'RSA_PEM', key: spki(rsa.publicKey) },
            expirationTime: '2020-01-01T00:00:00Z',
          },
        ],
      },
    });
    expect(created.status).toBe(200);
  });
  afterAll(() => iot?.close());

  it('answers Google error bodies: UNAUTHENTICATED without a token, NOT_FOUND for an unknown registry', async () => {
    const noToken = await call(iot.url, 'GET', P);
    expect(noToken.status).toBe(401);
    expect(noToken.json()).toMatchObject({ error: { code: 401, status: 'UNAUTHENTICATED' } });
    const unknown = await call(iot.url, 'GET', P.replace('registries/devices', 'registries/nope'), {
      token: admin(),
    });
    expect(unknown.json()).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } });
  });

  it('validates create: device id rule, at most 3 credentials, key matching its format', async () => {
    const badId = await call(iot.url, 'POST', P, { token: admin(), json: { id: '1abc' } });
    expect(badId.json()).toMatchObject({ error: { status: 'INVALID_ARGUMENT' } });
    const cred = { publicKey: { format: 'ES256_PEM', key: spki(ec.publicKey) } };
    const four = await call(iot.url, 'POST', P, {
      token: admin(),
      json: { id: 'dev-4', credentials: [cred, cred, cred, cred] },
    });
    expect(four.status).toBe(400);
    const mismatch = await call(iot.url, 'POST', P, {
      token: admin(),
      json: { id: 'dev-x', credentials: [{ publicKey: { format: 'ES256_PEM', key: spki(rsa.publicKey) } }] },
    });
    expect(mismatch.json().error.message).toContain('position 1 is invalid');
    const unknownField = await call(iot.url, 'POST', P, {
      token: admin(),
      json: { id: 'dev-y', colour: 'red' },
    });
    expect(unknownField.status).toBe(400);
  });

  it('patch needs a non-empty updateMask of mutable fields', async () => {
    const none = await call(iot.url, 'PATCH', `${P}/dev-1`, { token: admin(), json: { blocked: true } });
    expect(none.status).toBe(400);
    const immutable = await call(iot.url, 'PATCH', `${P}/dev-1?updateMask=num_id`, {
      token: admin(),
      json: {},
    });
    expect(immutable.status).toBe(400);
    const ok = await call(iot.url, 'PATCH', `${P}/dev-1?updateMask=metadata`, {
      token: admin(),
      json: { metadata: { site: 'lab' } },
    });
    expect(ok.json().metadata).toEqual({ site: 'lab' });
  });

  describe('HTTP bridge', () => {
    const publish = (token: string) =>
      call(iot.url, 'POST', `${P}/dev-1:publishEvent`, {
        headers: { authorization: `Bearer ${token}` },
        json: { binaryData: Buffer.from('t').toString('base64') },
      });

    it('accepts a valid ES256 JWT, also with snake_case binary_data and URL-safe base64', async () => {
      expect((await publish(jwt(valid()))).status).toBe(200);
      const snake = await call(iot.url, 'POST', `${P}/dev-1:publishEvent`, {
        headers: { authorization: `Bearer ${jwt(valid())}` },
        json: { binary_data: Buffer.from([0xfb, 0xff]).toString('base64url'), sub_folder: 'x' },
      });
      expect(snake.status).toBe(200);
      expect(iot.telemetry.at(-1)).toMatchObject({ subFolder: 'x', transport: 'http' });
      expect([...(iot.telemetry.at(-1)?.data ?? [])]).toEqual([0xfb, 0xff]);
    });

    it('refuses a wrong audience, an expired token, a lifetime over 24 h, alg none and an expired credential', async () => {
      const cases = [
        jwt({ ...valid(), aud: 'other-project' }),
        jwt({ iat: now() - 7200, exp: now() - 3600, aud: 'otakit-sandbox' }),
        jwt({ iat: now(), exp: now() + 25 * 3600 + 900, aud: 'otakit-sandbox' }),
        jwt({ iat: now() + 3600, exp: now() + 7200, aud: 'otakit-sandbox' }),
        jwt(valid(), ec.privateKey, 'none'),
        jwt(valid(), rsa.privateKey),
        'not-a-jwt',
      ];
      for (const token of cases) {
        const res = await publish(token);
        expect(res.status).toBe(401);
        expect(res.json()).toMatchObject({ error: { status: 'UNAUTHENTICATED' } });
      }
    });

    it('refuses a missing token and a blocked device', async () => {
      const res = await call(iot.url, 'POST', `${P}/dev-1:setState`, { json: { state: { binaryData: '' } } });
      expect(res.status).toBe(401);
      await call(iot.url, 'PATCH', `${P}/dev-1?updateMask=blocked`, {
        token: admin(),
        json: { blocked: true },
      });
      expect((await publish(jwt(valid()))).json()).toMatchObject({ error: { status: 'PERMISSION_DENIED' } });
      await call(iot.url, 'PATCH', `${P}/dev-1?updateMask=blocked`, {
        token: admin(),
        json: { blocked: false },
      });
    });
  });

  describe('MQTT bridge', () => {
    it('accepts CONNECT with the device path as client id and the JWT as password', async () => {
      const { data, closed } = await mqttExchange(iot.mqttUrl ?? '', [
        connectPacket(`${CLIENT_ID}dev-1`, jwt(valid())),
      ]);
      expect([...data.subarray(0, 4)]).toEqual([0x20, 2, 0, 0]);
      expect(closed).toBe(false);
    });

    it('refuses MQTT 3.1 (1), a client id that is not a device path (2), no or a bad JWT (5)', async () => {
      const cases: Array<[Buffer, number]> = [
        [connectPacket(`${CLIENT_ID}dev-1`, jwt(valid()), 3), 1],
        [connectPacket('dev-1', jwt(valid())), 2],
        [connectPacket(`${CLIENT_ID}dev-1`, undefined), 5],
        [connectPacket(`${CLIENT_ID}dev-1`, jwt({ ...valid(), aud: 'x' })), 5],
        [connectPacket(`${CLIENT_ID}nobody`, jwt(valid())), 5],
      ];
      for (const [packet, code] of cases) {
        const { data, closed } = await mqttExchange(iot.mqttUrl ?? '', [packet]);
        expect([...data.subarray(0, 4)]).toEqual([0x20, 2, 0, code]);
        expect(closed).toBe(true);
      }
    });

    it('closes the connection when its JWT expires', async () => {
      const { hostname, port } = new URL(iot.mqttUrl ?? '');
      const socket = netConnect(Number(port), hostname);
      const dropped = new Promise<{ reason: string }>((resolve) =>
        iot.events.on('mqtt:disconnect', (e) => {
          if (e.deviceId === 'dev-1') resolve(e);
        }),
      );
      socket.resume();
      const closed = new Promise((resolve) => socket.once('close', resolve));
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(
        connectPacket(`${CLIENT_ID}dev-1`, jwt({ iat: now(), exp: now() + 3, aud: 'otakit-sandbox' })),
      );
      expect((await dropped).reason).toBe('The authorization token expired.');
      await closed;
    });

    it('closes the connection on QoS 2 and on a topic outside the device', async () => {
      const topic = (t: string) => Buffer.concat([Buffer.from([0, t.length]), Buffer.from(t)]);
      const qos2 = Buffer.concat([
        Buffer.from([0x34, 2 + 16 + 2 + 1]),
        topic('/devices/dev-1/events'),
        Buffer.from([0, 1, 0x41]),
      ]);
      const foreign = Buffer.concat([
        Buffer.from([0x30, 2 + 21 + 1]),
        topic('/devices/dev-2/events'),
        Buffer.from([0x41]),
      ]);
      for (const p of [qos2, foreign]) {
        const { closed } = await mqttExchange(iot.mqttUrl ?? '', [
          connectPacket(`${CLIENT_ID}dev-1`, jwt(valid())),
          p,
        ]);
        expect(closed).toBe(true);
      }
    });
  });

  it('lists with pageToken paging and returns id/numId only without a fieldMask', async () => {
    for (let i = 0; i < 3; i++) await call(iot.url, 'POST', P, { token: admin(), json: { id: `page-${i}` } });
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const res = await call(iot.url, 'GET', `${P}?pageSize=2${token ? `&pageToken=${token}` : ''}`, {
        token: admin(),
      });
      const body = res.json() as { devices: Array<Record<string, unknown>>; nextPageToken?: string };
      for (const d of body.devices) {
        expect(Object.keys(d).sort()).toEqual(['id', 'numId']);
        ids.push(d.id as string);
      }
      token = body.nextPageToken;
    } while (token);
    expect(ids.sort()).toEqual(['dev-1', 'page-0', 'page-1', 'page-2']);
    const bad = await call(iot.url, 'GET', `${P}?pageToken=zzz`, { token: admin() });
    expect(bad.status).toBe(400);
  });
});
