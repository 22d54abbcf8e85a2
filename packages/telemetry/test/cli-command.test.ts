/**
 * `otakit telemetry query`, from the CLI's new command file, against a real read API. The CLI
 * registers it with `registerTelemetryCommands(program, () => import('@otakit/telemetry'))`.
 */

import { createRequire } from 'node:module';
import * as telemetry from '@otakit/telemetry';
import type { Command as CommandClass } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { registerTelemetryCommands } from '../../cli/src/commands/telemetry.js';

const requireFromCli = createRequire(new URL('../../cli/package.json', import.meta.url));
const { Command } = requireFromCli('commander') as { Command: typeof CommandClass };
const REGISTRY = 'projects/demo/locations/europe-west1/registries/fleet';

describe('otakit telemetry query', () => {
  let store: telemetry.TelemetryStore;
  let api: telemetry.TelemetryServer;

  beforeEach(async () => {
    store = await telemetry.openTelemetryStore(':memory:');
    const now = Date.now();
    await store.appendBatch([
      {
        id: '1',
        deviceId: 'pi-1',
        registry: REGISTRY,
        kind: 'event',
        receivedAt: now - 1000,
        payload: { artifact_name: 'release-1', cpu: 0.2 },
      },
      {
        id: '2',
        deviceId: 'pi-1',
        registry: REGISTRY,
        kind: 'event',
        receivedAt: now,
        payload: { artifact_name: 'release-2', cpu: 0.4 },
      },
      {
        id: '3',
        deviceId: 'pi-2',
        registry: REGISTRY,
        kind: 'event',
        receivedAt: now,
        payload: { artifact_name: 'release-2', cpu: 0.8 },
      },
      {
        id: '4',
        deviceId: 'pi-3',
        registry: REGISTRY,
        kind: 'event',
        receivedAt: now - 7_200_000,
        payload: { artifact_name: 'release-1', cpu: 0.9 },
      },
    ]);
    api = await telemetry.startTelemetryApi({ store });
  });
  afterEach(async () => {
    await api.close();
    await store.close();
  });

  async function run(args: string[]): Promise<{ out: string; code: number | undefined }> {
    const program = new Command('otakit').exitOverride();
    registerTelemetryCommands(program, async () => telemetry);
    let out = '';
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    let code: number | undefined;
    try {
      await program.parseAsync(args, { from: 'user' });
    } catch (err) {
      code = (err as { exitCode?: number }).exitCode;
    } finally {
      write.mockRestore();
    }
    return { out, code };
  }

  it('prints per-release aggregates of a metric as one JSON document', async () => {
    const { out } = await run([
      'telemetry',
      'query',
      '--url',
      api.url,
      '--by',
      'release',
      '--metric',
      'cpu',
      '--since',
      '1h',
      '--json',
    ]);
    const doc = JSON.parse(out);
    expect(doc.metric).toBe('cpu');
    expect(
      doc.releases.map((r: { release: string; count: number; max: number }) => [r.release, r.count, r.max]),
    ).toEqual([
      ['release-1', 1, 0.2],
      ['release-2', 2, 0.8],
    ]);
  });

  it('prints the latest message of the devices asked for', async () => {
    const { out } = await run([
      'telemetry',
      'query',
      '--url',
      api.url,
      '--device',
      'pi-1',
      '--device',
      'pi-3',
      '--json',
    ]);
    const doc = JSON.parse(out);
    expect(
      doc.devices.map((d: { deviceId: string; artifactName: string }) => [d.deviceId, d.artifactName]),
    ).toEqual([
      ['pi-1', 'release-2'],
      ['pi-3', 'release-1'],
    ]);
    const table = await run(['telemetry', 'query', '--url', api.url, '--device', 'pi-2', '--metric', 'cpu']);
    expect(table.out.split('\n')[1]).toMatch(/^pi-2\t.+\tevent\trelease-2\t0\.8$/);
  });

  it('refuses --by release without --metric as a usage error', async () => {
    const { code } = await run(['telemetry', 'query', '--url', api.url, '--by', 'release']);
    expect(code).toBe(1);
  });
});
