import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyCommittedArtifact, globToRegExp, ProvidesStore } from '../../src/state/provides-store.js';

describe('provides store', () => {
  it('matches globs as Mender does', () => {
    expect(globToRegExp('rootfs-image.*').test('rootfs-image.version')).toBe(true);
    expect(globToRegExp('rootfs-image.*').test('rootfs-image')).toBe(false);
    expect(globToRegExp('a?c').test('abc')).toBe(true);
    expect(globToRegExp('a[bx]c').test('axc')).toBe(true);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
  });

  it('clears every old provide when the artifact has no clears_provides', () => {
    const next = applyCommittedArtifact(
      {
        artifactName: 'a',
        artifactGroup: 'g',
        provides: { 'rootfs-image.version': '1', 'app.version': '2' },
      },
      { artifactName: 'b', provides: { 'rootfs-image.version': '3' } },
    );
    expect(next).toEqual({
      artifactName: 'b',
      artifactGroup: undefined,
      provides: { 'rootfs-image.version': '3' },
    });
  });

  it('clears only the keys matched by clears_provides and keeps the others', () => {
    const next = applyCommittedArtifact(
      {
        artifactName: 'a',
        provides: { 'rootfs-image.version': '1', 'app.version': '2', 'app.checksum': 'x' },
      },
      { artifactName: 'b', provides: { 'app.version': '5' }, clearsProvides: ['app.*'] },
    );
    expect(next.provides).toEqual({ 'rootfs-image.version': '1', 'app.version': '5' });
    expect(next.artifactName).toBe('b');
  });

  it('persists, reads back and builds device_provides', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otakit-provides-'));
    const store = new ProvidesStore(dir);
    expect(await store.read()).toEqual({ artifactName: 'unknown', provides: {} });
    await store.commit({
      artifactName: 'rel-1',
      artifactGroup: 'grp',
      provides: { 'rootfs-image.version': '1' },
    });
    expect(await store.deviceProvides('rpi4')).toEqual({
      'rootfs-image.version': '1',
      device_type: 'rpi4',
      artifact_name: 'rel-1',
      artifact_group: 'grp',
    });
  });

  it('writes the device_type file in Mender format and refuses anything else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otakit-provides-'));
    const store = new ProvidesStore(dir);
    await store.writeDeviceType('beaglebone');
    expect(await readFile(join(dir, 'device_type'), 'utf8')).toBe('device_type=beaglebone\n');
    expect(await store.readDeviceType()).toBe('beaglebone');
    await writeFile(join(dir, 'device_type'), 'device_type=a\nother=b\n');
    await expect(store.readDeviceType()).rejects.toMatchObject({ code: 'ERR_DEVICE_CORRUPT_STATE' });
  });
});
