import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../src/index.js';
import { acceptDevice, call, login, newDevice, type Res, uploadArtifact, vector } from './helpers.js';
import { expectRoutesCovered, expectSpec } from './spec.js';

const M = '/api/management/v1/deployments';
const M2 = '/api/management/v2/deployments';
const D = '/api/devices/v1/deployments/device/deployments';
const GATEWAY_401 = { reason: 'the gateway answers 401 without a valid token on every management route' };

describe('deployments responses match the OpenAPI spec', () => {
  let sandbox: Sandbox;
  let token: string;
  let device: { id: string; jwt: string };
  let other: { id: string; jwt: string };
  let artifactId: string;
  const url = () => sandbox.url;
  const mgmt = (method: string, path: string, json?: unknown): Promise<Res> =>
    call(url(), method, path, json === undefined ? { token } : { token, json });
  const anon = async (method: string, path: string): Promise<void> => {
    const res = await call(url(), method, path);
    expect(res.status).toBe(401);
    expectSpec(res, method, path, GATEWAY_401);
  };

  beforeAll(async () => {
    sandbox = await startSandbox();
    token = await login(sandbox);
    device = await acceptDevice(url(), token, await newDevice('de:00:00:00:00:01'));
    other = await acceptDevice(url(), token, await newDevice('de:00:00:00:00:02'));
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('artifacts: upload, conflicts, broken files, list, get, edit, link, delete', async () => {
    const up = await uploadArtifact(url(), token, vector('module-small-unsigned.mender'), {
      description: 'small',
    });
    expect(up.status).toBe(201);
    expectSpec(up, 'POST', `${M}/artifacts`);
    artifactId = String(up.headers.location).split('/').at(-1)!;
    expect(up.headers.location).toBe(`${M}/artifacts/${artifactId}`);
    const dup = await uploadArtifact(url(), token, vector('module-small-unsigned.mender'));
    expect(dup.status).toBe(409);
    expectSpec(dup, 'POST', `${M}/artifacts`);
    for (const broken of [
      'tampered-payload-byte.mender',
      'truncated-in-data.mender',
      'not-a-tar-gzipped-artifact.mender',
    ]) {
      const res = await uploadArtifact(url(), token, vector(broken));
      expect(res.status, broken).toBe(400);
      expectSpec(res, 'POST', `${M}/artifacts`);
    }
    const notMultipart = await mgmt('POST', `${M}/artifacts`, { artifact: 'x' });
    expect(notMultipart.status).toBe(415);
    expectSpec(notMultipart, 'POST', `${M}/artifacts`, {
      reason: 'the real server refuses non-multipart uploads',
    });

    const all = await mgmt('GET', `${M}/artifacts`);
    expect(all.status).toBe(200);
    expectSpec(all, 'GET', `${M}/artifacts`);
    await anon('GET', `${M}/artifacts`);
    const list = await mgmt('GET', `${M}/artifacts/list?name=shared-small&per_page=1`);
    expect(list.status).toBe(200);
    expect(list.headers['x-total-count']).toBe('1');
    expectSpec(list, 'GET', `${M}/artifacts/list`);
    await anon('GET', `${M}/artifacts/list`);
    const v2 = await mgmt('GET', `${M2}/artifacts`);
    expect(v2.status).toBe(200);
    expectSpec(v2, 'GET', `${M2}/artifacts`);
    await anon('GET', `${M2}/artifacts`);

    const got = await mgmt('GET', `${M}/artifacts/${artifactId}`);
    expect(got.status).toBe(200);
    expectSpec(got, 'GET', `${M}/artifacts/${artifactId}`);
    const missing = await mgmt('GET', `${M}/artifacts/nope`);
    expect(missing.status).toBe(404);
    expectSpec(missing, 'GET', `${M}/artifacts/nope`);
    const edit = await mgmt('PUT', `${M}/artifacts/${artifactId}`, { description: 'edited' });
    expect(edit.status).toBe(204);
    expectSpec(edit, 'PUT', `${M}/artifacts/${artifactId}`);
    const badEdit = await mgmt('PUT', `${M}/artifacts/${artifactId}`, { description: 5 });
    expect(badEdit.status).toBe(400);
    expectSpec(badEdit, 'PUT', `${M}/artifacts/${artifactId}`);

    const link = await mgmt('GET', `${M}/artifacts/${artifactId}/download`);
    expect(link.status).toBe(200);
    expectSpec(link, 'GET', `${M}/artifacts/${artifactId}/download`);
    const file = await call(link.json().uri, 'GET', link.json().uri);
    expect(file.status).toBe(200);
    expect(file.body.length).toBe(got.json().size);
    const link404 = await mgmt('GET', `${M}/artifacts/nope/download`);
    expect(link404.status).toBe(404);
    expectSpec(link404, 'GET', `${M}/artifacts/nope/download`);

    const storage = await mgmt('GET', `${M}/limits/storage`);
    expect(storage.status).toBe(200);
    expectSpec(storage, 'GET', `${M}/limits/storage`);
    await anon('GET', `${M}/limits/storage`);

    const spare = await uploadArtifact(url(), token, vector('module-small-ecdsa256.mender'));
    const spareId = String(spare.headers.location).split('/').at(-1)!;
    const del = await mgmt('DELETE', `${M}/artifacts/${spareId}`);
    expect(del.status).toBe(204);
    expectSpec(del, 'DELETE', `${M}/artifacts/${spareId}`);
    const del404 = await mgmt('DELETE', `${M}/artifacts/${spareId}`);
    expect(del404.status).toBe(404);
    expectSpec(del404, 'DELETE', `${M}/artifacts/${spareId}`);
  });

  it('releases v1 and v2', async () => {
    for (const path of [
      `${M}/deployments/releases`,
      `${M}/deployments/releases/list`,
      `${M2}/deployments/releases`,
    ]) {
      const res = await mgmt('GET', path);
      expect(res.status).toBe(200);
      expectSpec(res, 'GET', path);
      await anon('GET', path);
    }
    const one = await mgmt('GET', `${M2}/deployments/releases/shared-small-3`);
    expect(one.status).toBe(200);
    expect(one.json().artifacts).toHaveLength(1);
    expectSpec(one, 'GET', `${M2}/deployments/releases/shared-small-3`);
    const none = await mgmt('GET', `${M2}/deployments/releases/none`);
    expect(none.status).toBe(404);
    expectSpec(none, 'GET', `${M2}/deployments/releases/none`);
    for (const path of [`${M2}/releases/all/types`, `${M2}/releases/all/tags`]) {
      const res = await mgmt('GET', path);
      expect(res.status).toBe(200);
      expectSpec(res, 'GET', path);
      await anon('GET', path);
    }
  });

  it('deployments: create, list, get, device side, statistics, lists, logs, abort', async () => {
    const create = `${M}/deployments`;
    const noDevices = await mgmt('POST', create, { name: 'x', artifact_name: 'shared-small-3' });
    expect(noDevices.status).toBe(400);
    expectSpec(noDevices, 'POST', create);
    const noArtifact = await mgmt('POST', create, { name: 'x', artifact_name: 'nope', devices: [device.id] });
    expect(noArtifact.status).toBe(422);
    expectSpec(noArtifact, 'POST', create);
    const created = await mgmt('POST', create, {
      name: 'd1',
      artifact_name: 'shared-small-3',
      devices: [device.id],
    });
    expect(created.status).toBe(201);
    expectSpec(created, 'POST', create);
    const id = String(created.headers.location).split('/').at(-1)!;
    expect(created.headers.location).toBe(`${M}/deployments/${id}`);
    const again = await mgmt('POST', create, {
      name: 'd1',
      artifact_name: 'shared-small-3',
      devices: [device.id],
    });
    expect(again.status).toBe(409);
    expectSpec(again, 'POST', create);

    await mgmt('PUT', `/api/management/v1/inventory/devices/${other.id}/group`, { group: 'lab' });
    const byGroup = await mgmt('POST', `${M}/deployments/group/lab`, {
      name: 'g1',
      artifact_name: 'shared-small-3',
    });
    expect(byGroup.status).toBe(201);
    expectSpec(byGroup, 'POST', `${M}/deployments/group/lab`);
    const emptyGroup = await mgmt('POST', `${M}/deployments/group/empty`, {
      name: 'g2',
      artifact_name: 'shared-small-3',
    });
    expect(emptyGroup.status).toBe(400);
    expectSpec(emptyGroup, 'POST', `${M}/deployments/group/empty`);

    const list = await mgmt('GET', `${M}/deployments?status=pending`);
    expect(list.status).toBe(200);
    expect(list.headers['x-total-count']).toBe('2');
    expectSpec(list, 'GET', `${M}/deployments`);
    const badList = await mgmt('GET', `${M}/deployments?status=bogus`);
    expect(badList.status).toBe(400);
    expectSpec(badList, 'GET', `${M}/deployments`);
    const v2list = await mgmt('GET', `${M2}/deployments?id=${id}`);
    expect(v2list.status).toBe(200);
    expect(v2list.json()).toHaveLength(1);
    expectSpec(v2list, 'GET', `${M2}/deployments`);
    const v2bad = await mgmt('GET', `${M2}/deployments?per_page=1000`);
    expect(v2bad.status).toBe(400);
    expectSpec(v2bad, 'GET', `${M2}/deployments`);

    const got = await mgmt('GET', `${M}/deployments/${id}`);
    expect(got.status).toBe(200);
    expectSpec(got, 'GET', `${M}/deployments/${id}`);
    const got404 = await mgmt('GET', `${M}/deployments/nope`);
    expect(got404.status).toBe(404);
    expectSpec(got404, 'GET', `${M}/deployments/nope`);

    // device side
    const badNext = await call(url(), 'GET', `${D}/next?artifact_name=a`, { token: device.jwt });
    expect(badNext.status).toBe(400);
    expectSpec(badNext, 'GET', `${D}/next`);
    const next = await call(url(), 'GET', `${D}/next?artifact_name=old&device_type=board-s`, {
      token: device.jwt,
    });
    expect(next.status).toBe(200);
    expectSpec(next, 'GET', `${D}/next`);
    const conflict = await call(url(), 'GET', `${D}/next?artifact_name=other&device_type=board-s`, {
      token: device.jwt,
    });
    expect(conflict.status).toBe(409);
    expectSpec(conflict, 'GET', `${D}/next`);
    const none = await call(url(), 'GET', `${D}/next?artifact_name=old&device_type=board-s`, {
      token: device.jwt,
    });
    expect(none.status).toBe(204);
    expectSpec(none, 'GET', `${D}/next`);

    const otherDeployment = String(byGroup.headers.location).split('/').at(-1)!;
    const status = `${D}/${otherDeployment}/status`;
    const badStatus = await call(url(), 'PUT', status, { token: other.jwt, json: { status: 'exploded' } });
    expect(badStatus.status).toBe(400);
    expectSpec(badStatus, 'PUT', status);
    const notMine = await call(url(), 'PUT', status, { token: device.jwt, json: { status: 'downloading' } });
    expect(notMine.status).toBe(404);
    expectSpec(notMine, 'PUT', status);
    const okStatus = await call(url(), 'PUT', status, {
      token: other.jwt,
      json: { status: 'downloading', substate: 'fetching' },
    });
    expect(okStatus.status).toBe(204);
    expectSpec(okStatus, 'PUT', status);
    const log = `${D}/${otherDeployment}/log`;
    const badLog = await call(url(), 'PUT', log, { token: other.jwt, json: { messages: [] } });
    expect(badLog.status).toBe(400);
    expectSpec(badLog, 'PUT', log);
    const log404 = await call(url(), 'PUT', `${D}/nope/log`, {
      token: other.jwt,
      json: { messages: [{ timestamp: '2026-01-01T00:00:00Z', level: 'info', message: 'x' }] },
    });
    expect(log404.status).toBe(404);
    expectSpec(log404, 'PUT', `${D}/nope/log`);
    const okLog = await call(url(), 'PUT', log, {
      token: other.jwt,
      json: { messages: [{ timestamp: '2026-01-01T00:00:00Z', level: 'info', message: 'downloading' }] },
    });
    expect(okLog.status).toBe(204);
    expectSpec(okLog, 'PUT', log);

    // management views of the device deployments
    const stats = await mgmt('GET', `${M}/deployments/${otherDeployment}/statistics`);
    expect(stats.status).toBe(200);
    expect(stats.json().downloading).toBe(1);
    expectSpec(stats, 'GET', `${M}/deployments/${otherDeployment}/statistics`);
    const stats404 = await mgmt('GET', `${M}/deployments/nope/statistics`);
    expect(stats404.status).toBe(404);
    expectSpec(stats404, 'GET', `${M}/deployments/nope/statistics`);
    const statsList = await mgmt('POST', `${M}/deployments/statistics/list`, {
      deployment_ids: [id, otherDeployment],
    });
    expect(statsList.status).toBe(200);
    expectSpec(statsList, 'POST', `${M}/deployments/statistics/list`);
    const statsListBad = await mgmt('POST', `${M}/deployments/statistics/list`, {});
    expect(statsListBad.status).toBe(400);
    expectSpec(statsListBad, 'POST', `${M}/deployments/statistics/list`);
    for (const sub of ['devices', 'devices/list?status=downloading', 'device_list']) {
      const path = `${M}/deployments/${otherDeployment}/${sub}`;
      const res = await mgmt('GET', path);
      expect(res.status, path).toBe(200);
      expect(res.json()).toHaveLength(1);
      expectSpec(res, 'GET', path);
      const missingPath = `${M}/deployments/nope/${sub}`;
      const res404 = await mgmt('GET', missingPath);
      expect(res404.status).toBe(404);
      expectSpec(res404, 'GET', missingPath);
    }
    const listed = await mgmt('GET', `${M}/deployments/${otherDeployment}/devices/list`);
    expect(listed.headers['x-total-count']).toBe('1');
    const logText = await mgmt('GET', `${M}/deployments/${otherDeployment}/devices/${other.id}/log`);
    expect(logText.status).toBe(200);
    expectSpec(logText, 'GET', `${M}/deployments/${otherDeployment}/devices/${other.id}/log`);
    const noLog = await mgmt('GET', `${M}/deployments/${id}/devices/${device.id}/log`);
    expect(noLog.status).toBe(404);
    expectSpec(noLog, 'GET', `${M}/deployments/${id}/devices/${device.id}/log`);
    const history = await mgmt('GET', `${M}/deployments/devices/${other.id}`);
    expect(history.status).toBe(200);
    expectSpec(history, 'GET', `${M}/deployments/devices/${other.id}`);
    await anon('GET', `${M}/deployments/devices/${other.id}`);

    // abort
    const abortPath = `${M}/deployments/${otherDeployment}/status`;
    const badAbort = await mgmt('PUT', abortPath, { status: 'paused' });
    expect(badAbort.status).toBe(400);
    expectSpec(badAbort, 'PUT', abortPath);
    const abort404 = await mgmt('PUT', `${M}/deployments/nope/status`, { status: 'aborted' });
    expect(abort404.status).toBe(404);
    expectSpec(abort404, 'PUT', `${M}/deployments/nope/status`);
    const abort = await mgmt('PUT', abortPath, { status: 'aborted' });
    expect(abort.status).toBe(204);
    expectSpec(abort, 'PUT', abortPath);
    const abortAgain = await mgmt('PUT', abortPath, { status: 'aborted' });
    expect(abortAgain.status).toBe(422);
    expectSpec(abortAgain, 'PUT', abortPath);
    const aborted = await call(url(), 'PUT', status, { token: other.jwt, json: { status: 'installing' } });
    expect(aborted.status).toBe(409);
    // Spec: 409 without content. Real server: the standard error body ("Deployment aborted").
    expectSpec(aborted, 'PUT', status, {
      reason: '409 carries an error body on the real server',
      skipBody: true,
    });
    expect(aborted.json()).toMatchObject({ error: 'Deployment aborted', request_id: expect.any(String) });

    const delDevice = await mgmt('DELETE', `${M}/deployments/devices/${device.id}`);
    expect(delDevice.status).toBe(204);
    expectSpec(delDevice, 'DELETE', `${M}/deployments/devices/${device.id}`);
    await anon('DELETE', `${M}/deployments/devices/${device.id}`);
    const delHistory = await mgmt('DELETE', `${M}/deployments/devices/${device.id}/history`);
    expect(delHistory.status).toBe(204);
    expectSpec(delHistory, 'DELETE', `${M}/deployments/devices/${device.id}/history`);
    await anon('DELETE', `${M}/deployments/devices/${device.id}/history`);

    // an artifact in an active deployment cannot be deleted
    const active = await mgmt('POST', create, {
      name: 'd3',
      artifact_name: 'shared-small-3',
      devices: [device.id],
    });
    expect(active.status).toBe(201);
    const inUse = await mgmt('DELETE', `${M}/artifacts/${artifactId}`);
    expect(inUse.status).toBe(409);
    expectSpec(inUse, 'DELETE', `${M}/artifacts/${artifactId}`);
  });

  it('covered every deployments route it serves with a success and an error response', () => {
    const routes = [
      `POST ${M}/artifacts`,
      `GET ${M}/artifacts`,
      `GET ${M}/artifacts/list`,
      `GET ${M}/artifacts/{id}`,
      `PUT ${M}/artifacts/{id}`,
      `DELETE ${M}/artifacts/{id}`,
      `GET ${M}/artifacts/{id}/download`,
      `GET ${M}/limits/storage`,
      `GET ${M2}/artifacts`,
      `GET ${M}/deployments/releases`,
      `GET ${M}/deployments/releases/list`,
      `GET ${M2}/deployments/releases`,
      `GET ${M2}/deployments/releases/{release_name}`,
      `GET ${M2}/releases/all/types`,
      `GET ${M2}/releases/all/tags`,
      `POST ${M}/deployments`,
      `GET ${M}/deployments`,
      `GET ${M2}/deployments`,
      `POST ${M}/deployments/group/{name}`,
      `GET ${M}/deployments/{id}`,
      `PUT ${M}/deployments/{deployment_id}/status`,
      `GET ${M}/deployments/{deployment_id}/statistics`,
      `POST ${M}/deployments/statistics/list`,
      `GET ${M}/deployments/{deployment_id}/devices`,
      `GET ${M}/deployments/{deployment_id}/devices/list`,
      `GET ${M}/deployments/{id}/device_list`,
      `GET ${M}/deployments/{deployment_id}/devices/{device_id}/log`,
      `GET ${M}/deployments/devices/{id}`,
      `DELETE ${M}/deployments/devices/{id}`,
      `DELETE ${M}/deployments/devices/{id}/history`,
      `GET ${D}/next`,
      `PUT ${D}/{id}/status`,
      `PUT ${D}/{id}/log`,
    ];
    expectRoutesCovered(routes);
  });
});
