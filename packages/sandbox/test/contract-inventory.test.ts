import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../src/index.js';
import { acceptDevice, call, login, newDevice, type Res } from './helpers.js';
import { checked, expectRoutesCovered, expectSpec } from './spec.js';

const I = '/api/management/v1/inventory';
const I2 = '/api/management/v2/inventory';
const DEV = '/api/devices/v1/inventory/device/attributes';
const GATEWAY_401 = { reason: 'the gateway answers 401 without a valid token on every route' };

describe('inventory responses match the OpenAPI spec', () => {
  let sandbox: Sandbox;
  let token: string;
  const devices: { id: string; jwt: string }[] = [];
  const url = () => sandbox.url;
  const mgmt = (method: string, path: string, json?: unknown): Promise<Res> =>
    call(url(), method, path, json === undefined ? { token } : { token, json });

  beforeAll(async () => {
    sandbox = await startSandbox();
    token = await login(sandbox);
    for (let i = 0; i < 3; i++)
      devices.push(await acceptDevice(url(), token, await newDevice(`1e:00:00:00:00:0${i}`)));
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('device attributes: PUT replaces, PATCH merges, bad bodies are 400, other tokens 401', async () => {
    const [a, b, c] = devices as [
      { id: string; jwt: string },
      { id: string; jwt: string },
      { id: string; jwt: string },
    ];
    const put = await call(url(), 'PUT', DEV, {
      token: a.jwt,
      json: [
        { name: 'device_type', value: 'board-s' },
        { name: 'cpu_count', value: 4 },
        { name: 'ips', value: ['10.0.0.1', '10.0.0.2'] },
      ],
    });
    expect(put.status).toBe(200);
    expectSpec(put, 'PUT', DEV);
    const patch = await call(url(), 'PATCH', DEV, {
      token: a.jwt,
      json: [{ name: 'kernel', value: '6.6', description: 'uname -r' }],
    });
    expect(patch.status).toBe(200);
    expectSpec(patch, 'PATCH', DEV);
    await call(url(), 'PUT', DEV, {
      token: b.jwt,
      json: [
        { name: 'device_type', value: 'board-t' },
        { name: 'cpu_count', value: 2 },
      ],
    });
    await call(url(), 'PUT', DEV, {
      token: c.jwt,
      json: [
        { name: 'device_type', value: 'board-s' },
        { name: 'cpu_count', value: 8 },
      ],
    });
    const mixed = await call(url(), 'PUT', DEV, { token: a.jwt, json: [{ name: 'x', value: ['a', 1] }] });
    expect(mixed.status).toBe(400);
    expectSpec(mixed, 'PUT', DEV);
    const notArray = await call(url(), 'PATCH', DEV, { token: a.jwt, json: { name: 'x' } });
    expect(notArray.status).toBe(400);
    expectSpec(notArray, 'PATCH', DEV);
    const mgmtToken = await call(url(), 'PUT', DEV, { token, json: [] });
    expect(mgmtToken.status).toBe(401);
    expectSpec(mgmtToken, 'PUT', DEV);
    const noToken = await call(url(), 'PATCH', DEV, { json: [] });
    expect(noToken.status).toBe(401);
    expectSpec(noToken, 'PATCH', DEV);
    const text = await call(url(), 'PUT', DEV, {
      token: a.jwt,
      body: 'name=x',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    expectSpec(text, 'PUT', DEV, { reason: 'CheckJSON middleware: 415 for a non-JSON body' });
    expect(text.json().error).toBeTypeOf('string');

    const got = await mgmt('GET', `${I}/devices/${a.id}`);
    expect(got.status).toBe(200);
    expectSpec(got, 'GET', `${I}/devices/${a.id}`);
    const names = got.json().attributes.map((x: { scope: string; name: string }) => `${x.scope}/${x.name}`);
    expect(names).toEqual(
      expect.arrayContaining(['inventory/cpu_count', 'inventory/kernel', 'identity/mac', 'identity/status']),
    );
    const missing = await mgmt('GET', `${I}/devices/nope`);
    expect(missing.status).toBe(404);
    expectSpec(missing, 'GET', `${I}/devices/nope`);
  });

  it('v1 device list with filters, sorting, paging', async () => {
    const list = await mgmt('GET', `${I}/devices?device_type=board-s&sort=cpu_count:desc&per_page=1`);
    expect(list.status).toBe(200);
    expect(list.headers['x-total-count']).toBe('2');
    expect(list.json()[0].id).toBe(devices[2]!.id);
    expect([list.headers.link].flat().some((l) => String(l).includes('rel="next"'))).toBe(true);
    expectSpec(list, 'GET', `${I}/devices`);
    const numeric = await mgmt('GET', `${I}/devices?cpu_count=2`);
    expect(numeric.json().map((d: { id: string }) => d.id)).toEqual([devices[1]!.id]);
    const ranged = await mgmt('GET', `${I}/devices?inventory/cpu_count=gte:4&identity/status=accepted`);
    expect(ranged.json()).toHaveLength(2);
    const bad = await mgmt('GET', `${I}/devices?page=0`);
    expect(bad.status).toBe(400);
    expectSpec(bad, 'GET', `${I}/devices`);
    const unauth = await call(url(), 'GET', `${I}/devices`, { token: devices[0]!.jwt });
    expect(unauth.status).toBe(401);
    expectSpec(unauth, 'GET', `${I}/devices`, GATEWAY_401);
  });

  it('groups: assign, read, list, members, remove', async () => {
    const a = devices[0]!;
    const b = devices[1]!;
    const assign = await mgmt('PUT', `${I}/devices/${a.id}/group`, { group: 'field' });
    expect(assign.status).toBe(204);
    expectSpec(assign, 'PUT', `${I}/devices/${a.id}/group`);
    const badName = await mgmt('PUT', `${I}/devices/${a.id}/group`, { group: 'no spaces' });
    expect(badName.status).toBe(400);
    expectSpec(badName, 'PUT', `${I}/devices/${a.id}/group`);
    const group = await mgmt('GET', `${I}/devices/${a.id}/group`);
    expect(group.status).toBe(200);
    expect(group.json()).toEqual({ group: 'field' });
    expectSpec(group, 'GET', `${I}/devices/${a.id}/group`);
    const group404 = await mgmt('GET', `${I}/devices/nope/group`);
    expect(group404.status).toBe(404);
    expectSpec(group404, 'GET', `${I}/devices/nope/group`);

    const patch = await mgmt('PATCH', `${I}/groups/field/devices`, [b.id, 'unknown']);
    expect(patch.status).toBe(200);
    expect(patch.json()).toEqual({ updated_count: 1, matched_count: 1 });
    expectSpec(patch, 'PATCH', `${I}/groups/field/devices`);
    const patchBad = await mgmt('PATCH', `${I}/groups/field/devices`, { id: b.id });
    expect(patchBad.status).toBe(400);
    expectSpec(patchBad, 'PATCH', `${I}/groups/field/devices`);
    const groups = await mgmt('GET', `${I}/groups`);
    expect(groups.status).toBe(200);
    expect(groups.json()).toEqual(['field']);
    expectSpec(groups, 'GET', `${I}/groups`);
    const members = await mgmt('GET', `${I}/groups/field/devices`);
    expect(members.status).toBe(200);
    expect(members.headers['x-total-count']).toBe('2');
    expectSpec(members, 'GET', `${I}/groups/field/devices`);
    const members404 = await mgmt('GET', `${I}/groups/none/devices`);
    expect(members404.status).toBe(404);
    expectSpec(members404, 'GET', `${I}/groups/none/devices`);
    const filtered = await mgmt('GET', `${I}/devices?group=field`);
    expect(filtered.json()).toHaveLength(2);

    const unassign = await mgmt('DELETE', `${I}/devices/${b.id}/group/field`);
    expect(unassign.status).toBe(204);
    expectSpec(unassign, 'DELETE', `${I}/devices/${b.id}/group/field`);
    const unassign404 = await mgmt('DELETE', `${I}/devices/${b.id}/group/field`);
    expect(unassign404.status).toBe(404);
    expectSpec(unassign404, 'DELETE', `${I}/devices/${b.id}/group/field`);
    const removeMembers = await mgmt('DELETE', `${I}/groups/field/devices`, [a.id]);
    expect(removeMembers.status).toBe(200);
    expectSpec(removeMembers, 'DELETE', `${I}/groups/field/devices`);
    const removeBad = await mgmt('DELETE', `${I}/groups/field/devices`, { x: 1 });
    expect(removeBad.status).toBe(400);
    expectSpec(removeBad, 'DELETE', `${I}/groups/field/devices`);
    await mgmt('PUT', `${I}/devices/${a.id}/group`, { group: 'gone' });
    const dropGroup = await mgmt('DELETE', `${I}/groups/gone`);
    expect(dropGroup.status).toBe(200);
    expectSpec(dropGroup, 'DELETE', `${I}/groups/gone`);
    const dropGroup404 = await mgmt('DELETE', `${I}/groups/gone`);
    expect(dropGroup404.status).toBe(404);
    expectSpec(dropGroup404, 'DELETE', `${I}/groups/gone`);
  });

  it('v2 search supports the spec operators', async () => {
    const path = `${I2}/filters/search`;
    const search = async (filters: unknown[], extra: Record<string, unknown> = {}) => {
      const res = await mgmt('POST', path, { filters, ...extra });
      expect(res.status, res.text).toBe(200);
      expectSpec(res, 'POST', path);
      return (res.json() as { id: string }[]).map((d) => d.id).sort();
    };
    const [a, b, c] = devices.map((d) => d.id) as [string, string, string];
    const f = (type: string, attribute: string, value: unknown, scope = 'inventory') => ({
      scope,
      attribute,
      type,
      value,
    });
    expect(await search([f('$eq', 'device_type', 'board-s')])).toEqual([a, c].sort());
    expect(await search([f('$ne', 'device_type', 'board-s')])).toEqual([b]);
    expect(await search([f('$in', 'cpu_count', [2, 8])])).toEqual([b, c].sort());
    expect(await search([f('$nin', 'cpu_count', [2, 8])])).toEqual([a]);
    expect(await search([f('$gt', 'cpu_count', 2)])).toEqual([a, c].sort());
    expect(await search([f('$gte', 'cpu_count', 4)])).toEqual([a, c].sort());
    expect(await search([f('$lt', 'cpu_count', 4)])).toEqual([b]);
    expect(await search([f('$lte', 'cpu_count', 4)])).toEqual([a, b].sort());
    expect(await search([f('$ltne', 'kernel', '7')])).toEqual([a, b, c].sort());
    expect(await search([f('$exists', 'kernel', true)])).toEqual([a]);
    expect(await search([f('$exists', 'kernel', false)])).toEqual([b, c].sort());
    expect(await search([f('$regex', 'device_type', '^board-[st]$')])).toEqual([a, b, c].sort());
    expect(await search([f('$eq', 'ips', '10.0.0.2')])).toEqual([a]);
    expect(
      await search([f('$eq', 'status', 'accepted', 'identity'), f('$eq', 'device_type', 'board-t')]),
    ).toEqual([b]);
    const page = await mgmt('POST', path, {
      page: 1,
      per_page: 1,
      sort: [{ scope: 'inventory', attribute: 'cpu_count', order: 'asc' }],
      attributes: [{ scope: 'inventory', attribute: 'cpu_count' }],
    });
    expect(page.headers['x-total-count']).toBe('3');
    expect(page.json()).toEqual([
      {
        id: b,
        updated_ts: expect.any(String),
        attributes: [expect.objectContaining({ name: 'cpu_count', value: 2 })],
      },
    ]);
    const bad = await mgmt('POST', path, { filters: [f('$like', 'x', 'y')] });
    expect(bad.status).toBe(400);
    expectSpec(bad, 'POST', path);

    const attrs = await mgmt('GET', `${I2}/filters/attributes`);
    expect(attrs.status).toBe(200);
    expectSpec(attrs, 'GET', `${I2}/filters/attributes`);
    const attrs401 = await call(url(), 'GET', `${I2}/filters/attributes`);
    expect(attrs401.status).toBe(401);
    expectSpec(attrs401, 'GET', `${I2}/filters/attributes`, GATEWAY_401);
  });

  it('tags: PUT replaces, PATCH merges', async () => {
    const id = devices[1]!.id;
    const path = `${I}/devices/${id}/tags`;
    const put = await mgmt('PUT', path, [
      { name: 'env', value: 'lab' },
      { name: 'owner', value: 'qa' },
    ]);
    expect(put.status).toBe(200);
    expectSpec(put, 'PUT', path);
    const patch = await mgmt('PATCH', path, [{ name: 'env', value: 'prod', description: 'where' }]);
    expect(patch.status).toBe(200);
    expectSpec(patch, 'PATCH', path);
    const tags = (await mgmt('GET', `${I}/devices/${id}`))
      .json()
      .attributes.filter((a: { scope: string }) => a.scope === 'tags');
    expect(tags.map((t: { name: string; value: string }) => `${t.name}=${t.value}`).sort()).toEqual([
      'env=prod',
      'owner=qa',
    ]);
    const bad = await mgmt('PUT', path, [{ name: 'n', value: 1 }]);
    expect(bad.status).toBe(400);
    expectSpec(bad, 'PUT', path);
    const missing = await mgmt('PATCH', `${I}/devices/nope/tags`, []);
    expect(missing.status).toBe(404);
    expectSpec(missing, 'PATCH', `${I}/devices/nope/tags`);
  });

  it('deletes a device from the inventory', async () => {
    const id = devices[2]!.id;
    const del = await mgmt('DELETE', `${I}/devices/${id}`);
    expect(del.status).toBe(204);
    expectSpec(del, 'DELETE', `${I}/devices/${id}`);
    const unauth = await call(url(), 'DELETE', `${I}/devices/${id}`);
    expect(unauth.status).toBe(401);
    expectSpec(unauth, 'DELETE', `${I}/devices/${id}`, GATEWAY_401);
  });

  it('covered every inventory route it serves with a success and an error response', () => {
    const routes = [
      `PUT ${DEV}`,
      `PATCH ${DEV}`,
      `GET ${I}/devices`,
      `GET ${I}/devices/{id}`,
      `DELETE ${I}/devices/{id}`,
      `GET ${I}/devices/{id}/group`,
      `PUT ${I}/devices/{id}/tags`,
      `PATCH ${I}/devices/{id}/tags`,
      `PUT ${I}/devices/{id}/group`,
      `DELETE ${I}/devices/{id}/group/{name}`,
      `DELETE ${I}/groups/{name}`,
      `GET ${I}/groups/{name}/devices`,
      `PATCH ${I}/groups/{name}/devices`,
      `DELETE ${I}/groups/{name}/devices`,
      `POST ${I2}/filters/search`,
      `GET ${I2}/filters/attributes`,
    ];
    expectRoutesCovered(routes);
    expect([...checked].some((k) => k.startsWith(`GET ${I}/groups 200`))).toBe(true);
  });
});
