import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { generateDeviceKey } from '@otakit/core';
import { describe, expect, it } from 'vitest';
import {
  IotCoreError,
  iotCoreJwtAlgorithm,
  MAX_IOT_CORE_JWT_TTL_SECONDS,
  mintIotCoreJwt,
  mintIotCoreJwtDetailed,
  toDeviceCredential,
} from '../src/index.js';

function parts(token: string) {
  const [h, p, s] = token.split('.') as [string, string, string];
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>,
    input: Buffer.from(`${h}.${p}`),
    signature: Buffer.from(s, 'base64url'),
    raw: [h, p, s],
  };
}

describe('mintIotCoreJwt', () => {
  const now = new Date('2026-03-01T12:00:00Z');
  const iat = Math.floor(now.getTime() / 1000);

  it('signs RS256 with an RSA key in the PKCS#1 PEM the Mender client writes', async () => {
    const key = await generateDeviceKey({ type: 'rsa', bits: 2048 });
    expect(key.privateKeyPem).toContain('BEGIN RSA PRIVATE KEY');
    const token = await mintIotCoreJwt({
      privateKey: key.privateKeyPem,
      projectId: 'proj-1',
      now,
      ttlSeconds: 1200,
    });
    const t = parts(token);
    expect(t.header).toEqual({ alg: 'RS256', typ: 'JWT' });
    expect(t.claims).toEqual({ iat, exp: iat + 1200, aud: 'proj-1' });
    expect(verify('sha256', t.input, createPublicKey(key.publicKeyPem), t.signature)).toBe(true);
    for (const part of t.raw) expect(part).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('signs ES256 with a P-256 key as a 64-byte r||s signature', async () => {
    const key = await generateDeviceKey({ type: 'ecdsa-p256' });
    const jwt = await mintIotCoreJwtDetailed({ privateKey: key.privateKey, projectId: 'proj-2', now });
    const t = parts(jwt.token);
    expect(jwt.algorithm).toBe('ES256');
    expect(t.header.alg).toBe('ES256');
    expect(t.claims).toEqual({ iat, exp: iat + 3600, aud: 'proj-2' });
    expect(t.signature.length).toBe(64);
    expect(
      verify(
        'sha256',
        t.input,
        { key: createPublicKey(key.publicKeyPem), dsaEncoding: 'ieee-p1363' },
        t.signature,
      ),
    ).toBe(true);
    expect(verify('sha256', t.input, createPublicKey(key.publicKeyPem), t.signature)).toBe(false);
  });

  it('refuses Ed25519 and other curves with a typed error', async () => {
    const ed = await generateDeviceKey({ type: 'ed25519' });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey;
    for (const privateKey of [ed.privateKeyPem, p384]) {
      const err = await mintIotCoreJwt({ privateKey, projectId: 'p' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(IotCoreError);
      expect((err as IotCoreError).code).toBe('ERR_IOTCORE_KEY_UNSUPPORTED');
    }
    expect(() => toDeviceCredential(ed.publicKeyPem)).toThrow(IotCoreError);
  });

  it('refuses lifetimes over 24 hours, non-integer or zero, and a missing project', async () => {
    const key = await generateDeviceKey({ type: 'ecdsa-p256' });
    for (const ttlSeconds of [MAX_IOT_CORE_JWT_TTL_SECONDS + 1, 0, 1.5]) {
      await expect(
        mintIotCoreJwt({ privateKey: key.privateKey, projectId: 'p', ttlSeconds }),
      ).rejects.toThrow(expect.objectContaining({ code: 'ERR_IOTCORE_OPTIONS' }));
    }
    await expect(mintIotCoreJwt({ privateKey: key.privateKey, projectId: '' })).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_IOTCORE_OPTIONS' }),
    );
    const max = await mintIotCoreJwtDetailed({
      privateKey: key.privateKey,
      projectId: 'p',
      ttlSeconds: MAX_IOT_CORE_JWT_TTL_SECONDS,
    });
    expect(max.exp - max.iat).toBe(24 * 3600);
  });

  it('picks the algorithm and registry format from the key type', async () => {
    const rsa = await generateDeviceKey({ type: 'rsa', bits: 2048 });
    const ec = await generateDeviceKey({ type: 'ecdsa-p256' });
    expect(iotCoreJwtAlgorithm(rsa.privateKey)).toBe('RS256');
    expect(iotCoreJwtAlgorithm(ec.privateKey)).toBe('ES256');
    expect(toDeviceCredential(rsa.privateKey).publicKey).toEqual({
      format: 'RSA_PEM',
      key: rsa.publicKeyPem,
    });
    expect(toDeviceCredential(ec.publicKeyPem).publicKey).toEqual({
      format: 'ES256_PEM',
      key: ec.publicKeyPem,
    });
  });
});
