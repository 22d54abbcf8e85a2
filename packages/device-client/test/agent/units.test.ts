import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { boundLog, MAX_LOG_BYTES } from '../../src/api/device-api.js';
import { serializeIdentity } from '../../src/api/identity.js';
import { parseContentRange } from '../../src/download/resumable-download.js';
import { runHealthChecks } from '../../src/health/health-checks.js';
import { DeviceClient, inMaintenanceWindow, SimulatedInstaller } from '../../src/index.js';
import { FaultServer } from './fault-server.js';
import { makeArtifact } from './sandbox-helpers.js';

describe('deployment log bound', () => {
  it('keeps the newest entries under 1 MB and says it cut', () => {
    const entries = Array.from({ length: 20_000 }, (_, i) => ({
      timestamp: new Date(i * 1000).toISOString(),
      level: 'info',
      message: `line ${i} ${'x'.repeat(80)}`,
    }));
    const kept = boundLog(entries);
    expect(Buffer.byteLength(JSON.stringify({ messages: kept }))).toBeLessThan(MAX_LOG_BYTES);
    expect(kept[0]?.message).toMatch(/CUT/);
    expect(kept.at(-1)?.message).toBe(entries.at(-1)?.message);
  });

  it('passes a small log through and fills empty fields', () => {
    expect(boundLog([{ timestamp: 't', level: '', message: '' }])).toEqual([
      { timestamp: 't', level: 'info', message: '(empty)' },
    ]);
  });
});

describe('health checks', () => {
  it('fails a check that hangs past its timeout, and stops at the first failure', async () => {
    let ranAfter = false;
    const results = await runHealthChecks([
      { name: 'ok', check: () => true },
      { name: 'hangs', check: () => new Promise(() => {}), timeoutMs: 20 },
      { name: 'after', check: () => (ranAfter = true) },
    ]);
    expect(results.map((r) => [r.name, r.ok])).toEqual([
      ['ok', true],
      ['hangs', false],
    ]);
    expect(results[1]?.error).toMatch(/timed out/);
    expect(ranAfter).toBe(false);
  });

  it('treats a rejection and a false result as unhealthy', async () => {
    expect(
      (await runHealthChecks([{ name: 'r', check: () => Promise.reject(new Error('down')) }]))[0],
    ).toMatchObject({
      ok: false,
      error: 'down',
    });
    expect((await runHealthChecks([{ name: 'f', check: () => false }]))[0]?.ok).toBe(false);
  });
});

describe('small parsers', () => {
  it('serialises identities with sorted keys and string values', () => {
    expect(serializeIdentity({ sn: '1', mac: ['b', 'a'] })).toBe('{"mac":["b","a"],"sn":"1"}');
  });

  it('serialises __proto__, constructor and prototype as ordinary identity attributes', () => {
    const identity = JSON.parse('{"prototype":"p","constructor":["b","a"],"__proto__":"x"}');
    expect(serializeIdentity(identity)).toBe('{"__proto__":"x","constructor":["b","a"],"prototype":"p"}');
  });

  it('parses Content-Range', () => {
    expect(parseContentRange('bytes 10-19/20')).toEqual({ start: 10, end: 19, size: 20 });
    expect(parseContentRange('bytes 10-19/*')).toEqual({ start: 10, end: 19, size: undefined });
    expect(parseContentRange('items 1-2/3')).toBeUndefined();
  });

  it('knows when a maintenance window is open, across midnight too', () => {
    const at = (h: number, m = 0) => new Date(Date.UTC(2026, 0, 1, h, m));
    expect(inMaintenanceWindow({ start: '02:00', end: '05:00', utc: true }, at(3))).toBe(true);
    expect(inMaintenanceWindow({ start: '02:00', end: '05:00', utc: true }, at(5))).toBe(false);
    expect(inMaintenanceWindow({ start: '22:00', end: '02:00', utc: true }, at(1, 30))).toBe(true);
    expect(inMaintenanceWindow({ start: '22:00', end: '02:00', utc: true }, at(12))).toBe(false);
  });
});

describe('standalone installs', () => {
  it('installs from a URL through the same state machine, resuming a dropped connection', async () => {
    const art = await makeArtifact({ name: 'from-url', size: 300_000 });
    const server = new FaultServer(await readFile(art.path));
    server.faults.resetAfter.push(150_000);
    const base = await server.listen();
    const dataDir = await mkdtemp(join(tmpdir(), 'otakit-url-'));
    const sim = new SimulatedInstaller({ dir: join(dataDir, 'device') });
    const client = new DeviceClient({
      deviceType: 'test-device',
      dataDir,
      installers: [sim],
      download: { retry: { baseDelayMs: 1, maxDelayMs: 5 } },
    });
    const states: string[] = [];
    client.events.on('state:enter', (e) => states.push(e.state));
    const result = await client.installFromUrl(`${base}/from-url.mender`);
    await server.close();
    expect(result.outcome).toBe('success');
    expect(states).toContain('ArtifactCommit');
    expect(server.requests).toHaveLength(2);
    expect(Object.values(await sim.currentContent())[0]?.equals(art.image)).toBe(true);
    expect((await client.installed()).artifactName).toBe('from-url');
  });

  it('moves an unreadable state record aside instead of stopping the agent', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'otakit-url-'));
    const client = new DeviceClient({
      deviceType: 'test-device',
      dataDir,
      installers: [new SimulatedInstaller({ dir: join(dataDir, 'device') })],
    });
    await writeFile(client.states.path, '{"version": 1, "id": ');
    const errors: string[] = [];
    client.events.on('agent:error', (e) => errors.push(e.during));
    expect(await client.resume()).toBeUndefined();
    expect(errors).toEqual(['resume']);
    expect((await readdir(dataDir)).some((f) => f.startsWith('update-state.json.corrupt-'))).toBe(true);
    expect(await client.states.load()).toBeUndefined();
  });

  it('refuses to start a second update while one is recorded as in progress', async () => {
    const art = await makeArtifact({ name: 'first' });
    const dataDir = await mkdtemp(join(tmpdir(), 'otakit-url-'));
    const client = new DeviceClient({
      deviceType: 'test-device',
      dataDir,
      installers: [new SimulatedInstaller({ dir: join(dataDir, 'device') })],
      pause: { hooks: { beforeCommit: () => 'pause' }, recheckMs: 60_000 },
    });
    const ac = new AbortController();
    client.events.on('update:paused', () => ac.abort());
    await expect(client.installFromFile(art.path, { signal: ac.signal })).rejects.toBeDefined();
    await expect(client.installFromFile(art.path)).rejects.toMatchObject({
      code: 'ERR_DEVICE_UPDATE_IN_PROGRESS',
    });
    expect((await client.states.load())?.state).toBe('ArtifactCommit');
  });
});
