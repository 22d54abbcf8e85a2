import { brandErrorClass, OtakitError } from '../errors.js';

/**
 * The codes an {@link ArtifactWriteError} carries.
 *
 * - `ERR_ARTIFACT_WRITE_OPTIONS`: invalid writer options (empty or malformed name, no device type,
 *   a payload or script name mender-artifact refuses, wrong file count for a rootfs-image, a
 *   provides/depends key that collides with a header-info key, meta-data that is not an object).
 * - `ERR_ARTIFACT_WRITE_PAYLOAD`: a payload stream gave a different number of bytes than declared,
 *   or a payload file could not be read.
 * - `ERR_ARTIFACT_SIGN_KEY`: the private key cannot sign artifacts (Mender accepts RSA and ECDSA
 *   P-256 only; not RSA-PSS, other curves or Ed25519), or it is not a private key.
 * - `ERR_ARTIFACT_ALREADY_SIGNED`: `signArtifact` was given a signed artifact without `force`.
 * - `ERR_ARTIFACT_XZ_UNAVAILABLE`: xz compression was asked for and the `xz` program cannot be
 *   started; thrown as {@link XzUnavailableError}.
 * - `ERR_ARTIFACT_WRITE_COMPRESS`: the compressor failed while writing (e.g. `xz` exited with an
 *   error or was killed).
 */
export type ArtifactWriteErrorCode =
  | 'ERR_ARTIFACT_WRITE_OPTIONS'
  | 'ERR_ARTIFACT_WRITE_PAYLOAD'
  | 'ERR_ARTIFACT_SIGN_KEY'
  | 'ERR_ARTIFACT_ALREADY_SIGNED'
  | 'ERR_ARTIFACT_XZ_UNAVAILABLE'
  | 'ERR_ARTIFACT_WRITE_COMPRESS';

/**
 * Thrown by {@link writeArtifact}, {@link signArtifact} and {@link signManifest} when an artifact
 * cannot be written or signed. I/O errors of the output are passed through unchanged; an input
 * that `signArtifact` cannot read as an artifact gives an `ArtifactError` (`ERR_ARTIFACT_TRUNCATED`,
 * `ERR_ARTIFACT_INVALID_TAR`, `ERR_ARTIFACT_WRONG_ORDER`, `ERR_ARTIFACT_MISSING_MEMBER`).
 *
 * @example
 * ```ts
 * try { await writeArtifact(opts, 'out.mender') } catch (err) {
 *   if (err instanceof ArtifactWriteError && err.code === 'ERR_ARTIFACT_WRITE_OPTIONS') usage(err.message)
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

/**
 * Thrown by {@link writeArtifact}, {@link signArtifact} and `createCompressor` when xz (`lzma`)
 * compression is asked for and the `xz` program (XZ Utils) cannot be started: it is not installed,
 * not on `PATH` (or not where `OTAKIT_XZ` points), or not executable. The message names what to
 * install; gzip and zstd need nothing outside Node.
 *
 * @example
 * ```ts
 * try { await writeArtifact({ ...opts, compression: 'xz' }, 'out.mender') } catch (err) {
 *   if (err instanceof XzUnavailableError) await writeArtifact({ ...opts, compression: 'zstd' }, 'out.mender')
 * }
 * ```
 */
export class XzUnavailableError extends ArtifactWriteError {
  /** The program that could not be started. */
  readonly command: string;

  constructor(command: string, cause: unknown) {
    super(
      'ERR_ARTIFACT_XZ_UNAVAILABLE',
      `xz compression needs the xz program (XZ Utils), and ${JSON.stringify(command)} cannot be started` +
        ` (${(cause as NodeJS.ErrnoException)?.code ?? String(cause)}): install it (Debian/Ubuntu: apt-get install xz-utils;` +
        ' Fedora: dnf install xz; Alpine: apk add xz; macOS: brew install xz), set OTAKIT_XZ to its path,' +
        ' or use gzip or zstd compression',
      { cause },
    );
    this.command = command;
  }
}
brandErrorClass(XzUnavailableError, 'XzUnavailableError');
