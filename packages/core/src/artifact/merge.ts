import { ArtifactError } from './errors.js';
import { setOwn } from './own-keys.js';
import type { ArtifactHeader, JsonObject, MergedHeader } from './types.js';

/** Keys that belong to header-info: an augment can never set them, in any document. */
const HEADER_INFO_KEYS = new Set(['artifact_name', 'artifact_group', 'device_type']);

function invalid(member: string, message: string): ArtifactError {
  return new ArtifactError('ERR_ARTIFACT_INVALID_HEADER', message, { member });
}

function sameJson(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]))
    );
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return (
      ka.length === kb.length &&
      ka.every((k) => Object.hasOwn(b, k) && sameJson((a as JsonObject)[k], (b as JsonObject)[k]))
    );
  }
  return a === b;
}

function entriesOf(value: unknown): [string, unknown][] {
  return value !== null && typeof value === 'object' ? Object.entries(value) : [];
}

/**
 * Merges header-info, the signed type-info and the unsigned augmented type-info into the
 * artifact's effective provides, depends and clears.
 *
 * - header-info keys may not be redefined by the signed type-info (as mender-artifact);
 * - the augment (`header-augment.tar*`, not covered by the signature) may only ADD payload
 *   `artifact_provides` / `artifact_depends` keys, e.g. a delta's `rootfs-image.checksum` depends
 *   (mender-artifact `Documentation/artifact-format-v3.md`, "header-augment": "for security
 *   reasons (this file is not signed) only certain files and parameters are allowed"). It can
 *   never replace a signed value, never set `artifact_name`, `artifact_group` or `device_type`,
 *   and never add `clears_artifact_provides`; its header-info, when present, must repeat the
 *   signed provides and depends unchanged. Name, group and device types always come from the
 *   signed header-info.
 *
 * @throws {ArtifactError} `ERR_ARTIFACT_INVALID_HEADER` on a key defined by both header-info and
 *   type-info, or an augment that would replace or remove a signed value
 */
export function mergeHeader(header: ArtifactHeader): MergedHeader {
  const info = header.headerInfo;
  const provides: Record<string, string | string[]> = {};
  const depends: Record<string, string | string[]> = {};
  let artifactName: string;
  let artifactGroup: string | null = null;
  let deviceTypes: string[];
  let payloadTypesList: (string | null)[];
  if (header.formatVersion === 2) {
    artifactName = info.artifact_name as string;
    deviceTypes = [...(info.device_types_compatible as string[])];
    payloadTypesList = (info.updates as { type: string | null }[]).map((u) => u.type);
    setOwn(provides, 'artifact_name', artifactName);
    setOwn(depends, 'device_type', deviceTypes);
  } else {
    const p = info.artifact_provides as { artifact_name: string; artifact_group?: string };
    const d = info.artifact_depends as {
      device_type: string[];
      artifact_name?: string[];
      artifact_group?: string[];
    };
    artifactName = p.artifact_name;
    artifactGroup = p.artifact_group || null;
    deviceTypes = [...d.device_type];
    payloadTypesList = (info.payloads as { type: string | null }[]).map((u) => u.type);
    for (const [k, v] of Object.entries(p)) setOwn(provides, k, v);
    for (const k of ['artifact_name', 'device_type', 'artifact_group'] as const) {
      const v = d[k];
      if (v !== undefined) setOwn(depends, k, [...v]);
    }
  }
  const clears: string[] = [];
  const headerProvides = new Set(Object.keys(provides));
  const headerDepends = new Set(Object.keys(depends));
  for (const payload of header.payloads) {
    const typeInfo = payload.typeInfo;
    for (const [k, v] of entriesOf(typeInfo.artifact_provides)) {
      if (headerProvides.has(k)) {
        throw invalid('header', `conflicting provides key ${JSON.stringify(k)} in header-info and type-info`);
      }
      setOwn(provides, k, v as string);
    }
    for (const [k, v] of entriesOf(typeInfo.artifact_depends)) {
      if (headerDepends.has(k)) {
        throw invalid('header', `conflicting depends key ${JSON.stringify(k)} in header-info and type-info`);
      }
      setOwn(depends, k, Array.isArray(v) ? [...v] : (v as string));
    }
    for (const c of (typeInfo.clears_artifact_provides as string[] | undefined | null) ?? []) {
      if (!clears.includes(c)) clears.push(c);
    }
  }
  if (header.augmented) addAugment(header, provides, depends, clears);
  return {
    artifactName,
    artifactGroup,
    deviceTypes,
    provides,
    depends,
    clearsProvides: clears,
    payloadTypes: payloadTypesList,
  };
}

/** Adds what the unsigned augment may add; refuses anything that would change a signed value. */
function addAugment(
  header: ArtifactHeader,
  provides: Record<string, string | string[]>,
  depends: Record<string, string | string[]>,
  clears: string[],
): void {
  const augmented = header.augmented!;
  const member = 'header-augment';
  for (const field of ['artifact_provides', 'artifact_depends'] as const) {
    const value = augmented.headerInfo[field];
    if (value !== undefined && !sameJson(value, header.headerInfo[field])) {
      throw invalid(member, `the unsigned augment may not change header-info ${field}`);
    }
  }
  const add = (target: Record<string, string | string[]>, what: string, source: unknown) => {
    for (const [k, v] of entriesOf(source)) {
      if (HEADER_INFO_KEYS.has(k)) throw invalid(member, `the unsigned augment may not set ${what} ${k}`);
      if (Object.hasOwn(target, k)) {
        if (sameJson(target[k], v)) continue;
        throw invalid(member, `the unsigned augment may not replace the signed ${what} ${JSON.stringify(k)}`);
      }
      setOwn(target, k, Array.isArray(v) ? [...(v as string[])] : (v as string));
    }
  };
  for (const payload of augmented.payloads) {
    add(provides, 'provides', payload.typeInfo.artifact_provides);
    add(depends, 'depends', payload.typeInfo.artifact_depends);
    for (const c of (payload.typeInfo.clears_artifact_provides as string[] | undefined | null) ?? []) {
      if (!clears.includes(c)) {
        throw invalid(
          member,
          `the unsigned augment may not add clears_artifact_provides ${JSON.stringify(c)}`,
        );
      }
    }
  }
}
