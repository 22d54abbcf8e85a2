import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FormData as UndiciFormData } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionError, TimeoutError } from '../../src/errors.js';
import { HttpClient } from '../../src/http/client.js';
import type { HttpEvents } from '../../src/http/types.js';
import { startServer, type TestServer } from './servers.js';

type RetryEvent = Parameters<HttpEvents['retry']>[0];

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

/** A deterministic stream of `total` bytes in 64 KiB chunks; `produced` counts what was pulled. */
function generated(total: number, counter: { produced: number }): AsyncGenerator<Buffer> {
  return (async function* () {
    let seed = 0;
    while (counter.produced < total) {
      const size = Math.min(CHUNK, total - counter.produced);
      const chunk = Buffer.allocUnsafe(size);
      for (let i = 0; i < size; i += 4) chunk.writeUInt32LE((seed++ * 2654435761) >>> 0, i);
      counter.produced += size;
      yield chunk;
    }
  })();
}

async function sha256Of(total: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of generated(total, { produced: 0 })) hash.update(chunk);
  return hash.digest('hex');
}

// Every case over both transports a client can build: undici's Agent, and `transport: 'node'`
// (Node's HTTP client under undici's request API, see src/http/node-dispatcher.ts).
describe.each(['undici', 'node'] as const)(
  'HttpClient against real servers on 127.0.0.1 (transport %s)',
  (transport) => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      while (cleanups.length > 0) await cleanups.pop()?.();
    });

    async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
      const server = await startServer(handler);
      cleanups.push(() => server.close());
      return server;
    }

    function client(server: TestServer, options: Partial<ConstructorParameters<typeof HttpClient>[0]> = {}) {
      const c = new HttpClient({
        baseUrl: server.url,
        retry: { baseDelayMs: 1, maxDelayMs: 5 },
        transport,
        ...options,
      });
      cleanups.push(() => c.close());
      const retries: RetryEvent[] = [];
      c.events.on('retry', (e) => retries.push(e));
      return { http: c, retries };
    }

    it('times out a stalled attempt with TimeoutError and retries it', async () => {
      let calls = 0;
      const server = await serve((_req, res) => {
        calls++;
        if (calls === 1) return; // stall: never answer
        res.setHeader('content-type', 'application/json');
        res.end('{"ok":true}');
      });
      const { http, retries } = client(server, { timeout: 200 });
      const res = await http.request({ method: 'GET', path: '/slow' });
      expect(res.data).toEqual({ ok: true });
      expect(calls).toBe(2);
      expect(retries).toEqual([expect.objectContaining({ attempt: 1, reason: 'timeout' })]);
    });

    it('rejects with TimeoutError when every attempt stalls', async () => {
      const server = await serve(() => {});
      const { http } = client(server, { timeout: 100, maxRetries: 1 });
      const err = (await http
        .request({ method: 'GET', path: '/never' })
        .catch((e: unknown) => e)) as TimeoutError;
      expect(err).toBeInstanceOf(TimeoutError);
      expect(err.code).toBe('ERR_TIMEOUT');
      expect(err.timeoutMs).toBe(100);
      expect(err.url).toBe(`${server.url}/never`);
    });

    it('retries a GET whose connection is reset mid-response, and fails a POST with ConnectionError', async () => {
      let calls = 0;
      const server = await serve((req, res) => {
        calls++;
        if (calls === 1 || req.method === 'POST') {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
          res.write('{"partial":');
          setImmediate(() => req.socket.destroy());
          return;
        }
        res.setHeader('content-type', 'application/json');
        res.end('{"ok":true}');
      });
      const { http, retries } = client(server);
      const res = await http.request({ method: 'GET', path: '/reset' });
      expect(res.data).toEqual({ ok: true });
      expect(retries).toHaveLength(1);
      expect(retries[0]?.reason).toMatch(/^connection error/);

      const err = await http.request({ method: 'POST', path: '/reset', json: {} }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectionError);
      expect(retries).toHaveLength(1);
    });

    it('streams a 64 MiB upload without holding it in memory, byte-exact', async () => {
      const total = 64 * MiB;
      const counter = { produced: 0 };
      let received = 0;
      let producedAtFirstByte = -1;
      let maxLead = 0;
      const server = await serve((req, res) => {
        const hash = createHash('sha256');
        req.on('data', (chunk: Buffer) => {
          if (producedAtFirstByte < 0) producedAtFirstByte = counter.produced;
          received += chunk.length;
          maxLead = Math.max(maxLead, counter.produced - received);
          hash.update(chunk);
        });
        req.on('end', () => {
          res.setHeader('content-type', 'application/json');
          res.end(
            JSON.stringify({
              bytes: received,
              sha256: hash.digest('hex'),
              length: req.headers['content-length'],
            }),
          );
        });
      });
      const { http } = client(server);
      const res = await http.request<{ bytes: number; sha256: string; length: string }>({
        method: 'PUT',
        path: '/upload',
        body: generated(total, counter),
        contentLength: total,
      });
      expect(res.data.bytes).toBe(total);
      expect(res.data.length).toBe(String(total));
      expect(res.data.sha256).toBe(await sha256Of(total));
      // The server saw bytes long before the source was exhausted, and the source never ran far ahead.
      expect(producedAtFirstByte).toBeLessThan(total / 4);
      expect(maxLead).toBeLessThan(16 * MiB);
    });

    it('streams a 64 MiB download to the caller without buffering it, past the per-attempt timeout', async () => {
      const total = 64 * MiB;
      const counter = { produced: 0 };
      const server = await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
        res.flushHeaders();
        // Headers now; the body only after the per-attempt timeout has passed.
        setTimeout(() => {
          pipeline(Readable.from(generated(total, counter)), res).catch(() => {});
        }, 300);
      });
      const { http } = client(server, { timeout: 100 });
      const res = await http.request<Readable>({ method: 'GET', path: '/artifact', responseType: 'stream' });
      expect(res.status).toBe(200);
      const hash = createHash('sha256');
      let received = 0;
      let maxLead = 0;
      for await (const chunk of res.data as AsyncIterable<Buffer>) {
        received += chunk.length;
        maxLead = Math.max(maxLead, counter.produced - received);
        hash.update(chunk);
      }
      expect(received).toBe(total);
      expect(hash.digest('hex')).toBe(await sha256Of(total));
      expect(maxLead).toBeLessThan(16 * MiB);
    });

    it('rejects with the signal reason when aborted mid-call', async () => {
      const controller = new AbortController();
      const reason = new Error('operator cancelled');
      let closedByClient = false;
      const server = await serve((req) => {
        req.socket.on('close', () => {
          closedByClient = true;
        });
        controller.abort(reason); // abort while the server holds the request
      });
      const { http, retries } = client(server);
      await expect(http.request({ method: 'GET', path: '/hold', signal: controller.signal })).rejects.toBe(
        reason,
      );
      expect(retries).toHaveLength(0);
      await new Promise((resolve) => setImmediate(resolve));
      await expect.poll(() => closedByClient).toBe(true);
    });

    it('destroys a streamed download when the caller aborts while reading it', async () => {
      const counter = { produced: 0 };
      const server = await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        pipeline(Readable.from(generated(256 * MiB, counter)), res).catch(() => {});
      });
      const { http } = client(server);
      const controller = new AbortController();
      const res = await http.request<Readable>({
        method: 'GET',
        path: '/big',
        responseType: 'stream',
        signal: controller.signal,
      });
      const reason = new Error('stop');
      let received = 0;
      const consume = async () => {
        for await (const chunk of res.data as AsyncIterable<Buffer>) {
          received += chunk.length;
          if (received > MiB) controller.abort(reason);
        }
      };
      await expect(consume()).rejects.toBe(reason);
      expect(received).toBeLessThan(256 * MiB);
    });

    it('keeps to `connections` sockets per origin', async () => {
      let sockets = 0;
      const agents = new Set<string>();
      const server = await serve((req, res) => {
        agents.add(req.headers['user-agent'] ?? '');
        setImmediate(() => res.end('{}'));
      });
      server.server.on('connection', () => {
        sockets++;
      });
      const { http } = client(server, { connections: 1, userAgent: 'fleet-script/2' });
      const results = await Promise.all(
        Array.from({ length: 5 }, (_, i) => http.request({ method: 'GET', path: `/c${i}` })),
      );
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
      expect(sockets).toBe(1);
      expect([...agents]).toEqual(['fleet-script/2']);
    });

    it.each([
      ['the global FormData', () => new FormData()],
      ["undici's FormData", () => new UndiciFormData()],
    ] as const)('uploads %s as multipart with its boundary', async (_name, makeForm) => {
      let contentType = '';
      let body = '';
      const server = await serve((req, res) => {
        contentType = req.headers['content-type'] ?? '';
        req.setEncoding('utf8');
        req.on('data', (c: string) => {
          body += c;
        });
        req.on('end', () => res.end());
      });
      const { http } = client(server);
      const form = makeForm();
      form.set('description', 'release 1');
      form.set('artifact', new Blob([Buffer.from('ARTIFACT-BYTES')]), 'a.mender');
      await http.request({
        method: 'POST',
        path: '/api/management/v1/deployments/artifacts',
        body: form,
        responseType: 'void',
      });
      expect(contentType).toMatch(/^multipart\/form-data; boundary=/);
      expect(body).toContain('name="description"');
      expect(body).toContain('release 1');
      expect(body).toContain('filename="a.mender"');
      expect(body).toContain('ARTIFACT-BYTES');
    });
  },
);
