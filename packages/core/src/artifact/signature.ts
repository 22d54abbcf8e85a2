import { constants, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { ArtifactError } from './errors.js';

/**
 * The result of checking `manifest.sig` with one key: `ok`, `bad-signature` (does not verify:
 * wrong key, wrong algorithm, undecodable base64, empty), or `unsupported-key` (a key type Mender
 * cannot verify with: EC curves other than P-256, Ed25519, DSA, ...).
 */
export type SignatureVerdict = 'ok' | 'bad-signature' | 'unsupported-key';

/** A public key as {@link readArtifact} accepts it: a KeyObject, or PEM text/bytes (`PUBLIC KEY`). */
export type TrustedKey = KeyObject | string | Uint8Array;

/**
 * Turns PEM text or bytes into a public KeyObject (a private key yields its public half).
 * @throws {ArtifactError} `ERR_ARTIFACT_INVALID_KEY`
 */
export function toPublicKey(key: TrustedKey): KeyObject {
  if (typeof key !== 'string' && !(key instanceof Uint8Array)) {
    if (key.type === 'public') return key;
    if (key.type === 'private') return createPublicKey(key);
    throw new ArtifactError('ERR_ARTIFACT_INVALID_KEY', 'a secret key cannot verify signatures');
  }
  try {
    return createPublicKey(typeof key === 'string' ? key : Buffer.from(key));
  } catch (cause) {
    throw new ArtifactError('ERR_ARTIFACT_INVALID_KEY', 'cannot parse a trusted key as a public key', {
      cause,
    });
  }
}

/**
 * Decodes `manifest.sig` as Go's `base64.StdEncoding` does: standard alphabet, padding required,
 * `\r` and `\n` ignored anywhere. `undefined` when it is not valid base64.
 */
export function decodeSignature(raw: Uint8Array): Uint8Array | undefined {
  const text = Buffer.from(raw)
    .toString('latin1')
    .replace(/[\r\n]/g, '');
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
    return undefined;
  }
  return Buffer.from(text, 'base64');
}

/**
 * Checks a Mender manifest signature: SHA-256 over the raw `manifest` bytes, RSASSA-PKCS1-v1_5
 * (any modulus size) or ECDSA P-256 (64-byte raw `r||s`, or 70–72-byte DER as mender-artifact
 * accepts from HSMs).
 *
 * @param manifest the raw bytes of the `manifest` member
 * @param signature the raw bytes of `manifest.sig` (base64 text)
 * @param key the public key to check with
 *
 * @example
 * ```ts
 * verifyManifestSignature(manifestBytes, sigBytes, createPublicKey(pem)) // 'ok' | 'bad-signature' | 'unsupported-key'
 * ```
 */
export function verifyManifestSignature(
  manifest: Uint8Array,
  signature: Uint8Array,
  key: KeyObject,
): SignatureVerdict {
  const kind = keyKind(key);
  if (kind === 'unsupported') return 'unsupported-key';
  const sig = decodeSignature(signature);
  if (sig === undefined || sig.length === 0) return 'bad-signature';
  try {
    if (kind === 'rsa') {
      return verify('sha256', manifest, { key, padding: constants.RSA_PKCS1_PADDING }, sig)
        ? 'ok'
        : 'bad-signature';
    }
    let dsaEncoding: 'ieee-p1363' | 'der';
    if (sig.length === 64) dsaEncoding = 'ieee-p1363';
    else if (sig.length >= 70 && sig.length <= 72) dsaEncoding = 'der';
    else return 'bad-signature';
    return verify('sha256', manifest, { key, dsaEncoding }, sig) ? 'ok' : 'bad-signature';
  } catch {
    return 'bad-signature';
  }
}

/** Whether Mender can verify signatures with this key (RSA of any size, or ECDSA P-256). */
export function isSupportedKey(key: KeyObject): boolean {
  return keyKind(key) !== 'unsupported';
}

function keyKind(key: KeyObject): 'rsa' | 'ec-p256' | 'unsupported' {
  if (key.asymmetricKeyType === 'rsa') return 'rsa';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1')
    return 'ec-p256';
  return 'unsupported';
}
