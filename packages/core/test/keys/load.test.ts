import { createPrivateKey, createSecretKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OtakitError } from '../../src/errors.js';
import {
  KeyError,
  type KeyErrorCode,
  keyType,
  loadPrivateKey,
  loadPublicKey,
  publicKeysEqual,
  rsaBits,
  toSpkiPem,
} from '../../src/keys/index.js';
import { openssl, tempDir, VECTORS, vector } from './fixtures.js';

function expectKeyError(fn: () => unknown, code: KeyErrorCode): KeyError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(KeyError);
  expect(caught).toBeInstanceOf(OtakitError);
  expect((caught as KeyError).code).toBe(code);
  return caught as KeyError;
}

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('loadPrivateKey', () => {
  for (const v of VECTORS) {
    it(`loads ${v.name} (${v.label}) as ${v.type}`, () => {
      const pem = vector(`${v.name}.key`);
      expect(pem).toContain(`-----BEGIN ${v.label}-----`);
      const key = loadPrivateKey(pem);
      expect(key.type).toBe('private');
      expect(keyType(key)).toBe(v.type);
      if ('bits' in v) expect(rsaBits(key)).toBe(v.bits);
    });

    it(`derives the public half of ${v.name} byte-identical to ${v.name}.pub`, () => {
      const key = loadPrivateKey(vector(`${v.name}.key`));
      expect(toSpkiPem(key)).toBe(vector(`${v.name}.pub`));
      expect(toSpkiPem(vector(`${v.name}.key`))).toBe(vector(`${v.name}.pub`));
    });
  }

  it('accepts the key as bytes, PEM or DER', () => {
    const pem = vector('ecdsa-p256.key');
    const fromBytes = loadPrivateKey(new TextEncoder().encode(pem));
    const der = createPrivateKey(pem).export({ type: 'sec1', format: 'der' });
    const fromDer = loadPrivateKey(new Uint8Array(der));
    expect(toSpkiPem(fromBytes)).toBe(vector('ecdsa-p256.pub'));
    expect(toSpkiPem(fromDer)).toBe(vector('ecdsa-p256.pub'));
  });

  it('skips an EC PARAMETERS block before the key, as openssl ecparam -genkey writes it', () => {
    const pem = openssl(['ecparam', '-name', 'prime256v1', '-genkey']).toString();
    expect(pem).toContain('BEGIN EC PARAMETERS');
    expect(keyType(loadPrivateKey(pem))).toBe('ecdsa-p256');
  });

  it('decrypts an encrypted PKCS#8 key with its passphrase', () => {
    const encrypted = createPrivateKey(vector('rsa2048.key')).export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'correct horse',
    });
    expect(encrypted).toContain('ENCRYPTED PRIVATE KEY');
    expect(toSpkiPem(loadPrivateKey(encrypted, 'correct horse'))).toBe(vector('rsa2048.pub'));
  });

  it('decrypts a legacy Proc-Type encrypted PKCS#1 key with its passphrase', () => {
    const encrypted = createPrivateKey(vector('rsa2048.key')).export({
      type: 'pkcs1',
      format: 'pem',
      cipher: 'aes-128-cbc',
      passphrase: 'pw',
    });
    expect(encrypted).toContain('Proc-Type: 4,ENCRYPTED');
    expect(toSpkiPem(loadPrivateKey(encrypted, 'pw'))).toBe(vector('rsa2048.pub'));
  });

  it('rejects an encrypted key without a passphrase with ERR_KEY_ENCRYPTED', () => {
    const pkcs8 = createPrivateKey(vector('ed25519.key')).export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'x',
    });
    const pkcs1 = createPrivateKey(vector('rsa2048.key')).export({
      type: 'pkcs1',
      format: 'pem',
      cipher: 'aes-128-cbc',
      passphrase: 'x',
    });
    expectKeyError(() => loadPrivateKey(pkcs8), 'ERR_KEY_ENCRYPTED');
    expectKeyError(() => loadPrivateKey(pkcs1), 'ERR_KEY_ENCRYPTED');
    expectKeyError(() => loadPublicKey(pkcs8), 'ERR_KEY_ENCRYPTED');
  });

  it('rejects a wrong passphrase with ERR_KEY_PASSPHRASE', () => {
    const encrypted = createPrivateKey(vector('ecdsa-p256.key')).export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'right',
    });
    expectKeyError(() => loadPrivateKey(encrypted, 'wrong'), 'ERR_KEY_PASSPHRASE');
  });

  it('rejects garbage, empty input and truncated PEM with ERR_KEY_PARSE', () => {
    expectKeyError(() => loadPrivateKey('not a key'), 'ERR_KEY_PARSE');
    expectKeyError(() => loadPrivateKey(''), 'ERR_KEY_PARSE');
    expectKeyError(() => loadPrivateKey(new Uint8Array()), 'ERR_KEY_PARSE');
    expectKeyError(() => loadPrivateKey(new Uint8Array([0x30, 0x82, 0x01, 0x00, 1, 2, 3])), 'ERR_KEY_PARSE');
    const pem = vector('rsa2048.key');
    expectKeyError(() => loadPrivateKey(pem.slice(0, pem.length / 2)), 'ERR_KEY_PARSE');
    const corrupted = pem.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!!!!!!!!!!!!!!!!!');
    expectKeyError(() => loadPrivateKey(corrupted), 'ERR_KEY_PARSE');
  });

  it('rejects a public key or certificate with ERR_KEY_NOT_PRIVATE', () => {
    expectKeyError(() => loadPrivateKey(vector('rsa2048.pub')), 'ERR_KEY_NOT_PRIVATE');
    const der = loadPublicKey(vector('ed25519.pub')).export({ type: 'spki', format: 'der' });
    expectKeyError(() => loadPrivateKey(new Uint8Array(der)), 'ERR_KEY_NOT_PRIVATE');
  });

  it('rejects key types Mender cannot use with ERR_KEY_UNSUPPORTED', () => {
    const x25519 = generateKeyPairSync('x25519').privateKey.export({ type: 'pkcs8', format: 'pem' });
    const secp256k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({
      type: 'sec1',
      format: 'pem',
    });
    const ed448 = generateKeyPairSync('ed448').privateKey.export({ type: 'pkcs8', format: 'pem' });
    const rsaPss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    for (const pem of [x25519, secp256k1, ed448, rsaPss]) {
      expectKeyError(() => loadPrivateKey(pem), 'ERR_KEY_UNSUPPORTED');
    }
    expectKeyError(() => loadPublicKey(rsaPss), 'ERR_KEY_UNSUPPORTED');
    const err = expectKeyError(() => loadPrivateKey(secp256k1), 'ERR_KEY_UNSUPPORTED');
    expect(err.message).toContain('secp256k1');
  });

  it('never puts key material in error messages', () => {
    const pem = vector('rsa2048.key');
    const body = pem.split('\n')[1] ?? '';
    const err = expectKeyError(() => loadPrivateKey(pem.slice(0, 400)), 'ERR_KEY_PARSE');
    expect(err.message).not.toContain(body.slice(0, 16));
  });
});

