import { createReadStream } from 'node:fs';
import { type ArtifactInfo, CompatibilityError, checkCompatibility, readArtifact } from '@otakit/core';
import { vectorPath } from '@otakit/test-support';
import { beforeAll, describe, expect, it } from 'vitest';

function compatError(fn: () => void): CompatibilityError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CompatibilityError);
    return err as CompatibilityError;
  }
  throw new Error('expected a CompatibilityError');
}

describe('checkCompatibility', () => {
  let allOptions: ArtifactInfo;
  let bootstrap: ArtifactInfo;
  beforeAll(async () => {
    allOptions = await readArtifact(createReadStream(vectorPath('rootfs-all-options-rsa2048.mender')));
    bootstrap = await readArtifact(createReadStream(vectorPath('bootstrap-none-ecdsa256.mender')));
  });

  const fits = () => ({
    deviceType: 'raspberrypi5',
    provides: { artifact_name: 'shared-rootfs-3', artifact_group: 'group-b', 'custom.dep': 'needs-1' },
  });

  it('accepts a device that satisfies every depends (from the info or the header)', () => {
    expect(() => checkCompatibility(allOptions, fits())).not.toThrow();
    expect(() => checkCompatibility(allOptions.header, fits())).not.toThrow();
  });

  it('rejects another device type', () => {
    const err = compatError(() => checkCompatibility(allOptions, { ...fits(), deviceType: 'qemux86-64' }));
    expect(err.code).toBe('ERR_COMPAT_DEVICE_TYPE');
    expect(err.key).toBe('device_type');
    expect(err.expected).toEqual(['raspberrypi4', 'raspberrypi5', 'rpi-cm4']);
    expect(err.actual).toBe('qemux86-64');
  });

  it('rejects an installed artifact name not in artifact_depends.artifact_name', () => {
    const device = fits();
    device.provides.artifact_name = 'shared-rootfs-1';
    const err = compatError(() => checkCompatibility(allOptions, device));
    expect(err.code).toBe('ERR_COMPAT_ARTIFACT_NAME');
    expect(err.actual).toBe('shared-rootfs-1');
  });

  it('rejects a device without the required artifact group', () => {
    const device = fits();
    delete (device.provides as Partial<typeof device.provides>).artifact_group;
    const err = compatError(() => checkCompatibility(allOptions, device));
    expect(err.code).toBe('ERR_COMPAT_ARTIFACT_GROUP');
    expect(err.actual).toBeUndefined();
  });

  it('rejects a type-info depends the device provides differently or not at all', () => {
    const device = fits();
    device.provides['custom.dep'] = 'needs-2';
    expect(compatError(() => checkCompatibility(allOptions, device)).code).toBe('ERR_COMPAT_DEPENDS');
    delete (device.provides as Partial<typeof device.provides>)['custom.dep'];
    const err = compatError(() => checkCompatibility(allOptions, device));
    expect(err.code).toBe('ERR_COMPAT_DEPENDS');
    expect(err.key).toBe('custom.dep');
  });

  it('checks depends of an empty-payload artifact against provides', () => {
    const ok = {
      deviceType: 'dev-a',
      provides: { artifact_name: 'shared-bootstrap-1', 'rootfs-image.version': 'boot-1' },
    };
    expect(() => checkCompatibility(bootstrap, ok)).not.toThrow();
    const err = compatError(() =>
      checkCompatibility(bootstrap, {
        ...ok,
        provides: { ...ok.provides, 'rootfs-image.version': 'boot-0' },
      }),
    );
    expect(err.code).toBe('ERR_COMPAT_DEPENDS');
  });

  it('treats an empty artifact_name or artifact_group depends list as no constraint', () => {
    const info = { ...bootstrap, depends: { device_type: ['dev-a'], artifact_name: [], artifact_group: [] } };
    expect(() => checkCompatibility(info, { deviceType: 'dev-a', provides: {} })).not.toThrow();
  });

  it('accepts a list-valued depends when the device has any of its values', () => {
    const info = { ...bootstrap, depends: { device_type: ['dev-a'], 'os.flavour': ['a', 'b'] } };
    expect(() =>
      checkCompatibility(info, { deviceType: 'dev-a', provides: { 'os.flavour': 'b' } }),
    ).not.toThrow();
  });
});
