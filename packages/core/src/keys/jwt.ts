import type { KeyObject } from 'node:crypto';
import type * as Jose from 'jose';
import { brandErrorClass, OtakitError } from '../errors.js';
import { keyType } from './type.js';

/**
 * The codes a {@link JwtError} carries.
 *
 * - `ERR_JWT_MALFORMED`: not a compact JWS with a JSON header and JSON claims.
 * - `ERR_JWT_ALGORITHM`: the header's `alg` is not one the verifier allows (`none`, `HS256`…), or the
 *   key cannot sign with the algorithm asked for.
 * - `ERR_JWT_SIGNATURE`: no candidate key verifies the signature.
 * - `ERR_JWT_EXPIRED`: `exp` is in the past (beyond the clock tolerance).
 * - `ERR_JWT_CLAIM`: another claim check failed (`aud`, `iss`, `iat` in the future, `nbf`, a
 *   required claim missing, a lifetime over `maxLifetimeSeconds`).
 */
export type JwtErrorCode =
  | 'ERR_JWT_MALFORMED'
  | 'ERR_JWT_ALGORITHM'
  | 'ERR_JWT_SIGNATURE'
  | 'ERR_JWT_EXPIRED'
  | 'ERR_JWT_CLAIM';

/** Thrown when a JWT cannot be signed, decoded or verified. Messages never contain the token. */
export class JwtError extends OtakitError {
  /** Which kind of JWT failure this is. */
  declare readonly code: JwtErrorCode;

