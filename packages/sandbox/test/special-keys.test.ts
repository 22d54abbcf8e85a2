/**
 * Keys JavaScript objects treat specially (`__proto__`, `constructor`, `prototype`) are ordinary
 * keys to Mender's Go services; the sandbox keeps them as such in identities, inventory
 * attributes and device configurations, over real HTTP.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeArtifact } from '@otakit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../src/index.js';
import { acceptDevice, call, login, newDevice, type Res, uploadArtifact } from './helpers.js';

const SPECIAL = ['__proto__', 'constructor', 'prototype'] as const;
const INV_DEV = '/api/devices/v1/inventory/device/attributes';
const INV = '/api/management/v1/inventory/devices';
const CFG = '/api/management/v1/deviceconfig/configurations/device';
const CFG_DEV = '/api/devices/v1/deviceconfig/configuration';

/** The JSON text of an object whose keys are the special names, with `value(key)` values. */
const objectText = (value: (key: string) => unknown) =>
  `{${SPECIAL.map((k) => `${JSON.stringify(k)}:${JSON.stringify(value(k))}`).join(',')}}`;

/** Sends a raw JSON text, so the keys reach the server exactly as written. */
const send = (base: string, method: string, path: string, token: string, text: string): Promise<Res> =>
  call(base, method, path, { token, body: text, headers: { 'content-type': 'application/json' } });

describe('the sandbox keeps __proto__, constructor and prototype as ordinary keys', () => {
  let sandbox: Sandbox;
  let token: string;
  let device: { id: string; jwt: string };

  beforeAll(async () => {
    sandbox = await startSandbox();
    token = await login(sandbox);
    const d = await newDevice('unused');
    d.identity = JSON.parse(objectText((k) => `id-${k}`)) as Record<string, string>;
    device = await acceptDevice(sandbox.url, token, d);
  });
  afterAll(() => sandbox?.close());

  it('artifacts: provides and depends named like that are stored and listed as the artifact declares', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otakit-special-art-'));
    try {
      const file = join(dir, 'app.bin');
      await writeFile(file, 'x');
      const path = join(dir, 'special.mender');
      await writeArtifact(
        {
          type: 'module-image',
          moduleType: 'single-file',
          artifactName: 'special-keys',
          deviceTypes: ['special-board'],
          files: [file],
          provides: JSON.parse(objectText((k) => `p-${k}`)) as Record<string, string>,
          depends: JSON.parse(objectText((k) => `d-${k}`)) as Record<string, string>,
        },
        path,
      );
      const up = await uploadArtifact(sandbox.url, token, pathToFileURL(path));
      expect(up.status).toBe(201);
      const list = await call(sandbox.url, 'GET', '/api/management/v1/deployments/artifacts', { token });
      const art = (
        list.json() as Array<{ name: string; artifact_provides?: object; artifact_depends?: object }>
      ).find((a) => a.name === 'special-keys');
      for (const k of SPECIAL) {
        expect(Object.hasOwn(art?.artifact_provides ?? {}, k)).toBe(true);
        expect((art?.artifact_provides as Record<string, unknown> | undefined)?.[k]).toBe(`p-${k}`);
        expect(Object.hasOwn(art?.artifact_depends ?? {}, k)).toBe(true);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('identity: deviceauth and the inventory identity scope hold the three attributes', async () => {
    const authSet = (
      await call(sandbox.url, 'GET', `/api/management/v2/devauth/devices/${device.id}`, { token })
    ).json();
    expect(Object.entries(authSet.identity_data)).toEqual(SPECIAL.map((k) => [k, `id-${k}`]));
    const inv = (await call(sandbox.url, 'GET', `${INV}/${device.id}`, { token })).json() as {
      attributes: { name: string; scope: string; value: unknown }[];
    };
    const identity = inv.attributes.filter(
      (a) => a.scope === 'identity' && SPECIAL.includes(a.name as never),
    );
    expect(identity.map((a) => [a.name, a.value]).sort()).toEqual(SPECIAL.map((k) => [k, `id-${k}`]).sort());
  });

  it('inventory: device attributes and tags named like that are stored, listed and searchable', async () => {
    const attrs = `[${SPECIAL.map((k) => `{"name":${JSON.stringify(k)},"value":"v-${k}"}`).join(',')}]`;
    expect((await send(sandbox.url, 'PATCH', INV_DEV, device.jwt, attrs)).status).toBe(200);
    expect((await send(sandbox.url, 'PUT', `${INV}/${device.id}/tags`, token, attrs)).status).toBe(200);
    const inv = (await call(sandbox.url, 'GET', `${INV}/${device.id}`, { token })).json() as {
      attributes: { name: string; scope: string; value: unknown }[];
    };
    for (const scope of ['inventory', 'tags']) {
      const named = inv.attributes.filter((a) => a.scope === scope && SPECIAL.includes(a.name as never));
      expect(named.map((a) => [a.name, a.value]).sort(), scope).toEqual(
        SPECIAL.map((k) => [k, `v-${k}`]).sort(),
      );
    }
    const search = await send(
      sandbox.url,
      'POST',
      '/api/management/v2/inventory/filters/search',
      token,
      JSON.stringify({
        filters: [{ scope: 'inventory', attribute: '__proto__', type: '$eq', value: 'v-__proto__' }],
        attributes: [{ scope: 'inventory', attribute: 'constructor' }],
      }),
    );
    expect(search.status).toBe(200);
    expect(search.json()).toEqual([
      expect.objectContaining({
        id: device.id,
        attributes: [expect.objectContaining({ name: 'constructor', value: 'v-constructor' })],
      }),
    ]);
    // PUT replaces the inventory scope: the three go away like any attribute.
    expect(
      (await send(sandbox.url, 'PUT', INV_DEV, device.jwt, '[{"name":"other","value":"1"}]')).status,
    ).toBe(200);
    const after = (await call(sandbox.url, 'GET', `${INV}/${device.id}`, { token })).json() as {
      attributes: { name: string; scope: string }[];
    };
    expect(after.attributes.filter((a) => a.scope === 'inventory').map((a) => a.name)).toEqual(['other']);
  });

  it('deviceconfig: configured and reported values keep the three keys, management and device side', async () => {
    const configured = objectText((k) => `c-${k}`);
    expect((await send(sandbox.url, 'PUT', `${CFG}/${device.id}`, token, configured)).status).toBe(204);
    const got = await call(sandbox.url, 'GET', `${CFG}/${device.id}`, { token });
    expect(Object.entries(got.json().configured)).toEqual(SPECIAL.map((k) => [k, `c-${k}`]));
    const onDevice = await call(sandbox.url, 'GET', CFG_DEV, { token: device.jwt });
    expect(Object.entries(onDevice.json())).toEqual(SPECIAL.map((k) => [k, `c-${k}`]));
    expect(onDevice.text).toBe(configured);

    const reported = objectText((k) => `r-${k}`);
    expect((await send(sandbox.url, 'PUT', CFG_DEV, device.jwt, reported)).status).toBe(204);
    const after = (await call(sandbox.url, 'GET', `${CFG}/${device.id}`, { token })).json();
    expect(Object.entries(after.reported)).toEqual(SPECIAL.map((k) => [k, `r-${k}`]));
    expect(Object.entries(after.configured)).toEqual(SPECIAL.map((k) => [k, `c-${k}`]));
  });
});
