/**
 * `transport: 'node'` (src/http/node-dispatcher.ts): undici's request API over Node's own HTTP
 * client, against real servers on 127.0.0.1. What both transports share is run over both in
 * server.test.ts and proxy-tls.test.ts (timeouts, resets, 64 MiB streams, aborts, mutual TLS); here,
 * what is particular to the node transport, and where it must come to what undici's Agent comes to.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import * as undici from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionError, TimeoutError } from '../../src/errors.js';
import { HttpClient } from '../../src/http/client.js';
import { NodeHttpDispatcher } from '../../src/http/node-dispatcher.js';
import type { HttpClientOptions } from '../../src/http/types.js';
import { startServer, type TestServer } from './servers.js';

const ARTIFACT = Buffer.alloc(1024 * 1024 + 17);
for (let i = 0; i < ARTIFACT.length; i++) ARTIFACT[i] = (i * 31 + (i >> 8)) & 0xff;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** A server running `handler`, with the sockets it accepted (to see reuse and closes). */
async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TestServer & { sockets: Socket[] }> {
  const server = await startServer(handler);
  const sockets: Socket[] = [];
  server.server.on('connection', (socket: Socket) => sockets.push(socket));
  cleanups.push(() => server.close());
  return { ...server, sockets };
}

function client(server: TestServer, options: Partial<HttpClientOptions> = {}): HttpClient {
  const http = new HttpClient({ baseUrl: server.url, transport: 'node', maxRetries: 0, ...options });
  cleanups.push(() => http.close());
  return http;
}

function dispatcher(): NodeHttpDispatcher {
  const d = new NodeHttpDispatcher(undici, { connections: 4 });
  cleanups.push(() => d.destroy());
  return d;
}

/**
 * The dispatcher as undici.request takes it: it has the methods undici.request calls (`dispatch`,
 * `close`, `destroy`), not undici's whole `Dispatcher` class.
 */
function asDispatcher(d: NodeHttpDispatcher): undici.Dispatcher {
  return d as unknown as undici.Dispatcher;
}

