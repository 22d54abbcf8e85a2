import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeArtifact } from '@otakit/core';
import { describe, expect, it } from 'vitest';
import { DeviceClient, UpdateModuleInstaller } from '../../src/index.js';
import { applyCommittedArtifact, globToRegExp, ProvidesStore } from '../../src/state/provides-store.js';

/** Provides whose keys are the names JavaScript objects treat specially, as own keys (JSON.parse). */
const specialProvides = (): Record<string, string> =>
  JSON.parse('{"__proto__":"evil","constructor":"x","prototype":"p"}') as Record<string, string>;

/**
 * Writes an uncompressed module-image artifact whose type-info provides are `__proto__: evil`,
 * `constructor: x` and `prototype: p`, as `mender-artifact write module-image -p '__proto__:evil'
 * -p constructor:x -p prototype:p` does. This test is about the device, not core's writer: the
 * writer gets the same-length key `__proto_X` and the header bytes are patched afterwards, with the
 * manifest's checksum of `header.tar` recomputed.
 */
async function writeSpecialProvidesArtifact(path: string, file: string, moduleType: string): Promise<void> {
  await writeArtifact(
    {
      type: 'module-image',
      moduleType,
      artifactName: 'app-1',
      deviceTypes: ['test-device'],
      files: [file],
      provides: { __proto_X: 'evil', constructor: 'x', prototype: 'p' },
      compression: 'none',
    },
    path,
  );
  const bytes = await readFile(path);
  const members = new Map<string, { start: number; size: number }>();
  for (let off = 0; off + 512 <= bytes.length && bytes[off] !== 0; ) {
    const name = bytes
      .subarray(off, off + 100)
      .toString('latin1')
      .replace(/\0.*$/s, '');
    const size = Number.parseInt(
      bytes
        .subarray(off + 124, off + 136)
        .toString('latin1')
        .trim(),
      8,
    );
    members.set(name, { start: off + 512, size });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  const header = members.get('header.tar');
  const manifest = members.get('manifest');
  if (!header || !manifest) throw new Error('unexpected artifact layout');
  const headerBytes = bytes.subarray(header.start, header.start + header.size);
  const oldSum = createHash('sha256').update(headerBytes).digest('hex');
  const at = headerBytes.indexOf('"__proto_X"');
  if (at < 0 || headerBytes.indexOf('"__proto_X"', at + 1) >= 0)
    throw new Error('placeholder not found once');
  headerBytes.write('"__proto__"', at, 'latin1');
  const newSum = createHash('sha256').update(headerBytes).digest('hex');
  const manifestText = bytes.subarray(manifest.start, manifest.start + manifest.size).toString('latin1');
  if (!manifestText.includes(`${oldSum}  header.tar`)) throw new Error('manifest has no header.tar line');
  bytes.write(manifestText.replace(oldSum, newSum), manifest.start, 'latin1');
  await writeFile(path, bytes);
}

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

  it('keeps __proto__, constructor and prototype as ordinary provides when committing', () => {
    const next = applyCommittedArtifact(
      { artifactName: 'a', provides: specialProvides() },
      { artifactName: 'b', provides: { ...specialProvides(), 'app.version': '2' }, clearsProvides: [] },
    );
    expect(Object.keys(next.provides)).toEqual(['__proto__', 'constructor', 'prototype', 'app.version']);
    expect(Object.getPrototypeOf(next.provides)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(next.provides, '__proto__')?.value).toBe('evil');
  });

  it('stores the provides of an installed artifact exactly, __proto__ included', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otakit-provides-'));
    const modulesDir = join(dir, 'modules');
    await mkdir(modulesDir);
    await writeFile(
      join(modulesDir, 'noop'),
      '#!/bin/sh\ncase "$1" in NeedsArtifactReboot) echo No ;; esac\nexit 0\n',
    );
    await chmod(join(modulesDir, 'noop'), 0o755);
    await writeFile(join(dir, 'app.conf'), 'setting=1\n');
    const path = join(dir, 'app.mender');
    await writeSpecialProvidesArtifact(path, join(dir, 'app.conf'), 'noop');
    const client = new DeviceClient({
      deviceType: 'test-device',
      dataDir: join(dir, 'data'),
      installers: [new UpdateModuleInstaller({ modulesDir })],
    });
    try {
      expect((await client.installFromFile(path)).outcome).toBe('success');
    } finally {
      await client.close();
    }
    const stored = JSON.parse(await readFile(join(dir, 'data', 'provides.json'), 'utf8')) as {
      provides: Record<string, string>;
    };
    // The artifact's provides, plus the software version mender-artifact adds to a module-image.
    expect(Object.entries(stored.provides)).toEqual([
      ['__proto__', 'evil'],
      ['constructor', 'x'],
      ['prototype', 'p'],
      ['rootfs-image.noop.version', 'app-1'],
    ]);
    const device = await new ProvidesStore(join(dir, 'data')).deviceProvides('test-device');
    expect(Object.getOwnPropertyDescriptor(device, '__proto__')?.value).toBe('evil');
    expect(Object.getPrototypeOf(device)).toBe(Object.prototype);
  });
});
