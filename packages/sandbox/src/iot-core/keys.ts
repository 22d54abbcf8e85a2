import { createPublicKey, type KeyObject, verify, X509Certificate } from 'node:crypto';
import { RpcError } from './status.js';

/** The `PublicKeyFormat` enum names of the v1 API. */
export type PublicKeyFormat =
  | 'UNSPECIFIED_PUBLIC_KEY_FORMAT'
  | 'RSA_PEM'
  | 'RSA_X509_PEM'
  | 'ES256_PEM'
  | 'ES256_X509_PEM';

const FORMATS: readonly string[] = ['RSA_PEM', 'RSA_X509_PEM', 'ES256_PEM', 'ES256_X509_PEM'];

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
/** Clock skew allowed on `iat` and `exp`: 10 min. @internal */
export const JWT_SKEW_S = 600;

function b64urlJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Verifies a device JWT as the IoT Core bridges do: `alg` RS256 or ES256 (P1363 signature), signed by
 * one of the device's unexpired credentials of the matching family, `aud` = project, `iat` not in
 * the future beyond the skew, `exp` in the future and at most 24 h after `iat`. Returns the claims,
 * or a refusal message.
 * @internal
 */
export function verifyDeviceJwt(
  token: string,
  credentials: readonly VerifyCredential[],
  project: string,
  nowMs: number,
): { ok: true; exp: number } | { ok: false; reason: JwtRefusal } {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'malformed JWT' };
  const [h, p, s] = parts as [string, string, string];
  if (!/^[A-Za-z0-9_-]*$/.test(h + p + s)) return { ok: false, reason: 'JWT is not base64url' };
  const header = b64urlJson(h);
  const claims = b64urlJson(p);
  if (!header || !claims) return { ok: false, reason: 'malformed JWT' };
  const alg = header.alg;
  if (alg !== 'RS256' && alg !== 'ES256') return { ok: false, reason: `unsupported JWT alg ${String(alg)}` };
  const signed = Buffer.from(`${h}.${p}`, 'ascii');
  const signature = Buffer.from(s, 'base64url');
  const family = alg === 'RS256' ? 'RSA' : 'ES256';
  const candidates = credentials.filter(
    (c) => c.format.startsWith(family) && (c.expiresAtMs === 0 || c.expiresAtMs > nowMs),
  );
  const valid = candidates.some((c) => {
    try {
      return alg === 'RS256'
        ? verify('sha256', signed, c.key, signature)
        : verify('sha256', signed, { key: c.key, dsaEncoding: 'ieee-p1363' }, signature);
    } catch {
      return false;
    }
  });
  if (!valid) return { ok: false, reason: 'JWT signature does not match any of the device credentials' };
  const now = Math.floor(nowMs / 1000);
  const { iat, exp, aud } = claims;
  if (typeof iat !== 'number' || typeof exp !== 'number') {
    return { ok: false, reason: 'JWT lacks iat or exp' };
  }
  if (aud !== project) return { ok: false, reason: 'JWT audience does not match the project' };
  if (iat > now + JWT_SKEW_S) return { ok: false, reason: 'JWT issued in the future' };
  if (exp <= now) return { ok: false, reason: 'The authorization token expired.' };
  if (exp - iat > MAX_JWT_LIFETIME_S + JWT_SKEW_S) {
    return { ok: false, reason: 'JWT lifetime exceeds 24 hours' };
  }
  return { ok: true, exp };
}