/** Serves ARTIFACT with `Range: bytes=N-` support, as a Mender storage link does. */
function artifactServer(req: IncomingMessage, res: ServerResponse): void {
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = range ? Number(range[1]) : 0;
  res.writeHead(range ? 206 : 200, {
    'content-type': 'application/octet-stream',
    'content-length': String(ARTIFACT.length - start),
    etag: '"v1"',
    ...(range ? { 'content-range': `bytes ${start}-${ARTIFACT.length - 1}/${ARTIFACT.length}` } : {}),
  });
  res.end(ARTIFACT.subarray(start));
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The body a server received, as text. */
async function requestText(req: IncomingMessage): Promise<string> {
  return (await collect(req)).toString('utf8');
}

/** What a promise settles to: its value, or the error it rejects with. */
async function settle<T>(promise: Promise<T>): Promise<T | unknown> {
  return promise.catch((err: unknown) => err);
}

describe("HttpClient with transport: 'node'", () => {
  it('sends a JSON call and reads the JSON answer: method, path, query, headers, body', async () => {
    const server = await serve((req, res) => {
      void requestText(req).then((body) => {
        res.writeHead(201, [
          ['content-type', 'application/json'],
          ['x-men-requestid', 'srv-1'],
          ['set-cookie', 'a=1'],
          ['set-cookie', 'b=2'],
        ]);
        res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
      });
    });
    const http = client(server, { headers: { 'X-Fleet': 'north' }, auth: () => 'tok' });
    const res = await http.request<{
      method: string;
      url: string;
      headers: Record<string, string>;
      body: string;
    }>({
      method: 'POST',
      path: '/api/devices/v1/auth',
      query: { a: 'x y', b: [1, 2] },
      json: { id: 'dev-1' },
    });
    expect(res.status).toBe(201);
    expect(res.requestId).toBe('srv-1');
    // Repeated response headers come as an array, as undici gives them.
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(res.data.method).toBe('POST');
    expect(res.data.url).toBe('/api/devices/v1/auth?a=x+y&b=1&b=2');
    expect(JSON.parse(res.data.body)).toEqual({ id: 'dev-1' });
    expect(res.data.headers).toMatchObject({
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(res.data.body)),
      authorization: 'Bearer tok',
      'x-fleet': 'north',
      host: `127.0.0.1:${server.port}`,
    });
    expect(res.data.headers['x-men-requestid']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('streams a download resumed with Range, byte-exact, as undici does', async () => {
    const server = await serve(artifactServer);
    const offset = 300_001;
    const read = async (transport: 'node' | 'undici') => {
      const res = await client(server, { transport }).request<Readable>({
        method: 'GET',
        path: '/artifact',
        headers: { range: `bytes=${offset}-`, 'if-range': '"v1"' },
        responseType: 'stream',
        auth: false,
      });
      const body = await collect(res.data);
      return { status: res.status, range: res.headers['content-range'], length: body.length, body };
    };
    const ours = await read('node');
    expect(ours.status).toBe(206);
    expect(ours.range).toBe(`bytes ${offset}-${ARTIFACT.length - 1}/${ARTIFACT.length}`);
    expect(ours.body.equals(ARTIFACT.subarray(offset))).toBe(true);
    const theirs = await read('undici');
    expect({ ...ours, body: undefined }).toEqual({ ...theirs, body: undefined });
    expect(theirs.body.equals(ours.body)).toBe(true);
  });

  it('reuses one kept-alive connection for calls made one after another', async () => {
    const ports: number[] = [];
    const server = await serve((req, res) => {
      ports.push(req.socket.remotePort ?? 0);
      res.setHeader('content-type', 'application/json');
      res.end('{"ok":true}');
    });
    const http = client(server);
    for (let i = 0; i < 3; i++) {
      expect((await http.request({ method: 'GET', path: `/poll/${i}` })).data).toEqual({ ok: true });
    }
    // A download read to its end leaves its connection reusable too.
    const download = await http.request<Readable>({ method: 'GET', path: '/d', responseType: 'stream' });
    await collect(download.data);
    await http.request({ method: 'GET', path: '/after' });
    expect(server.sockets).toHaveLength(1);
    expect(new Set(ports).size).toBe(1);
  });

  it('closes the connection of a download aborted mid-body, and the next call opens a fresh one', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/big') {
        res.writeHead(200, { 'content-length': String(64 * ARTIFACT.length) });
        const more = (): void => {
          while (res.write(ARTIFACT)) {
            // until the socket pushes back
          }
        };
        res.on('drain', more);
        more();
        return;
      }
      res.end('{}');
    });
    const http = client(server);
    const controller = new AbortController();
    const res = await http.request<Readable>({
      method: 'GET',
      path: '/big',
      responseType: 'stream',
      signal: controller.signal,
    });
    const reason = new Error('operator stopped the update');
    let received = 0;
    const reading = (async () => {
      for await (const chunk of res.data as AsyncIterable<Buffer>) {
        received += chunk.length;
        if (received >= ARTIFACT.length) controller.abort(reason);
      }
    })();
    await expect(reading).rejects.toBe(reason);
    expect(received).toBeLessThan(64 * ARTIFACT.length);
    const first = server.sockets[0] as Socket;
    await expect.poll(() => first.destroyed).toBe(true);
    await http.request({ method: 'GET', path: '/next' });
    expect(server.sockets).toHaveLength(2);
  });

  it.each(['undici', 'node'] as const)(
    'fails a download the server resets mid-body with undici’s SocketError (transport %s)',
    async (transport) => {
      const server = await serve((req, res) => {
        res.writeHead(200, { 'content-length': String(ARTIFACT.length) });
        res.write(ARTIFACT.subarray(0, 100_000), () => setTimeout(() => req.socket.destroy(), 20));
      });
      const res = await client(server, { transport }).request<Readable>({
        method: 'GET',
        path: '/artifact',
        responseType: 'stream',
      });
      const err = (await settle(collect(res.data))) as undici.errors.SocketError;
      expect(err).toBeInstanceOf(undici.errors.SocketError);
      expect(err.code).toBe('UND_ERR_SOCKET');
      expect(err.message).toBe('other side closed');
    },
  );

  it.each(['undici', 'node'] as const)(
    'fails a buffered call the server resets mid-body with ConnectionError caused by undici’s SocketError (transport %s)',
    async (transport) => {
      const server = await serve((req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"partial":', () => setTimeout(() => req.socket.destroy(), 20));
      });
      const err = (await settle(
        client(server, { transport }).request({ method: 'GET', path: '/state' }),
      )) as ConnectionError;
      expect(err).toBeInstanceOf(ConnectionError);
      expect(err.cause).toBeInstanceOf(undici.errors.SocketError);
    },
  );

  it('fails a call whose server closes before answering with ConnectionError, as undici does', async () => {
    const server = await serve((req) => req.socket.destroy());
    for (const transport of ['node', 'undici'] as const) {
      const err = (await settle(
        client(server, { transport }).request({ method: 'GET', path: '/' }),
      )) as ConnectionError;
      expect(err, transport).toBeInstanceOf(ConnectionError);
      expect(err.cause, transport).toBeInstanceOf(undici.errors.SocketError);
    }
  });

  it('fails a refused connection with ConnectionError caused by the same ECONNREFUSED as undici', async () => {
    const gone = await startServer(() => {});
    const url = gone.url;
    await gone.close();
    const causes: unknown[] = [];
    for (const transport of ['node', 'undici'] as const) {
      const http = new HttpClient({ baseUrl: url, transport, maxRetries: 0 });
      cleanups.push(() => http.close());
      const err = (await settle(http.request({ method: 'GET', path: '/' }))) as ConnectionError;
      expect(err, transport).toBeInstanceOf(ConnectionError);
      causes.push((err.cause as NodeJS.ErrnoException).code);
    }
    expect(causes).toEqual(['ECONNREFUSED', 'ECONNREFUSED']);
  });

  it('times out a response whose body stalls after its headers, and does not reuse that connection', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/stall') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"slow":');
        return;
      }
      res.end('{}');
    });
    const http = client(server, { timeout: 150 });
    const err = (await settle(http.request({ method: 'GET', path: '/stall' }))) as TimeoutError;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.timeoutMs).toBe(150);
    await expect.poll(() => (server.sockets[0] as Socket).destroyed).toBe(true);
    await http.request({ method: 'GET', path: '/next' });
    expect(server.sockets).toHaveLength(2);
  });

  it('fails calls made after close() with the closed-client error undici raises', async () => {
    const server = await serve((_req, res) => res.end('{}'));
    const http = client(server);
    await http.request({ method: 'GET', path: '/' });
    await http.close();
    const err = (await settle(http.request({ method: 'GET', path: '/' }))) as undici.errors.ClientClosedError;
    expect(err).toBeInstanceOf(undici.errors.ClientClosedError);
  });
});

