import { brandErrorClass, OtakitError } from '../errors.js';

/**
 * The codes an {@link ArtifactError} carries, one per failure kind. Every error also names the
 * artifact member it is about in {@link ArtifactError.member} (e.g. `manifest`, `header.tar.gz`,
 * `data/0000.tar.gz`, `data/0000/rootfs.ext4`).
 *
 * | code | when |
 * |---|---|
 * | `ERR_ARTIFACT_TRUNCATED` | the input ended inside the outer tar, a member, or a compressed stream |
 * | `ERR_ARTIFACT_INVALID_TAR` | a tar header block is corrupt (checksum, numeric field) or not a tar at all |
 * | `ERR_ARTIFACT_CHECKSUM_MISMATCH` | the SHA-256 of `version`, `header.tar*` or a payload file differs from the manifest |
 * | `ERR_ARTIFACT_NOT_IN_MANIFEST` | a member or payload file has no manifest line (incl. `version`) |
 * | `ERR_ARTIFACT_MISSING_FILE` | a file listed in the manifest(s) never appeared |
 * | `ERR_ARTIFACT_MISSING_MEMBER` | a mandatory member (`version`, `manifest`, `header.tar*`) is absent |
 * | `ERR_ARTIFACT_WRONG_ORDER` | members are not in the order of the format grammar |
 * | `ERR_ARTIFACT_UNEXPECTED_MEMBER` | an unknown member, an unknown compression suffix, a data tar without a payload |
 * | `ERR_ARTIFACT_DUPLICATE_ENTRY` | a member, header entry, payload file or manifest line appears twice |
 * | `ERR_ARTIFACT_PATH_TRAVERSAL` | a name with a `..` component |
 * | `ERR_ARTIFACT_ABSOLUTE_PATH` | a name starting with `/` |
 * | `ERR_ARTIFACT_INVALID_NAME` | a payload file name with characters Mender forbids (allowed: `[A-Za-z0-9_.,-]`) |
 * | `ERR_ARTIFACT_UNSUPPORTED_ENTRY` | a symlink, hard link, device, FIFO, directory (in data) or other non-regular tar entry |
 * | `ERR_ARTIFACT_TOO_LARGE` | a member or metadata exceeds its limit (`limits`), or too many files |
 * | `ERR_ARTIFACT_COMPRESSION_BOMB` | a compressed header expands more than `limits.maxExpansionRatio` |
 * | `ERR_ARTIFACT_DECOMPRESSION` | a compressed stream is corrupt (or `dd` failed to read it from the artifact file) |
 * | `ERR_ARTIFACT_INVALID_JSON` | `version`, `header-info`, `type-info`, `meta-data` or `files` is not valid JSON/UTF-8 |
 * | `ERR_ARTIFACT_INVALID_MANIFEST` | a manifest line is malformed or names something that cannot be in an artifact |
 * | `ERR_ARTIFACT_INVALID_HEADER` | the header violates the schema (missing device type or name, unknown field, type mismatch, ...) |
 * | `ERR_ARTIFACT_UNSUPPORTED_VERSION` | `version` is not `{"format":"mender","version":2|3}` |
 * | `ERR_ARTIFACT_MISSING_SIGNATURE` | a signature is required (trusted keys given) but there is no `manifest.sig` |
 * | `ERR_ARTIFACT_BAD_SIGNATURE` | `manifest.sig` does not verify with any trusted key (incl. bad base64, wrong algorithm) |
 * | `ERR_ARTIFACT_UNSUPPORTED_KEY` | every trusted key is of a type Mender does not support (P-384, Ed25519, ...) |
 * | `ERR_ARTIFACT_INVALID_KEY` | a trusted key could not be parsed as a public key |
 * | `ERR_ARTIFACT_NO_VERIFIER` | `requireSignature` is set but no trusted key was given |
 */
