/**
 * `otakit sandbox start`: the help in-process, and the built bin as a real process that serves
 * HTTP until SIGTERM.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from './helpers.js';

const cliRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Waits until the child printed the banner; resolves with everything printed so far. */
function banner(child: ChildProcess): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('Press Ctrl+C to stop.')) resolvePromise(text);
    });
    child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${text}`)));
  });
}

describe('otakit sandbox start', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('documents its options', async () => {
    const res = await run('sandbox', 'start', '--help');
    expect(res.code).toBe(0);
    for (const flag of ['--port', '--host', '--data-dir', '--admin-email', '--admin-password']) {
      expect(res.stdout).toContain(flag);
    }
    expect(res.stdout).toContain('admin@otakit.local');
  });

  it('refuses a bad port', async () => {
    const res = await run('sandbox', 'start', '--port', '70000');
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/--port/);
  });

  it('serves the Mender API until SIGTERM and keeps state in --data-dir', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'otakit-cli-sandbox-'));
    try {
      const child = spawn(
        process.execPath,
        [
          join(cliRoot, 'bin', 'otakit.js'),
          'sandbox',
          'start',
          '--port',
          '0',
          '--data-dir',
          dataDir,
          '--admin-password',
          'cli-secret',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      children.push(child);
      const text = await banner(child);
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1];
      expect(url).toBeDefined();
      expect(text).toContain('admin email:    admin@otakit.local');
      expect(text).toContain('admin password: cli-secret');
      const login = await request(`${url}/api/management/v1/useradm/auth/login`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from('admin@otakit.local:cli-secret').toString('base64')}`,
        },
      });
      expect(login.statusCode).toBe(200);
      expect(login.headers['content-type']).toMatch(/^application\/jwt/);
      await login.body.dump();
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(readdirSync(dataDir)).toContain('secrets.json');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('fails at once, with the reason, when the port is in use', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const port = (blocker.address() as AddressInfo).port;
    try {
      const res = await run('sandbox', 'start', '--port', String(port));
      expect(res.code).toBe(2);
      expect(res.stderr).toBe(`otakit: ERR_CLI_PORT_IN_USE: port ${port} on 127.0.0.1 is already in use\n`);
    } finally {
      blocker.close();
    }
  });

  it('fails at once, with the reason, when --data-dir is unusable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'otakit-cli-sandbox-'));
    try {
      const file = join(dir, 'a-file');
      writeFileSync(file, 'x');
      const notDir = await run('sandbox', 'start', '--data-dir', file);
      expect(notDir.code).toBe(2);
      expect(notDir.stderr).toMatch(
        /^otakit: ERR_CLI_DATA_DIR: --data-dir .*a-file is not usable: not a directory/,
      );
      const under = await run('sandbox', 'start', '--data-dir', join(file, 'sub'));
      expect(under.code).toBe(2);
      expect(under.stderr).toMatch(/^otakit: ERR_CLI_DATA_DIR: .* is not usable/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints one JSON document with --json once listening', async () => {
    const child = spawn(
      process.execPath,
      [join(cliRoot, 'bin', 'otakit.js'), 'sandbox', 'start', '--port', '0', '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    let text = '';
    child.stdout?.on('data', (d: Buffer) => {
      text += d.toString();
    });
    await new Promise<void>((resolvePromise, reject) => {
      child.stdout?.on('data', () => text.includes('\n') && resolvePromise());
      child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
    });
    const doc = JSON.parse(text) as { mender: { url: string; adminEmail: string; adminPassword: string } };
    expect(doc.mender.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(doc.mender.adminEmail).toBe('admin@otakit.local');
    expect(doc.mender.adminPassword).toBe('otakit-sandbox');
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
