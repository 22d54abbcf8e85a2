import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

// The sandbox finds devices by identity, tokens by device and device deployments by device and by
// deployment through in-memory indexes. These tests check, through the API only, that the indexes
// follow every change: creation, forced preauthorization, decommissioning, dismissed auth sets,
// revoked tokens, and a restart from the data directory (the indexes are rebuilt, not saved).

const DEVICES = '/api/management/v2/devauth/devices';

function preauthorize(
  base: string,
  token: string,
  identity: Record<string, unknown>,
  pubkey: string,
  force?: boolean,
) {
  return call(base, 'POST', DEVICES, {
    token,
    json: { identity_data: identity, pubkey, ...(force === undefined ? {} : { force }) },
  });
}

const idFromLocation = (res: { headers: Record<string, unknown> }): string =>
  String(res.headers.location).split('/').at(-1) as string;

async function count(base: string, token: string, status?: string): Promise<number> {
  const q = status ? `?status=${status}` : '';
  return (await call(base, 'GET', `${DEVICES}/count${q}`, { token })).json().count;
}

describe('identity index', () => {
  let sandbox: Sandbox;
  let token: string;
  beforeAll(async () => {
    sandbox = await startSandbox();
    token = await login(sandbox);
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('finds a preauthorized device again (409), force reuses it, decommission frees the identity', async () => {
    const dev = await newDevice('1d:00:00:00:00:01');
    const other = await newDevice('1d:00:00:00:00:99');
    const first = await preauthorize(sandbox.url, token, dev.identity, dev.key.publicKeyPem);
    expect(first.status).toBe(201);
    const id = idFromLocation(first);

    const again = await preauthorize(sandbox.url, token, dev.identity, other.key.publicKeyPem);
    expect(again.status).toBe(409);
    expect(again.json().id).toBe(id);

    const forced = await preauthorize(sandbox.url, token, dev.identity, other.key.publicKeyPem, true);
    expect(forced.status).toBe(201);
    expect(idFromLocation(forced)).toBe(id);
    const device = (await call(sandbox.url, 'GET', `${DEVICES}/${id}`, { token })).json();
    expect(device.auth_sets).toHaveLength(2);

    // the device authenticates with its preauthorized key: the same device record
    const auth = await authRequest(sandbox.url, dev);
    expect(auth.status).toBe(200);
    expect(await deviceIdOf(sandbox.url, token, dev)).toBe(id);

    expect((await call(sandbox.url, 'DELETE', `${DEVICES}/${id}`, { token })).status).toBe(204);
    expect((await call(sandbox.url, 'GET', `${DEVICES}/${id}`, { token })).status).toBe(404);
    // the token died with the device
    expect(
      (
        await call(sandbox.url, 'PATCH', '/api/devices/v1/inventory/device/attributes', {
          token: auth.text,
          json: [],
        })
      ).status,
    ).toBe(401);

    const re = await preauthorize(sandbox.url, token, dev.identity, dev.key.publicKeyPem);
    expect(re.status).toBe(201);
    const newId = idFromLocation(re);
    expect(newId).not.toBe(id);
    const dup = await preauthorize(sandbox.url, token, dev.identity, dev.key.publicKeyPem);
    expect(dup.status).toBe(409);
    expect(dup.json().id).toBe(newId);
    expect((await authRequest(sandbox.url, dev)).status).toBe(200);
    expect(await deviceIdOf(sandbox.url, token, dev)).toBe(newId);
  });

  it('matches identities by their normalised form', async () => {
    const dev = await newDevice('unused');
    const a = await preauthorize(sandbox.url, token, { sn: 'N-7', mac: '1d:07' }, dev.key.publicKeyPem);
    expect(a.status).toBe(201);
    const b = await preauthorize(sandbox.url, token, { mac: '1d:07', sn: 'N-7' }, dev.key.publicKeyPem);
    expect(b.status).toBe(409);
    expect(b.json().id).toBe(idFromLocation(a));
  });

  it('frees the identity when the last preauthorized auth set is dismissed', async () => {
    const dev = await newDevice('1d:00:00:00:00:02');
    const created = await preauthorize(sandbox.url, token, dev.identity, dev.key.publicKeyPem);
    const id = idFromLocation(created);
    const aid = (await call(sandbox.url, 'GET', `${DEVICES}/${id}`, { token })).json().auth_sets[0].id;
    expect((await call(sandbox.url, 'DELETE', `${DEVICES}/${id}/auth/${aid}`, { token })).status).toBe(204);
    expect((await call(sandbox.url, 'GET', `${DEVICES}/${id}`, { token })).status).toBe(404);
    const again = await preauthorize(sandbox.url, token, dev.identity, dev.key.publicKeyPem);
    expect(again.status).toBe(201);
    expect(idFromLocation(again)).not.toBe(id);
  });

  it('keeps one device per identity across pending auth requests, rejection and re-acceptance', async () => {
    const dev = await newDevice('1d:00:00:00:00:03');
    const before = await count(sandbox.url, token);
    expect((await authRequest(sandbox.url, dev)).status).toBe(401);
    expect((await authRequest(sandbox.url, dev)).status).toBe(401);
    expect(await count(sandbox.url, token)).toBe(before + 1);
    const id = await deviceIdOf(sandbox.url, token, dev);
    const conflict = await preauthorize(sandbox.url, token, dev.identity, dev.key.publicKeyPem);
    expect(conflict.status).toBe(409);
    expect(conflict.json().id).toBe(id);

    const accepted = await acceptDevice(sandbox.url, token, dev);
    expect(accepted.id).toBe(id);
    const aid = (await call(sandbox.url, 'GET', `${DEVICES}/${id}`, { token })).json().auth_sets[0].id;
    const status = `${DEVICES}/${id}/auth/${aid}/status`;
    expect((await call(sandbox.url, 'PUT', status, { token, json: { status: 'rejected' } })).status).toBe(
      204,
    );
    expect((await authRequest(sandbox.url, dev)).status).toBe(401);
    expect((await call(sandbox.url, 'PUT', status, { token, json: { status: 'accepted' } })).status).toBe(
      204,
    );
    const auth = await authRequest(sandbox.url, dev);
    expect(auth.status).toBe(200);
    expect(await count(sandbox.url, token)).toBe(before + 1);

    // a revoked token is gone for good; a fresh auth request issues it again
    const jti = JSON.parse(Buffer.from(auth.text.split('.')[1] as string, 'base64url').toString()).jti;
    const revoke = `/api/management/v2/devauth/tokens/${jti}`;
    expect((await call(sandbox.url, 'DELETE', revoke, { token })).status).toBe(204);
    expect((await call(sandbox.url, 'DELETE', revoke, { token })).status).toBe(404);
    const inv = '/api/devices/v1/inventory/device/attributes';
    expect((await call(sandbox.url, 'PATCH', inv, { token: auth.text, json: [] })).status).toBe(401);
    const fresh = await authRequest(sandbox.url, dev);
    expect(fresh.status).toBe(200);
    expect((await call(sandbox.url, 'PATCH', inv, { token: fresh.text, json: [] })).status).toBe(200);
  });

  it('counts accepted devices for the limit as devices come and go', async () => {
    const limited = await startSandbox({ maxDevices: 1 });
    try {
      const t = await login(limited);
      const one = await newDevice('1d:00:00:00:01:01');
      const two = await newDevice('1d:00:00:00:01:02');
      const first = await acceptDevice(limited.url, t, one);
      expect((await preauthorize(limited.url, t, two.identity, two.key.publicKeyPem)).status).toBe(201);
      expect((await authRequest(limited.url, two)).status).toBe(401);
      // the accepted device goes away: the slot is free
      expect((await call(limited.url, 'DELETE', `${DEVICES}/${first.id}`, { token: t })).status).toBe(204);
      expect((await authRequest(limited.url, two)).status).toBe(200);
      // and is taken again
      expect((await preauthorize(limited.url, t, one.identity, one.key.publicKeyPem)).status).toBe(201);
      expect((await authRequest(limited.url, one)).status).toBe(401);
      expect(await count(limited.url, t, 'accepted')).toBe(1);
    } finally {
      await limited.close();
    }
  });
});

describe('indexes after a restart from the data directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otakit-sandbox-index-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds devices, tokens, device deployments and the accepted count again', async () => {
    const kept = await newDevice('1d:00:00:00:02:01');
    const gone = await newDevice('1d:00:00:00:02:02');
    const live = await newDevice('1d:00:00:00:02:03');
    let keptId: string;
    let goneId: string;
    let liveDev: { id: string; jwt: string };
    let deploymentId: string;

    const first = await startSandbox({ dataDir: dir });
    try {
      const token = await login(first);
      keptId = idFromLocation(await preauthorize(first.url, token, kept.identity, kept.key.publicKeyPem));
      goneId = idFromLocation(await preauthorize(first.url, token, gone.identity, gone.key.publicKeyPem));
      liveDev = await acceptDevice(first.url, token, live);
      expect((await call(first.url, 'DELETE', `${DEVICES}/${goneId}`, { token })).status).toBe(204);
      expect((await uploadArtifact(first.url, token, vector('module-small-unsigned.mender'))).status).toBe(
        201,
      );
      const created = await call(first.url, 'POST', '/api/management/v1/deployments/deployments', {
        token,
        json: { name: 'indexed', artifact_name: 'shared-small-3', devices: [liveDev.id] },
      });
      expect(created.status).toBe(201);
      deploymentId = idFromLocation(created);
    } finally {
      await first.close();
    }

    const second = await startSandbox({ dataDir: dir, maxDevices: 1 });
    try {
      const token = await login(second);
      // identity lookups: the kept and the live device are found, the decommissioned one is not
      const keptAgain = await preauthorize(second.url, token, kept.identity, kept.key.publicKeyPem);
      expect(keptAgain.status).toBe(409);
      expect(keptAgain.json().id).toBe(keptId);
      const liveAgain = await preauthorize(second.url, token, live.identity, live.key.publicKeyPem);
      expect(liveAgain.status).toBe(409);
      expect(liveAgain.json().id).toBe(liveDev.id);
      const goneAgain = await preauthorize(second.url, token, gone.identity, gone.key.publicKeyPem);
      expect(goneAgain.status).toBe(201);
      expect(idFromLocation(goneAgain)).not.toBe(goneId);
      expect((await call(second.url, 'GET', `${DEVICES}/${keptId}`, { token })).status).toBe(200);
      expect((await call(second.url, 'GET', `${DEVICES}/${goneId}`, { token })).status).toBe(404);

      // the live device's auth request finds its device: same id, no new device
      const auth = await authRequest(second.url, live);
      expect(auth.status).toBe(200);
      expect(await deviceIdOf(second.url, token, live)).toBe(liveDev.id);
      expect(await count(second.url, token)).toBe(3);

      // the accepted count was rebuilt: the limit of 1 is reached
      expect((await authRequest(second.url, kept)).status).toBe(401);

      // device deployments by device and by deployment
      const history = await call(
        second.url,
        'GET',
        `/api/management/v1/deployments/deployments/devices/${liveDev.id}`,
        { token },
      );
      expect(history.json().map((h: { deployment: { id: string } }) => h.deployment.id)).toEqual([
        deploymentId,
      ]);
      const stats = await call(
        second.url,
        'GET',
        `/api/management/v1/deployments/deployments/${deploymentId}/statistics`,
        { token },
      );
      expect(stats.json()).toMatchObject({ pending: 1 });
      const next = await call(
        second.url,
        'GET',
        '/api/devices/v1/deployments/device/deployments/next?artifact_name=a&device_type=board-s',
        { token: liveDev.jwt },
      );
      expect(next.status).toBe(200);
      expect(next.json().id).toBe(deploymentId);

      // tokens by device: decommissioning the live device revokes the pre-restart token too and
      // marks its unfinished deployment decommissioned
      expect((await call(second.url, 'DELETE', `${DEVICES}/${liveDev.id}`, { token })).status).toBe(204);
      for (const jwt of [liveDev.jwt, auth.text]) {
        expect(
          (
            await call(second.url, 'PATCH', '/api/devices/v1/inventory/device/attributes', {
              token: jwt,
              json: [],
            })
          ).status,
        ).toBe(401);
      }
      const after = await call(
        second.url,
        'GET',
        `/api/management/v1/deployments/deployments/${deploymentId}/statistics`,
        { token },
      );
      expect(after.json()).toMatchObject({ pending: 0, decommissioned: 1 });
      // and the slot it held is free again
      expect((await authRequest(second.url, kept)).status).toBe(200);
      const liveNew = await preauthorize(second.url, token, live.identity, live.key.publicKeyPem);
      expect(liveNew.status).toBe(201);
      expect(idFromLocation(liveNew)).not.toBe(liveDev.id);
    } finally {
      await second.close();
    }
  });
});
