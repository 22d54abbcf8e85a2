/**
 * Hostile uploads are decoded off the main thread: while one is being verified, the sandbox keeps
 * answering other requests. Needs the sandbox built (the verification worker runs from dist/).
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  craftArtifact,
  tar,
  zstdRawFrame,
  zstdRleZerosFrame,
  zstdSequenceBombFrame,
} from '@otakit/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../src/index.js';
import { call, login, type Res, uploadArtifact } from './helpers.js';

/** An artifact whose zstd data tar is `data` (the data member is outside the signature). */
function withZstdData(data: Uint8Array, name = 'zeros.bin'): Uint8Array {
  return craftArtifact({
    gzip: false,
    files: [{ name, data: '' }],
    edit: (members) =>
      members.map((m) => (m.name === 'data/0000.tar' ? { name: 'data/0000.tar.zst', data } : m)),
  });
}

describe('artifact uploads are verified off the main thread', () => {
  let sandbox: Sandbox;
  let token: string;
  let work: string;
  beforeAll(async () => {
    sandbox = await startSandbox();
    token = await login(sandbox);
    work = await mkdtemp(join(tmpdir(), 'otakit-intake-'));
  });
  afterAll(async () => {
    await sandbox.close();
    await rm(work, { recursive: true, force: true });
  });

  /** Uploads `bytes` and pings the sandbox until the upload is answered; returns both. */
  async function pingDuring(bytes: Uint8Array, file: string): Promise<{ upload: Res; pings: number[] }> {
    const path = join(work, file);
    await writeFile(path, bytes);
    let done = false;
    const upload = uploadArtifact(sandbox.url, token, pathToFileURL(path)).finally(() => {
      done = true;
    });
    const pings: number[] = [];
    while (!done && pings.length < 200) {
      const start = performance.now();
      const res = await call(sandbox.url, 'GET', '/api/management/v1/deployments/artifacts', { token });
      const took = performance.now() - start;
      expect(res.status).toBe(200);
      if (!done) pings.push(took);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return { upload: await upload, pings };
  }

  it('answers other requests while a 1 GiB zstd expansion is being verified', async () => {
    // 4 MiB of RLE blocks inflate to a 1 GiB payload file whose digest is checked only at its end.
    const size = 1024 * 1024 * 1024;
    const header = tar([{ name: 'zeros.bin', size, data: '' }]).subarray(0, 512);
    const artifact = withZstdData(Buffer.concat([zstdRawFrame(header), zstdRleZerosFrame(size + 1024)]));
    const { upload, pings } = await pingDuring(artifact, 'expansion.mender');
    expect(upload.status).toBe(400);
    expect(upload.text).toMatch(/zeros\.bin: sha256 [0-9a-f]{64} does not match the manifest/);
    // The hostile work was in progress while these were answered.
    expect(pings.length).toBeGreaterThanOrEqual(5);
    // A functional bound (the upload itself takes seconds): no request waits behind it.
    expect(Math.max(...pings)).toBeLessThan(1000);
    const sorted = [...pings].sort((a, b) => a - b);
    expect(sorted[Math.floor(sorted.length / 2)]!).toBeLessThan(100);
  }, 120_000);

  it('refuses a zstd sequence bomb with 400 and keeps answering', async () => {
    const { upload } = await pingDuring(withZstdData(zstdSequenceBombFrame()), 'bomb.mender');
    expect(upload.status).toBe(400);
    expect(upload.text).toMatch(/corrupt compressed data/);
    const after = await call(sandbox.url, 'GET', '/api/management/v1/deployments/artifacts', { token });
    expect(after.status).toBe(200);
  }, 60_000);
});
