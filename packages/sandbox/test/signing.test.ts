import { createHmac, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type JwtClaims, signJwt, verifyJwt } from '../src/signing.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const now = new Date('2026-06-01T12:00:00Z');
const iat = Math.floor(now.getTime() / 1000);
const claims: JwtClaims = {
  jti: 'j1',
  sub: 'dev-1',
  iss: 'Mender',
  iat,
  exp: iat + 60,
  'mender.device': true,
};
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('sandbox JWTs', () => {
  it('signs RS256 JWTs it verifies, keeping every claim', async () => {
    const token = await signJwt(claims, privateKey);
    expect(JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString())).toEqual({
      alg: 'RS256',
      typ: 'JWT',
    });
    expect(await verifyJwt(token, publicKey, now)).toEqual(claims);
  });

  it('refuses an expired token, a foreign signature, alg none and HS256 with the public key as secret', async () => {
    const token = await signJwt(claims, privateKey);
    expect(await verifyJwt(token, publicKey, new Date((iat + 60) * 1000))).toBeUndefined();
    expect(await verifyJwt(await signJwt(claims, other.privateKey), publicKey, now)).toBeUndefined();
    const body = b64(claims);
    expect(await verifyJwt(`${b64({ alg: 'none', typ: 'JWT' })}.${body}.`, publicKey, now)).toBeUndefined();
    const hsInput = `${b64({ alg: 'HS256', typ: 'JWT' })}.${body}`;
    const secret = publicKey.export({ type: 'spki', format: 'pem' });
    const hs = `${hsInput}.${createHmac('sha256', secret).update(hsInput).digest('base64url')}`;
    expect(await verifyJwt(hs, publicKey, now)).toBeUndefined();
    expect(await verifyJwt('not.a.jwt', publicKey, now)).toBeUndefined();
  });

  it('accepts a token without exp (a personal access token without expiry)', async () => {
    const { exp: _exp, ...noExpiry } = claims;
    const token = await signJwt(noExpiry as JwtClaims, privateKey);
    expect(await verifyJwt(token, publicKey, new Date('2036-01-01T00:00:00Z'))).toMatchObject({ jti: 'j1' });
  });
});
