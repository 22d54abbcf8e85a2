import { createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { KeyError } from './errors.js';
import { type KeyType, keyType } from './type.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/** The key types {@link generateDeviceKey} can create (those the Mender client generates or accepts). */
export type DeviceKeyType = 'rsa' | 'ecdsa-p256' | 'ed25519';

/** Options of {@link generateDeviceKey}. */
export interface GenerateDeviceKeyOptions {
  /**
   * The key type; `'ecdsa-p256'` by default: the one key type both clouds accept (Mender signs
   * requests with it, Cloud IoT Core verifies ES256 JWTs made with it). `'rsa'` (3072 bits by
   * default) works with both too; `'ed25519'` works with Mender only (IoT Core refuses it).
   */
  type?: DeviceKeyType;
  /** RSA modulus length, 2048 to 16384; 3072 by default. Only valid with `type: 'rsa'`. */
  bits?: number;
}

/** A device key pair, as objects and as the PEM text a device stores and sends. */
export interface DeviceKey {
  /** The key's type. */
  readonly type: KeyType;
  /** The private key, for {@link signMenderRequest}. */
  readonly privateKey: KeyObject;
  /** The public key. */
  readonly publicKey: KeyObject;
  /** The private key as PEM, in the encoding the Mender client writes (see {@link toPrivateKeyPem}). */
  readonly privateKeyPem: string;
  /** The canonical SPKI PEM (`BEGIN PUBLIC KEY`), the `pubkey` a device sends to Mender. */
  readonly publicKeyPem: string;
}

/** The type {@link generateDeviceKey} creates when none is given: ECDSA P-256, usable with Mender and IoT Core. */
export const DEFAULT_DEVICE_KEY_TYPE: DeviceKeyType = 'ecdsa-p256';

/** The default RSA modulus length of generated device keys (the Mender client's `MENDER_DEFAULT_KEY_LENGTH`). */
export const DEFAULT_RSA_BITS = 3072;

const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 16384;

/**
 * Encodes a private key as PEM the way the Mender client writes its key file: RSA as PKCS#1
 * (`RSA PRIVATE KEY`), ECDSA as SEC1 (`EC PRIVATE KEY`), Ed25519 as PKCS#8 (`PRIVATE KEY`).
 * Unencrypted; keep the result out of logs.
 *
 * @throws {@link KeyError} `ERR_KEY_NOT_PRIVATE` for a public key, `ERR_KEY_UNSUPPORTED` for an
 *   unsupported type.
 */
export function toPrivateKeyPem(key: KeyObject): string {
  if (key.type !== 'private') {
    throw new KeyError('ERR_KEY_NOT_PRIVATE', `expected a private key, got a ${key.type} key`);
  }
  const type = keyType(key);
  const encoding = type === 'rsa' ? 'pkcs1' : type === 'ed25519' ? 'pkcs8' : 'sec1';
  return key.export({ type: encoding, format: 'pem' }).toString();
}

/**
 * Wraps a private key as a {@link DeviceKey}, deriving the public half and both PEM forms.
 *
 * @throws {@link KeyError} as {@link toPrivateKeyPem} does.
 */
export function toDeviceKey(privateKey: KeyObject): DeviceKey {
  const privateKeyPem = toPrivateKeyPem(privateKey);
  const publicKey = createPublicKey(privateKey);
  return {
    type: keyType(privateKey),
    privateKey,
    publicKey,
    privateKeyPem,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/**
 * Generates a new device key pair (in the thread pool; the event loop is not blocked): ECDSA P-256
 * unless `options.type` says otherwise.
 *
 * @throws {@link KeyError} `ERR_KEY_OPTIONS` for an unknown type, `bits` outside 2048..16384 or not an
 *   integer, or `bits` with a non-RSA type.
 *
 * @example
 * ```ts
 * const key = await generateDeviceKey({ type: 'ed25519' })
 * await writePrivateKeyFile('/var/lib/otakit/device.key', key.privateKey)
 * ```
 */
export async function generateDeviceKey(options: GenerateDeviceKeyOptions = {}): Promise<DeviceKey> {
  const type = options.type ?? DEFAULT_DEVICE_KEY_TYPE;
  const { bits } = options;
  if (bits !== undefined && type !== 'rsa') {
    throw new KeyError('ERR_KEY_OPTIONS', `bits applies only to RSA keys, not ${type}`);
  }
  let pair: { privateKey: KeyObject };
  if (type === 'rsa') {
    const modulusLength = bits ?? DEFAULT_RSA_BITS;
    if (!Number.isInteger(modulusLength) || modulusLength < MIN_RSA_BITS || modulusLength > MAX_RSA_BITS) {
      throw new KeyError(
        'ERR_KEY_OPTIONS',
        `RSA bits must be an integer from ${MIN_RSA_BITS} to ${MAX_RSA_BITS}, got ${String(bits)}`,
      );
    }
    pair = await generateKeyPairAsync('rsa', { modulusLength, publicExponent: 0x10001 });
  } else if (type === 'ecdsa-p256') {
    pair = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  } else if (type === 'ed25519') {
    pair = await generateKeyPairAsync('ed25519');
  } else {
    throw new KeyError('ERR_KEY_OPTIONS', `unknown device key type: ${String(type)}`);
  }
  return toDeviceKey(pair.privateKey);
}
