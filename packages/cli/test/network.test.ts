/**
 * Networked commands honour HTTP(S)_PROXY / NO_PROXY and `--ca FILE`, over real sockets: a CONNECT
 * proxy and an HTTPS server with a self-signed certificate on 127.0.0.1. And a private key given as
 * `--pubkey` is refused before any request.
 */

import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Sandbox, startSandbox } from '@otakit/sandbox';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { run, startJsonAgent } from './helpers.js';

let sandbox: Sandbox;
let token: string;
beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
  token = sandbox.managementToken();
});
afterAll(async () => {
  await sandbox.close();
});
afterEach(() => {
  vi.unstubAllEnvs();
  process.exitCode = undefined;
});

/** A CONNECT proxy on 127.0.0.1 that records the targets it tunnels to. */
async function connectProxy(): Promise<{ url: string; targets: string[]; close(): Promise<void> }> {
  const targets: string[] = [];
  const sockets = new Set<Socket>();
  const server = createHttpServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req, client: Socket, head: Buffer) => {
    targets.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    targets,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe('proxy', () => {
  it('sends management requests through HTTP_PROXY, and around it for NO_PROXY hosts', async () => {
    const proxy = await connectProxy();
    try {
      const host = new URL(sandbox.url).host;
      vi.stubEnv('HTTP_PROXY', proxy.url);
      vi.stubEnv('NO_PROXY', '');
      const through = await run('devices', 'list', '--server', sandbox.url, '--token', token, '--json');
      expect(through.code, through.stderr).toBe(0);
      expect(JSON.parse(through.stdout)).toEqual([]);
      expect(proxy.targets).toContain(host);

      proxy.targets.length = 0;
      vi.stubEnv('NO_PROXY', '127.0.0.1');
      const direct = await run('devices', 'list', '--server', sandbox.url, '--token', token, '--json');
      expect(direct.code, direct.stderr).toBe(0);
      expect(proxy.targets).toEqual([]);
    } finally {
      await proxy.close();
    }
  });
  it('runs the device agent through HTTP_PROXY', { timeout: 60_000 }, async () => {
    const proxy = await connectProxy();
    const dir = await mkdtemp(join(tmpdir(), 'otakit-cli-proxy-'));
    try {
      const key = join(dir, 'device.key');
      expect((await run('device', 'keygen', '--out', key)).code).toBe(0);
      const agent = startJsonAgent(
        [
          ...['--server', sandbox.url, '--key', key, '--data-dir', join(dir, 'data')],
          ...['--device-type', 'dev', '--identity', 'mac=02:00:00:00:00:42'],
        ],
        { HTTP_PROXY: proxy.url, NO_PROXY: '' },
      );
      // The first authentication attempt got an answer (pending: the device is not accepted).
      await agent.until('"event":"auth:pending"');
      expect(await agent.stop()).toBe(0);
      expect(proxy.targets).toContain(new URL(sandbox.url).host);
    } finally {
      await proxy.close();
    }
  });
});

describe('--ca', () => {
  it('trusts a self-signed server only with its certificate given as --ca', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otakit-cli-ca-'));
    const keyFile = join(dir, 'server.key');
    const certFile = join(dir, 'server.crt');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-days',
        '1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { stdio: 'ignore' },
    );
    const paths: string[] = [];
    const server = createHttpsServer(
      { key: await readFile(keyFile), cert: await readFile(certFile) },
      (req, res) => {
        paths.push(req.url ?? '');
        res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
      },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const untrusted = await run('devices', 'list', '--server', url, '--token', 't', '--json');
      expect(untrusted.code).toBe(2);
      expect(untrusted.stderr).toMatch(/^otakit: ERR_CONNECTION: /);
      expect(paths).toEqual([]);

      const trusted = await run(
        'devices',
        'list',
        '--server',
        url,
        '--token',
        't',
        '--ca',
        certFile,
        '--json',
      );
      expect(trusted.code, trusted.stderr).toBe(0);
      expect(JSON.parse(trusted.stdout)).toEqual([]);
      expect(paths[0]).toMatch(/^\/api\/management\/v2\/devauth\/devices/);
    } finally {
      server.close();
    }
  });
});

describe('public keys', () => {
  it('refuses a private key given as --pubkey before sending anything', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otakit-cli-pub-'));
    const keyFile = join(dir, 'device.key');
    expect((await run('device', 'keygen', '--out', keyFile)).code).toBe(0);
    const before = await run('devices', 'list', '--server', sandbox.url, '--token', token, '--json');
    const res = await run(
      'devices',
      'preauthorize',
      '--server',
      sandbox.url,
      '--token',
      token,
      '--identity',
      'mac=02:00:00:00:00:99',
      '--pubkey',
      keyFile,
    );
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^otakit: ERR_CLI_PRIVATE_KEY: --pubkey .*device\.key is a private key/);
    expect(res.stderr).not.toContain('BEGIN');
    const after = await run('devices', 'list', '--server', sandbox.url, '--token', token, '--json');
    expect(JSON.parse(after.stdout)).toEqual(JSON.parse(before.stdout));
  });
});
