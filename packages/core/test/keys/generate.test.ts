import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RSA_BITS,
  type DeviceKeyType,
  generateDeviceKey,
  KeyError,
  keyType,
  loadPrivateKey,
  loadPublicKey,
  publicKeysEqual,
  rsaBits,
  signMenderRequest,
  toPrivateKeyPem,
  toSpkiPem,
  verifyMenderRequest,
} from '../../src/keys/index.js';
import { vector } from './fixtures.js';

const LABELS: Record<DeviceKeyType, string> = {
  rsa: 'RSA PRIVATE KEY',
  'ecdsa-p256': 'EC PRIVATE KEY',
  ed25519: 'PRIVATE KEY',
};

describe('generateDeviceKey', () => {
  it('generates ECDSA P-256 by default (the key both Mender and IoT Core accept), written as SEC1', async () => {
    const key = await generateDeviceKey();
    expect(key.type).toBe('ecdsa-p256');
    expect(keyType(key.publicKey)).toBe('ecdsa-p256');
    expect(key.privateKeyPem.startsWith('-----BEGIN EC PRIVATE KEY-----\n')).toBe(true);
  });

  it(`still generates RSA ${DEFAULT_RSA_BITS} when asked, written as PKCS#1 like the Mender client`, async () => {
    const key = await generateDeviceKey({ type: 'rsa' });
    expect(key.type).toBe('rsa');
    expect(rsaBits(key.privateKey)).toBe(3072);
    expect(key.privateKeyPem.startsWith('-----BEGIN RSA PRIVATE KEY-----\n')).toBe(true);
  });

  for (const type of ['rsa', 'ecdsa-p256', 'ed25519'] as DeviceKeyType[]) {
    it(`generates a consistent ${type} pair whose PEM forms load back to the same key`, async () => {
      const key = await generateDeviceKey(type === 'rsa' ? { type, bits: 2048 } : { type });
      expect(key.type).toBe(type);
      expect(keyType(key.privateKey)).toBe(type);
      expect(key.privateKey.type).toBe('private');
      expect(key.publicKey.type).toBe('public');
      expect(key.privateKeyPem.startsWith(`-----BEGIN ${LABELS[type]}-----\n`)).toBe(true);
      expect(key.publicKeyPem).toBe(toSpkiPem(key.privateKey));
      expect(publicKeysEqual(loadPrivateKey(key.privateKeyPem), key.publicKeyPem)).toBe(true);
      expect(publicKeysEqual(loadPublicKey(key.publicKeyPem), key.publicKey)).toBe(true);
      const sig = signMenderRequest('{}', key.privateKeyPem);
      expect(verifyMenderRequest('{}', sig, key.publicKeyPem)).toBe(true);
    });
  }

  it('generates a different key every time', async () => {
    const [a, b] = await Promise.all([
      generateDeviceKey({ type: 'ed25519' }),
      generateDeviceKey({ type: 'ed25519' }),
    ]);
    expect(publicKeysEqual(a!.publicKey, b!.publicKey)).toBe(false);
  });

  it('honours bits for RSA', async () => {
    const key = await generateDeviceKey({ type: 'rsa', bits: 2048 });
    expect(rsaBits(key.publicKey)).toBe(2048);
  });

  it('rejects invalid options with ERR_KEY_OPTIONS', async () => {
    const bad = [
      { type: 'rsa', bits: 1024 },
      { type: 'rsa', bits: 2048.5 },
      { type: 'rsa', bits: 32768 },
      { type: 'ed25519', bits: 2048 },
      { type: 'ecdsa-p256', bits: 3072 },
      { type: 'dsa' },
    ] as const;
    for (const options of bad) {
      const err = await generateDeviceKey(options as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KeyError);
      expect((err as KeyError).code).toBe('ERR_KEY_OPTIONS');
    }
  });
});

describe('toPrivateKeyPem', () => {
  it('re-encodes each vector in the Mender client form: PKCS#1 RSA, SEC1 EC, PKCS#8 Ed25519', () => {
    expect(toPrivateKeyPem(loadPrivateKey(vector('rsa3072.key')))).toContain(
      '-----BEGIN RSA PRIVATE KEY-----',
    );
    expect(toPrivateKeyPem(loadPrivateKey(vector('rsa2048.key')))).toBe(vector('rsa2048.key'));
    expect(toPrivateKeyPem(loadPrivateKey(vector('ecdsa-p256.key')))).toBe(vector('ecdsa-p256.key'));
    expect(toPrivateKeyPem(loadPrivateKey(vector('ed25519.key')))).toBe(vector('ed25519.key'));
  });

  it('refuses a public key', () => {
    expect(() => toPrivateKeyPem(loadPublicKey(vector('ed25519.pub')))).toThrow(
      expect.objectContaining({ code: 'ERR_KEY_NOT_PRIVATE' }),
    );
  });
});
