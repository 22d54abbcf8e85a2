import type { KeyObject } from 'node:crypto';
import { KeyError } from './errors.js';

/**
 * The key types otakit can sign and verify Mender requests with: what the Mender server accepts
 * for device authentication (RSA of any size, ECDSA on the NIST curves with a SHA-256 digest, and
 * Ed25519).
 */
export type KeyType = 'rsa' | 'ecdsa-p256' | 'ecdsa-p384' | 'ecdsa-p521' | 'ed25519';

const CURVES: Readonly<Record<string, KeyType>> = {
  prime256v1: 'ecdsa-p256',
  'P-256': 'ecdsa-p256',
  secp384r1: 'ecdsa-p384',
  'P-384': 'ecdsa-p384',
  secp521r1: 'ecdsa-p521',
  'P-521': 'ecdsa-p521',
};

/**
 * Tells which {@link KeyType} a private or public key is.
 *
 * @throws {@link KeyError} `ERR_KEY_UNSUPPORTED` for a secret key, or an asymmetric key Mender cannot
 *   use (DSA, DH, X25519, X448, Ed448, RSA-PSS, EC curves other than P-256/P-384/P-521).
 *
 * @example
 * ```ts
 * keyType(loadPublicKey(pem)) // 'ecdsa-p256'
 * ```
 */
export function keyType(key: KeyObject): KeyType {
  if (key.type === 'secret') {
    throw new KeyError('ERR_KEY_UNSUPPORTED', 'expected an asymmetric key, got a secret key');
  }
  const asymmetric = key.asymmetricKeyType;
  if (asymmetric === 'rsa') return 'rsa';
  if (asymmetric === 'ed25519') return 'ed25519';
  if (asymmetric === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
    const type = CURVES[curve];
    if (type !== undefined) return type;
    throw new KeyError('ERR_KEY_UNSUPPORTED', `unsupported EC curve: ${curve || 'unknown'}`);
  }
  throw new KeyError('ERR_KEY_UNSUPPORTED', `unsupported key type: ${asymmetric ?? 'unknown'}`);
}

/**
 * The modulus length in bits of an RSA key (private or public).
 *
 * @throws {@link KeyError} `ERR_KEY_UNSUPPORTED` when the key is not an RSA key.
 */
export function rsaBits(key: KeyObject): number {
  const bits =
    key.type !== 'secret' && key.asymmetricKeyType === 'rsa'
      ? key.asymmetricKeyDetails?.modulusLength
      : undefined;
  if (bits === undefined) {
    throw new KeyError('ERR_KEY_UNSUPPORTED', 'rsaBits needs an RSA key');
  }
  return bits;
}
