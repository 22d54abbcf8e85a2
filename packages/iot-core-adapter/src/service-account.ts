import { createPrivateKey, type KeyObject } from 'node:crypto';
import { signJwt } from '@otakit/core';
import { IotCoreError } from './errors.js';

/** The fields of a Google service-account JSON key file this package uses. */
export interface ServiceAccountKey {
  client_email: string;
  /** PKCS#8 PEM RSA key. */
  private_key: string;
  private_key_id?: string;
}

/** Options of {@link serviceAccountAuth}. */
export interface ServiceAccountAuthOptions {
  /** The `aud` of the self-signed token: the API's root URL. Default `https://cloudiot.googleapis.com/`. */
  audience?: string;
  /** Token lifetime in seconds (at most 3600, Google's limit). Default 3600. */
  ttlSeconds?: number;
  /** The clock (default `() => new Date()`). */
  now?: () => Date;
}

/**
 * Authenticates a {@link RegistryClient} as a Google service account without a token exchange: a
 * self-signed JWT (RS256, `kid` = `private_key_id`, `iss` = `sub` = `client_email`, `aud` = the API
 * root, signed with core's `signJwt`) sent as the bearer token, as Google's client libraries do for
 * APIs that accept it (google.aip.dev/auth/4111). The token is reused until a minute before it
 * expires; calls made while one is being signed share it. The account
 * needs an IoT role (e.g. Cloud IoT Provisioner to create devices, Viewer to list them).
 *
 * @example
 * ```ts
 * const key = JSON.parse(readFileSync('service-account.json', 'utf8'))
 * const registry = new RegistryClient({ project: key.project_id, location, registry, auth: serviceAccountAuth(key) })
 * ```
 */
export function serviceAccountAuth(
  key: ServiceAccountKey,
  options: ServiceAccountAuthOptions = {},
): () => Promise<string> {
  const {
    audience = 'https://cloudiot.googleapis.com/',
    ttlSeconds = 3600,
    now = () => new Date(),
  } = options;
  if (typeof key?.client_email !== 'string' || typeof key.private_key !== 'string') {
    throw new IotCoreError('ERR_IOTCORE_OPTIONS', 'a service-account key needs client_email and private_key');
  }
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 60 || ttlSeconds > 3600) {
    throw new IotCoreError('ERR_IOTCORE_OPTIONS', 'ttlSeconds must be an integer in 60..3600');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key.private_key);
  } catch (err) {
    throw new IotCoreError('ERR_IOTCORE_OPTIONS', 'the service-account private_key cannot be read', {
      cause: err,
    });
  }
  if (privateKey.asymmetricKeyType !== 'rsa') {
    throw new IotCoreError('ERR_IOTCORE_KEY_UNSUPPORTED', 'service-account keys are RSA keys');
  }
  let cached: { token: Promise<string>; exp: number } | undefined;
  return () => {
    const iat = Math.floor(now().getTime() / 1000);
    if (cached !== undefined && cached.exp - iat > 60) return cached.token;
    const claims = {
      iss: key.client_email,
      sub: key.client_email,
      aud: audience,
      iat,
      exp: iat + ttlSeconds,
    };
    const token = signJwt(claims, privateKey, {
      algorithm: 'RS256',
      ...(key.private_key_id ? { header: { kid: key.private_key_id } } : {}),
    });
    const entry = { token, exp: claims.exp };
    cached = entry;
    // A failed signature is not kept: the next call signs again.
    token.catch(() => {
      if (cached === entry) cached = undefined;
    });
    return token;
  };
}
