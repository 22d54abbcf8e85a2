import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AbortError, ManagementClient, type UploadProgress } from '../src/index.js';

interface Received {
  headers: IncomingMessage['headers'];
  form: FormData;
}

let server: Server;
let url: string;
let received: Received[];
let dir: string;

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

beforeEach(async () => {
  received = [];
  dir = await mkdtemp(join(tmpdir(), 'otakit-upload-'));
  server = createServer(async (req, res) => {
    if (req.url === '/api/management/v1/deployments/artifacts' && req.method === 'POST') {
      if (req.headers['x-test-stall'] !== undefined) {
        req.pause(); // never read: the client's writes back up
        return;
      }
      const body = await readAll(req);
      const form = await new Response(body, {
        headers: { 'content-type': req.headers['content-type'] ?? '' },
      }).formData();
      received.push({ headers: req.headers, form });
      res.writeHead(201, { location: './artifacts/art-123' }).end();
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('artifact upload', () => {
  it('streams a file as multipart with description, size and progress up to the file size', async () => {
    const path = join(dir, 'app.mender');
    const content = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    await writeFile(path, content);
    const mgmt = new ManagementClient({ serverUrl: url, auth: 't' });
    const progress: UploadProgress[] = [];
    const upload = mgmt.artifacts.upload(path, { description: 'release 1' });
    upload.on('progress', (p) => progress.push(p));
    const { id } = await upload;
    await mgmt.close();

    expect(id).toBe('art-123');
    const got = received[0];
    expect(got?.headers.authorization).toBe('Bearer t');
    expect(Number(got?.headers['content-length'])).toBeGreaterThan(content.length);
    expect(got?.form.get('description')).toBe('release 1');
    expect(got?.form.get('size')).toBe(String(content.length));
    const file = got?.form.get('artifact') as File;
    expect(file.name).toBe('app.mender');
    expect(Buffer.from(await file.arrayBuffer()).equals(content)).toBe(true);
    expect(progress[0]).toEqual({ loaded: 0, total: content.length });
    expect(progress.at(-1)).toEqual({ loaded: content.length, total: content.length });
    expect(progress.length).toBeGreaterThan(2);
  });

  it('uploads a stream of unknown size (chunked)', async () => {
    async function* chunks() {
      for (let i = 0; i < 10; i++) yield new Uint8Array(1000).fill(i);
    }
    const mgmt = new ManagementClient({ serverUrl: url, auth: 't' });
    const { id } = await mgmt.artifacts.upload(chunks(), { filename: 'x.mender' });
    await mgmt.close();
    expect(id).toBe('art-123');
    const file = received[0]?.form.get('artifact') as File;
    expect(file.size).toBe(10_000);
    expect(received[0]?.form.get('size')).toBeNull();
    expect(received[0]?.headers['transfer-encoding']).toBe('chunked');
  });

  it('aborts an upload in flight and rejects with AbortError', async () => {
    let produced = 0;
    async function* endless() {
      for (;;) {
        produced += 64 * 1024;
        yield new Uint8Array(64 * 1024);
      }
    }
    const mgmt = new ManagementClient({ serverUrl: url, auth: 't', headers: { 'x-test-stall': '1' } });
    const upload = mgmt.artifacts.upload(endless());
    upload.on('progress', (p) => {
      if (p.loaded > 256 * 1024) upload.abort();
    });
    await expect(upload).rejects.toBeInstanceOf(AbortError);
    const after = produced;
    await new Promise((r) => setTimeout(r, 50));
    expect(produced).toBe(after); // nothing is read after the abort
    expect(produced).toBeLessThan(64 * 1024 * 1024); // backpressure held the stream
    await mgmt.close();
  });

  it('rejects with the caller signal reason', async () => {
    const mgmt = new ManagementClient({ serverUrl: url, auth: 't', headers: { 'x-test-stall': '1' } });
    const controller = new AbortController();
    async function* forever(): AsyncGenerator<Uint8Array> {
      for (;;) yield new Uint8Array(64 * 1024);
    }
    const upload = mgmt.artifacts.upload(forever(), { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user cancelled')), 20);
    await expect(upload).rejects.toThrow('user cancelled');
    await mgmt.close();
  });
});
