import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeJwt, JwtError, jwtAlgorithmFor, signJwt, verifyJwt } from '../../src/index.js';

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed = generateKeyPairSync('ed25519');
const now = Math.floor(Date.now() / 1000);

function b64(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

describe('JWTs over jose', () => {
  it('picks the algorithm from the key', () => {
    expect(jwtAlgorithmFor(ec.privateKey)).toBe('ES256');
    expect(jwtAlgorithmFor(rsa.privateKey)).toBe('RS256');
    expect(jwtAlgorithmFor(ed.privateKey)).toBe('EdDSA');
    const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
    expect(() => jwtAlgorithmFor(p521.privateKey)).toThrow(JwtError);
  });

  it('signs and verifies ES256, RS256 and EdDSA, with raw r||s for ES256', async () => {
    for (const [pair, alg] of [
      [ec, 'ES256'],
      [rsa, 'RS256'],
      [ed, 'EdDSA'],
    ] as const) {
      const token = await signJwt({ aud: 'p1', iat: now, exp: now + 60 }, pair.privateKey);
      const { header, claims } = await decodeJwt(token);
      expect(header).toEqual({ alg, typ: 'JWT' });
      expect(claims).toEqual({ aud: 'p1', iat: now, exp: now + 60 });
      const r = await verifyJwt(token, [pair.publicKey], { algorithms: [alg], audience: 'p1' });
      expect(r.claims.aud).toBe('p1');
      if (alg === 'ES256') expect(Buffer.from(token.split('.')[2] as string, 'base64url')).toHaveLength(64);
    }
  });

  it('tries each candidate key and reports which one verified', async () => {
    const token = await signJwt({ iat: now, exp: now + 60 }, ec.privateKey);
    const r = await verifyJwt(token, [rsa.publicKey, ed.publicKey, ec.publicKey], {
      algorithms: ['ES256', 'RS256'],
    });
    expect(r.keyIndex).toBe(2);
    const err = await verifyJwt(token, [rsa.publicKey], { algorithms: ['ES256', 'RS256'] }).catch((e) => e);
    expect(err).toBeInstanceOf(JwtError);
    expect(err.code).toBe('ERR_JWT_SIGNATURE');
  });

  it('refuses alg none, HS256 and algorithms not allowed', async () => {
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iat: now, exp: now + 60 })}.`;
    await expect(verifyJwt(none, ec.publicKey, { algorithms: ['ES256'] })).rejects.toMatchObject({
      code: 'ERR_JWT_ALGORITHM',
    });
    const hs = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iat: now, exp: now + 60 })}.c2ln`;
    await expect(verifyJwt(hs, ec.publicKey, { algorithms: ['ES256', 'RS256'] })).rejects.toMatchObject({
      code: 'ERR_JWT_ALGORITHM',
    });
    const rs = await signJwt({ iat: now, exp: now + 60 }, rsa.privateKey);
    await expect(verifyJwt(rs, rsa.publicKey, { algorithms: ['ES256'] })).rejects.toMatchObject({
      code: 'ERR_JWT_ALGORITHM',
    });
  });

  it('checks expiry, audience, iat in the future and the lifetime cap', async () => {
    const expired = await signJwt({ aud: 'p1', iat: now - 120, exp: now - 60 }, ec.privateKey);
    await expect(verifyJwt(expired, ec.publicKey, { algorithms: ['ES256'] })).rejects.toMatchObject({
      code: 'ERR_JWT_EXPIRED',
    });
    const other = await signJwt({ aud: 'p2', iat: now, exp: now + 60 }, ec.privateKey);
    await expect(
      verifyJwt(other, ec.publicKey, { algorithms: ['ES256'], audience: 'p1' }),
    ).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM' });
    const future = await signJwt({ iat: now + 3600, exp: now + 7200 }, ec.privateKey);
    await expect(
      verifyJwt(future, ec.publicKey, { algorithms: ['ES256'], clockToleranceSeconds: 600 }),
    ).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM' });
    const long = await signJwt({ iat: now, exp: now + 90_000 }, ec.privateKey);
    await expect(
      verifyJwt(long, ec.publicKey, { algorithms: ['ES256'], maxLifetimeSeconds: 86_400 }),
    ).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM' });
    const missing = await signJwt({ aud: 'p1' }, ec.privateKey);
    await expect(
      verifyJwt(missing, ec.publicKey, { algorithms: ['ES256'], requiredClaims: ['exp'] }),
    ).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM' });
  });

  it('refuses a tampered token and malformed input with typed errors', async () => {
    const token = await signJwt({ aud: 'p1', iat: now, exp: now + 60 }, ec.privateKey);
    const [h, , s] = token.split('.');
    const tampered = `${h}.${b64({ aud: 'p2', iat: now, exp: now + 60 })}.${s}`;
    await expect(verifyJwt(tampered, ec.publicKey, { algorithms: ['ES256'] })).rejects.toMatchObject({
      code: 'ERR_JWT_SIGNATURE',
    });
    for (const bad of ['', 'a.b', 'a.b.c', `${b64({ alg: 'ES256' })}.bm90anNvbg.`]) {
      const err = await verifyJwt(bad, ec.publicKey, { algorithms: ['ES256'] }).catch((e) => e);
      expect(err).toBeInstanceOf(JwtError);
      expect(err.code).toBe('ERR_JWT_MALFORMED');
      await expect(decodeJwt(bad)).rejects.toBeInstanceOf(JwtError);
    }
    for (const bad of [
      `${b64([1])}.${b64({ exp: 1 })}.`,
      `${b64({ alg: 'ES256' })}.${b64('text')}.`,
      'x.y.z.w.v',
    ]) {
      await expect(decodeJwt(bad)).rejects.toMatchObject({ code: 'ERR_JWT_MALFORMED' });
    }
  });

  it('agrees with a signature made by node:crypto directly (interoperability)', async () => {
    const input = `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64({ aud: 'p1', iat: now, exp: now + 60 })}`;
    const sig = sign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
    const r = await verifyJwt(`${input}.${sig.toString('base64url')}`, ec.publicKey, {
      algorithms: ['ES256'],
      audience: 'p1',
    });
    expect(r.claims.exp).toBe(now + 60);
  });
});
