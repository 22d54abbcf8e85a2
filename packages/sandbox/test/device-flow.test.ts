import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../src/index.js';
import { authRequest, call, deviceIdOf, login, newDevice, uploadArtifact, vector } from './helpers.js';

const NEXT = '/api/devices/v1/deployments/device/deployments/next';
const DEVICE_DEPLOYMENTS = '/api/devices/v1/deployments/device/deployments';

describe('a full device flow over real HTTP', () => {
  let sandbox: Sandbox;
  let token: string;
  beforeAll(async () => {
    sandbox = await startSandbox();
    token = await login(sandbox);
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('admits, inventories, deploys, downloads with ranges, reports, aborts and logs', async () => {
    const url = sandbox.url;
    const file = vector('rootfs-gzip-unsigned.mender');
    const bytes = readFileSync(file);

    // 1. an unknown device is pending, then accepted by the admin
    const dev = await newDevice('52:54:00:12:34:56', 'rsa');
    expect((await authRequest(url, dev)).status).toBe(401);
    const id = await deviceIdOf(url, token, dev);
    const pending = (await call(url, 'GET', `/api/management/v2/devauth/devices/${id}`, { token })).json();
    expect(pending.status).toBe('pending');
    const put = await call(
      url,
      'PUT',
      `/api/management/v2/devauth/devices/${id}/auth/${pending.auth_sets[0].id}/status`,
      {
        token,
        json: { status: 'accepted' },
      },
    );
    expect(put.status).toBe(204);
    const auth = await authRequest(url, dev);
    expect(auth.status).toBe(200);
    const jwt = auth.text;
    expect(JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()).sub).toBe(id);

    // 2. a preauthorized device is accepted on first contact
    const pre = await newDevice('52:54:00:00:00:02', 'ecdsa-p256');
    const preauth = await call(url, 'POST', '/api/management/v2/devauth/devices', {
      token,
      json: { identity_data: pre.identity, pubkey: pre.key.publicKeyPem },
    });
    expect(preauth.status).toBe(201);
    expect((await authRequest(url, pre)).status).toBe(200);

    // 3. inventory
    const inv = await call(url, 'PUT', '/api/devices/v1/inventory/device/attributes', {
      token: jwt,
      json: [
        { name: 'device_type', value: 'qemux86-64' },
        { name: 'artifact_name', value: 'factory-1' },
      ],
    });
    expect(inv.status).toBe(200);
    expect(inv.text).toBe('');
    const seen = (await call(url, 'GET', `/api/management/v1/inventory/devices/${id}`, { token })).json();
    expect(seen.attributes).toEqual(
      expect.arrayContaining([
        { name: 'device_type', value: 'qemux86-64', scope: 'inventory', timestamp: expect.any(String) },
      ]),
    );

    // 4. upload the vector artifact; the sandbox parsed it with the core reader
    const upload = await uploadArtifact(url, token, file, { description: 'flow' });
    expect(upload.status).toBe(201);
    const artifactId = String(upload.headers.location).split('/').at(-1)!;
    const artifact = (
      await call(url, 'GET', `/api/management/v1/deployments/artifacts/${artifactId}`, { token })
    ).json();
    expect(artifact).toMatchObject({
      name: 'shared-rootfs-1',
      device_types_compatible: ['qemux86-64'],
      size: bytes.length,
      signed: false,
      description: 'flow',
    });
    expect(artifact.artifact_provides['rootfs-image.version']).toBe('shared-rootfs-1');
    expect(artifact.updates[0].files[0]).toMatchObject({
      checksum: '320b5e7eb900e617b0ec9a5901685cbf5876f69af60f40378ef5597462a1034f',
    });

    // 5. deploy to the device
    const created = await call(url, 'POST', '/api/management/v1/deployments/deployments', {
      token,
      json: { name: 'flow', artifact_name: 'shared-rootfs-1', devices: [id] },
    });
    expect(created.status).toBe(201);
    const deploymentId = String(created.headers.location).split('/').at(-1)!;

    // 6. next: the device gets its deployment with a signed link
    const next = await call(url, 'GET', `${NEXT}?artifact_name=factory-1&device_type=qemux86-64`, {
      token: jwt,
    });
    expect(next.status).toBe(200);
    const instructions = next.json();
    expect(instructions.id).toBe(deploymentId);
    expect(instructions.artifact.artifact_name).toBe('shared-rootfs-1');
    const expire = Date.parse(instructions.artifact.source.expire);
    expect(expire - Date.now()).toBeGreaterThan(23 * 3600 * 1000);
    const link = instructions.artifact.source.uri as string;

    // 7. ranged download (no token), ETag and If-Range
    expect(
      (
        await call(url, 'PUT', `${DEVICE_DEPLOYMENTS}/${deploymentId}/status`, {
          token: jwt,
          json: { status: 'downloading' },
        })
      ).status,
    ).toBe(204);
    const full = await call(link, 'GET', link);
    expect(full.status).toBe(200);
    expect(full.headers['content-length']).toBe(String(bytes.length));
    expect(createHash('sha256').update(full.body).digest('hex')).toBe(
      createHash('sha256').update(bytes).digest('hex'),
    );
    const etag = String(full.headers.etag);
    const part = await call(link, 'GET', link, { headers: { range: 'bytes=1000-', 'if-range': etag } });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 1000-${bytes.length - 1}/${bytes.length}`);
    expect(part.body.equals(bytes.subarray(1000))).toBe(true);
    const staleIfRange = await call(link, 'GET', link, {
      headers: { range: 'bytes=1000-', 'if-range': '"other"' },
    });
    expect(staleIfRange.status).toBe(200);
    expect(staleIfRange.body.length).toBe(bytes.length);

    // 8. status reports appear in the management view
    expect(
      (
        await call(url, 'PUT', `${DEVICE_DEPLOYMENTS}/${deploymentId}/status`, {
          token: jwt,
          json: { status: 'installing' },
        })
      ).status,
    ).toBe(204);
    const stats = (
      await call(url, 'GET', `/api/management/v1/deployments/deployments/${deploymentId}/statistics`, {
        token,
      })
    ).json();
    expect(stats.installing).toBe(1);
    const dep = (
      await call(url, 'GET', `/api/management/v1/deployments/deployments/${deploymentId}`, { token })
    ).json();
    expect(dep.status).toBe('inprogress');

    // 9. abort: the device's next status report is refused with 409
    const abort = await call(
      url,
      'PUT',
      `/api/management/v1/deployments/deployments/${deploymentId}/status`,
      {
        token,
        json: { status: 'aborted' },
      },
    );
    expect(abort.status).toBe(204);
    const refused = await call(url, 'PUT', `${DEVICE_DEPLOYMENTS}/${deploymentId}/status`, {
      token: jwt,
      json: { status: 'failure' },
    });
    expect(refused.status).toBe(409);
    expect(refused.json().error).toBe('Deployment aborted');
    expect(
      (await call(url, 'GET', `${NEXT}?artifact_name=factory-1&device_type=qemux86-64`, { token: jwt }))
        .status,
    ).toBe(204);

    // 10. a second deployment ends in failure with a log
    const second = await call(url, 'POST', '/api/management/v1/deployments/deployments', {
      token,
      json: { name: 'flow-2', artifact_name: 'shared-rootfs-1', devices: [id] },
    });
    const secondId = String(second.headers.location).split('/').at(-1)!;
    const next2 = await call(url, 'POST', NEXT, {
      token: jwt,
      json: { artifact_name: 'factory-1', device_type: 'qemux86-64' },
    });
    expect(next2.json().id).toBe(secondId);
    expect(
      (
        await call(url, 'PUT', `${DEVICE_DEPLOYMENTS}/${secondId}/status`, {
          token: jwt,
          json: { status: 'failure' },
        })
      ).status,
    ).toBe(204);
    const log = await call(url, 'PUT', `${DEVICE_DEPLOYMENTS}/${secondId}/log`, {
      token: jwt,
      json: { messages: [{ timestamp: '2026-01-02T03:04:05Z', level: 'error', message: 'install failed' }] },
    });
    expect(log.status).toBe(204);
    const text = await call(
      url,
      'GET',
      `/api/management/v1/deployments/deployments/${secondId}/devices/${id}/log`,
      { token },
    );
    expect(text.status).toBe(200);
    expect(text.headers['content-type']).toMatch(/^text\/plain/);
    expect(text.text).toContain('error: install failed');
    const finished = (
      await call(url, 'GET', `/api/management/v1/deployments/deployments/${secondId}`, { token })
    ).json();
    expect(finished.status).toBe('finished');

    // 11. already installed: reporting the target's name finishes without an update
    const third = await call(url, 'POST', '/api/management/v1/deployments/deployments', {
      token,
      json: { name: 'flow-3', artifact_name: 'shared-rootfs-1', devices: [id] },
    });
    const thirdId = String(third.headers.location).split('/').at(-1)!;
    const v2 = await call(url, 'POST', '/api/devices/v2/deployments/device/deployments/next', {
      token: jwt,
      json: { device_provides: { artifact_name: 'shared-rootfs-1', device_type: 'qemux86-64' } },
    });
    expect(v2.status).toBe(204);
    const thirdStats = (
      await call(url, 'GET', `/api/management/v1/deployments/deployments/${thirdId}/statistics`, { token })
    ).json();
    expect(thirdStats['already-installed']).toBe(1);
  });
});
