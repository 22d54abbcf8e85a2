import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient } from '@otakit/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DownloadStaging, type ResumableDownloadOptions, resumableDownload } from '../../src/index.js';
import { FaultServer } from './fault-server.js';

const SIZE = 3 * 1024 * 1024 + 123;
let server: FaultServer;
let base: string;
let http: HttpClient;

beforeEach(async () => {
  server = new FaultServer(randomBytes(SIZE));
  base = await server.listen();
  http = new HttpClient({ baseUrl: base, auth: () => 'device-token' });
});
afterEach(async () => {
  await http.close();
  await server.close();
});

async function collect(opts: Partial<ResumableDownloadOptions> & { url?: string }): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of resumableDownload({
    http,
    url: `${base}/artifact`,
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
    ...opts,
  })) {
    parts.push(c);
  }
  return Buffer.concat(parts);
}

describe('resumable download', () => {
  it('downloads the whole artifact without sending the device token', async () => {
    expect((await collect({})).equals(server.body)).toBe(true);
    expect(server.requests[0]?.auth).toBeUndefined();
  });

  for (const at of [0, 0.5, 0.999]) {
    it(`resumes from the byte where the connection dropped (${at * 100} %) with Range and If-Range`, async () => {
      server.faults.resetAfter.push(Math.floor(SIZE * at));
      const got = await collect({});
      expect(got.equals(server.body)).toBe(true);
      const resumed = server.requests.at(-1)!;
      if (at > 0) {
        expect(resumed.range).toMatch(/^bytes=\d+-$/);
        expect(resumed.ifRange).toBe(server.etag);
      }
      expect(server.bytesSent).toBeLessThan(SIZE * 1.05);
    });
  }

  it('skips the prefix when the server ignores Range', async () => {
    server.faults.ignoreRange = true;
    server.faults.resetAfter.push(1_000_000);
    expect((await collect({})).equals(server.body)).toBe(true);
    expect(server.requests).toHaveLength(2);
  });

  it('renews an expired link and continues', async () => {
    server.faults.resetAfter.push(500_000);
    let renewed = 0;
    const got = await collect({
      renewUrl: async () => {
        renewed++;
        return `${base}/artifact-fresh`;
      },
      onRetry: () => server.faults.expired.add('/artifact'),
    });
    expect(got.equals(server.body)).toBe(true);
    expect(renewed).toBe(1);
    expect(server.requests.at(-1)?.path).toBe('/artifact-fresh');
  });

  it('retries 5xx bursts and 429 with Retry-After', async () => {
    server.faults.statuses.push(
      { status: 503 },
      { status: 500 },
      { status: 429, headers: { 'retry-after': '0' } },
    );
    expect((await collect({})).equals(server.body)).toBe(true);
    expect(server.requests).toHaveLength(4);
  });

  it('detects a stalled connection and resumes', async () => {
    server.faults.stallAfter.push(200_000);
    expect((await collect({ stallTimeoutMs: 300 })).equals(server.body)).toBe(true);
    expect(server.requests[1]?.range).toMatch(/^bytes=\d+-$/);
  });

  it('gives up on 404 at once', async () => {
    await expect(collect({ url: `${base}/missing` })).rejects.toMatchObject({ code: 'ERR_DEVICE_DOWNLOAD' });
    expect(server.requests).toHaveLength(1);
  });

  it('gives up after the attempts without progress', async () => {
    for (let i = 0; i < 10; i++) server.faults.statuses.push({ status: 503 });
    await expect(collect({ maxAttempts: 3 })).rejects.toMatchObject({ code: 'ERR_DEVICE_DOWNLOAD' });
    expect(server.requests).toHaveLength(4);
  });

  it('resumes across a restart from the staged bytes, re-reading the prefix from disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otakit-stage-'));
    const first = new DownloadStaging(dir);
    const parts: Buffer[] = [];
    const ac = new AbortController();
    await expect(async () => {
      for await (const c of resumableDownload({
        http,
        url: `${base}/artifact`,
        staging: { store: first, key: 'dep-1' },
        checkpointBytes: 256 * 1024,
        signal: ac.signal,
      })) {
        parts.push(c);
        if (Buffer.concat(parts).length > SIZE / 2) ac.abort(new Error('power cut'));
      }
    }).rejects.toThrow('power cut');
    const sentBefore = server.bytesSent;
    const got = await collect({ staging: { store: new DownloadStaging(dir), key: 'dep-1' } });
    expect(got.equals(server.body)).toBe(true);
    const resumed = server.requests.at(-1)!;
    expect(resumed.range).toMatch(/^bytes=\d+-$/);
    expect(server.bytesSent - sentBefore).toBeLessThan(SIZE * 0.6);
  });

  it('caps the bandwidth', async () => {
    const small = new FaultServer(randomBytes(64 * 1024));
    const url = await small.listen();
    const started = performance.now();
    for await (const _ of resumableDownload({ http, url: `${url}/a`, bytesPerSecond: 256 * 1024 })) {
      // drain
    }
    const elapsed = performance.now() - started;
    await small.close();
    // 64 KiB at 256 KiB/s needs about 250 ms; the cap must have slowed it down noticeably.
    expect(elapsed).toBeGreaterThan(150);
  });
});
