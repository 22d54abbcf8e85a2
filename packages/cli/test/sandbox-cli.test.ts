/**
 * `otakit sandbox start`: the help in-process, and the built bin as a real process that serves
 * HTTP until SIGTERM.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDeviceKey } from '@otakit/core';
import { IotCoreDevice, toDeviceCredential } from '@otakit/iot-core-adapter';
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
          join(cliRoot, 'bin', 'otakit.cjs'),
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
      expect(Object.keys(doc).sort()).toEqual([
        'dashboard',
        'dataDir',
        'fleet',
        'iotCore',
        'mender',
        'telemetry',
      ]);
      const page = await request(doc.dashboard.url);
      expect(page.statusCode).toBe(200);
      expect(await page.body.text()).toMatch(/<html/i);
      expect(doc.telemetry.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(doc.telemetry.store).toBe(dataDir);
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
      const key = await generateDeviceKey();
      const created = await request(devices, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ id: 'cli-dev', credentials: [toDeviceCredential(key.publicKeyPem)] }),
      });
      expect(created.statusCode).toBe(200);
      await created.body.dump();
      expect(await mqttConnack(doc.iotCore.mqttUrl)).toEqual([0x20, 2, 0, 2]);
      // A message the broker accepted is in the telemetry store, tagged with its release.
      const [project, , location, , registryId] = registry.split('/').slice(1);
      const device = new IotCoreDevice({
        project: project as string,
        location: location as string,
        registry: registryId as string,
        deviceId: 'cli-dev',
        privateKey: key.privateKeyPem,
        mqttUrl: doc.iotCore.mqttUrl,
      });
      await device.publishTelemetry(JSON.stringify({ artifact_name: 'release-7', cpu_temp: 41.5 }));
      await device.close();
      const latest = async (url: string) => {
        const res = await request(`${url}/v1/telemetry/latest`);
        expect(res.statusCode).toBe(200);
        const body = (await res.body.json()) as {
          devices: Array<{ deviceId: string; artifactName: string; metrics: object }>;
        };
        return body.devices[0];
      };
      expect(await latest(doc.telemetry.url)).toMatchObject({
        deviceId: 'cli-dev',
        artifactName: 'release-7',
        metrics: { cpu_temp: 41.5 },
      });
      await stop(child);

      const restarted = await startOnce();
      const listed = await request(`${restarted.doc.iotCore.url}/v1/${registry}/devices`, { headers: auth });
      expect(listed.statusCode).toBe(200);
      const body = (await listed.body.json()) as { devices: Array<{ id: string }> };
      expect(body.devices.map((d) => d.id)).toEqual(['cli-dev']);
      // the telemetry store kept the message across the restart, in the data dir
      expect(readdirSync(dataDir)).toContain('telemetry.duckdb');
      expect(await latest(restarted.doc.telemetry.url)).toMatchObject({
        deviceId: 'cli-dev',
        artifactName: 'release-7',
      });
      await stop(restarted.child);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('runs a simulated fleet with --devices: registered, synced, updating and on the fleet page', {
    timeout: 90_000,
  }, async () => {
    const child = spawn(
      process.execPath,
      [
        join(cliRoot, 'bin', 'otakit.cjs'),
        'sandbox',
        'start',
        '--json',
        '--devices',
        '3',
        '--regress',
        'r2:cpu_temp:+30%',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    const doc = JSON.parse(await firstLine(child));
    expect(doc.fleet).toEqual({ devices: 3 });
    // the page's API joins both planes: three accepted devices, each publishing telemetry
    const end = Date.now() + 60_000;
    let devices: Array<{
      id: string;
      menderStatus: string | null;
      registryStatus: string | null;
      release: string | null;
    }> = [];
    while (Date.now() < end) {
      const res = await request(`${doc.dashboard.url}/api/fleet`);
      devices = ((await res.body.json()) as { devices: typeof devices }).devices;
      if (devices.length === 3 && devices.every((d) => d.menderStatus === 'accepted' && d.release !== null))
        break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(devices.map((d) => d.id).sort()).toEqual(['sim-1', 'sim-2', 'sim-3']);
    expect(devices.every((d) => d.menderStatus === 'accepted' && d.registryStatus === 'active')).toBe(true);
    expect(devices.every((d) => d.release === 'unknown')).toBe(true);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
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
          join(cliRoot, 'bin', 'otakit.cjs'),
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
      [join(cliRoot, 'bin', 'otakit.cjs'), 'sandbox', 'start', '--port', '0', '--json'],
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
