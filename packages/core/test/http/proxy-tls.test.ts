import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError } from '../../src/errors.js';
import { HttpClient } from '../../src/http/client.js';
import { listen, startProxy, startServer, type TestServer } from './servers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

function track<T extends { close(): Promise<void> }>(thing: T): T {
  cleanups.push(() => thing.close());
  return thing;
}

describe('HttpClient through a forward proxy', () => {
  it("tunnels through `proxy: 'http://...'` and sends the proxy's credentials only to the proxy", async () => {
    const target = track(
      await startServer((req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ path: req.url, proxyAuth: req.headers['proxy-authorization'] ?? null }));
      }),
    );
    const proxy = track(await startProxy());
    const http = track(
      new HttpClient({
        baseUrl: target.url,
        proxy: `http://agent:s3cret@127.0.0.1:${proxy.port}`,
        maxRetries: 0,
      }),
    );
    const res = await http.request<{ path: string; proxyAuth: string | null }>({
      method: 'GET',
      path: '/via?x=1',
    });
    expect(res.data).toEqual({ path: '/via?x=1', proxyAuth: null });
    expect([...proxy.log.tunnels, ...proxy.log.forwarded]).toContainEqual(
      expect.stringContaining(`127.0.0.1:${target.port}`),
    );
    expect(proxy.log.proxyAuthorizations[0]).toBe(`Basic ${Buffer.from('agent:s3cret').toString('base64')}`);
  });

  it("reads HTTP_PROXY with `proxy: 'env'`", async () => {
    const target = track(await startServer((_req, res) => res.end('direct?')));
    const proxy = track(await startProxy());
    const saved = { HTTP_PROXY: process.env.HTTP_PROXY, NO_PROXY: process.env.NO_PROXY };
    process.env.HTTP_PROXY = `http://127.0.0.1:${proxy.port}`;
    process.env.NO_PROXY = '';
    try {
      const http = track(new HttpClient({ baseUrl: target.url, proxy: 'env', maxRetries: 0 }));
      const res = await http.request<string>({ method: 'GET', path: '/env', responseType: 'text' });
      expect(res.data).toBe('direct?');
      expect(proxy.log.tunnels.length + proxy.log.forwarded.length).toBe(1);
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('fails with ConnectionError when the proxy is unreachable', async () => {
    const target = track(await startServer((_req, res) => res.end()));
    const dead = await startServer(() => {});
    const deadPort = dead.port;
    await dead.close();
    const http = track(
      new HttpClient({ baseUrl: target.url, proxy: `http://127.0.0.1:${deadPort}`, maxRetries: 0 }),
    );
    await expect(http.request({ method: 'GET', path: '/' })).rejects.toBeInstanceOf(ConnectionError);
  });
});

// Over both transports (with a proxy, `transport: 'node'` still tunnels through undici's ProxyAgent).
describe.each(['undici', 'node'] as const)('HttpClient with mutual TLS (transport %s)', (transport) => {
  let dir = '';
  const pem = (name: string) => readFileSync(join(dir, name), 'utf8');

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'otakit-mtls-'));
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '1',
      '-subj',
      '/CN=otakit test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
    writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
    for (const [name, cn] of [
      ['server', '127.0.0.1'],
      ['client', 'device-0001'],
    ] as const) {
      openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
      openssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.crt`,
        '-days',
        '1',
        '-extfile',
        `${name}.ext`,
      );
    }
  });
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  async function mtlsServer(): Promise<TestServer & { tlsErrors: string[] }> {
    const tlsErrors: string[] = [];
    const server = createHttpsServer(
      {
        key: pem('server.key'),
        cert: pem('server.crt'),
        ca: pem('ca.crt'),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ client: peer.subject?.CN ?? null }));
      },
    );
    server.on('tlsClientError', (err: NodeJS.ErrnoException) => tlsErrors.push(err.code ?? err.message));
    return { ...track(await listen(server, 'https')), tlsErrors };
  }

  it('connects with the client certificate and a private CA', async () => {
    const server = await mtlsServer();
    const http = track(
      new HttpClient({
        baseUrl: server.url,
        transport,
        tls: { ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key') },
        maxRetries: 0,
      }),
    );
    const res = await http.request<{ client: string }>({ method: 'GET', path: '/whoami' });
    expect(res.data).toEqual({ client: 'device-0001' });
  });

  it('tunnels mutual TLS through a proxy, the TLS options applying to the origin', async () => {
    const server = await mtlsServer();
    const proxy = track(await startProxy());
    const http = track(
      new HttpClient({
        baseUrl: server.url,
        transport,
        proxy: proxy.url,
        tls: { ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key') },
        maxRetries: 0,
      }),
    );
    const res = await http.request<{ client: string }>({ method: 'GET', path: '/whoami' });
    expect(res.data).toEqual({ client: 'device-0001' });
    expect(proxy.log.tunnels).toEqual([`127.0.0.1:${server.port}`]);
  });

  it('is refused without a client certificate', async () => {
    const server = await mtlsServer();
    const http = track(
      new HttpClient({ baseUrl: server.url, transport, tls: { ca: pem('ca.crt') }, maxRetries: 0 }),
    );
    const err = (await http
      .request({ method: 'GET', path: '/whoami' })
      .catch((e: unknown) => e)) as ConnectionError;
    expect(err).toBeInstanceOf(ConnectionError);
    await expect.poll(() => server.tlsErrors).toContainEqual(expect.stringMatching(/CERTIFICATE/));
  });

  it('does not trust the server without the private CA', async () => {
    const server = await mtlsServer();
    const http = track(
      new HttpClient({
        baseUrl: server.url,
        transport,
        tls: { cert: pem('client.crt'), key: pem('client.key') },
        maxRetries: 0,
      }),
    );
    const err = (await http
      .request({ method: 'GET', path: '/whoami' })
      .catch((e: unknown) => e)) as ConnectionError;
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|unable to (get|verify)/i);
  });
});
