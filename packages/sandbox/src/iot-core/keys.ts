import { createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { JwtError, type JwtErrorCode, verifyJwt } from '@otakit/core';
import { RpcError } from './status.js';
import type { PublicKeyFormat } from './v1-types.js';

/** The `PublicKeyFormat` names a credential may have: every one but the unspecified. @internal */
export const CREDENTIAL_FORMATS = [
  'RSA_PEM',
  'RSA_X509_PEM',
  'ES256_PEM',
  'ES256_X509_PEM',
] as const satisfies readonly Exclude<PublicKeyFormat, 'UNSPECIFIED_PUBLIC_KEY_FORMAT'>[];
const FORMATS: readonly string[] = CREDENTIAL_FORMATS;

/**
 * Parses the key of a device credential the way the service validates it at create/patch: the PEM
 * label and key type must match the format. Throws INVALID_ARGUMENT otherwise.
 * @internal
 */
export function parseCredentialKey(format: unknown, key: unknown, position: number): KeyObject {
  const invalid = (why: string) =>
    new RpcError(
      'INVALID_ARGUMENT',
      `The key data for the device credential in position ${position} is invalid. Make sure the format is correct: ${why}`,
    );
  if (typeof format !== 'string' || !FORMATS.includes(format)) {
    throw new RpcError(
      'INVALID_ARGUMENT',
      `Invalid value at 'device.credentials[${position - 1}].public_key.format'`,
    );
  }
  if (typeof key !== 'string') throw invalid('missing key');
  const x509 = format.endsWith('_X509_PEM');
  const rsa = format.startsWith('RSA');
  const label = x509 ? '-----BEGIN CERTIFICATE-----' : '-----BEGIN PUBLIC KEY-----';
  if (!key.trimStart().startsWith(label)) {
    throw invalid(x509 ? 'Invalid X.509 certificate' : `Invalid ${rsa ? 'RS256' : 'ES256'} public key`);
  }
  let parsed: KeyObject;
  try {
    if (x509) {
      const cert = new X509Certificate(key);
      if (Date.parse(cert.validTo) < Date.now()) throw new Error('expired');
      parsed = cert.publicKey;
    } else {
      parsed = createPublicKey({ key, format: 'pem', type: 'spki' });
    }
  } catch {
    throw invalid(x509 ? 'Invalid X.509 certificate' : `Invalid ${rsa ? 'RS256' : 'ES256'} public key`);
  }
  const ok = rsa
    ? parsed.asymmetricKeyType === 'rsa'
    : parsed.asymmetricKeyType === 'ec' && parsed.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  if (!ok) throw invalid(`Invalid ${rsa ? 'RS256' : 'ES256'} public key`);
  return parsed;
}

/** A registered credential as the bridge verifies against it. @internal */
export interface VerifyCredential {
  format: string;
  key: KeyObject;
  /** Epoch ms; 0 when the credential does not expire. */
  expiresAtMs: number;
}

/** Why a device JWT was refused. @internal */
export type JwtRefusal = string;

/** Largest `exp - iat`: 24 h. @internal */
export const MAX_JWT_LIFETIME_S = 24 * 3600;
/** Clock skew allowed on `iat` (and on the lifetime): 10 min. @internal */
export const JWT_SKEW_S = 600;
/** The refusal message of an expired token, as IoT Core words it. @internal */
export const TOKEN_EXPIRED = 'The authorization token expired.';

const REFUSALS: Readonly<Record<JwtErrorCode, JwtRefusal>> = {
  ERR_JWT_MALFORMED: 'malformed JWT',
  ERR_JWT_ALGORITHM: 'unsupported JWT alg (RS256 or ES256 only)',
  ERR_JWT_SIGNATURE: 'JWT signature does not match any of the device credentials',
  ERR_JWT_EXPIRED: TOKEN_EXPIRED,
  ERR_JWT_CLAIM: 'JWT claims refused',
};

/**
 * Verifies a device JWT as the IoT Core bridges do, through core's {@link verifyJwt} (jose): `alg`
 * RS256 or ES256 only (`none`, `HS256`… refused), signed by one of the device's unexpired
 * credentials, `aud` = project, `iat` and `exp` present, `iat` not in the future beyond the 10 min
 * skew, `exp` in the future (no tolerance: an expired token is refused at once) and at most 24 h
 * (plus the skew) after `iat`. Never throws for a bad token.
 *
 * @returns `exp` (seconds since the epoch), or the refusal message (never containing the token).
 * @internal
 */
export async function verifyDeviceJwt(
  token: string,
  credentials: readonly VerifyCredential[],
  project: string,
  nowMs: number,
): Promise<{ ok: true; exp: number } | { ok: false; reason: JwtRefusal }> {
  const keys = credentials.filter((c) => c.expiresAtMs === 0 || c.expiresAtMs > nowMs).map((c) => c.key);
  if (keys.length === 0) return { ok: false, reason: REFUSALS.ERR_JWT_SIGNATURE };
  try {
    const { claims } = await verifyJwt(token, keys, {
      algorithms: ['RS256', 'ES256'],
      audience: project,
      requiredClaims: ['iat', 'exp'],
      clockToleranceSeconds: JWT_SKEW_S,
      maxLifetimeSeconds: MAX_JWT_LIFETIME_S + JWT_SKEW_S,
      now: new Date(nowMs),
    });
    const exp = claims.exp as number;
    if (exp * 1000 <= nowMs) return { ok: false, reason: TOKEN_EXPIRED };
    if (claims.aud !== project) return { ok: false, reason: 'JWT audience does not match the project' };
    return { ok: true, exp };
  } catch (err) {
    if (!(err instanceof JwtError)) return { ok: false, reason: REFUSALS.ERR_JWT_MALFORMED };
    if (err.code === 'ERR_JWT_CLAIM') {
      return {
        ok: false,
        reason: /aud/.test(err.message) ? 'JWT audience does not match the project' : err.message,
      };
    }
    return { ok: false, reason: REFUSALS[err.code] };
  }
}
