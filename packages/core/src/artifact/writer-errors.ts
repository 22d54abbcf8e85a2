import { brandErrorClass, OtakitError } from '../errors.js';

/**
 * The codes an {@link ArtifactWriteError} carries.
 *
 * - `E_ARTIFACT_WRITE_OPTIONS`: invalid writer options (empty or malformed name, no device type,
 *   a payload or script name mender-artifact refuses, wrong file count for a rootfs-image, a
 *   provides/depends key that collides with a header-info key, meta-data that is not an object).
 * - `E_ARTIFACT_WRITE_PAYLOAD`: a payload stream gave a different number of bytes than declared,
 *   or a payload file could not be read.
 * - `E_ARTIFACT_SIGN_KEY`: the private key cannot sign artifacts (Mender accepts RSA and ECDSA
 *   P-256 only; not RSA-PSS, other curves or Ed25519), or it is not a private key.
 * - `E_ARTIFACT_ALREADY_SIGNED`: `signArtifact` was given a signed artifact without `force`.
 * - `E_ARTIFACT_SIGN_INPUT`: `signArtifact` input is not an artifact tar it can re-sign
 *   (unreadable tar, no `version`/`manifest` in front, truncated).
 */
export type ArtifactWriteErrorCode =
  | 'E_ARTIFACT_WRITE_OPTIONS'
  | 'E_ARTIFACT_WRITE_PAYLOAD'
  | 'E_ARTIFACT_SIGN_KEY'
  | 'E_ARTIFACT_ALREADY_SIGNED'
  | 'E_ARTIFACT_SIGN_INPUT';

/**
 * Thrown by {@link writeArtifact}, {@link signArtifact} and {@link signManifest} when an artifact
 * cannot be written or signed. I/O errors of the output are passed through unchanged.
 *
 * @example
 * ```ts
 * try { await writeArtifact(opts, 'out.mender') } catch (err) {
 *   if (err instanceof ArtifactWriteError && err.code === 'E_ARTIFACT_WRITE_OPTIONS') usage(err.message)
 * }
 * ```
 */
export class ArtifactWriteError extends OtakitError {
  /** Which kind of write failure this is. */
  declare readonly code: ArtifactWriteErrorCode;

  constructor(code: ArtifactWriteErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
brandErrorClass(ArtifactWriteError, 'ArtifactWriteError');
