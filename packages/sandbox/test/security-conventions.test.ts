import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../src/index.js';
import { acceptDevice, authRequest, call, login, newDevice, uploadArtifact, vector } from './helpers.js';

const NEXT = '/api/devices/v1/deployments/device/deployments/next?artifact_name=a&device_type=board-s';

describe('security', () => {
  let sandbox: Sandbox;
  let token: string;
  const logs: string[] = [];
  let a: { id: string; jwt: string };
  let b: { id: string; jwt: string };
  let deploymentId: string;
  let artifactId: string;

  beforeAll(async () => {
    sandbox = await startSandbox({
      adminPassword: 'pa55-w0rd-s3cret',
      logger: { level: 'trace', stream: { write: (line) => logs.push(line) } },
    });
    token = await login(sandbox);
    a = await acceptDevice(sandbox.url, token, await newDevice('5e:00:00:00:00:01'));
    b = await acceptDevice(sandbox.url, token, await newDevice('5e:00:00:00:00:02'));
    const up = await uploadArtifact(sandbox.url, token, vector('module-small-unsigned.mender'));
    artifactId = String(up.headers.location).split('/').at(-1)!;
    await uploadArtifact(sandbox.url, token, vector('module-small-rsa2048.mender'));
    const created = await call(sandbox.url, 'POST', '/api/management/v1/deployments/deployments', {
      token,
      json: { name: 's', artifact_name: 'shared-small-3', devices: [a.id] },
    });
    deploymentId = String(created.headers.location).split('/').at(-1)!;
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('refuses device tokens on management routes and management tokens on device routes', async () => {
    for (const path of [
      '/api/management/v2/devauth/devices',
      '/api/management/v1/inventory/devices',
      '/api/management/v1/deployments/artifacts',
    ]) {
      expect((await call(sandbox.url, 'GET', path, { token: a.jwt })).status, path).toBe(401);
    }
    expect((await call(sandbox.url, 'GET', NEXT, { token })).status).toBe(401);
    expect(
      (await call(sandbox.url, 'PUT', '/api/devices/v1/inventory/device/attributes', { token, json: [] }))
        .status,
    ).toBe(401);
    const forged = `${a.jwt.slice(0, -4)}AAAA`;
    expect((await call(sandbox.url, 'GET', NEXT, { token: forged })).status).toBe(401);
  });

  it('lets a device reach only its own deployments and inventory', async () => {
    expect((await call(sandbox.url, 'GET', NEXT, { token: b.jwt })).status).toBe(204);
    const other = await call(
      sandbox.url,
      'PUT',
      `/api/devices/v1/deployments/device/deployments/${deploymentId}/status`,
      {
        token: b.jwt,
        json: { status: 'failure' },
      },
    );
    expect(other.status).toBe(404);
    await call(sandbox.url, 'PATCH', '/api/devices/v1/inventory/device/attributes', {
      token: b.jwt,
      json: [{ name: 'x', value: 'b' }],
    });
    const invA = (
      await call(sandbox.url, 'GET', `/api/management/v1/inventory/devices/${a.id}`, { token })
    ).json();
    expect(invA.attributes.some((x: { name: string }) => x.name === 'x')).toBe(false);
  });

  it('signed links cannot be altered to reach another artifact or outlive their expiry', async () => {
    const next = await call(sandbox.url, 'GET', NEXT, { token: a.jwt });
    expect(next.status).toBe(200);
    const uri = new URL(next.json().artifact.source.uri as string);
    expect((await call(uri.href, 'GET', uri.href)).status).toBe(200);
    const others = (
      await call(sandbox.url, 'GET', '/api/management/v1/deployments/artifacts', { token })
    ).json() as { id: string }[];
    const otherId = others.find((x) => x.id !== artifactId)!.id;
    const swapped = new URL(uri.href.replace(artifactId, otherId));
    expect((await call(swapped.href, 'GET', swapped.href)).status).toBe(403);
    const longer = new URL(uri.href);
    longer.searchParams.set('x-men-expire', '2999-01-01T00:00:00.000Z');
    expect((await call(longer.href, 'GET', longer.href)).status).toBe(403);
    const retargeted = new URL(uri.href);
    retargeted.searchParams.set('device', b.id);
    expect((await call(retargeted.href, 'GET', retargeted.href)).status).toBe(403);
    const unsigned = new URL(uri.href);
    unsigned.searchParams.delete('x-men-signature');
    expect((await call(unsigned.href, 'GET', unsigned.href)).status).toBe(403);
  });

  it('tokens die when the auth set is rejected', async () => {
    const c = await acceptDevice(sandbox.url, token, await newDevice('5e:00:00:00:00:03'));
    const dev = (
      await call(sandbox.url, 'GET', `/api/management/v2/devauth/devices/${c.id}`, { token })
    ).json();
    await call(
      sandbox.url,
      'PUT',
      `/api/management/v2/devauth/devices/${c.id}/auth/${dev.auth_sets[0].id}/status`,
      {
        token,
        json: { status: 'rejected' },
      },
    );
    expect((await call(sandbox.url, 'GET', NEXT, { token: c.jwt })).status).toBe(401);
  });

  it('never logs passwords, tokens or link signatures', async () => {
    const next = await call(sandbox.url, 'GET', NEXT, { token: a.jwt });
    const uri = next.json().artifact.source.uri as string;
    await call(uri, 'GET', uri);
    const signature = new URL(uri).searchParams.get('x-men-signature')!;
    const all = logs.join('\n');
    expect(all.length).toBeGreaterThan(0);
    expect(all).toContain('/api/devices/v1/deployments/download/artifacts/');
    for (const secret of [
      'pa55-w0rd-s3cret',
      token,
      a.jwt,
      signature,
      Buffer.from(`${sandbox.adminEmail}:pa55-w0rd-s3cret`).toString('base64'),
    ]) {
      expect(
        all.includes(secret),
        logs.find((l) => l.includes(secret)),
      ).toBe(false);
    }
  });
});

describe('conventions', () => {
  let sandbox: Sandbox;
  let token: string;
  beforeAll(async () => {
    sandbox = await startSandbox();
    token = await login(sandbox);
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('echoes X-MEN-RequestID or generates one, also in error bodies', async () => {
    const given = await call(sandbox.url, 'GET', '/api/management/v2/devauth/devices/nope', {
      token,
      headers: { 'x-men-requestid': 'my-request-1' },
    });
    expect(given.headers['x-men-requestid']).toBe('my-request-1');
    expect(given.json()).toEqual({ error: 'device not found', request_id: 'my-request-1' });
    const generated = await call(sandbox.url, 'GET', '/api/management/v2/devauth/devices', { token });
    expect(generated.headers['x-men-requestid']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers 415 for non-JSON bodies and 400 for malformed JSON on JSON routes', async () => {
    const form = await call(sandbox.url, 'POST', '/api/management/v2/devauth/devices', {
      token,
      body: 'identity_data=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
    expect(form.json().request_id).toBeTypeOf('string');
    const broken = await call(sandbox.url, 'POST', '/api/management/v2/devauth/devices', {
      token,
      body: '{"identity_data":',
      headers: { 'content-type': 'application/json' },
    });
    expect(broken.status).toBe(400);
  });

  it('limits non-upload bodies to 1 MiB', async () => {
    const big = JSON.stringify({ identity_data: { pad: 'x'.repeat(1024 * 1024) }, pubkey: 'x' });
    const res = await call(sandbox.url, 'POST', '/api/management/v2/devauth/devices', {
      token,
      body: big,
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(413);
    expect(res.json().error).toBeTypeOf('string');
  });

  it('pages with relative Link headers, one line per relation, per_page capped at 500', async () => {
    for (let i = 0; i < 5; i++) await authRequest(sandbox.url, await newDevice(`c0:00:00:00:00:0${i}`));
    const res = await call(sandbox.url, 'GET', '/api/management/v1/inventory/devices?page=2&per_page=2', {
      token,
    });
    expect(res.headers['x-total-count']).toBe('5');
    expect(res.headers.link).toEqual([
      '</api/management/v1/inventory/devices?page=1&per_page=2>; rel="first"',
      '</api/management/v1/inventory/devices?page=1&per_page=2>; rel="prev"',
      '</api/management/v1/inventory/devices?page=3&per_page=2>; rel="next"',
      '</api/management/v1/inventory/devices?page=3&per_page=2>; rel="last"',
    ]);
    expect(res.json()).toHaveLength(2);
    const max = await call(sandbox.url, 'GET', '/api/management/v1/inventory/devices?per_page=500', {
      token,
    });
    expect(max.status).toBe(200);
    const over = await call(sandbox.url, 'GET', '/api/management/v1/inventory/devices?per_page=501', {
      token,
    });
    expect(over.status).toBe(400);
  });

  it('runs several sandboxes side by side on port 0', async () => {
    const [x, y] = await Promise.all([startSandbox(), startSandbox()]);
    try {
      expect(x.port).not.toBe(y.port);
      const tx = await login(x);
      expect((await call(y.url, 'GET', '/api/management/v2/devauth/devices', { token: tx })).status).toBe(
        401,
      );
    } finally {
      await Promise.all([x.close(), y.close()]);
    }
  });
});

describe('hostile identifiers', () => {
  let sandbox: Sandbox;
  let token: string;
  beforeAll(async () => {
    sandbox = await startSandbox();
    token = await login(sandbox);
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('treats __proto__ and friends as unknown ids (404), never as objects', async () => {
    for (const id of ['__proto__', 'constructor', 'toString']) {
      for (const path of [
        `/api/management/v2/devauth/devices/${id}`,
        `/api/management/v1/inventory/devices/${id}`,
        `/api/management/v1/deployments/artifacts/${id}`,
        `/api/management/v1/deployments/deployments/${id}`,
      ]) {
        const res = await call(sandbox.url, 'GET', path, { token });
        expect(res.status, path).toBe(404);
      }
      expect(
        (
          await call(sandbox.url, 'PUT', `/api/management/v1/inventory/devices/${id}/group`, {
            token,
            json: { group: 'g' },
          })
        ).status,
      ).toBe(404);
      expect(
        (await call(sandbox.url, 'DELETE', `/api/management/v2/devauth/tokens/${id}`, { token })).status,
      ).toBe(404);
    }
    const patch = await call(sandbox.url, 'PATCH', '/api/sandbox/v1/faults', {
      token,
      body: '{"__proto__":{"x":1}}',
      headers: { 'content-type': 'application/json' },
    });
    expect(patch.status).toBe(400);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('refuses an artifact_id that is not a UUID (it names the stored file)', async () => {
    const res = await uploadArtifact(sandbox.url, token, vector('module-small-unsigned.mender'), {
      artifact_id: '../../escape',
    });
    expect(res.status).toBe(400);
    const id = '0c13a0e6-6b63-475d-8260-ee42a590e8ff';
    const ok = await uploadArtifact(sandbox.url, token, vector('module-small-unsigned.mender'), {
      artifact_id: id,
    });
    expect(ok.status).toBe(201);
    expect(ok.headers.location).toBe(`/api/management/v1/deployments/artifacts/${id}`);
  });
});
