import { generateKeyPairSync } from 'node:crypto';
import { HttpClient, UnauthorizedError } from '@otakit/core';
import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceApi } from '../../src/api/device-api.js';
import { DeviceError, DeviceErrorCodes } from '../../src/errors.js';

const ORIGIN = 'http://mender.test';
const AUTH_PATH = '/api/devices/v1/authentication/auth_requests';
const INVENTORY_PATH = '/api/devices/v1/inventory/device/attributes';
const NEXT_PATH = '/api/devices/v2/deployments/device/deployments/next';
const STATUS_PATH = '/api/devices/v1/deployments/device/deployments/d1/status';
const LOG_PATH = '/api/devices/v1/deployments/device/deployments/d1/log';
const { privateKey } = generateKeyPairSync('ed25519');

let agent: MockAgent;
let http: HttpClient;
let auths: number;
/** The tokens the auth endpoint hands out, in order (`tok1`, `tok2`, ... unless a test says). */
let issue: (n: number) => string;
/** When true, the auth endpoint refuses the device (401: not accepted, or decommissioned). */
let refuse: boolean;

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  http = new HttpClient({ baseUrl: ORIGIN, dispatcher: agent, retry: { baseDelayMs: 1, maxDelayMs: 2 } });
  auths = 0;
  issue = (n) => `tok${n}`;
  refuse = false;
  agent
    .get(ORIGIN)
    .intercept({ path: AUTH_PATH, method: 'POST' })
    .reply(() => {
      auths++;
      return refuse
        ? { statusCode: 401, data: { error: 'dev auth: unauthorized' } }
        : { statusCode: 200, data: issue(auths) };
    })
    .persist();
});

afterEach(async () => {
  await agent.close();
});

function api(): DeviceApi {
  return new DeviceApi({ http, privateKey, identity: { mac: '02:00:00:00:00:01' } });
}

/** Answers `status` to `method path` when it carries `token`, `times` times. */
function answer(method: string, path: string, token: string, status: number, times = 1): void {
  agent
    .get(ORIGIN)
    .intercept({
      path: (p) => p.split('?')[0] === path,
      method,
      headers: { authorization: `Bearer ${token}` },
    })
    .reply(status, status === 200 ? {} : '')
    .times(times);
}

/** Each device API call, with the request it sends. */
const calls: Array<{ name: string; method: string; path: string; run: (a: DeviceApi) => Promise<unknown> }> =
  [
    {
      name: 'sendInventory',
      method: 'PATCH',
      path: INVENTORY_PATH,
      run: (a) => a.sendInventory({ kernel: '6.1' }),
    },
    {
      name: 'checkForUpdate',
      method: 'POST',
      path: NEXT_PATH,
      run: (a) => a.checkForUpdate({ device_type: 'rpi4', artifact_name: 'v1' }),
    },
    {
      name: 'reportStatus',
      method: 'PUT',
      path: STATUS_PATH,
      run: (a) => a.reportStatus('d1', 'downloading'),
    },
    {
      name: 'uploadLog',
      method: 'PUT',
      path: LOG_PATH,
      run: (a) => a.uploadLog('d1', [{ timestamp: 't', level: 'info', message: 'm' }]),
    },
  ];

describe('device API re-authentication (core token source)', () => {
  for (const call of calls) {
    it(`${call.name}: a 401 re-authenticates once and re-sends the call once with the fresh token`, async () => {
      const device = api();
      await device.authenticate();
      answer(call.method, call.path, 'tok1', 401);
      answer(call.method, call.path, 'tok2', call.name === 'checkForUpdate' ? 204 : 200);
      await call.run(device);
      expect(auths).toBe(2);
      expect(device.token).toBe('tok2');
    });
  }

  it('authenticates lazily on the first call', async () => {
    const device = api();
    answer('PATCH', INVENTORY_PATH, 'tok1', 200);
    expect(await device.sendInventory({ a: '1' })).toBe(true);
    expect(auths).toBe(1);
  });

  it('concurrent calls refused with 401 share one re-authentication', async () => {
    const device = api();
    await device.authenticate();
    for (const call of calls) {
      answer(call.method, call.path, 'tok1', 401);
      answer(call.method, call.path, 'tok2', call.name === 'checkForUpdate' ? 204 : 200);
    }
    await Promise.all(calls.map((call) => call.run(device)));
    expect(auths).toBe(2);
    expect(device.token).toBe('tok2');
  });

  it('a second 401 after the re-authentication surfaces as UnauthorizedError (no third send)', async () => {
    const device = api();
    await device.authenticate();
    answer('PUT', STATUS_PATH, 'tok1', 401);
    answer('PUT', STATUS_PATH, 'tok2', 401);
    // A third send would find no interceptor and fail with a different error.
    const err = await device.reportStatus('d1', 'installing').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnauthorizedError);
    expect(auths).toBe(2);
  });

  it('a re-authentication the server refuses surfaces as ERR_DEVICE_PENDING and forgets the token', async () => {
    const device = api();
    await device.authenticate();
    refuse = true;
    answer('PATCH', INVENTORY_PATH, 'tok1', 401);
    const err = await device.sendInventory({ a: '1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceError);
    expect((err as DeviceError).code).toBe(DeviceErrorCodes.DEVICE_PENDING);
    expect((err as DeviceError).cause).toBeInstanceOf(UnauthorizedError);
    expect(device.token).toBeUndefined();
    expect(auths).toBe(2);
  });

  it('renews a token inside the renewal margin before the next call, without a 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    // 100 s left of a 3600 s lifetime: inside the margin (a tenth of the lifetime).
    const jwt = (n: number) =>
      [
        Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT' })).toString('base64url'),
        Buffer.from(JSON.stringify({ jti: `j${n}`, iat: now - 3500, exp: now + 100 })).toString('base64url'),
        'c2ln',
      ].join('.');
    issue = jwt;
    const device = api();
    await device.authenticate();
    answer('PATCH', INVENTORY_PATH, jwt(2), 200);
    expect(await device.sendInventory({ a: '1' })).toBe(true);
    expect(auths).toBe(2);
  });

  it('keeps a token far from expiry for the next calls', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = [
      Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT' })).toString('base64url'),
      Buffer.from(JSON.stringify({ jti: 'j', iat: now, exp: now + 7 * 86_400 })).toString('base64url'),
      'c2ln',
    ].join('.');
    issue = () => token;
    const device = api();
    answer('PATCH', INVENTORY_PATH, token, 200, 2);
    await device.sendInventory({ a: '1' });
    await device.sendInventory({ a: '2' });
    expect(auths).toBe(1);
  });
});
