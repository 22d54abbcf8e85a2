import type { KeyObject } from 'node:crypto';
import { ArtifactError } from './errors.js';
import type { Diagnosis } from './manifest-ledger.js';
import { isSupportedKey, verifyManifestSignature } from './signature.js';

const member = 'manifest.sig';

/**
 * Applies the signature policy to `manifest` and its `manifest.sig` (`undefined` when unsigned):
 * returns whether a trusted key verified it, throws when the policy refuses the artifact. When
 * diagnosing, records one verdict per key instead of throwing.
 * @internal
 */
export function checkSignature(
  manifestRaw: Uint8Array,
  signatureRaw: Uint8Array | undefined,
  keys: KeyObject[],
  requireSignature: boolean | undefined,
  diagnosis: Diagnosis | undefined,
): boolean {
  if (diagnosis) {
    diagnosis.verdicts = diagnosis.keys.map((key) =>
      signatureRaw === undefined
        ? 'missing-signature'
        : verifyManifestSignature(manifestRaw, signatureRaw, key),
    );
    return diagnosis.verdicts.includes('ok');
  }
  const required = requireSignature ?? keys.length > 0;
  if (keys.length > 0 && !keys.some(isSupportedKey)) {
    throw new ArtifactError('ERR_ARTIFACT_UNSUPPORTED_KEY', 'no trusted key is of a type Mender supports', {
      member,
    });
  }
  if (signatureRaw === undefined) {
    if (required)
      throw new ArtifactError('ERR_ARTIFACT_MISSING_SIGNATURE', 'the artifact is not signed', { member });
    return false;
  }
  if (keys.length === 0) {
    if (required) {
      throw new ArtifactError(
        'ERR_ARTIFACT_NO_VERIFIER',
        'a signature is required but no trusted key was given',
        {
          member,
        },
      );
    }
    return false;
  }
  const verdicts = keys.map((key) => verifyManifestSignature(manifestRaw, signatureRaw, key));
  if (verdicts.includes('ok')) return true;
  if (verdicts.every((v) => v === 'unsupported-key')) {
    throw new ArtifactError('ERR_ARTIFACT_UNSUPPORTED_KEY', 'no trusted key is of a type Mender supports', {
      member,
    });
  }
  throw new ArtifactError(
    'ERR_ARTIFACT_BAD_SIGNATURE',
    'the signature does not verify with any trusted key',
    {
      member,
    },
  );
}
