/**
 * The JSON documents of an artifact header (`header-info`, `headers/0000/type-info`,
 * `headers/0000/meta-data`) built the way `mender-artifact write` builds them: same keys, same key
 * order, the same default provides and clears_artifact_provides.
 */

import { copyOwn, setOwn } from './own-keys.js';
import { ArtifactWriteError } from './writer-errors.js';

/** The two payload kinds the writer produces. */
export type ArtifactImageType = 'rootfs-image' | 'module-image';

/** What the header documents are made from (the header fields of `WriteArtifactOptions`). */
export interface HeaderSpec {
  /** Which kind of artifact is written. */
  imageType: ArtifactImageType;
  /** The payload type written in header-info and type-info (`rootfs-image` or the module name). */
  payloadType: string;
  /** `artifact_provides.artifact_name`. */
  artifactName: string;
  /** `artifact_depends.device_type`. */
  deviceTypes: string[];
  /** `artifact_provides.artifact_group`. */
  artifactGroup?: string | undefined;
  /** `artifact_depends.artifact_name`. */
  artifactNameDepends?: string[] | undefined;
  /** `artifact_depends.artifact_group`. */
  artifactGroupDepends?: string[] | undefined;
  /** type-info `artifact_provides` given by the user (added to the defaults). */
  provides?: Record<string, string> | undefined;
  /** type-info `artifact_depends`. */
  depends?: Record<string, string | string[]> | undefined;
  /** User clears patterns (before the defaults; duplicates are written once). */
  clearsProvides?: string[] | undefined;
  /** Filesystem part of the software version key (default `rootfs-image`). */
  softwareFilesystem?: string | undefined;
  /** Name part of the software version key (default: none, or the module type). */
  softwareName?: string | undefined;
  /** Software version value (default: the artifact name). */
  softwareVersion?: string | undefined;
  /** Leave out the software version provide and the default clears. */
  noDefaultSoftwareVersion?: boolean | undefined;
  /** Leave out the default clears patterns. */
  noDefaultClearsProvides?: boolean | undefined;
  /** rootfs-image: leave out the checksum provide. */
  noChecksumProvide?: boolean | undefined;
  /** rootfs-image: name the checksum provide `rootfs_image_checksum`. */
  legacyRootfsImageChecksum?: boolean | undefined;
  /** sha256 of the rootfs image (the single payload file), for the checksum provide. */
  rootfsChecksum?: string | undefined;
}

/** A state script name as mender-artifact accepts it. */
export const SCRIPT_NAME =
  /^(ArtifactInstall|ArtifactReboot|ArtifactCommit|ArtifactRollback|ArtifactRollbackReboot|ArtifactFailure)_(Enter|Leave|Error)_[0-9][0-9](_\S+)?$/;

/** A payload file base name as mender-artifact accepts it. */
export const PAYLOAD_FILE_NAME = /^[\w\-.,]+$/;

const HEADER_INFO_PROVIDES = new Set(['artifact_name', 'artifact_group']);
const HEADER_INFO_DEPENDS = new Set(['artifact_name', 'device_type', 'artifact_group']);

function optionsError(message: string): ArtifactWriteError {
  return new ArtifactWriteError('ERR_ARTIFACT_WRITE_OPTIONS', message);
}

/** Checks a name, device type or group as mender-artifact does (≤ 256 bytes, printable). */
export function checkHeaderString(what: string, value: string, allowWhitespace = true): void {
  if (typeof value !== 'string' || value.length === 0) throw optionsError(`${what} must not be empty`);
  if (Buffer.byteLength(value) > 256) throw optionsError(`${what} is longer than 256 bytes: ${value}`);
  if (/[\p{C}]/u.test(value)) throw optionsError(`${what} contains non-printable characters`);
  if (!allowWhitespace && /\s/u.test(value))
    throw optionsError(`${what} must not contain whitespace: ${value}`);
}