export type ArtifactErrorCode =
  | 'ERR_ARTIFACT_TRUNCATED'
  | 'ERR_ARTIFACT_INVALID_TAR'
  | 'ERR_ARTIFACT_CHECKSUM_MISMATCH'
  | 'ERR_ARTIFACT_NOT_IN_MANIFEST'
  | 'ERR_ARTIFACT_MISSING_FILE'
  | 'ERR_ARTIFACT_MISSING_MEMBER'
  | 'ERR_ARTIFACT_WRONG_ORDER'
  | 'ERR_ARTIFACT_UNEXPECTED_MEMBER'
  | 'ERR_ARTIFACT_DUPLICATE_ENTRY'
  | 'ERR_ARTIFACT_PATH_TRAVERSAL'
  | 'ERR_ARTIFACT_ABSOLUTE_PATH'
  | 'ERR_ARTIFACT_INVALID_NAME'
  | 'ERR_ARTIFACT_UNSUPPORTED_ENTRY'
  | 'ERR_ARTIFACT_TOO_LARGE'
  | 'ERR_ARTIFACT_COMPRESSION_BOMB'
  | 'ERR_ARTIFACT_DECOMPRESSION'
  | 'ERR_ARTIFACT_INVALID_JSON'
  | 'ERR_ARTIFACT_INVALID_MANIFEST'
  | 'ERR_ARTIFACT_INVALID_HEADER'
  | 'ERR_ARTIFACT_UNSUPPORTED_VERSION'
  | 'ERR_ARTIFACT_MISSING_SIGNATURE'
  | 'ERR_ARTIFACT_BAD_SIGNATURE'
  | 'ERR_ARTIFACT_UNSUPPORTED_KEY'
  | 'ERR_ARTIFACT_INVALID_KEY'
  | 'ERR_ARTIFACT_NO_VERIFIER';

/** The codes of {@link ArtifactError}, as constants. */
export const ArtifactErrorCodes = {
  TRUNCATED: 'ERR_ARTIFACT_TRUNCATED',
  INVALID_TAR: 'ERR_ARTIFACT_INVALID_TAR',
  CHECKSUM_MISMATCH: 'ERR_ARTIFACT_CHECKSUM_MISMATCH',
  NOT_IN_MANIFEST: 'ERR_ARTIFACT_NOT_IN_MANIFEST',
  MISSING_FILE: 'ERR_ARTIFACT_MISSING_FILE',
  MISSING_MEMBER: 'ERR_ARTIFACT_MISSING_MEMBER',
  WRONG_ORDER: 'ERR_ARTIFACT_WRONG_ORDER',
  UNEXPECTED_MEMBER: 'ERR_ARTIFACT_UNEXPECTED_MEMBER',
  DUPLICATE_ENTRY: 'ERR_ARTIFACT_DUPLICATE_ENTRY',
  PATH_TRAVERSAL: 'ERR_ARTIFACT_PATH_TRAVERSAL',
  ABSOLUTE_PATH: 'ERR_ARTIFACT_ABSOLUTE_PATH',
  INVALID_NAME: 'ERR_ARTIFACT_INVALID_NAME',
  UNSUPPORTED_ENTRY: 'ERR_ARTIFACT_UNSUPPORTED_ENTRY',
  TOO_LARGE: 'ERR_ARTIFACT_TOO_LARGE',
  COMPRESSION_BOMB: 'ERR_ARTIFACT_COMPRESSION_BOMB',
  DECOMPRESSION: 'ERR_ARTIFACT_DECOMPRESSION',
  INVALID_JSON: 'ERR_ARTIFACT_INVALID_JSON',
  INVALID_MANIFEST: 'ERR_ARTIFACT_INVALID_MANIFEST',
  INVALID_HEADER: 'ERR_ARTIFACT_INVALID_HEADER',
  UNSUPPORTED_VERSION: 'ERR_ARTIFACT_UNSUPPORTED_VERSION',
  MISSING_SIGNATURE: 'ERR_ARTIFACT_MISSING_SIGNATURE',
  BAD_SIGNATURE: 'ERR_ARTIFACT_BAD_SIGNATURE',
  UNSUPPORTED_KEY: 'ERR_ARTIFACT_UNSUPPORTED_KEY',
  INVALID_KEY: 'ERR_ARTIFACT_INVALID_KEY',
  NO_VERIFIER: 'ERR_ARTIFACT_NO_VERIFIER',
} as const satisfies Record<string, ArtifactErrorCode>;

