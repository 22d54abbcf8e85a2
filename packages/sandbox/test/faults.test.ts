import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../src/index.js';
import { acceptDevice, call, login, newDevice, uploadArtifact, vector } from './helpers.js';

const FAULTS = '/api/sandbox/v1/faults';

/** Reads a download, returning how many bytes arrived and whether it ended in an error. */
async function download(
  uri: string,
  options: { headers?: Record<string, string>; bodyTimeout?: number } = {},
) {
  const res = await request(uri, {
    headers: options.headers ?? {},
    bodyTimeout: options.bodyTimeout ?? 30_000,
  });
  const chunks: Buffer[] = [];
  let error: unknown;
  try {
    for await (const chunk of res.body) chunks.push(chunk as Buffer);
  } catch (err) {
    error = err;
  }
  return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), error };
}

describe('fault switches', () => {
  let sandbox: Sandbox;
  let token: string;
  let artifactId: string;
  const file = vector('module-1mib-zstd-rsa2048.mender');
  const bytes = readFileSync(file);
  const link = async () =>
    (
      await call(sandbox.url, 'GET', `/api/management/v1/deployments/artifacts/${artifactId}/download`, {
        token,
      })
    ).json().uri as string;

  beforeAll(async () => {
    sandbox = await startSandbox();
    token = await login(sandbox);
    const up = await uploadArtifact(sandbox.url, token, file);
    artifactId = String(up.headers.location).split('/').at(-1)!;
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('cuts a download after N bytes', async () => {
    sandbox.faults.set({ resetAfterBytes: { bytes: 100_000, count: 1 } });
    const cut = await download(await link());
    expect(cut.status).toBe(200);
    expect(cut.headers['content-length']).toBe(String(bytes.length));
    expect(cut.error).toBeDefined();
    expect(cut.body.length).toBe(100_000);
    expect(cut.body.equals(bytes.subarray(0, 100_000))).toBe(true);
    // count: 1 — the resumed download works and completes the file
    const rest = await download(await link(), { headers: { range: `bytes=${cut.body.length}-` } });
    expect(rest.status).toBe(206);
    expect(Buffer.concat([cut.body, rest.body]).equals(bytes)).toBe(true);
  });

  it('can abort a download with a TCP reset instead', async () => {
    sandbox.faults.set({ resetAfterBytes: { bytes: 200_000, mode: 'reset', count: 1 } });
    const cut = await download(await link());
    expect(cut.status).toBe(200);
    expect(cut.error).toBeDefined();
    expect(cut.body.length).toBeLessThanOrEqual(200_000);
    expect(cut.body.equals(bytes.subarray(0, cut.body.length))).toBe(true);
    expect(() => sandbox.faults.set({ resetAfterBytes: { bytes: 1, mode: 'explode' as 'reset' } })).toThrow(
      TypeError,
    );
  });

  it('ignores Range when asked to (200 with the whole file)', async () => {
    sandbox.faults.set({ ignoreRange: {} });
    const res = await download(await link(), { headers: { range: 'bytes=10-19' } });
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(bytes.length);
    sandbox.faults.clear();
    const ranged = await download(await link(), { headers: { range: 'bytes=10-19' } });
    expect(ranged.status).toBe(206);
    expect(ranged.body.equals(bytes.subarray(10, 20))).toBe(true);
  });

  it('stalls a download after N bytes (forever, or for a while)', async () => {
    sandbox.faults.set({ stall: { afterBytes: 4096, count: 1 } });
    const stuck = await download(await link(), { bodyTimeout: 300 });
    expect(stuck.error).toBeDefined();
    expect(stuck.body.length).toBe(4096);
    sandbox.faults.set({ stall: { afterBytes: 4096, ms: 50 } });
    const slow = await download(await link());
    expect(slow.error).toBeUndefined();
    expect(slow.body.equals(bytes)).toBe(true);
    sandbox.faults.clear();
  });

  it('answers 429 with and without Retry-After', async () => {
    sandbox.faults.set({ rateLimit: { retryAfter: 7, count: 1, pathPrefix: '/api/management/v2/devauth' } });
    const limited = await call(sandbox.url, 'GET', '/api/management/v2/devauth/devices', { token });
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('7');
    expect(limited.json()).toEqual({
      error: 'too many requests',
      request_id: limited.headers['x-men-requestid'],
    });
    expect((await call(sandbox.url, 'GET', '/api/management/v2/devauth/devices', { token })).status).toBe(
      200,
    );
    sandbox.faults.set({ rateLimit: { count: 1 } });
    const bare = await call(sandbox.url, 'GET', '/api/management/v2/devauth/devices', { token });
    expect(bare.status).toBe(429);
    expect(bare.headers['retry-after']).toBeUndefined();
  });

  it('fails a share of the requests under a path prefix with 5xx', async () => {
    sandbox.faults.set({
      serverErrors: { ratio: 0.5, status: 503, pathPrefix: '/api/management/v2/devauth' },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push(
        (await call(sandbox.url, 'GET', '/api/management/v2/devauth/devices/count', { token })).status,
      );
    }
    expect(statuses).toEqual([200, 503, 200, 503, 200, 503]);
    const other = await call(sandbox.url, 'GET', '/api/management/v1/inventory/devices', { token });
    expect(other.status).toBe(200);
    sandbox.faults.set({ serverErrors: { ratio: 1 } });
    const failed = await call(sandbox.url, 'GET', '/api/management/v1/inventory/devices', { token });
    expect(failed.status).toBe(500);
    expect(failed.json().error).toBe('internal error');
    sandbox.faults.clear();
  });

  it('adds latency', async () => {
    sandbox.faults.set({ latency: { ms: 3000, count: 1 } });
    const slow = request(`${sandbox.url}/api/management/v2/devauth/devices/count`, {
      headers: { authorization: `Bearer ${token}` },
      headersTimeout: 250,
    });
    await expect(slow).rejects.toThrow(/timeout/i);
    const fast = await request(`${sandbox.url}/api/management/v2/devauth/devices/count`, {
      headers: { authorization: `Bearer ${token}` },
      headersTimeout: 2000,
    });
    expect(fast.statusCode).toBe(200);
    await fast.body.dump();
  });

  it('expires links early', async () => {
    sandbox.faults.set({ linkExpirySeconds: 0 });
    const expired = await call(sandbox.url, 'GET', await link());
    expect(expired.status).toBe(403);
    expect(expired.json().error).toBe('the link has expired');
    sandbox.faults.clear();
    expect((await download(await link())).status).toBe(200);
  });

  it('answers 404 on the v2 next route when switched off', async () => {
    const device = await acceptDevice(sandbox.url, token, await newDevice('fa:00:00:00:00:01'));
    const v2 = '/api/devices/v2/deployments/device/deployments/next';
    const body = { device_provides: { artifact_name: 'a', device_type: 'board-a' } };
    expect((await call(sandbox.url, 'POST', v2, { token: device.jwt, json: body })).status).toBe(204);
    sandbox.faults.set({ disableV2Next: true });
    expect((await call(sandbox.url, 'POST', v2, { token: device.jwt, json: body })).status).toBe(404);
    sandbox.faults.clear();
    const off = await startSandbox({ v2Next: false });
    try {
      const t = await login(off);
      const d = await acceptDevice(off.url, t, await newDevice('fa:00:00:00:00:02'));
      expect((await call(off.url, 'POST', v2, { token: d.jwt, json: body })).status).toBe(404);
    } finally {
      await off.close();
    }
  });

  it('is controlled over HTTP by the admin only', async () => {
    const put = await call(sandbox.url, 'PUT', FAULTS, {
      token,
      json: { rateLimit: { retryAfter: 1, pathPrefix: '/nothing' } },
    });
    expect(put.status).toBe(200);
    expect(put.json()).toEqual({ rateLimit: { retryAfter: 1, pathPrefix: '/nothing' } });
    const patch = await call(sandbox.url, 'PATCH', FAULTS, {
      token,
      json: { ignoreRange: {}, rateLimit: null },
    });
    expect(patch.json()).toEqual({ ignoreRange: {} });
    expect((await call(sandbox.url, 'GET', FAULTS, { token })).json()).toEqual({ ignoreRange: {} });
    expect(sandbox.faults.get()).toEqual({ ignoreRange: {} });
    const bad = await call(sandbox.url, 'PUT', FAULTS, { token, json: { serverErrors: { ratio: 2 } } });
    expect(bad.status).toBe(400);
    expect(bad.json().error).toMatch(/ratio/);
    const unknown = await call(sandbox.url, 'PUT', FAULTS, { token, json: { meteor: {} } });
    expect(unknown.status).toBe(400);
    const device = await acceptDevice(sandbox.url, token, await newDevice('fa:00:00:00:00:03'));
    expect((await call(sandbox.url, 'GET', FAULTS, { token: device.jwt })).status).toBe(401);
    expect((await call(sandbox.url, 'GET', FAULTS)).status).toBe(401);
    // the control API itself is never faulted
    sandbox.faults.set({ serverErrors: { ratio: 1 } });
    const del = await call(sandbox.url, 'DELETE', FAULTS, { token });
    expect(del.status).toBe(204);
    expect(sandbox.faults.get()).toEqual({});
  });
});
