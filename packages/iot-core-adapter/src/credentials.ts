import { type KeyObject, X509Certificate } from 'node:crypto';
import { KeyError, keyType, loadPublicKey, toSpkiPem } from '@otakit/core';
import { IotCoreError } from './errors.js';
import type { DeviceCredential, PublicKeyFormat } from './types.js';

/** What `expirationTime` holds when a credential never expires. */
export const UNSET_EXPIRATION_TIME = '1970-01-01T00:00:00Z';

/**
 * Whether a credential is usable for new authentications at `now`: its `expirationTime` is unset,
 * the epoch (how the service renders "unset"), or in the future.
 */
export function isCredentialActive(credential: DeviceCredential, now: Date = new Date()): boolean {
  const t = credential.expirationTime;
  if (t === undefined || t === '') return true;
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) return false;
  return ms === 0 || ms > now.getTime();
}

/**
 * The public key of a registry credential, checked against its format: `RSA_PEM` (SPKI RSA),
 * `ES256_PEM` (SPKI P-256), and the `*_X509_PEM` certificate forms (the certificate's key).
 *
 * @throws {@link IotCoreError} `ERR_IOTCORE_CREDENTIAL` when the key cannot be read or its type does
 *   not match the format.
 */
export function credentialPublicKey(credential: DeviceCredential): KeyObject {
  const format = credential.publicKey?.format;
  const pem = credential.publicKey?.key;
  if (typeof pem !== 'string' || pem === '') {
    throw new IotCoreError('ERR_IOTCORE_CREDENTIAL', 'the credential has no key');
  }
  if (
    format !== 'RSA_PEM' &&
    format !== 'RSA_X509_PEM' &&
    format !== 'ES256_PEM' &&
    format !== 'ES256_X509_PEM'
  ) {
    throw new IotCoreError('ERR_IOTCORE_CREDENTIAL', `unsupported credential format ${String(format)}`);
  }
  let key: KeyObject;
  try {
    key = format.endsWith('_X509_PEM') ? new X509Certificate(pem).publicKey : loadPublicKey(pem);
  } catch (err) {
    throw new IotCoreError('ERR_IOTCORE_CREDENTIAL', `the ${format} credential cannot be parsed`, {
      cause: err,
    });
  }
  let type: string;
  try {
    type = keyType(key);
  } catch (err) {
    if (err instanceof KeyError) {
      throw new IotCoreError('ERR_IOTCORE_CREDENTIAL', `the ${format} credential holds an unsupported key`, {
        cause: err,
      });
    }
    throw err;
  }
  const expected = format.startsWith('RSA') ? 'rsa' : 'ecdsa-p256';
  if (type !== expected) {
    throw new IotCoreError('ERR_IOTCORE_CREDENTIAL', `the ${format} credential holds a ${type} key`);
  }
  return key;
}

/** The credential's public key as canonical SPKI PEM (what Mender's preauthorization takes). */
export function credentialSpkiPem(credential: DeviceCredential): string {
  return toSpkiPem(credentialPublicKey(credential));
}

/**
 * The registry credential for a device key: `RSA_PEM` for RSA, `ES256_PEM` for P-256, with the
 * canonical SPKI PEM. Use it to register the Mender client's key in the registry.
 *
 * @throws {@link IotCoreError} `ERR_IOTCORE_KEY_UNSUPPORTED` for Ed25519 and curves other than P-256.
 *
 * @example
 * ```ts
 * await registry.devices.create({ id: 'g-42', credentials: [toDeviceCredential(key.publicKeyPem)] })
 * ```
 */
export function toDeviceCredential(
  key: KeyObject | string | Uint8Array,
  options: { expirationTime?: string } = {},
): DeviceCredential {
  const pub = loadPublicKey(key);
  const type = keyType(pub);
  let format: PublicKeyFormat;
  if (type === 'rsa') format = 'RSA_PEM';
  else if (type === 'ecdsa-p256') format = 'ES256_PEM';
  else {
    throw new IotCoreError(
      'ERR_IOTCORE_KEY_UNSUPPORTED',
      `Cloud IoT Core accepts RSA and ECDSA P-256 keys only, not ${type}`,
    );
  }
  return {
    publicKey: { format, key: toSpkiPem(pub) },
    ...(options.expirationTime === undefined ? {} : { expirationTime: options.expirationTime }),
  };
}
