import { constants, KeyObject, sign, verify } from 'node:crypto';
import { KeyError } from './errors.js';
import { type KeyInput, loadPrivateKey, loadPublicKey } from './load.js';
import { keyType } from './type.js';

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function bodyBytes(body: string | Uint8Array): Buffer {
  return typeof body === 'string'
    ? Buffer.from(body, 'utf8')
    : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

function privateKeyOf(key: KeyObject | KeyInput): KeyObject {
  if (!(key instanceof KeyObject)) return loadPrivateKey(key);
  if (key.type !== 'private') {
    throw new KeyError('ERR_KEY_NOT_PRIVATE', `signing needs a private key, got a ${key.type} key`);
  }
  return key;
}

/**
 * Signs a Mender device request body and returns the `X-MEN-Signature` header value: standard
 * base64 (with padding) of
 * - RSA: RSASSA-PKCS1-v1_5 over SHA-256 of the body;
 * - ECDSA (any supported curve): ECDSA over SHA-256 of the body, DER `SEQUENCE { r, s }`;
 * - Ed25519: pure Ed25519 over the body bytes.
 *
 * Sign the exact bytes you send: a string body is encoded as UTF-8, so serialise once and send that
 * same string (or sign and send the same `Uint8Array`).
 *
 * @param body - the raw request body.
 * @param privateKey - a private `KeyObject`, or PEM/DER accepted by {@link loadPrivateKey}.
 * @throws {@link KeyError} when the key is not a usable private key.
 *
 * @example
 * ```ts
 * const body = JSON.stringify({ id_data: JSON.stringify({ mac }), pubkey: toSpkiPem(key) })
 * await request(url, { method: 'POST', body, headers: { 'x-men-signature': signMenderRequest(body, key) } })
 * ```
 */
export function signMenderRequest(body: string | Uint8Array, privateKey: KeyObject | KeyInput): string {
  const key = privateKeyOf(privateKey);
  const type = keyType(key);
  const data = bodyBytes(body);
  let signature: Buffer;
  if (type === 'ed25519') {
    signature = sign(null, data, key);
  } else if (type === 'rsa') {
    signature = sign('sha256', data, { key, padding: constants.RSA_PKCS1_PADDING });
  } else {
    signature = sign('sha256', data, { key, dsaEncoding: 'der' });
  }
  return signature.toString('base64');
}

/**
 * Checks an `X-MEN-Signature` value against a request body, the way the Mender server does (see
 * {@link signMenderRequest} for the algorithms). Surrounding whitespace is ignored; otherwise the
 * signature must be standard base64 with padding.
 *
 * Never throws on attacker-controlled input: a malformed, truncated or wrong signature, or a
 * tampered body, returns `false`.
 *
 * @param body - the raw request body, exactly as received.
 * @param signature - the `X-MEN-Signature` header value.
 * @param publicKey - the device's key in any form {@link loadPublicKey} accepts.
 * @throws {@link KeyError} only when `publicKey` itself is not a usable key.
 */
export function verifyMenderRequest(
  body: string | Uint8Array,
  signature: string,
  publicKey: KeyObject | KeyInput,
): boolean {
  const key = loadPublicKey(publicKey);
  const type = keyType(key);
  if (typeof signature !== 'string') return false;
  const encoded = signature.trim();
  if (encoded.length === 0 || !STRICT_BASE64.test(encoded)) return false;
  const sig = Buffer.from(encoded, 'base64');
  const data = bodyBytes(body);
  try {
    if (type === 'ed25519') return verify(null, data, key, sig);
    if (type === 'rsa') return verify('sha256', data, { key, padding: constants.RSA_PKCS1_PADDING }, sig);
    return verify('sha256', data, { key, dsaEncoding: 'der' }, sig);
  } catch {
    return false;
  }
}
