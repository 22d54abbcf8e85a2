import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../src/index.js';
import { acceptDevice, authRequest, call, deviceIdOf, login, newDevice } from './helpers.js';
import { expectRoutesCovered, expectSpec } from './spec.js';

const DEVAUTH = '/api/management/v2/devauth';
const GATEWAY_401 = {
  reason:
    'the real gateway answers 401 for a missing/invalid token on every management route, documented or not',
};

describe('useradm and deviceauth responses match the OpenAPI spec', () => {
  let sandbox: Sandbox;
  let token: string;
  const url = () => sandbox.url;

  beforeAll(async () => {
    sandbox = await startSandbox();
    token = await login(sandbox);
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('login answers a JWT as application/jwt text and 401 on bad credentials', async () => {
    const path = '/api/management/v1/useradm/auth/login';
    const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    const ok = await call(url(), 'POST', path, {
      headers: { authorization: basic(sandbox.adminEmail.toUpperCase(), sandbox.adminPassword) },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toMatch(/^application\/jwt/);
    expectSpec(ok, 'POST', path);
    const claims = JSON.parse(Buffer.from(ok.text.split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({ iss: 'mender.useradm', 'mender.user': true });
    const bad = await call(url(), 'POST', path, {
      headers: { authorization: basic(sandbox.adminEmail, 'wrong') },
    });
    expect(bad.status).toBe(401);
    expectSpec(bad, 'POST', path);
    const none = await call(url(), 'POST', path);
    expect(none.status).toBe(401);
    expect(none.json().request_id).toBe(none.headers['x-men-requestid']);
  });

  it('personal access tokens: create (application/jwt, a documented difference), use, list, revoke', async () => {
    const path = '/api/management/v1/useradm/settings/tokens';
    const created = await call(url(), 'POST', path, { token, json: { name: 'ci', expires_in: 3600 } });
    expect(created.status).toBe(200);
    // The spec says application/json string; the real server sends the raw JWT as application/jwt.
    expect(created.headers['content-type']).toMatch(/^application\/jwt/);
    expectSpec(created, 'POST', path, { reason: 'PAT is raw application/jwt text', skipBody: true });
    const pat = created.text;
    const listed = await call(url(), 'GET', path, { token: pat });
    expect(listed.status).toBe(200);
    expectSpec(listed, 'GET', path);
    expect(listed.json()[0]).toMatchObject({ name: 'ci' });
    const dup = await call(url(), 'POST', path, { token, json: { name: 'ci', expires_in: 3600 } });
    expect(dup.status).toBe(409);
    expectSpec(dup, 'POST', path);
    const tooLong = await call(url(), 'POST', path, { token, json: { name: 'x', expires_in: 31_536_001 } });
    expect(tooLong.status).toBe(400);
    expectSpec(tooLong, 'POST', path);
    const id = listed.json()[0].id as string;
    const del = await call(url(), 'DELETE', `${path}/${id}`, { token });
    expect(del.status).toBe(204);
    expectSpec(del, 'DELETE', `${path}/${id}`);
    const after = await call(url(), 'GET', path, { token: pat });
    expect(after.status).toBe(401);
    expectSpec(after, 'GET', path);
    const unauth = await call(url(), 'DELETE', `${path}/${id}`);
    expect(unauth.status).toBe(401);
    expectSpec(unauth, 'DELETE', `${path}/${id}`);
  });

  it('users: the admin is the only user', async () => {
    const base = '/api/management/v1/useradm/users';
    const me = await call(url(), 'GET', `${base}/me`, { token });
    expect(me.status).toBe(200);
    expect(me.json().email).toBe(sandbox.adminEmail);
    expectSpec(me, 'GET', `${base}/me`);
    const all = await call(url(), 'GET', base, { token });
    expect(all.status).toBe(200);
    expectSpec(all, 'GET', base);
    const one = await call(url(), 'GET', `${base}/${me.json().id}`, { token });
    expect(one.status).toBe(200);
    expectSpec(one, 'GET', `${base}/${me.json().id}`);
    const missing = await call(url(), 'GET', `${base}/nobody`, { token });
    expect(missing.status).toBe(404);
    expectSpec(missing, 'GET', `${base}/nobody`);
    for (const path of [`${base}/me`, base]) {
      const anon = await call(url(), 'GET', path);
      expect(anon.status).toBe(401);
      expectSpec(anon, 'GET', path);
    }
  });

  it('logout kills the token', async () => {
    const t = await login(sandbox);
    const path = '/api/management/v1/useradm/auth/logout';
    const out = await call(url(), 'POST', path, { token: t });
    expect(out.status).toBe(202);
    expectSpec(out, 'POST', path);
    const again = await call(url(), 'POST', path, { token: t });
    expect(again.status).toBe(401);
    expectSpec(again, 'POST', path, GATEWAY_401);
  });

  it('auth_requests: 400 on malformed requests, 401 for unknown devices, 200 application/jwt once accepted', async () => {
    const path = '/api/devices/v1/authentication/auth_requests';
    const dev = await newDevice('aa:00:00:00:00:01', 'rsa');
    const noSig = await call(url(), 'POST', path, {
      json: { id_data: JSON.stringify(dev.identity), pubkey: dev.key.publicKeyPem },
    });
    expect(noSig.status).toBe(400);
    expect(noSig.json().error).toBe('missing request signature header');
    expectSpec(noSig, 'POST', path);
    const notObject = await authRequest(url(), {
      ...dev,
      identity: 'x' as unknown as Record<string, string>,
    });
    expect(notObject.status).toBe(400);
    expectSpec(notObject, 'POST', path);
    const badSig = await call(url(), 'POST', path, {
      json: { id_data: JSON.stringify(dev.identity), pubkey: dev.key.publicKeyPem },
      headers: { 'x-men-signature': Buffer.from('nope').toString('base64') },
    });
    expect(badSig.status).toBe(401);
    expect(badSig.json().error).toBe('signature verification failed');
    expectSpec(badSig, 'POST', path);
    const pending = await authRequest(url(), dev);
    expect(pending.status).toBe(401);
    expectSpec(pending, 'POST', path);
    const { jwt } = await acceptDevice(url(), token, dev);
    const again = await authRequest(url(), dev);
    expect(again.status).toBe(200);
    expect(again.headers['content-type']).toMatch(/^application\/jwt/);
    // Spec: application/json string. Real server (MEN-6912): raw JWT as application/jwt.
    expectSpec(again, 'POST', path, { reason: 'auth token is raw application/jwt text', skipBody: true });
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());
    expect(Object.keys(claims)).toEqual(
      expect.arrayContaining(['sub', 'jti', 'iss', 'exp', 'iat', 'mender.device']),
    );
    expect(claims.exp - claims.iat).toBe(604_800);
    expect(JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()).alg).toBe('RS256');
  });

  it('devauth management: list, count, get, search, auth set status, token revoke, limits', async () => {
    const dev = await newDevice('aa:00:00:00:00:02', 'ecdsa-p256');
    await authRequest(url(), dev);
    const id = await deviceIdOf(url(), token, dev);

    const list = await call(url(), 'GET', `${DEVAUTH}/devices?status=pending&per_page=1`, { token });
    expect(list.status).toBe(200);
    expect(list.headers['x-total-count']).toBeUndefined();
    expect(String(list.headers.link)).toContain('rel="first"');
    expectSpec(list, 'GET', `${DEVAUTH}/devices`);
    const badList = await call(url(), 'GET', `${DEVAUTH}/devices?per_page=501`, { token });
    expect(badList.status).toBe(400);
    expect(badList.json().error).toBe('parameter "per_page" above limit (max: 500)');
    expectSpec(badList, 'GET', `${DEVAUTH}/devices`);

    const search = await call(url(), 'POST', `${DEVAUTH}/devices/search`, {
      token,
      json: { status: 'pending', id: [id] },
    });
    expect(search.status).toBe(200);
    expect(search.json().map((d: { id: string }) => d.id)).toEqual([id]);
    expectSpec(search, 'POST', `${DEVAUTH}/devices/search`);
    const form = await call(url(), 'POST', `${DEVAUTH}/devices/search`, {
      token,
      body: `status=pending&id=${id}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(200);
    expect(form.json().map((d: { id: string }) => d.id)).toEqual([id]);
    const badSearch = await call(url(), 'POST', `${DEVAUTH}/devices/search`, {
      token,
      json: { status: 'bogus' },
    });
    expect(badSearch.status).toBe(400);
    expectSpec(badSearch, 'POST', `${DEVAUTH}/devices/search`);

    const count = await call(url(), 'GET', `${DEVAUTH}/devices/count?status=pending`, { token });
    expect(count.status).toBe(200);
    expect(count.json().count).toBeGreaterThanOrEqual(1);
    expectSpec(count, 'GET', `${DEVAUTH}/devices/count`);
    const badCount = await call(url(), 'GET', `${DEVAUTH}/devices/count?status=bogus`, { token });
    expect(badCount.status).toBe(400);
    expectSpec(badCount, 'GET', `${DEVAUTH}/devices/count`);

    const got = await call(url(), 'GET', `${DEVAUTH}/devices/${id}`, { token });
    expect(got.status).toBe(200);
    expectSpec(got, 'GET', `${DEVAUTH}/devices/${id}`);
    expect(got.json().status).toBe('pending');
    const missing = await call(url(), 'GET', `${DEVAUTH}/devices/nope`, { token });
    expect(missing.status).toBe(404);
    expectSpec(missing, 'GET', `${DEVAUTH}/devices/nope`);

    const aid = got.json().auth_sets[0].id as string;
    const statusPath = `${DEVAUTH}/devices/${id}/auth/${aid}/status`;
    const st = await call(url(), 'GET', statusPath, { token });
    expect(st.status).toBe(200);
    expect(st.json()).toEqual({ status: 'pending' });
    expectSpec(st, 'GET', statusPath);
    const st404 = await call(url(), 'GET', `${DEVAUTH}/devices/${id}/auth/nope/status`, { token });
    expect(st404.status).toBe(404);
    expectSpec(st404, 'GET', `${DEVAUTH}/devices/${id}/auth/nope/status`);
    const badStatus = await call(url(), 'PUT', statusPath, { token, json: { status: 'preauthorized' } });
    expect(badStatus.status).toBe(400);
    expectSpec(badStatus, 'PUT', statusPath);
    const put404 = await call(url(), 'PUT', `${DEVAUTH}/devices/${id}/auth/nope/status`, {
      token,
      json: { status: 'accepted' },
    });
    expect(put404.status).toBe(404);
    expectSpec(put404, 'PUT', `${DEVAUTH}/devices/${id}/auth/nope/status`);
    const accept = await call(url(), 'PUT', statusPath, { token, json: { status: 'accepted' } });
    expect(accept.status).toBe(204);
    expectSpec(accept, 'PUT', statusPath);

    const auth = await authRequest(url(), dev);
    expect(auth.status).toBe(200);
    const jti = JSON.parse(Buffer.from(auth.text.split('.')[1]!, 'base64url').toString()).jti as string;
    const revoke = await call(url(), 'DELETE', `${DEVAUTH}/tokens/${jti}`, { token });
    expect(revoke.status).toBe(204);
    expectSpec(revoke, 'DELETE', `${DEVAUTH}/tokens/${jti}`);
    const inv = await call(url(), 'PATCH', '/api/devices/v1/inventory/device/attributes', {
      token: auth.text,
      json: [],
    });
    expect(inv.status).toBe(401);
    const revoke404 = await call(url(), 'DELETE', `${DEVAUTH}/tokens/${jti}`, { token });
    expect(revoke404.status).toBe(404);
    expectSpec(revoke404, 'DELETE', `${DEVAUTH}/tokens/${jti}`);

    const limits = await call(url(), 'GET', `${DEVAUTH}/limits/max_devices`, { token });
    expect(limits.status).toBe(200);
    expect(limits.json()).toEqual({ limit: -1 });
    expectSpec(limits, 'GET', `${DEVAUTH}/limits/max_devices`);
  });

  it('preauthorize: 201 with a relative Location, 409 with the existing device, force upserts, 400 on bad keys', async () => {
    const dev = await newDevice('aa:00:00:00:00:03', 'ed25519');
    const path = `${DEVAUTH}/devices`;
    const body = { identity_data: { mac: 'aa:00:00:00:00:03' }, pubkey: dev.key.publicKeyPem };
    const created = await call(url(), 'POST', path, { token, json: body });
    expect(created.status).toBe(201);
    expect(created.headers.location).toMatch(/^devices\/[0-9a-f-]{36}$/);
    expectSpec(created, 'POST', path);
    const conflict = await call(url(), 'POST', path, { token, json: body });
    expect(conflict.status).toBe(409);
    expectSpec(conflict, 'POST', path);
    expect(conflict.json().id).toBe(String(created.headers.location).slice('devices/'.length));
    const other = await newDevice('aa:00:00:00:00:03', 'ed25519');
    const forced = await call(url(), 'POST', path, {
      token,
      json: { ...body, pubkey: other.key.publicKeyPem, force: true },
    });
    expect(forced.status).toBe(201);
    const badKey = await call(url(), 'POST', path, {
      token,
      json: {
        identity_data: { mac: 'x' },
        pubkey: '-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n',
      },
    });
    expect(badKey.status).toBe(400);
    expectSpec(badKey, 'POST', path);

    // the preauthorized pair is accepted on first contact
    const first = await authRequest(url(), dev);
    expect(first.status).toBe(200);
  });

  it('dismiss and decommission', async () => {
    const dev = await newDevice('aa:00:00:00:00:04');
    const { id, jwt } = await acceptDevice(url(), token, dev);
    const other = await newDevice('aa:00:00:00:00:04');
    expect((await authRequest(url(), other)).status).toBe(401);
    const got = (await call(url(), 'GET', `${DEVAUTH}/devices/${id}`, { token })).json();
    expect(got.auth_sets).toHaveLength(2);
    const pendingSet = got.auth_sets.find((a: { status: string }) => a.status === 'pending').id as string;
    const dismiss = await call(url(), 'DELETE', `${DEVAUTH}/devices/${id}/auth/${pendingSet}`, { token });
    expect(dismiss.status).toBe(204);
    expectSpec(dismiss, 'DELETE', `${DEVAUTH}/devices/${id}/auth/${pendingSet}`);
    const dismiss404 = await call(url(), 'DELETE', `${DEVAUTH}/devices/${id}/auth/${pendingSet}`, { token });
    expect(dismiss404.status).toBe(404);
    expectSpec(dismiss404, 'DELETE', `${DEVAUTH}/devices/${id}/auth/${pendingSet}`);

    const del = await call(url(), 'DELETE', `${DEVAUTH}/devices/${id}`, { token });
    expect(del.status).toBe(204);
    expectSpec(del, 'DELETE', `${DEVAUTH}/devices/${id}`);
    const del404 = await call(url(), 'DELETE', `${DEVAUTH}/devices/${id}`, { token });
    expect(del404.status).toBe(404);
    expectSpec(del404, 'DELETE', `${DEVAUTH}/devices/${id}`);
    const dead = await call(url(), 'PATCH', '/api/devices/v1/inventory/device/attributes', {
      token: jwt,
      json: [],
    });
    expect(dead.status).toBe(401);
    // re-authenticating after removal yields a brand-new pending device
    expect((await authRequest(url(), dev)).status).toBe(401);
    expect(await deviceIdOf(url(), token, dev)).not.toBe(id);
  });

  it('covered every deviceauth/useradm route it serves with a success and an error response', () => {
    const routes = [
      'POST /api/management/v1/useradm/auth/login',
      'POST /api/management/v1/useradm/auth/logout',
      'GET /api/management/v1/useradm/users',
      'GET /api/management/v1/useradm/users/me',
      'GET /api/management/v1/useradm/users/{id}',
      'GET /api/management/v1/useradm/settings/tokens',
      'POST /api/management/v1/useradm/settings/tokens',
      'DELETE /api/management/v1/useradm/settings/tokens/{id}',
      'POST /api/devices/v1/authentication/auth_requests',
      `GET ${DEVAUTH}/devices`,
      `POST ${DEVAUTH}/devices`,
      `POST ${DEVAUTH}/devices/search`,
      `GET ${DEVAUTH}/devices/{id}`,
      `DELETE ${DEVAUTH}/devices/{id}`,
      `DELETE ${DEVAUTH}/devices/{id}/auth/{aid}`,
      `GET ${DEVAUTH}/devices/{id}/auth/{aid}/status`,
      `PUT ${DEVAUTH}/devices/{id}/auth/{aid}/status`,
      `GET ${DEVAUTH}/devices/count`,
      `DELETE ${DEVAUTH}/tokens/{id}`,
    ];
    expectRoutesCovered(routes);
  });
});
