import type { KeyObject } from 'node:crypto';
import { ArtifactError } from './errors.js';
import type { ManifestEntry } from './manifest.js';
import type { SignatureVerdict } from './signature.js';

/** What a diagnosing read records instead of throwing (see `validateArtifact`). @internal */
export interface Diagnosis {
  /** Keys to evaluate the signature with, one verdict each. */
  keys: KeyObject[];
  /** Set once the signature could be evaluated. */
  verdicts?: (SignatureVerdict | 'missing-signature')[];
  /** The first checksum mismatch seen (reading goes on after it). */
  checksumMismatch?: ArtifactError;
}

/**
 * The manifest's checksum lines as reading goes: which were used, and what happens on a mismatch
 * (an error, or a note in the {@link Diagnosis} and reading goes on).
 * @internal
 */
export class ManifestLedger {
  /** `name` → line, from `manifest` (and `manifest-augment`). */
  entries = new Map<string, ManifestEntry>();
  private readonly consumed = new Set<string>();

  constructor(readonly diagnosis: Diagnosis | undefined) {}

  /** The line for `name`, marked as used; `undefined` when the manifest has none. */
  use(name: string): ManifestEntry | undefined {
    const listed = this.entries.get(name);
    if (listed !== undefined) this.consumed.add(name);
    return listed;
  }

  /** Records (or throws) a checksum mismatch of `member`. */
  mismatch(member: string, expected: string, actual: string): void {
    const err = new ArtifactError(
      'ERR_ARTIFACT_CHECKSUM_MISMATCH',
      `sha256 ${actual} does not match the manifest (${expected})`,
      { member },
    );
    if (!this.diagnosis) throw err;
    this.diagnosis.checksumMismatch ??= err;
  }

  /** Compares a digest with the manifest line for `name`; marks the line as used. */
  checkDigest(name: string, digest: string): ManifestEntry {
    const listed = this.use(name);
    if (listed === undefined) {
      throw new ArtifactError('ERR_ARTIFACT_NOT_IN_MANIFEST', 'no checksum in the manifest', {
        member: name,
      });
    }
    if (listed.sha256 !== digest) this.mismatch(name, listed.sha256, digest);
    return listed;
  }

  /** Throws when a manifest line names a file the artifact did not carry. */
  assertAllUsed(): void {
    for (const name of this.entries.keys()) {
      if (!this.consumed.has(name)) {
        throw new ArtifactError(
          'ERR_ARTIFACT_MISSING_FILE',
          'listed in the manifest but not in the artifact',
          {
            member: name,
          },
        );
      }
    }
  }
}