describe('loadPublicKey', () => {
  for (const v of VECTORS) {
    it(`loads ${v.name}.pub as ${v.type}`, () => {
      const key = loadPublicKey(vector(`${v.name}.pub`));
      expect(key.type).toBe('public');
      expect(keyType(key)).toBe(v.type);
      expect(toSpkiPem(key)).toBe(vector(`${v.name}.pub`));
    });
  }

  it('loads a PKCS#1 RSA PUBLIC KEY to the same SPKI', () => {
    const path = join(tmp.dir, 'rsa3072.pub');
    writeFileSync(path, vector('rsa3072.pub'));
    const rsaPublic = openssl(['rsa', '-pubin', '-in', path, '-RSAPublicKey_out']).toString();
    expect(rsaPublic).toContain('-----BEGIN RSA PUBLIC KEY-----');
    expect(toSpkiPem(rsaPublic)).toBe(vector('rsa3072.pub'));
    expect(publicKeysEqual(rsaPublic, vector('rsa3072.pub'))).toBe(true);
  });

  for (const v of VECTORS) {
    it(`extracts the ${v.name} key from an X.509 certificate made by openssl req -x509`, () => {
      const keyPath = join(tmp.dir, `${v.name}.key`);
      const certPath = join(tmp.dir, `${v.name}.crt`);
      writeFileSync(keyPath, vector(`${v.name}.key`));
      openssl([
        'req',
        '-x509',
        '-new',
        '-key',
        keyPath,
        '-subj',
        '/CN=otakit-test',
        '-days',
        '1',
        '-out',
        certPath,
      ]);
      const cert = readFileSync(certPath, 'utf8');
      expect(cert).toContain('-----BEGIN CERTIFICATE-----');
      expect(toSpkiPem(cert)).toBe(vector(`${v.name}.pub`));
      const der = openssl(['x509', '-in', certPath, '-outform', 'DER']);
      expect(toSpkiPem(new Uint8Array(der))).toBe(vector(`${v.name}.pub`));
    });
  }

  it('derives the public key from a private KeyObject and passes a public KeyObject through', () => {
    const priv = loadPrivateKey(vector('ed25519.key'));
    const pub = loadPublicKey(priv);
    expect(pub.type).toBe('public');
    expect(loadPublicKey(pub)).toBe(pub);
  });

  it('loads the upstream Nitro P-256 key', () => {
    expect(keyType(loadPublicKey(vector('upstream-nitro-ec-p256.pub')))).toBe('ecdsa-p256');
  });

  it('rejects garbage with ERR_KEY_PARSE and a secret key with ERR_KEY_UNSUPPORTED', () => {
    expectKeyError(
      () => loadPublicKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'),
      'ERR_KEY_PARSE',
    );
    expectKeyError(() => loadPublicKey('hello'), 'ERR_KEY_PARSE');
    expectKeyError(() => loadPublicKey(new Uint8Array([1, 2, 3])), 'ERR_KEY_PARSE');
    expectKeyError(
      () => loadPublicKey('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
      'ERR_KEY_PARSE',
    );
    expectKeyError(() => loadPublicKey(createSecretKey(new Uint8Array(32))), 'ERR_KEY_UNSUPPORTED');
  });
});

describe('toSpkiPem and publicKeysEqual', () => {
  it('writes canonical SPKI PEM: 64-column base64 lines and a trailing newline', () => {
    for (const v of VECTORS) {
      const pem = toSpkiPem(vector(`${v.name}.key`));
      const lines = pem.split('\n');
      expect(lines[0]).toBe('-----BEGIN PUBLIC KEY-----');
      expect(pem.endsWith('-----END PUBLIC KEY-----\n')).toBe(true);
      expect(pem).not.toContain('\r');
      const body = lines.slice(1, -2);
      for (const line of body.slice(0, -1)) expect(line).toHaveLength(64);
      expect(body.at(-1)?.length).toBeLessThanOrEqual(64);
    }
  });

  it('normalises CRLF and re-wrapped input to the canonical form', () => {
    const pub = vector('rsa2048.pub');
    const b64 = pub.split('\n').slice(1, -2).join('');
    const messy = `-----BEGIN PUBLIC KEY-----\r\n${b64.match(/.{1,76}/g)?.join('\r\n')}\r\n-----END PUBLIC KEY-----`;
    expect(toSpkiPem(messy)).toBe(pub);
  });

  it('tells equal keys apart from different ones across encodings', () => {
    expect(publicKeysEqual(vector('ecdsa-p256.key'), vector('ecdsa-p256.pub'))).toBe(true);
    expect(publicKeysEqual(loadPrivateKey(vector('rsa2048.key')), vector('rsa2048.pub'))).toBe(true);
    expect(publicKeysEqual(vector('ecdsa-p256.pub'), vector('upstream-nitro-ec-p256.pub'))).toBe(false);
    expect(publicKeysEqual(vector('rsa2048.pub'), vector('rsa3072.pub'))).toBe(false);
    expect(publicKeysEqual(vector('ed25519.pub'), vector('rsa3072.pub'))).toBe(false);
  });
});

describe('keyType and rsaBits', () => {
  it('names the P-521 curve', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-521' });
    expect(keyType(privateKey)).toBe('ecdsa-p521');
  });

  it('rsaBits rejects a non-RSA key', () => {
    expectKeyError(() => rsaBits(loadPublicKey(vector('ed25519.pub'))), 'ERR_KEY_UNSUPPORTED');
  });
});
