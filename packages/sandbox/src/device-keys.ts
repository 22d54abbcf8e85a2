import { createPublicKey, type KeyObject } from 'node:crypto';
import { toSpkiPem, verifyMenderRequest } from '@otakit/core';

/** A device public key, parsed and in canonical SPKI PEM form. */
export interface DevicePublicKey {
  key: KeyObject;
  pem: string;
}

/**
 * Parses a device public key as the Mender server does: exactly one PEM block of type `PUBLIC KEY`
 * (SubjectPublicKeyInfo) holding an RSA, ECDSA or Ed25519 key; re-encoded to canonical PEM.
 * Returns an error message instead when the key is not acceptable.
 */
export function parseDevicePublicKey(pem: unknown): DevicePublicKey | string {
  if (typeof pem !== 'string' || pem.trim() === '') return 'pubkey: cannot be blank';
  const match = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem);
  if (match?.[1] !== 'PUBLIC KEY') return 'cannot decode public key';
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    return 'cannot decode public key';
  }
  if (
    key.asymmetricKeyType !== 'rsa' &&
    key.asymmetricKeyType !== 'ec' &&
    key.asymmetricKeyType !== 'ed25519'
  ) {
    return 'unrecognized public key type';
  }
  return { key, pem: toSpkiPem(key) };
}

/**
 * Verifies an `X-MEN-Signature` over the raw request body with core's `verifyMenderRequest`: RSA
 * PKCS#1 v1.5 with SHA-256, ECDSA with SHA-256 and a DER signature, or pure Ed25519.
 */
export function verifyDeviceSignature(body: Uint8Array, signature: string, key: KeyObject): boolean {
  try {
    return verifyMenderRequest(body, signature, key);
  } catch {
    return false;
  }
}

/**
 * Normalises identity data like Go's `json.Marshal` of a decoded object: keys sorted at every
 * level, compact. Returns undefined when the value is not a JSON object.
 */
export function normaliseIdentity(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return canonicalJson(value);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
