import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../src/index.js';
import { call, login, uploadArtifact, vector } from './helpers.js';

describe('artifact downloads', () => {
  let sandbox: Sandbox;
  let uri: string;
  const bytes = readFileSync(vector('module-small-unsigned.mender'));

  beforeAll(async () => {
    sandbox = await startSandbox();
    const token = await login(sandbox);
    const up = await uploadArtifact(sandbox.url, token, vector('module-small-unsigned.mender'));
    const id = String(up.headers.location).split('/').at(-1)!;
    uri = (
      await call(sandbox.url, 'GET', `/api/management/v1/deployments/artifacts/${id}/download`, { token })
    ).json().uri;
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('serves suffix ranges and closed ranges clamped to the file', async () => {
    const tail = await call(uri, 'GET', uri, { headers: { range: 'bytes=-100' } });
    expect(tail.status).toBe(206);
    expect(tail.headers['content-range']).toBe(
      `bytes ${bytes.length - 100}-${bytes.length - 1}/${bytes.length}`,
    );
    expect(tail.body.equals(bytes.subarray(bytes.length - 100))).toBe(true);
    const clamped = await call(uri, 'GET', uri, { headers: { range: `bytes=10-${bytes.length + 1000}` } });
    expect(clamped.status).toBe(206);
    expect(clamped.headers['content-length']).toBe(String(bytes.length - 10));
  });

  it('answers 416 with Content-Range for an unsatisfiable range, and ignores malformed ones', async () => {
    const beyond = await call(uri, 'GET', uri, { headers: { range: `bytes=${bytes.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers['content-range']).toBe(`bytes */${bytes.length}`);
    const multi = await call(uri, 'GET', uri, { headers: { range: 'bytes=0-1,5-6' } });
    expect(multi.status).toBe(200);
    expect(multi.body.length).toBe(bytes.length);
  });

  it('honours If-Range with the Last-Modified date as well as the ETag', async () => {
    const head = await request(uri, { method: 'HEAD' });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe(String(bytes.length));
    expect(head.headers['accept-ranges']).toBe('bytes');
    await head.body.dump();
    const lastModified = String(head.headers['last-modified']);
    const byDate = await call(uri, 'GET', uri, { headers: { range: 'bytes=0-9', 'if-range': lastModified } });
    expect(byDate.status).toBe(206);
    const stale = await call(uri, 'GET', uri, {
      headers: { range: 'bytes=0-9', 'if-range': 'Thu, 01 Jan 1970 00:00:00 GMT' },
    });
    expect(stale.status).toBe(200);
  });

  it('answers 404 for a signed link to an artifact deleted since', async () => {
    const token = await login(sandbox);
    const up = await uploadArtifact(sandbox.url, token, vector('module-small-ecdsa256.mender'));
    const id = String(up.headers.location).split('/').at(-1)!;
    const link = (
      await call(sandbox.url, 'GET', `/api/management/v1/deployments/artifacts/${id}/download`, { token })
    ).json().uri;
    expect(
      (await call(sandbox.url, 'DELETE', `/api/management/v1/deployments/artifacts/${id}`, { token })).status,
    ).toBe(204);
    const gone = await call(link, 'GET', link);
    expect(gone.status).toBe(404);
    expect(gone.json().request_id).toBe(gone.headers['x-men-requestid']);
  });
});
