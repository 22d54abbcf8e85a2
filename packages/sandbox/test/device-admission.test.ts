import { generateKeyPairSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { signMenderRequest, toSpkiPem } from '@otakit/core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../src/index.js';
import {
  acceptDevice,
  authRequest,
  call,
  deviceIdOf,
  login,
  newDevice,
  uploadArtifact,
  vector,
} from './helpers.js';
import { expectSpec } from './spec.js';

const AUTH = '/api/devices/v1/authentication/auth_requests';

/** Sends an auth request with an explicit body string and key. */
function rawAuth(base: string, body: string, key: Parameters<typeof signMenderRequest>[1]) {
  return call(base, 'POST', AUTH, {
    body,
    headers: { 'content-type': 'application/json', 'x-men-signature': signMenderRequest(body, key) },
  });
}

describe('device admission details', () => {
  let clock = Date.now();
  let sandbox: Sandbox;
  let token: string;
  beforeAll(async () => {
    sandbox = await startSandbox({ now: () => new Date(clock) });
    token = await login(sandbox);
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('normalises id_data by sorted keys and the pubkey to canonical SPKI', async () => {
    const dev = await newDevice('unused', 'rsa');
    const pem = dev.key.publicKeyPem;
    const first = JSON.stringify({ id_data: '{"sn":"N1","mac":"01"}', pubkey: pem });
    expect((await rawAuth(sandbox.url, first, dev.key.privateKey)).status).toBe(401);
    const crlf = pem.replace(/\n/g, '\r\n');
    const second = JSON.stringify({ id_data: '{ "mac": "01",  "sn": "N1" }', pubkey: crlf });
    expect((await rawAuth(sandbox.url, second, dev.key.privateKey)).status).toBe(401);
    const devices = (
      await call(sandbox.url, 'POST', '/api/management/v2/devauth/devices/search', { token, json: {} })
    ).json();
    const mine = devices.filter((d: { identity_data: { sn?: string } }) => d.identity_data.sn === 'N1');
    expect(mine).toHaveLength(1);
    expect(mine[0].identity_data).toEqual({ mac: '01', sn: 'N1' });
    expect(mine[0].auth_sets).toHaveLength(1);
    expect(mine[0].auth_sets[0].pubkey).toBe(toSpkiPem(dev.key.publicKey));
  });

  it('accepts ECDSA P-384 keys (SHA-256 digest) as the real server does', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const body = JSON.stringify({
      id_data: JSON.stringify({ mac: 'p3:84' }),
      pubkey: publicKey.export({ type: 'spki', format: 'pem' }),
    });
    expect((await rawAuth(sandbox.url, body, privateKey)).status).toBe(401);
    const devices = (
      await call(sandbox.url, 'GET', '/api/management/v2/devauth/devices?status=pending', { token })
    ).json();
    expect(devices.some((d: { identity_data: { mac: string } }) => d.identity_data.mac === 'p3:84')).toBe(
      true,
    );
  });

  it('refuses PKCS#1 public keys and signatures over other bytes', async () => {
    const dev = await newDevice('pk:cs:01', 'rsa');
    const pkcs1 = dev.key.publicKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    const body = JSON.stringify({ id_data: JSON.stringify(dev.identity), pubkey: pkcs1 });
    const res = await rawAuth(sandbox.url, body, dev.key.privateKey);
    expect(res.status).toBe(400);
    expect(res.json().error).toMatch(/cannot decode public key/);
    const signed = JSON.stringify({ id_data: JSON.stringify(dev.identity), pubkey: dev.key.publicKeyPem });
    const sent = JSON.stringify(JSON.parse(signed), null, 1);
    const resigned = await call(sandbox.url, 'POST', AUTH, {
      body: sent,
      headers: {
        'content-type': 'application/json',
        'x-men-signature': signMenderRequest(signed, dev.key.privateKey),
      },
    });
    expect(resigned.status).toBe(401);
    expect(resigned.json().error).toBe('signature verification failed');
  });

  it('matches preauthorized identities by value and JSON type', async () => {
    const dev = await newDevice('typed', 'ed25519');
    await call(sandbox.url, 'POST', '/api/management/v2/devauth/devices', {
      token,
      json: { identity_data: { sn: 123 }, pubkey: dev.key.publicKeyPem },
    });
    const asString = JSON.stringify({ id_data: JSON.stringify({ sn: '123' }), pubkey: dev.key.publicKeyPem });
    expect((await rawAuth(sandbox.url, asString, dev.key.privateKey)).status).toBe(401);
    const asNumber = JSON.stringify({ id_data: JSON.stringify({ sn: 123 }), pubkey: dev.key.publicKeyPem });
    expect((await rawAuth(sandbox.url, asNumber, dev.key.privateKey)).status).toBe(200);
  });

  it('accepts chunked request bodies (as the Go client sends them)', async () => {
    const { jwt } = await acceptDevice(sandbox.url, token, await newDevice('ch:un:ke:d0'));
    const res = await request(`${sandbox.url}/api/devices/v1/inventory/device/attributes`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
      body: Readable.from([Buffer.from('[{"name":"a",'), Buffer.from('"value":"b"}]')]),
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });

  it('answers {"group": null} for a device without a group (a documented difference)', async () => {
    const dev = await newDevice('no:gr:ou:p0');
    await authRequest(sandbox.url, dev);
    const id = await deviceIdOf(sandbox.url, token, dev);
    const path = `/api/management/v1/inventory/devices/${id}/group`;
    const res = await call(sandbox.url, 'GET', path, { token });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ group: null });
    // The spec's Group schema requires a string; the server renders a missing group as null.
    expectSpec(res, 'GET', path, { reason: 'no group is rendered as null', skipBody: true });
  });

  it('expires device tokens, management tokens and download links by the clock', async () => {
    const { id, jwt } = await acceptDevice(sandbox.url, token, await newDevice('cl:oc:k0:00'));
    const mgmt = await login(sandbox);
    const up = await uploadArtifact(sandbox.url, mgmt, vector('module-small-unsigned.mender'));
    expect(up.status).toBe(201);
    await call(sandbox.url, 'POST', '/api/management/v1/deployments/deployments', {
      token: mgmt,
      json: { name: 'clock', artifact_name: 'shared-small-3', devices: [id] },
    });
    const next = await call(
      sandbox.url,
      'GET',
      '/api/devices/v1/deployments/device/deployments/next?artifact_name=a&device_type=board-s',
      {
        token: jwt,
      },
    );
    const uri = next.json().artifact.source.uri as string;
    clock += 23 * 3600 * 1000;
    expect((await call(uri, 'GET', uri)).status).toBe(200);
    clock += 2 * 3600 * 1000;
    const expired = await call(uri, 'GET', uri);
    expect(expired.status).toBe(403);
    expect(expired.json().error).toBe('the link has expired');
    clock += 7 * 24 * 3600 * 1000;
    expect(
      (
        await call(sandbox.url, 'PATCH', '/api/devices/v1/inventory/device/attributes', {
          token: jwt,
          json: [],
        })
      ).status,
    ).toBe(401);
    expect(
      (await call(sandbox.url, 'GET', '/api/management/v2/devauth/devices', { token: mgmt })).status,
    ).toBe(401);
  });
});

describe('the device limit', () => {
  it('refuses to accept devices beyond maxDevices: 422 for the admin, 401 for a preauthorized device', async () => {
    const sandbox = await startSandbox({ maxDevices: 1 });
    try {
      const token = await login(sandbox);
      const limit = await call(sandbox.url, 'GET', '/api/management/v2/devauth/limits/max_devices', {
        token,
      });
      expect(limit.json()).toEqual({ limit: 1 });
      await acceptDevice(sandbox.url, token, await newDevice('11:00:00:00:00:01'));
      const second = await newDevice('11:00:00:00:00:02');
      await authRequest(sandbox.url, second);
      const id = await deviceIdOf(sandbox.url, token, second);
      const dev = (
        await call(sandbox.url, 'GET', `/api/management/v2/devauth/devices/${id}`, { token })
      ).json();
      const path = `/api/management/v2/devauth/devices/${id}/auth/${dev.auth_sets[0].id}/status`;
      const refused = await call(sandbox.url, 'PUT', path, { token, json: { status: 'accepted' } });
      expect(refused.status).toBe(422);
      expectSpec(refused, 'PUT', path);
      const pre = await newDevice('11:00:00:00:00:03');
      await call(sandbox.url, 'POST', '/api/management/v2/devauth/devices', {
        token,
        json: { identity_data: pre.identity, pubkey: pre.key.publicKeyPem },
      });
      expect((await authRequest(sandbox.url, pre)).status).toBe(401);
    } finally {
      await sandbox.close();
    }
  });
});
