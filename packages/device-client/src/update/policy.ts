import type { KeyObject } from 'node:crypto';
import type { ArtifactInfo } from '@otakit/core';
import { DeviceError, DeviceErrorCodes } from '../errors.js';
import type { InstalledArtifact } from '../state/provides-store.js';
import { compareVersions } from './version.js';

/** What the device accepts to install. */
export interface UpdatePolicy {
  /** Public keys (PEM or KeyObject) of which one must have signed the artifact. */
  trustedKeys?: Array<string | KeyObject>;
  /** Refuse unsigned artifacts. Default: true when `trustedKeys` are given. */
  requireSignature?: boolean;
  /** Refuse artifacts whose version (see `versionKey`) is below this floor. */
  minVersion?: string;
  /** Refuse artifacts older than the installed version (same key). Default false. */
  refuseDowngrade?: boolean;
  /** The provides key holding the version. Default `rootfs-image.version`, else the artifact name. */
  versionKey?: string;
}

/** Whether the policy requires a signature verified by a trusted key. @internal */
export function requiresSignature(policy: UpdatePolicy): boolean {
  return policy.requireSignature ?? (policy.trustedKeys?.length ?? 0) > 0;
}

/**
 * Checks a verified artifact against the signature and version policy.
 * @throws {@link DeviceError} `ERR_DEVICE_POLICY`.
 * @internal
 */
export function checkArtifactPolicy(
  policy: UpdatePolicy,
  info: ArtifactInfo,
  installed: InstalledArtifact,
): void {
  if (requiresSignature(policy) && !info.signatureVerified) {
    throw new DeviceError(DeviceErrorCodes.POLICY, 'the artifact is not signed by a trusted key');
  }
  checkVersionPolicy(policy, stringProvides(info.provides), info.artifactName, installed);
}

/**
 * Checks an artifact's version (its provides at `versionKey`, else its name) against the floor
 * and, with `refuseDowngrade`, against the installed version.
 * @throws {@link DeviceError} `ERR_DEVICE_POLICY`.
 * @internal
 */
export function checkVersionPolicy(
  policy: UpdatePolicy,
  provides: Record<string, string>,
  name: string,
  installed: InstalledArtifact,
): void {
  const { minVersion, refuseDowngrade } = policy;
  if (minVersion === undefined && !refuseDowngrade) return;
  const key = policy.versionKey ?? 'rootfs-image.version';
  const version = provides[key] ?? (policy.versionKey ? undefined : name);
  if (version === undefined) {
    throw new DeviceError(
      DeviceErrorCodes.POLICY,
      `the artifact provides no ${key} to check against the version policy`,
    );
  }
  if (minVersion !== undefined && compareVersions(version, minVersion) < 0) {
    throw new DeviceError(DeviceErrorCodes.POLICY, `version ${version} is below the floor ${minVersion}`);
  }
  if (refuseDowngrade) {
    const current = installed.provides[key] ?? (policy.versionKey ? undefined : installed.artifactName);
    if (current !== undefined && current !== 'unknown' && compareVersions(version, current) < 0) {
      throw new DeviceError(
        DeviceErrorCodes.POLICY,
        `version ${version} is older than the installed ${current}`,
      );
    }
  }
}

/** The string-valued entries of a provides map (the provides store holds strings, as Mender's). @internal */
export function stringProvides(provides: Record<string, string | string[]>): Record<string, string> {
  // Built from entries, so a key `__proto__` stays an ordinary own key (an assignment would drop it).
  return Object.fromEntries(
    Object.entries(provides).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}
