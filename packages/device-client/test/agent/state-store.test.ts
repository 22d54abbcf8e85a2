import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backoff, writeFileAtomic } from '@otakit/core';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLL_RETRY, StateStore, type UpdateRecord } from '../../src/index.js';
import { compareVersions } from '../../src/update/version.js';

const record = (n: number): UpdateRecord => ({
  version: 1,
  id: 'dep-1',
  source: { kind: 'file', path: '/x.mender' },
  state: 'Download',
  storeCount: n,
  startedAt: new Date(0).toISOString(),
});

describe('state store', () => {
  it('saves, loads and clears the update record, leaving no temporary files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otakit-state-'));
    const store = new StateStore(dir);
    expect(await store.load()).toBeUndefined();
    for (let i = 1; i <= 20; i++) await store.save(record(i));
    expect((await store.load())?.storeCount).toBe(20);
    expect(await readdir(dir)).toEqual(['update-state.json']);
    await store.clear();
    expect(await store.load()).toBeUndefined();
  });

  it('rejects a file that is not a state record', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otakit-state-'));
    await writeFileAtomic(join(dir, 'update-state.json'), '{"version": 1');
    await expect(new StateStore(dir).load()).rejects.toMatchObject({ code: 'ERR_DEVICE_CORRUPT_STATE' });
  });

  it('replaces content atomically', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otakit-state-'));
    const file = join(dir, 'f');
    await writeFileAtomic(file, 'one');
    await writeFileAtomic(file, 'two');
    expect(await readFile(file, 'utf8')).toBe('two');
  });
});

describe('versions and backoff', () => {
  it('compares versions numerically with pre-releases below releases', () => {
    expect(compareVersions('1.10.0', '1.9.3')).toBeGreaterThan(0);
    expect(compareVersions('2.0.0-rc1', '2.0.0')).toBeLessThan(0);
    expect(compareVersions('v1.2', '1.2.0')).toBe(0);
  });

  it('backs off from the minimum, each interval three times, doubling up to the cap', () => {
    const b = new Backoff({ ...DEFAULT_POLL_RETRY, random: () => 1 });
    const waits = Array.from({ length: 12 }, () => b.next());
    expect(waits).toEqual([60, 60, 60, 120, 120, 120, 240, 240, 240, 300, 300, 300].map((s) => s * 1000));
    b.reset();
    expect(b.next()).toBe(60_000);
  });

  it('draws each wait with full jitter', () => {
    const b = new Backoff({ ...DEFAULT_POLL_RETRY, random: () => 0.25 });
    expect(b.next()).toBe(15_000);
  });
});
