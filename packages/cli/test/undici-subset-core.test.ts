/**
 * core's HTTP client on the undici of the device bundle (src/bundle/undici.ts): in this file
 * `import('undici')` is that module, as the bundle makes it for core, and the client does over
 * loopback what it does on undici's entry: requests on both of its paths (under its base URL, and
 * absolute URLs), retries, typed errors, timeouts, FormData bodies, the dispatchers it builds
 * (plain, proxy, TLS options) and one a user injects.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConnectionError, HttpClient, NotFoundError, TimeoutError } from '@otakit/core';
import { startServer, type TestServer } from '@otakit/test-support';
import { MockAgent } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

vi.mock('undici', async (importOriginal) => {
  const { undiciSubset } = await import('../src/bundle/undici.js');
  // MockAgent only for this test's own import: core uses what the bundle gives it.
  const { MockAgent: Mock } = await importOriginal<typeof import('undici')>();
  return {
    ...undiciSubset,
    FormData: undiciSubset.FormData,
    Response: undiciSubset.Response,
    MockAgent: Mock,
  };
});

let server: TestServer;
let base: string;
let flaky = 0;
const seen: { method?: string; url?: string; type?: string; body: string }[] = [];

function handler(req: IncomingMessage, res: ServerResponse): void {
  let body = '';
  req.on('data', (c: Buffer) => {
    body += c.toString('latin1');
  });
  req.on('end', () => {
    seen.push({ method: req.method, url: req.url, type: req.headers['content-type'], body });
    if (req.url === '/hold') return;
    if (req.url === '/flaky' && flaky++ < 2) {
      res.writeHead(503, { 'retry-after': '0' });
      res.end();
      return;
    }
    if (req.url === '/missing') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"no such thing"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ url: req.url, method: req.method }));
  });
}

beforeAll(async () => {
  server = await startServer(handler);
  base = server.url;
});
afterAll(() => server.close());

describe('core’s HttpClient on the device bundle’s undici', () => {
  it('runs on the module the bundle gives core', async () => {
    const { undiciSubset } = await import('../src/bundle/undici.js');
    const undici = await import('undici');
    expect(undici.Agent).toBe(undiciSubset.Agent);
    expect(undici.request).toBe(undiciSubset.request);
  });

  // Over both transports core builds: undici's Agent, and `transport: 'node'` (what `device run`
  // uses), which takes undici's request API and errors from the same module.
  describe.each(['undici', 'node'] as const)('transport %s', (transport) => {
    it('sends under its base URL and to absolute URLs, and reads JSON', async () => {
      const client = new HttpClient({ transport, baseUrl: `${base}/api/` });
      try {
        const under = await client.request<{ url: string }>({ method: 'GET', path: 'devices?x=1' });
        expect(under.data).toEqual({ url: '/api/devices?x=1', method: 'GET' });
        // Another origin (the same server by another name): the path through `undici.request(url)`.
        const other = base.replace('127.0.0.1', 'localhost');
        const absolute = await client.request<{ url: string }>({ method: 'GET', path: `${other}/elsewhere` });
        expect(absolute.data).toEqual({ url: '/elsewhere', method: 'GET' });
      } finally {
        await client.close();
      }
    });

    it('retries a 503 and then succeeds', async () => {
      flaky = 0;
      const client = new HttpClient({ transport, baseUrl: base, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
      const retries: unknown[] = [];
      client.events.on('retry', (e) => retries.push(e));
      try {
        const res = await client.request({ method: 'GET', path: '/flaky' });
        expect(res.status).toBe(200);
        expect(retries).toHaveLength(2);
      } finally {
        await client.close();
      }
    });

    it('throws its typed errors: a status, a refused connection, a timeout', async () => {
      const client = new HttpClient({ transport, baseUrl: base, maxRetries: 0 });
      try {
        const missing = await client.request({ method: 'GET', path: '/missing' }).catch((e: unknown) => e);
        expect(missing).toBeInstanceOf(NotFoundError);
        expect((missing as NotFoundError).body).toEqual({ error: 'no such thing' });
        await expect(client.request({ method: 'GET', path: '/hold', timeout: 100 })).rejects.toBeInstanceOf(
          TimeoutError,
        );
      } finally {
        await client.close();
      }
      const refused = new HttpClient({ transport, baseUrl: 'http://127.0.0.1:9', maxRetries: 0 });
      await expect(refused.request({ method: 'GET', path: '/' })).rejects.toBeInstanceOf(ConnectionError);
      await refused.close();
    });

    it('sends a FormData body as multipart', async () => {
      const client = new HttpClient({ transport, baseUrl: base });
      try {
        const form = new FormData();
        form.append('name', 'release-1');
        form.append('file', new Blob(['payload bytes']), 'a.mender');
        seen.length = 0;
        await client.request({ method: 'POST', path: '/upload', body: form, idempotencyKey: 'k1' });
        expect(seen[0]?.type).toMatch(/^multipart\/form-data; boundary=/);
        expect(seen[0]?.body).toContain('payload bytes');
        expect(seen[0]?.body).toContain('name="name"');
      } finally {
        await client.close();
      }
    });
  });

  it('builds its proxy and TLS dispatchers from the bundle’s classes', async () => {
    const { undiciSubset } = await import('../src/bundle/undici.js');
    // NO_PROXY covers 127.0.0.1, so the env proxy agent sends directly.
    vi.stubEnv('HTTP_PROXY', 'http://127.0.0.1:9');
    vi.stubEnv('NO_PROXY', '127.0.0.1');
    const viaEnv = new HttpClient({ baseUrl: base, proxy: 'env' });
    const withTls = new HttpClient({ baseUrl: base, tls: { rejectUnauthorized: true } });
    try {
      expect((await viaEnv.request({ method: 'GET', path: '/env' })).status).toBe(200);
      expect((await withTls.request({ method: 'GET', path: '/tls' })).status).toBe(200);
      const proxied = new HttpClient({ baseUrl: base, proxy: 'http://127.0.0.1:9', maxRetries: 0 });
      // The proxy refuses: the ProxyAgent was built and used.
      await expect(proxied.request({ method: 'GET', path: '/' })).rejects.toBeInstanceOf(ConnectionError);
      await proxied.close();
      expect(undiciSubset.EnvHttpProxyAgent).toBeTypeOf('function');
    } finally {
      vi.unstubAllEnvs();
      await viaEnv.close();
      await withTls.close();
    }
  });

  it('sends through a dispatcher the user injects', async () => {
    const mock = new MockAgent();
    mock.disableNetConnect();
    mock.get('https://mender.test').intercept({ path: '/api/x', method: 'GET' }).reply(200, { ok: true });
    const client = new HttpClient({ baseUrl: 'https://mender.test/api/', dispatcher: mock });
    expect((await client.request({ method: 'GET', path: 'x' })).data).toEqual({ ok: true });
    await client.close();
    await mock.close();
  });
});