/** Options of {@link ArtifactError}. */
export interface ArtifactErrorOptions {
  /** The member (or payload file) the error is about. */
  member?: string | undefined;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * A Mender Artifact was rejected: unreadable, malformed, tampered with, or not signed as required.
 * Switch on {@link ArtifactError.code} (see {@link ArtifactErrorCode} for the table of codes).
 *
 * @example
 * ```ts
 * try { await readArtifact(stream, { trustedKeys: [pem] }) } catch (err) {
 *   if (err instanceof ArtifactError) console.error(err.code, err.member, err.message)
 * }
 * ```
 */
export class ArtifactError extends OtakitError {
  /** Which kind of failure this is. */
  declare readonly code: ArtifactErrorCode;
  /** The member or payload file the error is about (`''` when it concerns the whole file). */
  readonly member: string;

  constructor(code: ArtifactErrorCode, message: string, options?: ArtifactErrorOptions) {
    const member = options?.member ?? '';
    super(code, member ? `${member}: ${message}` : message, { cause: options?.cause });
    this.member = member;
  }
}
brandErrorClass(ArtifactError, 'ArtifactError');

/**
 * The codes a {@link CompatibilityError} carries.
 *
 * | code | when |
 * |---|---|
 * | `ERR_COMPAT_DEVICE_TYPE` | the device type is not among the artifact's device types |
 * | `ERR_COMPAT_ARTIFACT_NAME` | `artifact_depends.artifact_name` does not contain the installed artifact name |
 * | `ERR_COMPAT_ARTIFACT_GROUP` | `artifact_depends.artifact_group` does not contain the device's artifact group |
 * | `ERR_COMPAT_DEPENDS` | another depends key (header-info or type-info) is absent from or differs in the device's provides |
 */
export type CompatibilityErrorCode =
  | 'ERR_COMPAT_DEVICE_TYPE'
  | 'ERR_COMPAT_ARTIFACT_NAME'
  | 'ERR_COMPAT_ARTIFACT_GROUP'
  | 'ERR_COMPAT_DEPENDS';

/** What a {@link CompatibilityError} is made from. */
export interface CompatibilityErrorDetails {
  /** The depends key that failed (`device_type`, `artifact_name`, `artifact_group` or a provides key). */
  key: string;
  /** The values the artifact accepts. */
  expected: string[];
  /** What the device has (`undefined` when the device does not provide the key). */
  actual: string | undefined;
}

/**
 * An artifact cannot be installed on a device: wrong device type, or a depends the device's
 * provides do not satisfy. Thrown by `checkCompatibility`.
 *
 * @example
 * ```ts
 * try { checkCompatibility(info, { deviceType: 'rpi4', provides }) } catch (err) {
 *   if (err instanceof CompatibilityError) console.error(err.code, err.key, err.expected, err.actual)
 * }
 * ```
 */
export class CompatibilityError extends OtakitError {
  /** Which kind of mismatch this is. */
  declare readonly code: CompatibilityErrorCode;
  /** The depends key that failed. */
  readonly key: string;
  /** The values the artifact accepts. */
  readonly expected: string[];
  /** What the device has, `undefined` when it lacks the key. */
  readonly actual: string | undefined;

  constructor(code: CompatibilityErrorCode, message: string, details: CompatibilityErrorDetails) {
    super(code, message);
    this.key = details.key;
    this.expected = details.expected;
    this.actual = details.actual;
  }
}
brandErrorClass(CompatibilityError, 'CompatibilityError');
