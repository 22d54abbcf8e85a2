/**
 * Mender Artifact (format v3, v2 readable): streaming reader and verifier, compatibility checks.
 * @packageDocumentation
 */

export { checkCompatibility, type DeviceState } from './compat.js';
// Writer and signer.
export {
  ARTIFACT_COMPRESSION_IDS,
  type ArtifactCompressionId,
  compressionIdSuffix,
  compressionKind,
  createCompressor,
  isArtifactCompressionId,
  ZSTD_FRAME_BYTES,
} from './compress.js';
export { createXzProcessCompressor, XZ_COMMAND_ENV, type XzProcessOptions } from './compress-xz.js';
export {
  type ArtifactCompression,
  compressionFromSuffix,
  compressionSuffix,
  type Decompressor,
  decompressor,
} from './decompress.js';
export {
  ArtifactError,
  type ArtifactErrorCode,
  ArtifactErrorCodes,
  type ArtifactErrorOptions,
  CompatibilityError,
  type CompatibilityErrorCode,
  type CompatibilityErrorDetails,
} from './errors.js';
export { type ManifestEntry, parseManifest } from './manifest.js';
export { mergeHeader } from './merge.js';
export { DD_COMMAND_ENV } from './range-decoder.js';
export { DEFAULT_ARTIFACT_LIMITS, readArtifact } from './reader.js';
export {
  type ArtifactSigningKey,
  type SignArtifactOptions,
  type SignedArtifact,
  signArtifact,
  signManifest,
} from './sign.js';
export {
  decodeSignature,
  isSupportedKey,
  type SignatureVerdict,
  type TrustedKey,
  toPublicKey,
  verifyManifestSignature,
} from './signature.js';
export { isZeroTarBlock, parseTarHeader, type TarEntry, type TarEntryKind } from './tar.js';
export type {
  ArtifactAugmentedHeader,
  ArtifactFileInfo,
  ArtifactHeader,
  ArtifactInfo,
  ArtifactLimits,
  ArtifactPayloadFile,
  ArtifactPayloadHeader,
  ArtifactScript,
  JsonObject,
  MergedHeader,
  ReadArtifactOptions,
} from './types.js';
export {
  type ArtifactValidation,
  type ChecksumOutcome,
  type ParseOutcome,
  type ValidateArtifactOptions,
  type VerifyOutcome,
  validateArtifact,
  verifyArtifactFile,
} from './validate.js';
export {
  type ArtifactImageType,
  type ArtifactOutput,
  type ArtifactPayloadSource,
  type ArtifactScriptSource,
  type WriteArtifactOptions,
  type WrittenArtifact,
  type WrittenPayloadFile,
  writeArtifact,
} from './writer.js';
export { ArtifactWriteError, type ArtifactWriteErrorCode, XzUnavailableError } from './writer-errors.js';
export { ZSTD_COMMAND_ENV } from './zstd-process.js';
