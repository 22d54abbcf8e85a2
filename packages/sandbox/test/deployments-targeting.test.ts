import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../src/index.js';
import { acceptDevice, authRequest, call, login, newDevice, uploadArtifact, vector } from './helpers.js';
import { templateOf } from './spec.js';

const V1_NEXT = '/api/devices/v1/deployments/device/deployments/next';
const V2_NEXT = '/api/devices/v2/deployments/device/deployments/next';

describe('deployment targeting', () => {
  let sandbox: Sandbox;
  let token: string;
  beforeAll(async () => {
    sandbox = await startSandbox();
    token = await login(sandbox);
    expect(
      (await uploadArtifact(sandbox.url, token, vector('module-multi-file-none-unsigned.mender'))).status,
    ).toBe(201);
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('all_devices targets the accepted devices at creation time, not pending ones', async () => {
    const a = await acceptDevice(sandbox.url, token, await newDevice('ad:00:00:00:00:01'));
    const b = await acceptDevice(sandbox.url, token, await newDevice('ad:00:00:00:00:02'));
    await authRequest(sandbox.url, await newDevice('ad:00:00:00:00:03'));
    const both = await call(sandbox.url, 'POST', '/api/management/v1/deployments/deployments', {
      token,
      json: { name: 'everyone', artifact_name: 'shared-multi-1', devices: [a.id], all_devices: true },
    });
    expect(both.status).toBe(400);
    const res = await call(sandbox.url, 'POST', '/api/management/v1/deployments/deployments', {
      token,
      json: { name: 'everyone', artifact_name: 'shared-multi-1', all_devices: true },
    });
    expect(res.status).toBe(201);
    const id = String(res.headers.location).split('/').at(-1)!;
    const list = (
      await call(sandbox.url, 'GET', `/api/management/v1/deployments/deployments/${id}/device_list`, {
        token,
      })
    ).json();
    expect(list.sort()).toEqual([a.id, b.id].sort());
    // clean up: abort so the next test starts fresh
    await call(sandbox.url, 'PUT', `/api/management/v1/deployments/deployments/${id}/status`, {
      token,
      json: { status: 'aborted' },
    });
  });

  it('v2 next checks the artifact depends against device_provides; unmet depends end as noartifact', async () => {
    const fits = await acceptDevice(sandbox.url, token, await newDevice('ad:00:00:00:00:10'));
    const misfit = await acceptDevice(sandbox.url, token, await newDevice('ad:00:00:00:00:11'));
    const res = await call(sandbox.url, 'POST', '/api/management/v1/deployments/deployments', {
      token,
      json: { name: 'depends', artifact_name: 'shared-multi-1', devices: [fits.id, misfit.id] },
    });
    const id = String(res.headers.location).split('/').at(-1)!;
    const provides = {
      artifact_name: 'shared-multi-0',
      device_type: 'board-a',
      artifact_group: 'field',
      'vendor.hw': 'rev-b',
    };
    const ok = await call(sandbox.url, 'POST', V2_NEXT, {
      token: fits.jwt,
      json: { device_provides: provides, update_control_map: false },
    });
    expect(ok.status).toBe(200);
    expect(ok.json().artifact.artifact_name).toBe('shared-multi-1');
    const no = await call(sandbox.url, 'POST', V2_NEXT, {
      token: misfit.jwt,
      json: { device_provides: { ...provides, 'vendor.hw': 'rev-a' } },
    });
    expect(no.status).toBe(204);
    const stats = (
      await call(sandbox.url, 'GET', `/api/management/v1/deployments/deployments/${id}/statistics`, { token })
    ).json();
    expect(stats.noartifact).toBe(1);
    expect(stats.pending).toBe(1);
    const bad = await call(sandbox.url, 'POST', V2_NEXT, { token: fits.jwt, json: { device_provides: 'x' } });
    expect(bad.status).toBe(400);
  });

  it('serves the undocumented POST v1 next and the hosted-only v2 next (neither is in the spec)', async () => {
    expect(templateOf('POST', V1_NEXT)).toBeUndefined();
    expect(templateOf('POST', V2_NEXT)).toBeUndefined();
    const dev = await acceptDevice(sandbox.url, token, await newDevice('ad:00:00:00:00:20'));
    const none = await call(sandbox.url, 'POST', V1_NEXT, {
      token: dev.jwt,
      json: { artifact_name: 'x', device_type: 'board-a' },
    });
    expect(none.status).toBe(204);
    const bad = await call(sandbox.url, 'POST', V1_NEXT, { token: dev.jwt, json: { artifact_name: 'x' } });
    expect(bad.status).toBe(400);
    expect(bad.json().error).toBe('device_type: cannot be blank.');
  });

  it('gives a device its oldest pending deployment first and force_installation skips the installed check', async () => {
    const dev = await acceptDevice(sandbox.url, token, await newDevice('ad:00:00:00:00:30'));
    const create = async (name: string, force: boolean) => {
      const res = await call(sandbox.url, 'POST', '/api/management/v1/deployments/deployments', {
        token,
        json: { name, artifact_name: 'shared-multi-1', devices: [dev.id], force_installation: force },
      });
      return String(res.headers.location).split('/').at(-1)!;
    };
    const first = await create('first', false);
    const second = await create('second', true);
    const installed = `${V1_NEXT}?artifact_name=shared-multi-1&device_type=board-a`;
    expect((await call(sandbox.url, 'GET', installed, { token: dev.jwt })).status).toBe(204);
    const firstStats = (
      await call(sandbox.url, 'GET', `/api/management/v1/deployments/deployments/${first}/statistics`, {
        token,
      })
    ).json();
    expect(firstStats['already-installed']).toBe(1);
    const forced = await call(sandbox.url, 'GET', installed, { token: dev.jwt });
    expect(forced.status).toBe(200);
    expect(forced.json().id).toBe(second);
  });

  it('decommissioning a device mid-deployment marks it decommissioned and finishes the deployment', async () => {
    const dev = await acceptDevice(sandbox.url, token, await newDevice('ad:00:00:00:00:40'));
    const res = await call(sandbox.url, 'POST', '/api/management/v1/deployments/deployments', {
      token,
      json: { name: 'gone', artifact_name: 'shared-multi-1', devices: [dev.id] },
    });
    const id = String(res.headers.location).split('/').at(-1)!;
    const next = await call(sandbox.url, 'GET', `${V1_NEXT}?artifact_name=a&device_type=board-a`, {
      token: dev.jwt,
    });
    expect(next.status).toBe(200);
    await call(sandbox.url, 'PUT', `/api/devices/v1/deployments/device/deployments/${id}/status`, {
      token: dev.jwt,
      json: { status: 'downloading' },
    });
    expect(
      (await call(sandbox.url, 'DELETE', `/api/management/v2/devauth/devices/${dev.id}`, { token })).status,
    ).toBe(204);
    const deployment = (
      await call(sandbox.url, 'GET', `/api/management/v1/deployments/deployments/${id}`, { token })
    ).json();
    expect(deployment.status).toBe('finished');
    expect(deployment.finished).toBeTypeOf('string');
    expect(deployment.statistics.status.decommissioned).toBe(1);
  });
});
