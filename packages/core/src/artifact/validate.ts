import type { Readable } from 'node:stream';
import { ArtifactError } from './errors.js';
import { readFileChunks } from './file-source.js';
import { type Diagnosis, readArtifact, runReader } from './reader.js';
import { isSupportedKey, type SignatureVerdict, type TrustedKey, toPublicKey } from './signature.js';
import type { ArtifactInfo, ArtifactLimits, ReadArtifactOptions } from './types.js';

/** Whether the structure parses: outer tar, version, manifest(s), header, data entry names. */
export type ParseOutcome = 'ok' | 'error';
/** Whether every SHA-256 matches the manifest; `n/a` when parsing fails. */
export type ChecksumOutcome = 'ok' | 'mismatch' | 'n/a';
/**
 * The signature checked with one key: {@link SignatureVerdict}, `missing-signature` (unsigned), or
 * `error` (the file is broken before `manifest.sig` can be checked).
 */
export type VerifyOutcome = SignatureVerdict | 'missing-signature' | 'error';

/** The three independent verdicts `mender-artifact validate` style checking gives. */
export interface ArtifactValidation {
  /** Structural parsing (everything but digests and signature). */
  parse: ParseOutcome;
  /** Digest comparison. */
  checksum: ChecksumOutcome;
  /** One outcome per key given, in order. */
  verify: VerifyOutcome[];
  /** True when parse and checksum are ok and, if keys were given, one of them verified the signature. */
  valid: boolean;
  /** The first structural error or checksum mismatch, when there is one. */
  error?: ArtifactError | undefined;
  /** The parsed artifact, when parsing succeeded. */
  info?: ArtifactInfo | undefined;
}

/** Options of {@link validateArtifact}. */
export interface ValidateArtifactOptions {
  /** Public keys to check the signature with (one verdict each). */
  keys?: TrustedKey[];
  /** Bounds on memory use. */
  limits?: ArtifactLimits;
  /** Aborts the check. */
  signal?: AbortSignal;
}

/**
 * Checks an artifact and reports parse, checksum and per-key signature outcomes separately (the
 * semantics of the shared test vectors and of `otakit artifact validate`), instead of stopping at the
 * first failure like {@link readArtifact}. Reading goes on after a checksum mismatch; the
 * signature is judged as soon as `manifest` and `manifest.sig` are read.
 *
 * @throws {ArtifactError} `ERR_ARTIFACT_INVALID_KEY` when a key cannot be parsed
 *
 * @example
 * ```ts
 * const v = await validateArtifact(createReadStream('a.mender'), { keys: [pem] })
 * if (!v.valid) console.error(v.parse, v.checksum, v.verify, v.error?.code)
 * ```
 */
export async function validateArtifact(
  source: Readable | AsyncIterable<Uint8Array>,
  options: ValidateArtifactOptions = {},
): Promise<ArtifactValidation> {
  const diagnosis: Diagnosis = { keys: (options.keys ?? []).map(toPublicKey) };
  let info: ArtifactInfo | undefined;
  let error: ArtifactError | undefined;
  try {
    info = await runReader(source, { limits: options.limits, signal: options.signal }, diagnosis);
  } catch (err) {
    if (!(err instanceof ArtifactError)) throw err;
    error = err;
  }
  const parse: ParseOutcome = error ? 'error' : 'ok';
  const checksum: ChecksumOutcome = error ? 'n/a' : diagnosis.checksumMismatch ? 'mismatch' : 'ok';
  // A key Mender cannot use is refused before the artifact is even looked at (as mender-artifact
  // does when it loads the key), whatever the artifact.
  const verify: VerifyOutcome[] = diagnosis.keys.map((key, i) =>
    isSupportedKey(key) ? (diagnosis.verdicts?.[i] ?? 'error') : 'unsupported-key',
  );
  return {
    parse,
    checksum,
    verify,
    valid: parse === 'ok' && checksum === 'ok' && (verify.length === 0 || verify.includes('ok')),
    error: error ?? diagnosis.checksumMismatch,
    info: error ? undefined : info,
  };
}

/**
 * Reads and verifies an artifact file: {@link readArtifact} on the file, read in 256 KiB chunks
 * with one read ahead (so disk reads overlap with hashing) into two reused buffers. A zstd or xz
 * data member is not read here: `dd` reads its byte range from the file straight into the decoder
 * program (`$OTAKIT_DD`, default `dd`; without a usable one, this reads and feeds it). The fastest
 * way to verify a file, in bounded memory whatever its size.
 *
 * @example
 * ```ts
 * const info = await verifyArtifactFile('update.mender', { trustedKeys: [pem] })
 * ```
 */
export async function verifyArtifactFile(
  path: string,
  options: ReadArtifactOptions = {},
): Promise<ArtifactInfo> {
  const chunks = readFileChunks(path, options.signal);
  return runReader(chunks, options, undefined, true, chunks.file);
}
