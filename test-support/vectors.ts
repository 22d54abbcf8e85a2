/**
 * Shared access to the artifact test vectors in ../shared/vectors/artifacts (manifest.json), and
 * the mapping from otakit results and error codes to the vectors' outcome words. Used by the core
 * and CLI tests.
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ArtifactErrorCode, ArtifactValidation } from '@otakit/core';
import { SHARED_DIR } from './shared.js';

/** The folder of the shared artifact vectors (`shared/` lies beside the repository). */
export const VECTORS_DIR = new URL('vectors/artifacts/', SHARED_DIR);

/** Parse outcome words of manifest.json. */
export type VectorParse = 'ok' | 'error';
/** Checksum outcome words of manifest.json. */
export type VectorChecksum = 'ok' | 'mismatch' | 'n/a';
/** Signature outcome words of manifest.json (`verify_with`). */
export type VectorVerify = 'ok' | 'bad-signature' | 'missing-signature' | 'unsupported-key' | 'error';

/** The expected result of one vector. */
export interface VectorOutcome {
  parse: VectorParse;
  checksum: VectorChecksum;
  /** Key file (relative to the artifacts folder, e.g. `../keys/rsa2048.pub`) → outcome. */
  verifyWith: Record<string, VectorVerify>;
}

/** One payload file of a vector's `details.data_files`. */
export interface VectorDataFile {
  data_tar: string;
  name: string;
  size: number;
  sha256: string;
}

/** One record of manifest.json (the fields the tests use). */
export interface VectorRecord {
  file: string;
  kind: 'valid' | 'invalid';
  format_version: number;
  artifact_name?: string;
  device_types?: string[];
  provides?: Record<string, string | string[]>;
  depends?: Record<string, string | string[]>;
  payload_types?: (string | null)[];
  compression?: 'none' | 'gzip' | 'lzma' | 'zstd';
  signed_with: string | null;
  expected: { parse: VectorParse; checksum: VectorChecksum; verify_with: Record<string, VectorVerify> };
  notes: string;
  mender_artifact_agrees?: boolean;
  details?: {
    scripts?: string[];
    signed?: boolean;
    data_files?: VectorDataFile[];
    header_info?: Record<string, unknown>;
    type_info?: Record<string, unknown>[];
    meta_data?: (Record<string, unknown> | null)[];
    manifest_augment?: unknown[];
    [key: string]: unknown;
  };
}

let cache: VectorRecord[] | undefined;

/** Reads manifest.json of the shared vectors. */
export function loadVectorManifest(): VectorRecord[] {
  cache ??= JSON.parse(readFileSync(new URL('manifest.json', VECTORS_DIR), 'utf8')) as VectorRecord[];
  return cache;
}

/** The absolute path of a vector file or key (`../keys/x.pub`), relative to the artifacts folder. */
export function vectorPath(relative: string): string {
  return fileURLToPath(new URL(relative, VECTORS_DIR));
}

/** Reads a key file named as in `verify_with`. */
export function readVectorKey(key: string): string {
  return readFileSync(vectorPath(key), 'utf8');
}

/** The expected outcome of a vector, as manifest.json states it. */
export function expectedOutcome(vector: VectorRecord): VectorOutcome {
  return {
    parse: vector.expected.parse,
    checksum: vector.expected.checksum,
    verifyWith: { ...vector.expected.verify_with },
  };
}

/** The outcome words for a {@link ArtifactValidation} made with the keys `keys` (in that order). */
export function outcomeOfValidation(validation: ArtifactValidation, keys: string[]): VectorOutcome {
  return {
    parse: validation.parse,
    checksum: validation.checksum,
    verifyWith: Object.fromEntries(keys.map((key, i) => [key, validation.verify[i] ?? 'error'])),
  };
}

/**
 * The signature outcome word a strict `readArtifact(..., { trustedKeys: [key] })` rejection code
 * stands for; `undefined` for codes that are not about the signature.
 */
export function verifyWordOfCode(code: ArtifactErrorCode | string): VectorVerify | undefined {
  switch (code) {
    case 'ERR_ARTIFACT_BAD_SIGNATURE':
      return 'bad-signature';
    case 'ERR_ARTIFACT_MISSING_SIGNATURE':
      return 'missing-signature';
    case 'ERR_ARTIFACT_UNSUPPORTED_KEY':
      return 'unsupported-key';
    default:
      return undefined;
  }
}

/** The parse/checksum words a strict `readArtifact` (no keys) rejection code stands for. */
export function parseWordsOfCode(code: ArtifactErrorCode | string): {
  parse: VectorParse;
  checksum: VectorChecksum;
} {
  return code === 'ERR_ARTIFACT_CHECKSUM_MISMATCH'
    ? { parse: 'ok', checksum: 'mismatch' }
    : { parse: 'error', checksum: 'n/a' };
}
