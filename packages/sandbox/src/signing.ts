import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JwtError, signJwt as signCoreJwt, verifyJwt as verifyCoreJwt } from '@otakit/core';
import type { SandboxContext } from './context.js';
import { HttpError, SandboxError } from './errors.js';
import { writeFileAtomic } from './state-file.js';

/** The server's own secrets: the RS256 key that signs JWTs and the HMAC key that signs links. */
export interface ServerSecrets {
  jwtKey: KeyObject;
  jwtPublicKey: KeyObject;
  linkKey: Buffer;
}

/** Loads the server secrets from `dataDir/secrets.json`, creating them on first use. */
export function loadOrCreateSecrets(dataDir?: string): ServerSecrets {
  const path = dataDir ? join(dataDir, 'secrets.json') : undefined;
  if (path) {
    try {
      const saved = JSON.parse(readFileSync(path, 'utf8')) as { jwtKeyPem: string; linkKey: string };
      const jwtKey = createPrivateKey(saved.jwtKeyPem);
      return { jwtKey, jwtPublicKey: createPublicKey(jwtKey), linkKey: Buffer.from(saved.linkKey, 'base64') };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new SandboxError('ERR_SANDBOX_STATE', `cannot read the server keys in ${path}`, { cause: err });
      }
    }
  }
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const linkKey = randomBytes(32);
  if (path) {
    const jwtKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    writeFileAtomic(path, JSON.stringify({ jwtKeyPem, linkKey: linkKey.toString('base64') }));
  }
  return { jwtKey: privateKey, jwtPublicKey: publicKey, linkKey };
}

/** JWT claims the sandbox issues and reads. */
export interface JwtClaims {
  jti: string;
  sub: string;
  iss: string;
  iat: number;
  exp?: number;
  nbf?: number;
  [claim: string]: unknown;
}

/** Signs `claims` as an RS256 JWT (header `{alg: 'RS256', typ: 'JWT'}`), through core's `signJwt`. */
export function signJwt(claims: JwtClaims, key: KeyObject): Promise<string> {
  return signCoreJwt(claims, key, { algorithm: 'RS256' });
}

/**
 * Verifies an RS256 JWT through core's `verifyJwt`: any other algorithm (`none`, `HS256`…), a bad
 * signature, an `exp` at or before `now`, an `nbf` or `iat` after it, or claims without a string
 * `jti` and `sub` give undefined.
 */
export async function verifyJwt(token: string, key: KeyObject, now: Date): Promise<JwtClaims | undefined> {
  try {
    const { claims } = await verifyCoreJwt(token, key, { algorithms: ['RS256'], now });
    if (typeof claims.jti !== 'string' || typeof claims.sub !== 'string') return undefined;
    return claims as JwtClaims;
  } catch (err) {
    if (err instanceof JwtError) return undefined;
    throw err;
  }
}

/** The query parameters of a signed link. */
export const LINK_EXPIRE_PARAM = 'x-men-expire';
/** The query parameter holding the link's HMAC. */
export const LINK_SIGNATURE_PARAM = 'x-men-signature';

/**
 * Signs a download path with its parameters and an expiry: the HMAC covers the path and every
 * parameter (sorted), so none can be changed without invalidating the link.
 */
export function signLink(path: string, params: Record<string, string>, expire: Date, key: Buffer): string {
  const all = { ...params, [LINK_EXPIRE_PARAM]: expire.toISOString() };
  const query = new URLSearchParams(Object.entries(all).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const mac = createHmac('sha256', key).update(`GET\n${path}\n${query.toString()}`).digest('base64url');
  query.set(LINK_SIGNATURE_PARAM, mac);
  return `${path}?${query.toString()}`;
}

/** Outcome of checking a signed link. */
export type LinkCheck =
  | { ok: true; params: Record<string, string> }
  | { ok: false; reason: 'invalid' | 'expired' };

/** Checks a signed link's HMAC and expiry. */
export function checkLink(path: string, query: URLSearchParams, key: Buffer, now: Date): LinkCheck {
  const mac = query.get(LINK_SIGNATURE_PARAM);
  const expire = query.get(LINK_EXPIRE_PARAM);
  if (!mac || !expire) return { ok: false, reason: 'invalid' };
  const params: Record<string, string> = {};
  for (const [k, v] of query) {
    if (k === LINK_SIGNATURE_PARAM) continue;
    if (Object.hasOwn(params, k)) return { ok: false, reason: 'invalid' };
    params[k] = v;
  }
  const sorted = new URLSearchParams(Object.entries(params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const expected = createHmac('sha256', key).update(`GET\n${path}\n${sorted.toString()}`).digest();
  const given = Buffer.from(mac, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'invalid' };
  const expiresAt = Date.parse(expire);
  if (!Number.isFinite(expiresAt) || expiresAt <= now.getTime()) return { ok: false, reason: 'expired' };
  delete params[LINK_EXPIRE_PARAM];
  return { ok: true, params };
}

/**
 * Checks the signed link a download request came through (path and query of `requestUrl`); throws
 * 403 (`the link has expired` or `invalid link signature`) when it does not hold. @internal
 */
export function requireSignedLink(ctx: SandboxContext, requestUrl: string): URL {
  const url = new URL(requestUrl, 'http://sandbox.invalid');
  const check = checkLink(url.pathname, url.searchParams, ctx.secrets.linkKey, ctx.now());
  if (!check.ok) {
    throw new HttpError(403, check.reason === 'expired' ? 'the link has expired' : 'invalid link signature');
  }
  return url;
}
