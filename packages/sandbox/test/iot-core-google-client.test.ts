/**
 * The IoT Core sandbox driven by Google's own Node client, `@google-cloud/iot`, over its REST
 * transport, in two published majors (5, and 3 under the `@google-cloud/iot-v3` alias): every
 * device manager call the sandbox serves, with the error codes each major maps the answers to.
 */
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import net from 'node:net';
import { v1 as iotV5 } from '@google-cloud/iot';
import { v1 as iotV3 } from '@google-cloud/iot-v3';
import { OAuth2Client as OAuth2ClientV10 } from 'google-auth-library';
import { OAuth2Client as OAuth2ClientV8 } from 'google-auth-library-v8';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IotCoreSandbox, startIotCoreSandbox } from '../src/index.js';
import { call } from './helpers.js';

const PROJECT = 'otakit-sandbox';
const LOCATION = 'us-central1';
const REGISTRY = 'devices';
const PARENT = `projects/${PROJECT}/locations/${LOCATION}/registries/${REGISTRY}`;

const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const ec2 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }) as string;

/** A device JWT (ES256) for the HTTP and MQTT bridges. */
function deviceJwt(key: KeyObject = ec.privateKey): string {
  const iat = Math.floor(Date.now() / 1000);
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${part({ alg: 'ES256', typ: 'JWT' })}.${part({ iat, exp: iat + 600, aud: PROJECT })}`;
  const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

/**
 * The google.rpc.Code numbers the v3 client (gax 3) puts in `err.code`: it maps the HTTP status, so
 * ALREADY_EXISTS (409) reads as ABORTED (10) and FAILED_PRECONDITION (400) as INVALID_ARGUMENT (3).
 */
const V3_CODE = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 10,
  FAILED_PRECONDITION: 3,
  UNAUTHENTICATED: 16,
} as const;
const HTTP_STATUS = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  FAILED_PRECONDITION: 400,
  UNAUTHENTICATED: 401,
} as const;
type Status = keyof typeof V3_CODE;

// biome-ignore lint/suspicious/noExplicitAny: the two majors' clients share one shape the tests use
type AnyClient = any;

interface Major {
  name: string;
  client(port: number, token: string): AnyClient;
  /** How this major reports an API error. */
  expectError(err: unknown, status: Status): void;
  /**
   * Whether it can send `deviceNumIds`: gax 3 turns repeated uint64 query parameters into
   * `[object Object]`, which the API refuses.
   */
  numIdsInQuery: boolean;
}

const MAJORS: Major[] = [
  {
    name: '@google-cloud/iot 5 (google-gax 5, REST)',
    client(port, token) {
      const authClient = new OAuth2ClientV10();
      authClient.setCredentials({ access_token: token });
      return new iotV5.DeviceManagerClient({
        apiEndpoint: '127.0.0.1',
        port,
        protocol: 'http',
        fallback: 'rest',
        authClient,
        // google-gax 5 names its own copy of google-auth-library's client type; they are the same class.
      } as unknown as ConstructorParameters<typeof iotV5.DeviceManagerClient>[0]);
    },
    expectError(err, status) {
      // gax 5 fetches through the auth client (gaxios 7), which throws a GaxiosError carrying the
      // HTTP status and the Google error body.
      const e = err as { status: number; message: string };
      expect(e.constructor.name).toBe('GaxiosError');
      expect(e.status).toBe(HTTP_STATUS[status]);
      expect(JSON.parse(e.message)).toMatchObject({ error: { code: HTTP_STATUS[status], status } });
    },
    numIdsInQuery: true,
  },
  {
    name: '@google-cloud/iot 3 (google-gax 3, REST)',
    client(port, token) {
      const authClient = new OAuth2ClientV8();
      authClient.setCredentials({ access_token: token });
      return new iotV3.DeviceManagerClient({
        apiEndpoint: '127.0.0.1',
        port,
        protocol: 'http',
        fallback: 'rest',
        authClient,
      } as unknown as ConstructorParameters<typeof iotV3.DeviceManagerClient>[0]);
    },
    expectError(err, status) {
      // gax 3 decodes the Google error body into a GoogleError with the gRPC code.
      const e = err as { code: number; message: string };
      expect(e.constructor.name).toBe('GoogleError');
      expect(e.code).toBe(V3_CODE[status]);
      expect(e.message).not.toBe('');
    },
    numIdsInQuery: false,
  },
];

/** Connections the clients opened to anything but loopback (there must be none). */
const outbound: string[] = [];
/** Connections to loopback, counted to show the spy sees the clients' sockets. */
let loopback = 0;
const realConnect = net.Socket.prototype.connect;

beforeAll(() => {
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    const a0 = Array.isArray(args[0]) ? args[0][0] : args[0];
    const host =
      typeof a0 === 'object' && a0 !== null
        ? ((a0 as { path?: string; host?: string }).path ?? (a0 as { host?: string }).host ?? 'localhost')
        : typeof args[1] === 'string'
          ? args[1]
          : 'localhost';
    if (['127.0.0.1', 'localhost', '::1'].includes(host)) loopback += 1;
    else outbound.push(host);
    return (realConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;
});
afterAll(() => {
  net.Socket.prototype.connect = realConnect;
  // No metadata server, no token endpoint, no Google host: only the sandbox on loopback.
  expect(outbound).toEqual([]);
  expect(loopback).toBeGreaterThan(0);
});

describe.each(MAJORS)('IoT Core sandbox through $name', (major) => {
  let iot: IotCoreSandbox;
  let client: AnyClient;
  let port: number;
  const path = (id: string) => `${PARENT}/devices/${id}`;
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error('expected the call to fail');
      },
      (err: unknown) => err,
    );

  beforeAll(async () => {
    iot = await startIotCoreSandbox({ port: 0 });
    port = Number(new URL(iot.url).port);
    client = major.client(port, iot.adminToken ?? '');
  });
  afterAll(async () => {
    await client?.close();
    await iot?.close();
  });

  it('creates a device: enums, bytes, int64 and a nanosecond timestamp come back as sent', async () => {
    const [device] = await client.createDevice({
      parent: PARENT,
      device: {
        id: 'g-1',
        credentials: [
          { publicKey: { format: 'ES256_PEM', key: spki(ec.publicKey) } },
          {
            publicKey: { format: 'RSA_PEM', key: spki(rsa.publicKey) },
            expirationTime: { seconds: 2_000_000_000, nanos: 5 },
          },
        ],
        metadata: { site: 'lab', constructor: 'x' },
        config: { binaryData: Buffer.from('first') },
        logLevel: 'INFO',
      },
    });
    expect(device.id).toBe('g-1');
    expect(device.numId).toMatch(/^\d+$/);
    expect(device.name).toBe(`${PARENT}/devices/${device.numId}`);
    expect(device.credentials.map((c: AnyClient) => c.publicKey.format)).toEqual(['ES256_PEM', 'RSA_PEM']);
    expect(device.credentials[0].publicKey.key).toBe(spki(ec.publicKey));
    expect(String(device.credentials[1].expirationTime.seconds)).toBe('2000000000');
    expect(device.credentials[1].expirationTime.nanos).toBe(5);
    expect(String(device.credentials[0].expirationTime.seconds)).toBe('0');
    expect(device.metadata).toEqual({ site: 'lab', constructor: 'x' });
    expect(String(device.config.version)).toBe('1');
    expect(Buffer.from(device.config.binaryData).toString()).toBe('first');
    expect(device.logLevel).toBe('INFO');
    expect(device.gatewayConfig.gatewayType).toBe('NON_GATEWAY');
    expect(device.blocked).toBe(false);
  });

  it('refuses a duplicate id with ALREADY_EXISTS and a key of the wrong type with INVALID_ARGUMENT', async () => {
    major.expectError(
      await failure(client.createDevice({ parent: PARENT, device: { id: 'g-1' } })),
      'ALREADY_EXISTS',
    );
    const wrongKey = client.createDevice({
      parent: PARENT,
      device: {
        id: 'g-bad',
        credentials: [{ publicKey: { format: 'ES256_PEM', key: spki(rsa.publicKey) } }],
      },
    });
    major.expectError(await failure(wrongKey), 'INVALID_ARGUMENT');
  });

  it('gets a device by id and by numeric id, all fields or only those of a field mask', async () => {
    const [full] = await client.getDevice({ name: path('g-1') });
    expect(full.credentials).toHaveLength(2);
    const [byNum] = await client.getDevice({ name: path(String(full.numId)) });
    expect(byNum.id).toBe('g-1');
    const [masked] = await client.getDevice({
      name: path('g-1'),
      fieldMask: { paths: ['metadata', 'gateway_config.gateway_type'] },
    });
    expect(masked.metadata).toEqual({ site: 'lab', constructor: 'x' });
    expect(masked.gatewayConfig.gatewayType).toBe('NON_GATEWAY');
    expect(masked.credentials).toEqual([]);
    expect(masked.id).toBe('');
    expect(masked.config).toBeNull();
  });

  it('lists page by page with pageToken, id and numId only unless a field mask asks for more', async () => {
    for (const id of ['g-2', 'g-3', 'g-4']) {
      await client.createDevice({
        parent: PARENT,
        device: { id, credentials: [{ publicKey: { format: 'ES256_PEM', key: spki(ec2.publicKey) } }] },
      });
    }
    const [page1, next1, raw1] = await client.listDevices(
      { parent: PARENT, pageSize: 3 },
      { autoPaginate: false },
    );
    expect(page1.map((d: AnyClient) => d.id)).toEqual(['g-1', 'g-2', 'g-3']);
    expect(page1[0].credentials).toEqual([]);
    expect(page1[0].numId).toMatch(/^\d+$/);
    expect(raw1.nextPageToken).not.toBe('');
    expect(next1.pageToken).toBe(raw1.nextPageToken);
    const [page2, next2] = await client.listDevices(next1, { autoPaginate: false });
    expect(page2.map((d: AnyClient) => d.id)).toEqual(['g-4']);
    expect(next2).toBeNull();

    const all: AnyClient[] = [];
    for await (const d of client.listDevicesAsync({
      parent: PARENT,
      pageSize: 2,
      fieldMask: { paths: ['credentials', 'blocked'] },
    })) {
      all.push(d);
    }
    expect(all.map((d) => d.id)).toEqual(['g-1', 'g-2', 'g-3', 'g-4']);
    expect(all[3].credentials[0].publicKey).toEqual({ format: 'ES256_PEM', key: spki(ec2.publicKey) });

    const [some] = await client.listDevices({ parent: PARENT, deviceIds: ['g-2', 'g-4'] });
    expect(some.map((d: AnyClient) => d.id)).toEqual(['g-2', 'g-4']);
    const byNumId = client.listDevices({ parent: PARENT, deviceNumIds: [String(all[2].numId)] });
    if (major.numIdsInQuery) {
      const [one] = await byNumId;
      expect(one.map((d: AnyClient) => d.id)).toEqual(['g-3']);
    } else {
      major.expectError(await failure(byNumId), 'INVALID_ARGUMENT');
    }
    const [gateways] = await client.listDevices({
      parent: PARENT,
      gatewayListOptions: { gatewayType: 'GATEWAY' },
    });
    expect(gateways).toEqual([]);
  });

  it('refuses a camelCase field mask with INVALID_ARGUMENT', async () => {
    const err = await failure(
      client.getDevice({ name: path('g-1'), fieldMask: { paths: ['lastHeartbeatTime'] } }),
    );
    major.expectError(err, 'INVALID_ARGUMENT');
  });

  it('updates blocked, credentials and metadata under an update mask, and nothing else', async () => {
    const [blocked] = await client.updateDevice({
      device: { name: path('g-2'), blocked: true, metadata: { ignored: 'yes' } },
      updateMask: { paths: ['blocked'] },
    });
    expect(blocked.blocked).toBe(true);
    expect(blocked.metadata).toEqual({});
    const [rotated] = await client.updateDevice({
      device: {
        name: path('g-2'),
        credentials: [
          { publicKey: { format: 'ES256_PEM', key: spki(ec2.publicKey) } },
          { publicKey: { format: 'ES256_PEM', key: spki(ec.publicKey) } },
        ],
        metadata: { owner: 'ops' },
      },
      updateMask: { paths: ['credentials', 'metadata'] },
    });
    expect(rotated.credentials.map((c: AnyClient) => c.publicKey.key)).toEqual([
      spki(ec2.publicKey),
      spki(ec.publicKey),
    ]);
    expect(rotated.metadata).toEqual({ owner: 'ops' });
    expect(rotated.blocked).toBe(true);
    const [unblocked] = await client.updateDevice({
      device: { name: path('g-2'), blocked: false },
      updateMask: { paths: ['blocked'] },
    });
    expect(unblocked.blocked).toBe(false);

    major.expectError(
      await failure(
        client.updateDevice({ device: { name: path('g-2'), blocked: true }, updateMask: { paths: [] } }),
      ),
      'INVALID_ARGUMENT',
    );
    major.expectError(
      await failure(
        client.updateDevice({ device: { name: path('g-2'), id: 'other' }, updateMask: { paths: ['id'] } }),
      ),
      'INVALID_ARGUMENT',
    );
    const [after] = await client.getDevice({ name: path('g-2') });
    expect(after.id).toBe('g-2');
    expect(after.blocked).toBe(false);
  });

  it('modifies the config with and without a version check and lists config versions newest first', async () => {
    const [v2] = await client.modifyCloudToDeviceConfig({
      name: path('g-1'),
      versionToUpdate: 1,
      binaryData: Buffer.from('second'),
    });
    expect(String(v2.version)).toBe('2');
    expect(Buffer.from(v2.binaryData).toString()).toBe('second');
    expect(v2.cloudUpdateTime.seconds).toBeDefined();
    major.expectError(
      await failure(
        client.modifyCloudToDeviceConfig({
          name: path('g-1'),
          versionToUpdate: 1,
          binaryData: Buffer.from('x'),
        }),
      ),
      'FAILED_PRECONDITION',
    );
    const [v3] = await client.modifyCloudToDeviceConfig({
      name: path('g-1'),
      binaryData: Buffer.from([0, 255]),
    });
    expect(String(v3.version)).toBe('3');
    expect([...Buffer.from(v3.binaryData)]).toEqual([0, 255]);

    const [versions] = await client.listDeviceConfigVersions({ name: path('g-1') });
    expect(versions.deviceConfigs.map((c: AnyClient) => String(c.version))).toEqual(['3', '2', '1']);
    expect(Buffer.from(versions.deviceConfigs[2].binaryData).toString()).toBe('first');
    const [latest] = await client.listDeviceConfigVersions({ name: path('g-1'), numVersions: 1 });
    expect(latest.deviceConfigs.map((c: AnyClient) => String(c.version))).toEqual(['3']);
  });

  it('lists the states a device reported, newest first', async () => {
    const [none] = await client.listDeviceStates({ name: path('g-3') });
    expect(none.deviceStates).toEqual([]);
    for (const text of ['one', 'two']) {
      const res = await call(iot.url, 'POST', `/v1/${path('g-3')}:setState`, {
        headers: { authorization: `Bearer ${deviceJwt(ec2.privateKey)}` },
        json: { state: { binaryData: Buffer.from(text).toString('base64') } },
      });
      expect(res.status).toBe(200);
    }
    const [states] = await client.listDeviceStates({ name: path('g-3') });
    expect(states.deviceStates.map((s: AnyClient) => Buffer.from(s.binaryData).toString())).toEqual([
      'two',
      'one',
    ]);
    expect(Number(states.deviceStates[0].updateTime.seconds)).toBeGreaterThan(0);
    const [one] = await client.listDeviceStates({ name: path('g-3'), numStates: 1 });
    expect(one.deviceStates).toHaveLength(1);
  });

  it('sends a command to a device subscribed over MQTT, FAILED_PRECONDITION when it is not connected', async () => {
    major.expectError(
      await failure(client.sendCommandToDevice({ name: path('g-1'), binaryData: Buffer.from('reboot') })),
      'FAILED_PRECONDITION',
    );
    const device = await mqtt.connectAsync(iot.mqttUrl ?? '', {
      clientId: `${PARENT}/devices/g-1`,
      username: 'unused',
      password: deviceJwt(),
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    try {
      const received = new Promise<{ topic: string; payload: string }>((resolve) =>
        device.on('message', (topic, payload) => {
          if (topic.includes('/commands')) resolve({ topic, payload: payload.toString() });
        }),
      );
      await device.subscribeAsync('/devices/g-1/commands/#', { qos: 1 });
      const [response] = await client.sendCommandToDevice({
        name: path('g-1'),
        binaryData: Buffer.from('reboot'),
        subfolder: 'power',
      });
      expect(response).toEqual({});
      expect(await received).toEqual({ topic: '/devices/g-1/commands/power', payload: 'reboot' });
    } finally {
      await device.endAsync();
    }
  });

  it('deletes a device; then it is NOT_FOUND', async () => {
    const [empty] = await client.deleteDevice({ name: path('g-4') });
    expect(empty).toEqual({});
    major.expectError(await failure(client.getDevice({ name: path('g-4') })), 'NOT_FOUND');
    major.expectError(await failure(client.deleteDevice({ name: path('g-4') })), 'NOT_FOUND');
    major.expectError(await failure(client.listDeviceStates({ name: path('g-4') })), 'NOT_FOUND');
  });

  it('answers a wrong bearer token with UNAUTHENTICATED', async () => {
    const stranger = major.client(port, 'not-the-token');
    try {
      major.expectError(await failure(stranger.getDevice({ name: path('g-1') })), 'UNAUTHENTICATED');
    } finally {
      await stranger.close();
    }
  });
});

describe('IoT Core sandbox enum encoding', () => {
  let iot: IotCoreSandbox;
  beforeAll(async () => {
    iot = await startIotCoreSandbox({ port: 0, mqtt: false });
  });
  afterAll(() => iot?.close());

  it('reads enums by name or number and writes numbers only when asked with $alt=json;enum-encoding=int', async () => {
    const token = iot.adminToken ?? '';
    const created = await call(iot.url, 'POST', `/v1/${PARENT}/devices`, {
      token,
      json: {
        id: 'enc-1',
        credentials: [{ public_key: { format: 3, key: spki(rsa.publicKey) } }],
        log_level: 'DEBUG',
      },
    });
    expect(created.status).toBe(200);
    expect(created.json()).toMatchObject({
      credentials: [{ publicKey: { format: 'RSA_PEM' } }],
      logLevel: 'DEBUG',
      gatewayConfig: { gatewayType: 'NON_GATEWAY' },
    });
    const numeric = await call(
      iot.url,
      'GET',
      `/v1/${PARENT}/devices/enc-1?$alt=json%3Benum-encoding%3Dint`,
      {
        token,
      },
    );
    expect(numeric.json()).toMatchObject({
      credentials: [{ publicKey: { format: 3 } }],
      logLevel: 40,
      gatewayConfig: { gatewayType: 2 },
    });
  });

  it('refuses unknown fields, an enum outside its range and bytes that are not base64', async () => {
    const token = iot.adminToken ?? '';
    const post = (json: unknown) => call(iot.url, 'POST', `/v1/${PARENT}/devices`, { token, json });
    const unknown = await post({ id: 'enc-2', colour: 'red' });
    expect(unknown.json()).toEqual({
      error: {
        code: 400,
        message: `Invalid JSON payload received. Unknown name "colour" at 'device': Cannot find field.`,
        status: 'INVALID_ARGUMENT',
      },
    });
    const badEnum = await post({ id: 'enc-2', logLevel: 7 });
    expect(badEnum.json().error.message).toBe(`Invalid value at 'device.log_level' (TYPE_ENUM), 7`);
    const badBytes = await post({ id: 'enc-2', config: { binaryData: 'not base64!' } });
    expect(badBytes.json().error.message).toBe(
      `Invalid value at 'device.config.binary_data' (TYPE_BYTES), Base64 decoding failed`,
    );
    const badTime = await post({
      id: 'enc-2',
      credentials: [
        { publicKey: { format: 'RSA_PEM', key: spki(rsa.publicKey) }, expirationTime: 'tomorrow' },
      ],
    });
    expect(badTime.json().error.status).toBe('INVALID_ARGUMENT');
    expect((await call(iot.url, 'GET', `/v1/${PARENT}/devices/enc-2`, { token })).status).toBe(404);
  });

  it('refuses `name` in a modifyCloudToDeviceConfig or sendCommandToDevice body: the discovery schemas bind it to the path', async () => {
    const token = iot.adminToken ?? '';
    const device = `${PARENT}/devices/enc-3`;
    expect(
      (await call(iot.url, 'POST', `/v1/${PARENT}/devices`, { token, json: { id: 'enc-3' } })).status,
    ).toBe(200);
    const data = Buffer.from('cfg').toString('base64');
    for (const verb of ['modifyCloudToDeviceConfig', 'sendCommandToDevice']) {
      const res = await call(iot.url, 'POST', `/v1/${device}:${verb}`, {
        token,
        json: { name: `projects/p/locations/l/registries/r/devices/enc-3`, binaryData: data },
      });
      expect(res.json(), verb).toEqual({
        error: {
          code: 400,
          message: 'Invalid JSON payload received. Unknown name "name": Cannot find field.',
          status: 'INVALID_ARGUMENT',
        },
      });
    }
    const got = await call(iot.url, 'GET', `/v1/${device}`, { token });
    expect(got.json().config).toMatchObject({ version: '1' });
    expect(got.json().config.binaryData).toBeUndefined();
  });
});
