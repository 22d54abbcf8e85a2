import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { readArtifact } from '@otakit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../src/index.js';
import { acceptDevice, call, login, newDevice, type Res } from './helpers.js';
import { expectRoutesCovered, expectSpec } from './spec.js';

const M = '/api/management/v1/deviceconfig/configurations/device';
const DEV = '/api/devices/v1/deviceconfig/configuration';
const NEXT = '/api/devices/v1/deployments/device/deployments/next';
const D = '/api/management/v1/deployments/deployments';
const CONFIG_DOWNLOAD = '/api/devices/v1/deployments/download/configuration';
const GATEWAY_401 = { reason: 'the gateway answers 401 without a valid token on every route' };
const UNKNOWN = '0b3f0a47-5f56-4b8e-9d2a-8d1f5c2e6a10';

describe('deviceconfig responses match the OpenAPI spec', () => {
  let sandbox: Sandbox;
  let token: string;
  let a: { id: string; jwt: string };
  let b: { id: string; jwt: string };
  const url = () => sandbox.url;
  const mgmt = (method: string, path: string, json?: unknown): Promise<Res> =>
    call(url(), method, path, json === undefined ? { token } : { token, json });

  beforeAll(async () => {
    sandbox = await startSandbox();
    token = await login(sandbox);
    a = await acceptDevice(url(), token, await newDevice('dc:00:00:00:00:01'));
    b = await acceptDevice(url(), token, await newDevice('dc:00:00:00:00:02'));
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('management GET: an accepted device has an empty configuration; unknown devices 404', async () => {
    const got = await mgmt('GET', `${M}/${a.id}`);
    expect(got.status).toBe(200);
    expectSpec(got, 'GET', `${M}/${a.id}`);
    expect(got.json()).toMatchObject({ id: a.id, configured: {}, reported: {} });
    expect(got.json().updated_ts).toBeTypeOf('string');
    expect(got.json().reported_ts).toBeUndefined();
    const missing = await mgmt('GET', `${M}/${UNKNOWN}`);
    expect(missing.status).toBe(404);
    expectSpec(missing, 'GET', `${M}/${UNKNOWN}`);
    const deviceToken = await call(url(), 'GET', `${M}/${a.id}`, { token: a.jwt });
    expect(deviceToken.status).toBe(401);
    expectSpec(deviceToken, 'GET', `${M}/${a.id}`, GATEWAY_401);
  });

  it('management PUT sets the configured values (replacing them); bad bodies are 400', async () => {
    const first = await mgmt('PUT', `${M}/${a.id}`, { old: 'gone' });
    expect(first.status).toBe(204);
    expectSpec(first, 'PUT', `${M}/${a.id}`);
    const before = (await mgmt('GET', `${M}/${a.id}`)).json().updated_ts as string;
    const put = await mgmt('PUT', `${M}/${a.id}`, { timezone: 'UTC', 'ntp.server': 'pool.ntp.org' });
    expect(put.status).toBe(204);
    expectSpec(put, 'PUT', `${M}/${a.id}`);
    const got = (await mgmt('GET', `${M}/${a.id}`)).json();
    expect(got.configured).toEqual({ timezone: 'UTC', 'ntp.server': 'pool.ntp.org' });
    expect(Date.parse(got.updated_ts)).toBeGreaterThanOrEqual(Date.parse(before));

    for (const bad of [['x'], { n: 1 }, { empty: '' }, { '': 'v' }, { long: 'x'.repeat(4096) }]) {
      const res = await mgmt('PUT', `${M}/${a.id}`, bad);
      expect(res.status, JSON.stringify(bad).slice(0, 40)).toBe(400);
      expectSpec(res, 'PUT', `${M}/${a.id}`);
    }
    expect((await mgmt('GET', `${M}/${a.id}`)).json().configured).toEqual({
      timezone: 'UTC',
      'ntp.server': 'pool.ntp.org',
    });
    const noToken = await call(url(), 'PUT', `${M}/${a.id}`, { json: {} });
    expect(noToken.status).toBe(401);
    expectSpec(noToken, 'PUT', `${M}/${a.id}`, GATEWAY_401);
    const text = await call(url(), 'PUT', `${M}/${a.id}`, {
      token,
      body: 'a=b',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    expectSpec(text, 'PUT', `${M}/${a.id}`, { reason: 'CheckJSON middleware: 415 for a non-JSON body' });
  });

  it('device GET answers its own configured values; device PUT reports the applied ones', async () => {
    const got = await call(url(), 'GET', DEV, { token: a.jwt });
    expect(got.status).toBe(200);
    expectSpec(got, 'GET', DEV);
    expect(got.json()).toEqual({ timezone: 'UTC', 'ntp.server': 'pool.ntp.org' });
    const other = await call(url(), 'GET', DEV, { token: b.jwt });
    expect(other.status).toBe(200);
    expect(other.json()).toEqual({});

    const report = await call(url(), 'PUT', DEV, { token: a.jwt, json: { timezone: 'UTC' } });
    expect(report.status).toBe(204);
    expectSpec(report, 'PUT', DEV);
    const seen = (await mgmt('GET', `${M}/${a.id}`)).json();
    expectSpec(await mgmt('GET', `${M}/${a.id}`), 'GET', `${M}/${a.id}`);
    expect(seen.reported).toEqual({ timezone: 'UTC' });
    expect(seen.configured).toEqual({ timezone: 'UTC', 'ntp.server': 'pool.ntp.org' });
    expect(seen.reported_ts).toBeTypeOf('string');
    // b's report touches only b.
    expect((await mgmt('GET', `${M}/${b.id}`)).json().reported).toEqual({});

    const bad = await call(url(), 'PUT', DEV, { token: a.jwt, json: { n: 5 } });
    expect(bad.status).toBe(400);
    expectSpec(bad, 'PUT', DEV);
    const mgmtOnDevice = await call(url(), 'PUT', DEV, { token, json: {} });
    expect(mgmtOnDevice.status).toBe(401);
    expectSpec(mgmtOnDevice, 'PUT', DEV, GATEWAY_401);
    const noToken = await call(url(), 'GET', DEV);
    expect(noToken.status).toBe(401);
    expectSpec(noToken, 'GET', DEV, GATEWAY_401);
    const mgmtGet = await call(url(), 'GET', DEV, { token });
    expect(mgmtGet.status).toBe(401);
  });

  it('deploy creates a configuration deployment the device gets through next', async () => {
    const deploy = await mgmt('POST', `${M}/${a.id}/deploy`, { retries: 2 });
    expect(deploy.status).toBe(200);
    expectSpec(deploy, 'POST', `${M}/${a.id}/deploy`);
    const deploymentId = deploy.json().deployment_id as string;
    expect(deploymentId).toMatch(/^[0-9a-f-]{36}$/);
    const cfg = await mgmt('GET', `${M}/${a.id}`);
    expect(cfg.json().deployment_id).toBe(deploymentId);
    expectSpec(cfg, 'GET', `${M}/${a.id}`);

    const deployment = await mgmt('GET', `${D}/${deploymentId}`);
    expect(deployment.status).toBe(200);
    expectSpec(deployment, 'GET', `${D}/${deploymentId}`);
    expect(deployment.json()).toMatchObject({
      id: deploymentId,
      type: 'configuration',
      device_count: 1,
      status: 'pending',
    });
    expect(JSON.parse(deployment.json().configuration)).toEqual({
      timezone: 'UTC',
      'ntp.server': 'pool.ntp.org',
    });

    expect(
      (await call(url(), 'GET', `${NEXT}?artifact_name=base&device_type=board-s`, { token: b.jwt })).status,
    ).toBe(204);
    const next = await call(url(), 'GET', `${NEXT}?artifact_name=base&device_type=board-s`, { token: a.jwt });
    expect(next.status).toBe(200);
    expectSpec(next, 'GET', NEXT);
    const instructions = next.json();
    expect(instructions.id).toBe(deploymentId);
    expect(instructions.artifact).toMatchObject({
      id: `${deploymentId}${a.id}`,
      artifact_name: a.id,
      device_types_compatible: ['board-s'],
    });
    const link = new URL(instructions.artifact.source.uri as string);
    expect(link.pathname).toBe(`${CONFIG_DOWNLOAD}/${deploymentId}/board-s/${a.id}`);
    expect(Date.parse(instructions.artifact.source.expire) - Date.now()).toBeLessThanOrEqual(900_000);

    const download = await call(url(), 'GET', `${link.pathname}${link.search}`);
    expect(download.status).toBe(200);
    expect(download.headers['content-type']).toContain('application/vnd.mender-artifact');
    expectSpec(download, 'GET', link.pathname, {
      reason: 'the generated artifact is served as application/vnd.mender-artifact (spec: JSON string)',
      skipBody: true,
    });
    const info = await readArtifact(Readable.from([download.body]));
    expect(info.artifactName).toBe(a.id);
    expect(info.deviceTypes).toEqual(['board-s']);
    expect(info.payloadTypes).toEqual(['mender-configure']);
    expect(info.provides['data-partition.mender-configure.version']).toBe(a.id);
    expect(info.clearsProvides).toEqual(['data-partition.mender-configure.*']);
    expect(JSON.stringify(info.header)).toContain('pool.ntp.org');

    const tampered = new URL(link);
    tampered.pathname = `${CONFIG_DOWNLOAD}/${deploymentId}/other-type/${a.id}`;
    const forbidden = await call(url(), 'GET', `${tampered.pathname}${tampered.search}`);
    expect(forbidden.status).toBe(403);
    expectSpec(forbidden, 'GET', tampered.pathname, { reason: 'error body on 403', skipBody: true });

    for (const status of ['downloading', 'installing', 'success']) {
      const put = await call(
        url(),
        'PUT',
        `/api/devices/v1/deployments/device/deployments/${deploymentId}/status`,
        {
          token: a.jwt,
          json: { status },
        },
      );
      expect(put.status).toBe(204);
    }
    const done = (await mgmt('GET', `${D}/${deploymentId}`)).json();
    expect(done.status).toBe('finished');
    expect(done.statistics.status.success).toBe(1);
    expect(
      (await call(url(), 'GET', `${NEXT}?artifact_name=base&device_type=board-s`, { token: a.jwt })).status,
    ).toBe(204);
  });

  it('deploy: unknown device 404, bad bodies 400, other tokens 401', async () => {
    const missing = await mgmt('POST', `${M}/${UNKNOWN}/deploy`, { retries: 0 });
    expect(missing.status).toBe(404);
    expectSpec(missing, 'POST', `${M}/${UNKNOWN}/deploy`);
    for (const bad of [{ retries: -1 }, { retries: 'x' }, { update_control_map: [] }, []]) {
      const res = await mgmt('POST', `${M}/${a.id}/deploy`, bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expectSpec(res, 'POST', `${M}/${a.id}/deploy`);
    }
    const noBody = await call(url(), 'POST', `${M}/${a.id}/deploy`, {
      token,
      headers: { 'content-type': 'application/json' },
    });
    expect(noBody.status).toBe(400);
    expectSpec(noBody, 'POST', `${M}/${a.id}/deploy`);
    const deviceToken = await call(url(), 'POST', `${M}/${a.id}/deploy`, { token: a.jwt, json: {} });
    expect(deviceToken.status).toBe(401);
    expectSpec(deviceToken, 'POST', `${M}/${a.id}/deploy`, GATEWAY_401);
  });

  it('decommissioning drops the configuration', async () => {
    await mgmt('PUT', `${M}/${b.id}`, { k: 'v' });
    const del = await mgmt('DELETE', `/api/management/v2/devauth/devices/${b.id}`);
    expect(del.status).toBe(204);
    expect((await mgmt('GET', `${M}/${b.id}`)).status).toBe(404);
  });

  it('covered every deviceconfig route it serves with a success and an error response', () => {
    const routes = [
      `GET ${M}/{deviceId}`,
      `PUT ${M}/{deviceId}`,
      `POST ${M}/{deviceId}/deploy`,
      `GET ${DEV}`,
      `PUT ${DEV}`,
      `GET ${CONFIG_DOWNLOAD}/{deployment_id}/{device_type}/{device_id}`,
    ];
    expectRoutesCovered(routes);
  });
});

describe('deviceconfig state', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otakit-sandbox-deviceconfig-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('survives a restart with the data directory', async () => {
    const first = await startSandbox({ dataDir: dir });
    const token = await login(first);
    const device = await acceptDevice(first.url, token, await newDevice('dc:00:00:00:00:09'));
    await call(first.url, 'PUT', `${M}/${device.id}`, { token, json: { mode: 'eco' } });
    await call(first.url, 'PUT', DEV, { token: device.jwt, json: { mode: 'fast' } });
    const deploymentId = (
      await call(first.url, 'POST', `${M}/${device.id}/deploy`, { token, json: {} })
    ).json().deployment_id as string;
    await first.close();

    const second = await startSandbox({ dataDir: dir });
    try {
      const token2 = await login(second);
      const got = (await call(second.url, 'GET', `${M}/${device.id}`, { token: token2 })).json();
      expect(got).toMatchObject({
        id: device.id,
        configured: { mode: 'eco' },
        reported: { mode: 'fast' },
        deployment_id: deploymentId,
      });
      const next = await call(second.url, 'GET', `${NEXT}?artifact_name=base&device_type=board-s`, {
        token: device.jwt,
      });
      expect(next.status).toBe(200);
      expect(next.json().id).toBe(deploymentId);
    } finally {
      await second.close();
    }
  });
});
