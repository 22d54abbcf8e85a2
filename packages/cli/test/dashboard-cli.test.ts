/**
 * `otakit dashboard` as a user runs it: the built CLI against a Mender server (the sandbox, read
 * through the management client) and a telemetry read API; the page answers and the management
 * token never reaches it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Sandbox, startSandbox } from '@otakit/sandbox';
import {
  openTelemetryStore,
  startTelemetryApi,
  type TelemetryServer,
  type TelemetryStore,
} from '@otakit/telemetry';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cliRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let sandbox: Sandbox;
let store: TelemetryStore;
let api: TelemetryServer;
let child: ChildProcess | undefined;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
  store = await openTelemetryStore(':memory:');
  await store.append({
    deviceId: 'pump-9',
    registry: 'projects/p/locations/l/registries/r',
    kind: 'event',
    payload: JSON.stringify({ artifact_name: 'release-3', cpu_temp: 44 }),
  });
  api = await startTelemetryApi({ store });
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await api?.close();
  await store?.close();
  await sandbox?.close();
});

describe('otakit dashboard', () => {
  it('serves the fleet page over a Mender server and a telemetry API, keeping the token on the server', async () => {
    const token = sandbox.managementToken();
    child = spawn(
      process.execPath,
      [
        join(cliRoot, 'bin', 'otakit.cjs'),
        'dashboard',
        '--server',
        sandbox.url,
        '--token',
        token,
        '--telemetry-url',
        api.url,
        '--json',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const running = child;
    const line = await new Promise<string>((done, fail) => {
      let text = '';
      running.stdout?.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.includes('\n')) done(text.slice(0, text.indexOf('\n')));
      });
      running.once('exit', (code) => fail(new Error(`exited early with ${code}: ${text}`)));
    });
    const doc = JSON.parse(line) as { dashboard: { url: string } };
    expect(doc.dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await request(doc.dashboard.url);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'/);
    const html = await page.body.text();
    expect(html).not.toContain(token);
    const fleet = await request(`${doc.dashboard.url}/api/fleet`);
    const text = await fleet.body.text();
    expect(text).not.toContain(token);
    const snapshot = JSON.parse(text) as { devices: Array<{ id: string; release: string | null }> };
    expect(snapshot.devices).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: 'pump-9', release: 'release-3' })]),
    );
    const exited = new Promise<number | null>((r) => running.once('exit', (code) => r(code)));
    running.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = undefined;
  });

  it('wants exactly one telemetry source', async () => {
    const r = spawn(
      process.execPath,
      [join(cliRoot, 'bin', 'otakit.cjs'), 'dashboard', '--server', sandbox.url, '--token', 't'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    r.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const code = await new Promise<number | null>((done) => r.once('exit', done));
    expect(code).toBe(1);
    expect(err).toMatch(/--telemetry-db TARGET or --telemetry-url URL/);
  });
});
