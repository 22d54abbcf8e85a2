import { CompatibilityError, type CompatibilityErrorCode } from './errors.js';
import { mergeHeader } from './merge.js';
import type { ArtifactHeader, ArtifactInfo } from './types.js';

/** What a device reports about itself: its device type and its provides store. */
export interface DeviceState {
  /** The device type (`device_type` in `/var/lib/mender/device_type`). */
  deviceType: string;
  /** The device's provides, e.g. `{ artifact_name: 'release-1', 'rootfs-image.version': '1' }`. */
  provides: Record<string, string>;
}

/**
 * Checks that an artifact may be installed on a device, as the Mender client does: the device type
 * must be one of the artifact's device types; every other depends (header-info
 * `artifact_depends.artifact_name` and `artifact_group`, payload type-info `artifact_depends`)
 * must be satisfied by the device's provides (a list means "any of these").
 *
 * @throws {CompatibilityError} `ERR_COMPAT_DEVICE_TYPE`, `ERR_COMPAT_ARTIFACT_NAME`,
 *   `ERR_COMPAT_ARTIFACT_GROUP` or `ERR_COMPAT_DEPENDS`
 *
 * @example
 * ```ts
 * checkCompatibility(info, { deviceType: 'raspberrypi4', provides: { artifact_name: 'release-1' } })
 * ```
 */
export function checkCompatibility(info: ArtifactInfo | ArtifactHeader, device: DeviceState): void {
  const merged = 'headerInfo' in info ? mergeHeader(info) : info;
  const depends = merged.depends;
  // The device types always come from the signed header-info (an augment cannot set them).
  const deviceTypes = merged.deviceTypes;
  if (!deviceTypes.includes(device.deviceType)) {
    fail('ERR_COMPAT_DEVICE_TYPE', 'device_type', deviceTypes, device.deviceType);
  }
  for (const [key, value] of Object.entries(depends)) {
    if (key === 'device_type') continue;
    const expected = toList(value);
    // An empty list of accepted names or groups constrains nothing (as the Mender client reads it).
    if (expected.length === 0 && (key === 'artifact_name' || key === 'artifact_group')) continue;
    const actual = Object.hasOwn(device.provides, key) ? device.provides[key] : undefined;
    if (actual === undefined || !expected.includes(actual)) {
      const code: CompatibilityErrorCode =
        key === 'artifact_name'
          ? 'ERR_COMPAT_ARTIFACT_NAME'
          : key === 'artifact_group'
            ? 'ERR_COMPAT_ARTIFACT_GROUP'
            : 'ERR_COMPAT_DEPENDS';
      fail(code, key, expected, actual);
    }
  }
}

function toList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function fail(
  code: CompatibilityErrorCode,
  key: string,
  expected: string[],
  actual: string | undefined,
): never {
  const has =
    actual === undefined ? 'the device does not provide it' : `the device has ${JSON.stringify(actual)}`;
  throw new CompatibilityError(
    code,
    `artifact depends on ${key} ${expected.length === 1 ? JSON.stringify(expected[0]) : `one of ${JSON.stringify(expected)}`}, but ${has}`,
    { key, expected, actual },
  );
}
