import { type KeyObject, timingSafeEqual } from 'node:crypto';
import { type KeyInput, loadPublicKey } from './load.js';

/**
 * The canonical SubjectPublicKeyInfo PEM of a key: `-----BEGIN PUBLIC KEY-----`, base64 in 64-column
 * lines, `\n` line ends and a trailing newline. This is the form the Mender server stores and
 * compares auth-set keys in, so send exactly this as `pubkey`.
 *
 * @param key - anything {@link loadPublicKey} accepts (a private key yields its public half).
 * @throws {@link KeyError} as {@link loadPublicKey} does.
 *
 * @example
 * ```ts
 * const body = JSON.stringify({ id_data, pubkey: toSpkiPem(privateKey) })
 * ```
 */
export function toSpkiPem(key: KeyInput | KeyObject): string {
  return loadPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
}

/** The SPKI DER encoding of a key's public half. @internal */
export function spkiDer(key: KeyInput | KeyObject): Buffer {
  return loadPublicKey(key).export({ type: 'spki', format: 'der' });
}

/**
 * Whether two keys have the same public key, whatever their encodings (SPKI, PKCS#1, certificate,
 * private key). Compares the SPKI DER in constant time.
 *
 * @throws {@link KeyError} when either input is not a usable key, as {@link loadPublicKey} does.
 */
export function publicKeysEqual(a: KeyInput | KeyObject, b: KeyInput | KeyObject): boolean {
  const left = spkiDer(a);
  const right = spkiDer(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
