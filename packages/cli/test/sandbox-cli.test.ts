/**
 * `otakit sandbox start`: the help in-process, and the built bin as a real process that serves
 * HTTP until SIGTERM.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
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

/** Waits for the first stdout line of the child (the `--json` object). */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) resolvePromise(text.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${text}`)));
  });
}

/** Sends an MQTT 3.1.1 CONNECT with a client id that is not a device path; resolves with the CONNACK. */
function mqttConnack(url: string): Promise<number[]> {
  const { hostname, port } = new URL(url);
  const id = Buffer.from('not-a-device');
  const body = Buffer.concat([
    Buffer.from([0, 4]),
    Buffer.from('MQTT'),
    Buffer.from([4, 0x02, 0, 60, 0, id.length]),
    id,
  ]);
  return new Promise((resolvePromise, reject) => {
    const socket = netConnect(Number(port), hostname, () => {
      socket.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
    });
    socket.once('data', (d: Buffer) => {
      resolvePromise([...d.subarray(0, 4)]);
      socket.destroy();
    });
    socket.once('error', reject);
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
    for (const flag of [
      '--port',
      '--host',
      '--data-dir',
      '--admin-email',
      '--admin-password',
      '--iot-registry',
      '--iot-port',
      '--mqtt-port',
      '--json',
    ]) {
      expect(res.stdout).toContain(flag);
    }
    expect(res.stdout).toContain('admin@otakit.local');
  });

  it('refuses a registry that is not a full registry name', async () => {
    const res = await run('sandbox', 'start', '--iot-registry', 'devices');
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/--iot-registry/);
  });

  it('prints one JSON object with both planes, serves them, and keeps IoT Core devices in --data-dir', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'otakit-cli-sandbox-'));
    const registry = 'projects/cli-p/locations/europe-west1/registries/cli-r';
    const startOnce = async () => {
      const child = spawn(
        process.execPath,
        [
          join(cliRoot, 'bin', 'otakit.js'),
          'sandbox',
          'start',
          '--json',
          '--data-dir',
          dataDir,
          '--iot-registry',
          registry,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      children.push(child);
      return { child, doc: JSON.parse(await firstLine(child)) };
    };
    const stop = async (child: ChildProcess) => {
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    };
    try {
      const { child, doc } = await startOnce();
      expect(Object.keys(doc).sort()).toEqual(['iotCore', 'mender']);
      expect(Object.keys(doc.mender).sort()).toEqual(['adminEmail', 'adminPassword', 'url']);
      expect(Object.keys(doc.iotCore).sort()).toEqual(['adminToken', 'mqttUrl', 'registry', 'url']);
      expect(doc.mender).toMatchObject({ adminEmail: 'admin@otakit.local', adminPassword: 'otakit-sandbox' });
      expect(doc.iotCore.registry).toBe(registry);
      expect(doc.iotCore.mqttUrl).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
      const login = await request(`${doc.mender.url}/api/management/v1/useradm/auth/login`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${doc.mender.adminEmail}:${doc.mender.adminPassword}`).toString('base64')}`,
        },
      });
      expect(login.statusCode).toBe(200);
      await login.body.dump();
      const devices = `${doc.iotCore.url}/v1/${doc.iotCore.registry}/devices`;
      const auth = { authorization: `Bearer ${doc.iotCore.adminToken}`, 'content-type': 'application/json' };
      const created = await request(devices, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ id: 'cli-dev' }),
      });
      expect(created.statusCode).toBe(200);
      await created.body.dump();
      expect(await mqttConnack(doc.iotCore.mqttUrl)).toEqual([0x20, 2, 0, 2]);
      await stop(child);

      const restarted = await startOnce();
      const listed = await request(`${restarted.doc.iotCore.url}/v1/${registry}/devices`, { headers: auth });
      expect(listed.statusCode).toBe(200);
      const body = (await listed.body.json()) as { devices: Array<{ id: string }> };
      expect(body.devices.map((d) => d.id)).toEqual(['cli-dev']);
      await stop(restarted.child);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
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
