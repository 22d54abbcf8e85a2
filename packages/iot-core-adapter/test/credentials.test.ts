import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDeviceKey, loadPublicKey, publicKeysEqual, toSpkiPem } from '@otakit/core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  credentialPublicKey,
  credentialSpkiPem,
  IotCoreError,
  isCredentialActive,
  UNSET_EXPIRATION_TIME,
} from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'iot-core-creds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed certificate made by openssl, as `gcloud`'s docs tell users to make them. */
function selfSigned(curve: 'rsa' | 'ec'): { cert: string; key: string } {
  const keyFile = join(dir, `${curve}.key`);
  const certFile = join(dir, `${curve}.crt`);
  const keyArgs =
    curve === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-nodes',
      ...keyArgs,
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '30',
      '-subj',
      '/CN=unused',
    ],
    {
      stdio: 'ignore',
    },
  );
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

describe('registry credentials', () => {
  it('treats unset and epoch expiration as never, and compares others with now', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    expect(isCredentialActive({}, now)).toBe(true);
    expect(isCredentialActive({ expirationTime: UNSET_EXPIRATION_TIME }, now)).toBe(true);
    expect(isCredentialActive({ expirationTime: '2026-01-01T00:00:01Z' }, now)).toBe(true);
    expect(isCredentialActive({ expirationTime: '2025-12-31T23:59:59Z' }, now)).toBe(false);
    expect(isCredentialActive({ expirationTime: 'not a time' }, now)).toBe(false);
  });

  it('reads the key of RSA_X509_PEM and ES256_X509_PEM certificates as SPKI', () => {
    for (const [format, kind] of [
      ['RSA_X509_PEM', 'rsa'],
      ['ES256_X509_PEM', 'ec'],
    ] as const) {
      const { cert, key } = selfSigned(kind);
      const pem = credentialSpkiPem({ publicKey: { format, key: cert } });
      expect(pem).toBe(toSpkiPem(loadPublicKey(key)));
    }
  });

  it('refuses a key whose type does not match the format, and unknown formats', async () => {
    const ec = await generateDeviceKey({ type: 'ecdsa-p256' });
    const rsa = await generateDeviceKey({ type: 'rsa', bits: 2048 });
    const bad = [
      { publicKey: { format: 'RSA_PEM' as const, key: ec.publicKeyPem } },
      { publicKey: { format: 'ES256_PEM' as const, key: rsa.publicKeyPem } },
      { publicKey: { format: 'UNSPECIFIED_PUBLIC_KEY_FORMAT' as const, key: rsa.publicKeyPem } },
      { publicKey: { format: 'RSA_X509_PEM' as const, key: rsa.publicKeyPem } },
      {
        publicKey: {
          format: 'RSA_PEM' as const,
          key: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n',
        },
      },
      { publicKey: { format: 'RSA_PEM' as const } },
    ];
    for (const c of bad) {
      expect(() => credentialPublicKey(c)).toThrow(IotCoreError);
      expect(() => credentialPublicKey(c)).toThrow(
        expect.objectContaining({ code: 'ERR_IOTCORE_CREDENTIAL' }),
      );
    }
    expect(
      publicKeysEqual(
        credentialPublicKey({ publicKey: { format: 'ES256_PEM', key: ec.publicKeyPem } }),
        ec.publicKey,
      ),
    ).toBe(true);
  });
});