  constructor(code: JwtErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
brandErrorClass(JwtError, 'JwtError');

/** The JWS algorithms otakit signs and verifies with. */
export type JwtAlgorithm = 'RS256' | 'ES256' | 'ES384' | 'EdDSA';

/** JWT claims: registered ones typed, any others allowed. */
export interface JwtClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  jti?: string;
  iat?: number;
  nbf?: number;
  exp?: number;
  [claim: string]: unknown;
}

/** A JWT's protected header. */
export interface JwtHeader {
  alg?: string;
  typ?: string;
  kid?: string;
  [parameter: string]: unknown;
}

let jose: Promise<typeof Jose> | undefined;
/** jose, loaded on first use (it is ESM-only; a dynamic import works from the CJS build too). */
function loadJose(): Promise<typeof Jose> {
  jose ??= import('jose').catch((err) => {
    jose = undefined;
    throw err;
  });
  return jose;
}

/**
 * The JWS algorithm for a key: `RS256` for RSA, `ES256` for P-256, `ES384` for P-384, `EdDSA` for
 * Ed25519.
 *
 * @throws {@link JwtError} `ERR_JWT_ALGORITHM` for keys no supported algorithm fits (P-521).
 */
export function jwtAlgorithmFor(key: KeyObject): JwtAlgorithm {
  switch (keyType(key)) {
    case 'rsa':
      return 'RS256';
    case 'ecdsa-p256':
      return 'ES256';
    case 'ecdsa-p384':
      return 'ES384';
    case 'ed25519':
      return 'EdDSA';
    default:
      throw new JwtError('ERR_JWT_ALGORITHM', `no JWT algorithm is supported for a ${keyType(key)} key`);
  }
}

/** Options of {@link signJwt}. */
export interface SignJwtOptions {
  /** The algorithm; default {@link jwtAlgorithmFor} the key. */
  algorithm?: JwtAlgorithm;
  /** Extra protected-header parameters (`kid`…); `alg` and `typ: 'JWT'` are always set. */
  header?: Omit<JwtHeader, 'alg'>;
}

/**
 * Signs `claims` as a compact JWT with a private key, through jose.
 *
 * @example
 * ```ts
 * const token = await signJwt({ aud: 'my-project', iat, exp }, privateKey) // ES256 for a P-256 key
 * ```
 * @throws {@link JwtError} `ERR_JWT_ALGORITHM` when the key cannot sign with the algorithm.
 */
export async function signJwt(
  claims: JwtClaims,
  privateKey: KeyObject,
  options: SignJwtOptions = {},
): Promise<string> {
  const { SignJWT } = await loadJose();
  const alg = options.algorithm ?? jwtAlgorithmFor(privateKey);
  try {
    return await new SignJWT(claims as Jose.JWTPayload)
      .setProtectedHeader({ typ: 'JWT', ...options.header, alg })
      .sign(privateKey);
  } catch (err) {
    throw new JwtError('ERR_JWT_ALGORITHM', `cannot sign a ${alg} JWT with this key`, { cause: err });
  }
}

/**
 * Reads a JWT's header and claims WITHOUT verifying the signature: for a client reading the expiry
 * of its own token, never for trusting one.
 *
 * @throws {@link JwtError} `ERR_JWT_MALFORMED`.
 */
export async function decodeJwt(token: string): Promise<{ header: JwtHeader; claims: JwtClaims }> {
  // jose's decode-only modules (about 1 MiB, against 8 MiB for all of jose): a client reading its
  // own token's expiry (the device agent, at every login) needs nothing else.
  const [{ decodeJwt: decodeClaims }, { decodeProtectedHeader }] = await loadJoseDecoders();
  try {
    if (typeof token !== 'string' || token.split('.').length !== 3) throw new Error('not a compact JWS');
    return { header: decodeProtectedHeader(token) as JwtHeader, claims: decodeClaims(token) as JwtClaims };
  } catch (err) {
    throw new JwtError('ERR_JWT_MALFORMED', 'not a compact JWT with JSON header and claims', { cause: err });
  }
}

type JoseDecoders = [typeof import('jose/jwt/decode'), typeof import('jose/decode/protected_header')];
let joseDecoders: Promise<JoseDecoders> | undefined;
/** jose's two decoders, loaded on first use. */
function loadJoseDecoders(): Promise<JoseDecoders> {
  joseDecoders ??= Promise.all([import('jose/jwt/decode'), import('jose/decode/protected_header')]).catch(
    (err) => {
      joseDecoders = undefined;
      throw err;
    },
  );
  return joseDecoders;
}

/** Options of {@link verifyJwt}. */
export interface VerifyJwtOptions {
  /** The algorithms accepted; anything else (`none`, `HS256`…) is refused. Required. */
  algorithms: readonly JwtAlgorithm[];
  /** The expected `aud` (one of). */
  audience?: string | readonly string[];
  /** The expected `iss`. */
  issuer?: string;
  /** Claims that must be present, e.g. `['iat', 'exp']`. */
  requiredClaims?: readonly string[];
  /** Tolerance for `exp`, `nbf` and `iat` against the clock, seconds. Default 0. */
  clockToleranceSeconds?: number;
  /** Refuse tokens whose `exp - iat` exceeds this (IoT Core: 86 400). */
  maxLifetimeSeconds?: number;
  /** The time to check against. Default now. */
  now?: Date;
}

/**
 * Verifies a compact JWT against one or several candidate public keys (a device may hold up to
 * three credentials) through jose, and checks its claims. The first key that verifies wins.
 *
 * @returns the protected header, the claims and the index of the key that verified.
 * @throws {@link JwtError} with a code saying which check failed.
 *
 * @example
 * ```ts
 * const { claims } = await verifyJwt(token, [publicKey], { algorithms: ['ES256', 'RS256'], audience: 'p1' })
 * ```
 */
export async function verifyJwt(
  token: string,
  keys: KeyObject | readonly KeyObject[],
  options: VerifyJwtOptions,
): Promise<{ header: JwtHeader; claims: JwtClaims; keyIndex: number }> {
  const j = await loadJose();
  const candidates = Array.isArray(keys) ? (keys as readonly KeyObject[]) : [keys as KeyObject];
  let header: JwtHeader;
  try {
    header = j.decodeProtectedHeader(token) as JwtHeader;
    j.decodeJwt(token);
  } catch (err) {
    throw new JwtError('ERR_JWT_MALFORMED', 'not a compact JWT with JSON header and claims', { cause: err });
  }
  if (typeof header.alg !== 'string' || !options.algorithms.includes(header.alg as JwtAlgorithm)) {
    throw new JwtError('ERR_JWT_ALGORITHM', `JWT algorithm ${String(header.alg)} is not accepted`);
  }
  let lastError: unknown;
  for (const [keyIndex, key] of candidates.entries()) {
    try {
      const { payload, protectedHeader } = await j.jwtVerify(token, key, {
        algorithms: [...options.algorithms],
        ...(options.audience !== undefined ? { audience: options.audience as string | string[] } : {}),
        ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
        ...(options.requiredClaims !== undefined ? { requiredClaims: [...options.requiredClaims] } : {}),
        clockTolerance: options.clockToleranceSeconds ?? 0,
        ...(options.now !== undefined ? { currentDate: options.now } : {}),
      });
      const claims = payload as JwtClaims;
      const nowSeconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
      const tolerance = options.clockToleranceSeconds ?? 0;
      if (typeof claims.iat === 'number' && claims.iat > nowSeconds + tolerance) {
        throw new JwtError('ERR_JWT_CLAIM', 'JWT iat is in the future');
      }
      if (
        options.maxLifetimeSeconds !== undefined &&
        (typeof claims.iat !== 'number' ||
          typeof claims.exp !== 'number' ||
          claims.exp - claims.iat > options.maxLifetimeSeconds)
      ) {
        throw new JwtError('ERR_JWT_CLAIM', `JWT lifetime exceeds ${options.maxLifetimeSeconds} s`);
      }
      return { header: protectedHeader as JwtHeader, claims, keyIndex };
    } catch (err) {
      if (err instanceof JwtError) throw err;
      const code = (err as { code?: string }).code;
      if (
        code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' ||
        code === 'ERR_JOSE_NOT_SUPPORTED' ||
        code === 'ERR_JWS_INVALID'
      ) {
        lastError = err;
        continue; // try the next candidate key
      }
      if (code === 'ERR_JWT_EXPIRED')
        throw new JwtError('ERR_JWT_EXPIRED', 'JWT has expired', { cause: err });
      if (code === 'ERR_JOSE_ALG_NOT_ALLOWED') {
        throw new JwtError('ERR_JWT_ALGORITHM', `JWT algorithm ${String(header.alg)} is not accepted`, {
          cause: err,
        });
      }
      if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
        throw new JwtError('ERR_JWT_CLAIM', `JWT claim check failed: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (code === 'ERR_JWT_INVALID') {
        throw new JwtError('ERR_JWT_MALFORMED', 'JWT claims are not a JSON object', { cause: err });
      }
      lastError = err;
    }
  }
  throw new JwtError('ERR_JWT_SIGNATURE', 'no key verifies the JWT signature', { cause: lastError });
}