describe('NodeHttpDispatcher under undici.request', () => {
  it('sends a streamed body chunked, and a body of bytes with its length', async () => {
    const seen: Array<{ length?: string; encoding?: string; body: string }> = [];
    const server = await serve((req, res) => {
      void requestText(req).then((body) => {
        seen.push({
          ...(req.headers['content-length'] ? { length: req.headers['content-length'] } : {}),
          ...(req.headers['transfer-encoding'] ? { encoding: req.headers['transfer-encoding'] } : {}),
          body,
        });
        res.end();
      });
    });
    const d = dispatcher();
    async function* parts() {
      yield Buffer.from('inventory ');
      yield Buffer.from('update');
    }
    // An async iterable body, as undici takes one (its types name only a Readable).
    const iterable = parts() as unknown as Readable;
    await (
      await undici.request(`${server.url}/i`, { method: 'PUT', body: iterable, dispatcher: asDispatcher(d) })
    ).body.dump();
    await (
      await undici.request(`${server.url}/b`, {
        method: 'PUT',
        body: Buffer.from('bytes'),
        dispatcher: asDispatcher(d),
      })
    ).body.dump();
    expect(seen).toEqual([
      { encoding: 'chunked', body: 'inventory update' },
      { length: '5', body: 'bytes' },
    ]);
  });

  it('keeps to `connections` sockets per origin under concurrent calls', async () => {
    const server = await serve((_req, res) => setTimeout(() => res.end('ok'), 5));
    const d = new NodeHttpDispatcher(undici, { connections: 2 });
    cleanups.push(() => d.close());
    const bodies = await Promise.all(
      Array.from({ length: 6 }, async (_, i) =>
        (await undici.request(`${server.url}/${i}`, { dispatcher: asDispatcher(d) })).body.text(),
      ),
    );
    expect(bodies).toEqual(Array(6).fill('ok'));
    expect(server.sockets).toHaveLength(2);
  });

  it('fails the calls in flight when destroyed, with undici’s ClientDestroyedError', async () => {
    const server = await serve(() => {}); // never answers
    const d = new NodeHttpDispatcher(undici, { connections: 1 });
    const pending = settle(undici.request(`${server.url}/hold`, { dispatcher: asDispatcher(d) }));
    await expect.poll(() => server.sockets.length).toBe(1);
    await d.destroy();
    expect(await pending).toBeInstanceOf(undici.errors.ClientDestroyedError);
    await expect.poll(() => (server.sockets[0] as Socket).destroyed).toBe(true);
  });

  it('waits for the calls in flight on close(), then closes its sockets', async () => {
    let release: () => void = () => {};
    const server = await serve((_req, res) => {
      release = () => res.end('late');
    });
    const d = new NodeHttpDispatcher(undici, { connections: 1 });
    const response = undici.request(`${server.url}/slow`, { dispatcher: asDispatcher(d) });
    await expect.poll(() => server.sockets.length).toBe(1);
    let closed = false;
    const closing = d.close().then(() => {
      closed = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(false);
    release();
    expect(await (await response).body.text()).toBe('late');
    await closing;
    await expect.poll(() => (server.sockets[0] as Socket).destroyed).toBe(true);
  });

  it('fails a call Node refuses to send (a header it cannot encode) with Node’s error, and still closes', async () => {
    const server = await serve((_req, res) => res.end());
    const d = new NodeHttpDispatcher(undici, { connections: 1 });
    const err = (await settle(
      undici.request(`${server.url}/`, { dispatcher: asDispatcher(d), headers: { 'x-name': 'line\nbreak' } }),
    )) as NodeJS.ErrnoException;
    expect(err.code).toBe('ERR_INVALID_CHAR');
    // Nothing is left in flight: close() settles at once.
    await d.close();
    expect(server.sockets).toHaveLength(0);
  });

  it('refuses what it does not do with undici’s NotSupportedError: upgrades, expect-continue, the second handler interface', async () => {
    const d = dispatcher();
    const server = await serve((_req, res) => res.end());
    for (const opts of [{ upgrade: 'websocket' }, { expectContinue: true }]) {
      const err = await settle(
        undici.request(`${server.url}/`, { dispatcher: asDispatcher(d), ...opts } as never),
      );
      expect(err).toBeInstanceOf(undici.errors.NotSupportedError);
    }
    const handler = { onRequestStart() {}, onResponseError() {} } as never;
    expect(() => d.dispatch({ origin: server.url, path: '/', method: 'GET' }, handler)).toThrow(
      undici.errors.NotSupportedError,
    );
    expect(server.sockets).toHaveLength(0);
  });
});
