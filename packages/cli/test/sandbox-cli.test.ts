/**
 * `otakit sandbox start`: the help in-process, and the built bin as a real process that serves
 * HTTP until SIGTERM.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
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
});
