import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSandbox } from '../src/index.js';
import { acceptDevice, authRequest, call, login, newDevice, uploadArtifact, vector } from './helpers.js';

describe('a sandbox with a data directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otakit-sandbox-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps devices, tokens, inventory, deployments and artifacts across a restart', async () => {
    const file = vector('module-small-unsigned.mender');
    const first = await startSandbox({ dataDir: dir });
    const token = await login(first);
    const device = await acceptDevice(first.url, token, await newDevice('da:7a:00:00:00:01'));
    const pending = await newDevice('da:7a:00:00:00:02');
    expect((await authRequest(first.url, pending)).status).toBe(401);
    await call(first.url, 'PATCH', '/api/devices/v1/inventory/device/attributes', {
      token: device.jwt,
      json: [{ name: 'device_type', value: 'board-s' }],
    });
    await call(first.url, 'PUT', `/api/management/v1/inventory/devices/${device.id}/group`, {
      token,
      json: { group: 'kept' },
    });
    const pat = (
      await call(first.url, 'POST', '/api/management/v1/useradm/settings/tokens', {
        token,
        json: { name: 'p' },
      })
    ).text;
    const up = await uploadArtifact(first.url, token, file);
    const artifactId = String(up.headers.location).split('/').at(-1)!;
    const created = await call(first.url, 'POST', '/api/management/v1/deployments/deployments', {
      token,
      json: { name: 'kept', artifact_name: 'shared-small-3', devices: [device.id] },
    });
    const deploymentId = String(created.headers.location).split('/').at(-1)!;
    await first.close();

    expect(readdirSync(dir).sort()).toEqual(['artifacts', 'secrets.json', 'state.json']);
    expect(readdirSync(join(dir, 'artifacts'))).toEqual([`${artifactId}.mender`]);
    expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).version).toBe(1);

    const second = await startSandbox({ dataDir: dir });
    try {
      // tokens issued before the restart still work (signing keys are kept too)
      const count = await call(second.url, 'GET', '/api/management/v2/devauth/devices/count', { token });
      expect(count.json()).toEqual({ count: 2 });
      expect(
        (await call(second.url, 'GET', '/api/management/v2/devauth/devices/count', { token: pat })).status,
      ).toBe(200);
      expect(
        (
          await call(second.url, 'PATCH', '/api/devices/v1/inventory/device/attributes', {
            token: device.jwt,
            json: [],
          })
        ).status,
      ).toBe(200);
      const inv = (
        await call(second.url, 'GET', `/api/management/v1/inventory/devices/${device.id}`, { token })
      ).json();
      expect(inv.attributes).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ name: 'device_type', value: 'board-s' }),
          expect.objectContaining({ name: 'group', value: 'kept', scope: 'system' }),
        ]),
      );
      const pendingList = (
        await call(second.url, 'GET', '/api/management/v2/devauth/devices?status=pending', { token })
      ).json();
      expect(pendingList).toHaveLength(1);
      const dep = (
        await call(second.url, 'GET', `/api/management/v1/deployments/deployments/${deploymentId}`, { token })
      ).json();
      expect(dep).toMatchObject({ name: 'kept', status: 'pending', device_count: 1 });
      const next = await call(
        second.url,
        'GET',
        '/api/devices/v1/deployments/device/deployments/next?artifact_name=a&device_type=board-s',
        {
          token: device.jwt,
        },
      );
      expect(next.status).toBe(200);
      const body = await call(second.url, 'GET', next.json().artifact.source.uri);
      expect(body.body.equals(readFileSync(file))).toBe(true);
    } finally {
      await second.close();
    }
  });

  it('refuses a corrupt state or key file with a SandboxError', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'otakit-sandbox-bad-'));
    try {
      writeFileSync(join(bad, 'state.json'), '{not json');
      await expect(startSandbox({ dataDir: bad })).rejects.toMatchObject({
        name: 'SandboxError',
        code: 'ERR_SANDBOX_STATE',
      });
      writeFileSync(join(bad, 'state.json'), JSON.stringify({ version: 1 }));
      writeFileSync(join(bad, 'secrets.json'), '[]');
      await expect(startSandbox({ dataDir: bad })).rejects.toMatchObject({
        name: 'SandboxError',
        code: 'ERR_SANDBOX_STATE',
      });
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});