/** Validates the header fields of a spec; throws `ERR_ARTIFACT_WRITE_OPTIONS`. */
export function validateHeaderSpec(spec: HeaderSpec): void {
  checkHeaderString('artifact name', spec.artifactName, false);
  if (!Array.isArray(spec.deviceTypes) || spec.deviceTypes.length === 0) {
    throw optionsError('at least one device type is required');
  }
  for (const d of spec.deviceTypes) checkHeaderString('device type', d);
  if (spec.artifactGroup !== undefined) checkHeaderString('artifact group', spec.artifactGroup);
  for (const n of spec.artifactNameDepends ?? []) checkHeaderString('artifact name depend', n);
  for (const g of spec.artifactGroupDepends ?? []) checkHeaderString('artifact group depend', g);
  checkHeaderString('payload type', spec.payloadType, false);
  if (spec.imageType === 'module-image' && spec.payloadType === 'rootfs-image') {
    throw optionsError('a module-image needs a module type other than rootfs-image');
  }
  for (const [k, v] of Object.entries(spec.provides ?? {})) {
    if (k === '' || HEADER_INFO_PROVIDES.has(k))
      throw optionsError(`provides key not allowed: ${JSON.stringify(k)}`);
    if (typeof v !== 'string') throw optionsError(`provides value of ${k} must be a string`);
  }
  for (const [k, v] of Object.entries(spec.depends ?? {})) {
    if (k === '' || HEADER_INFO_DEPENDS.has(k))
      throw optionsError(`depends key not allowed: ${JSON.stringify(k)}`);
    const ok = typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
    if (!ok) throw optionsError(`depends value of ${k} must be a string or a list of strings`);
  }
  for (const c of spec.clearsProvides ?? []) {
    if (typeof c !== 'string' || c === '')
      throw optionsError('clears-provides entries must be non-empty strings');
  }
}

/** The `header-info` document (v3), keys in mender-artifact's order. */
export function buildHeaderInfo(spec: HeaderSpec): Record<string, unknown> {
  const provides: Record<string, string> = { artifact_name: spec.artifactName };
  if (spec.artifactGroup) provides.artifact_group = spec.artifactGroup;
  const depends: Record<string, string[]> = {};
  if (spec.artifactNameDepends?.length) depends.artifact_name = [...spec.artifactNameDepends];
  depends.device_type = [...spec.deviceTypes];
  if (spec.artifactGroupDepends?.length) depends.artifact_group = [...spec.artifactGroupDepends];
  return {
    payloads: [{ type: spec.payloadType }],
    artifact_provides: provides,
    artifact_depends: depends,
  };
}

/** The software version provide and its clears pattern, as `mender-artifact write` derives them. */
function softwareVersion(spec: HeaderSpec): { key: string; clears: string[] } {
  const fs = spec.softwareFilesystem || 'rootfs-image';
  const name = spec.softwareName || (spec.imageType === 'module-image' ? spec.payloadType : '');
  const key = name ? `${fs}.${name}.version` : `${fs}.version`;
  let clears: string[];
  if (name) clears = [`${fs}.${name}.*`];
  else clears = ['artifact_group', 'rootfs_image_checksum', `${fs}.*`];
  return { key, clears };
}

/** The `headers/0000/type-info` document (v3), keys in mender-artifact's order. */
export function buildTypeInfo(spec: HeaderSpec): Record<string, unknown> {
  const provides: Record<string, string> = {};
  if (spec.imageType === 'rootfs-image' && !spec.noChecksumProvide && spec.rootfsChecksum) {
    setOwn(
      provides,
      spec.legacyRootfsImageChecksum ? 'rootfs_image_checksum' : 'rootfs-image.checksum',
      spec.rootfsChecksum,
    );
  }
  const sw = softwareVersion(spec);
  if (!spec.noDefaultSoftwareVersion) setOwn(provides, sw.key, spec.softwareVersion || spec.artifactName);
  for (const [k, v] of Object.entries(spec.provides ?? {})) setOwn(provides, k, v);
  const clears = [...new Set(spec.clearsProvides ?? [])];
  if (!spec.noDefaultClearsProvides && !spec.noDefaultSoftwareVersion) {
    for (const c of sw.clears) if (!clears.includes(c)) clears.push(c);
  }
  const typeInfo: Record<string, unknown> = { type: spec.payloadType };
  if (spec.depends && Object.keys(spec.depends).length > 0)
    typeInfo.artifact_depends = copyOwn(spec.depends, true);
  if (Object.keys(provides).length > 0) typeInfo.artifact_provides = copyOwn(provides, true);
  if (clears.length > 0) typeInfo.clears_artifact_provides = clears;
  return typeInfo;
}

function canonicalJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalJson);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort())
      setOwn(out, key, canonicalJson((value as Record<string, unknown>)[key]));
    return out;
  }
  return value;
}

/**
 * The `headers/0000/meta-data` bytes: the object re-encoded minified with sorted keys, as Go's
 * `json.Marshal` writes it. Throws unless `metaData` is a plain JSON object.
 */
export function encodeMetaData(metaData: unknown): Buffer {
  if (metaData === null || typeof metaData !== 'object' || Array.isArray(metaData)) {
    throw optionsError('meta-data must be a JSON object at the top level');
  }
  let text: string;
  try {
    text = JSON.stringify(canonicalJson(metaData));
  } catch (cause) {
    throw new ArtifactWriteError('ERR_ARTIFACT_WRITE_OPTIONS', 'meta-data is not serialisable as JSON', {
      cause,
    });
  }
  return Buffer.from(text, 'utf8');
}
