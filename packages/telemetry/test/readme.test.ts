import { readmeBlocks, runReadmeBlock as runBlock } from '@otakit/test-support';
import { describe, expect, it } from 'vitest';
import { openTelemetryStore, type TelemetryStore } from '../src/index.js';

const README = new URL('../README.md', import.meta.url);
const blocks = readmeBlocks(README);

const FLEET = 'projects/demo/locations/europe-west1/registries/fleet';

describe('README', () => {
  const tmp = new URL('./readme-example.generated.ts', import.meta.url);

  it('opens with an example of at most 10 lines of code', () => {
    const code = (blocks[0] ?? '').replace(/^import [\s\S]*?from '[^']+';$/gm, '');
    const lines = code.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('//'));
    expect(lines.length).toBeLessThanOrEqual(10);
    expect(blocks[0]).toContain('openTelemetryStore');
  });

  it('runs the opening example as written: per-release p95 of a metric', async () => {
    const logged = await runBlock(blocks[0] as string, tmp);
    expect(logged).toEqual([
      ['release-1', 1, 0.42],
      ['release-2', 1, 0.97],
    ]);
  });

  it('runs the push ingest and read API example as written', async () => {
    const example = blocks.find((b) => b.includes('startPushIngest'));
    expect(example).toBeDefined();
    const logged = await runBlock(example as string, new URL('./readme-push.generated.ts', import.meta.url));
    expect(logged).toEqual([[204], ['release-2', 0.31]]);
  });

  it('runs the ingest example: a stable id, stored once with its subfolder, a redelivery a duplicate', async () => {
    const example = blocks.find((b) => b.includes('clientId')) as string;
    const store = await openTelemetryStore(':memory:');
    try {
      const scope = {
        store,
        clientId: 'projects/demo/locations/europe-west1/registries/fleet/devices/pi-1',
        packetId: 7,
        packet: { payload: Buffer.from('{"artifact_name":"release-2","cpu":0.31}') },
      };
      // Run twice (two module files: an import runs once), as a broker redelivering the packet would.
      for (const name of ['readme-ingest-1', 'readme-ingest-2']) {
        const file = new URL(`./${name}.generated.ts`, import.meta.url);
        await runBlock(example, file, scope);
      }
      const stored = await store.messages();
      expect(stored.map((r) => [r.id, r.deviceId, r.subfolder, r.artifactName, r.metrics])).toEqual([
        [`${scope.clientId}:7`, 'pi-1', 'metrics', 'release-2', { cpu: 0.31 }],
      ]);
    } finally {
      await store.close();
    }
  });

  it('runs the queries example against a store holding two devices', async () => {
    const example = blocks.find((b) => b.includes('store.latest(')) as string;
    const store = await openTelemetryStore(':memory:');
    try {
      const now = Date.now();
      await store.appendBatch([
        {
          id: 'a',
          deviceId: 'pi-1',
          registry: FLEET,
          kind: 'event',
          payload: { artifact_name: 'r1', cpu: 0.2 },
        },
        {
          id: 'b',
          deviceId: 'pi-2',
          registry: FLEET,
          kind: 'event',
          payload: { artifact_name: 'r2', cpu: 0.9 },
        },
        {
          id: 'c',
          deviceId: 'pi-2',
          registry: FLEET,
          kind: 'event',
          receivedAt: now - 7_200_000,
          payload: { artifact_name: 'r1', cpu: 0.5 },
        },
      ]);
      // Record what each query of the example answered.
      const answers: Record<string, unknown> = {};
      const recording = new Proxy(store, {
        get(target, name) {
          const value = Reflect.get(target, name, target);
          if (typeof value !== 'function') return value;
          return async (...args: unknown[]) => {
            answers[String(name)] = await value.apply(target, args);
            return answers[String(name)];
          };
        },
      }) as TelemetryStore;
      const file = new URL('./readme-queries.generated.ts', import.meta.url);
      await runBlock(example, file, { store: recording, deviceIds: ['pi-1', 'pi-2'] });
      expect((answers.latest as Array<{ id: string }>).map((r) => r.id)).toEqual(['a', 'b']);
      expect((answers.messages as Array<{ id: string }>).map((r) => r.id)).toEqual(['a']);
      // The hour window leaves out pi-2's message of two hours ago.
      expect(
        (answers.releaseAggregates as Array<{ release: string; count: number; p95: number }>).map((r) => [
          r.release,
          r.count,
          r.p95,
        ]),
      ).toEqual([
        ['r1', 1, 0.2],
        ['r2', 1, 0.9],
      ]);
    } finally {
      await store.close();
    }
  });
});
