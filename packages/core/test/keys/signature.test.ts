import {
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type DeviceKeyType,
  generateDeviceKey,
  KeyError,
  loadPrivateKey,
  signMenderRequest,
  toSpkiPem,
  verifyMenderRequest,
} from '../../src/keys/index.js';
import { openssl, opensslSucceeds, tempDir, VECTORS, vector } from './fixtures.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const BODY = JSON.stringify({
  id_data: JSON.stringify({ mac: '00:01:02:03:04:05', serial: 'ünïcødé-✓' }),
  pubkey: vector('rsa2048.pub'),
});

let seq = 0;
/** Writes a file into the temp dir and returns its path. */
function put(name: string, data: string | Uint8Array): string {
  const path = join(tmp.dir, `${seq++}-${name}`);
  writeFileSync(path, data);
  return path;
}

/** Verifies `signature` (base64) over `body` with the openssl CLI, the way each key type needs. */
function opensslVerifies(
  type: string,
  pubPem: string,
  body: string | Uint8Array,
  signature: string,
): boolean {
  const pub = put('pub.pem', pubPem);
  const data = put('body', body);
  const sig = put('sig.bin', Buffer.from(signature, 'base64'));
  if (type === 'ed25519') {
    return opensslSucceeds([
      'pkeyutl',
      '-verify',
      '-pubin',
      '-inkey',
      pub,
      '-rawin',
      '-in',
      data,
      '-sigfile',
      sig,
    ]);
  }
  return opensslSucceeds(['dgst', '-sha256', '-verify', pub, '-signature', sig, data]);
}

/** A fresh key of the same type (and size) as a vector. */
function otherKeyOfSameType(type: string): KeyObject {
  if (type === 'rsa') return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  if (type === 'ed25519') return generateKeyPairSync('ed25519').privateKey;
  return generateKeyPairSync('ec', { namedCurve: type === 'ecdsa-p384' ? 'P-384' : 'P-256' }).privateKey;
}

/** Signs `body` with the openssl CLI and returns the base64 signature. */
function opensslSign(type: string, keyPem: string, body: string | Uint8Array): string {
  const key = put('key.pem', keyPem);
  const data = put('body', body);
  const sig =
    type === 'ed25519'
      ? openssl(['pkeyutl', '-sign', '-inkey', key, '-rawin', '-in', data])
      : openssl(['dgst', '-sha256', '-sign', key, data]);
  return sig.toString('base64');
}

describe('signMenderRequest against OpenSSL (shared vectors)', () => {
  for (const v of VECTORS) {
    it(`${v.name}: our signature verifies with openssl, and openssl's with verifyMenderRequest`, () => {
      const keyPem = vector(`${v.name}.key`);
      const pubPem = vector(`${v.name}.pub`);
      const ours = signMenderRequest(BODY, keyPem);
      expect(ours).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
      expect(opensslVerifies(v.type, pubPem, BODY, ours)).toBe(true);
      expect(verifyMenderRequest(BODY, ours, pubPem)).toBe(true);

      const theirs = opensslSign(v.type, keyPem, BODY);
      expect(verifyMenderRequest(BODY, theirs, pubPem)).toBe(true);
      expect(verifyMenderRequest(new TextEncoder().encode(BODY), theirs, pubPem)).toBe(true);
    });

    it(`${v.name}: a tampered body, wrong key or a signature over other bytes fails in openssl and here`, () => {
      const keyPem = vector(`${v.name}.key`);
      const pubPem = vector(`${v.name}.pub`);
      const sig = signMenderRequest(BODY, keyPem);
      const tampered = BODY.replace('00:01', '00:02');
      expect(opensslVerifies(v.type, pubPem, tampered, sig)).toBe(false);
      expect(verifyMenderRequest(tampered, sig, pubPem)).toBe(false);
      const wrong = toSpkiPem(otherKeyOfSameType(v.type));
      expect(opensslVerifies(v.type, wrong, BODY, sig)).toBe(false);
      expect(verifyMenderRequest(BODY, sig, wrong)).toBe(false);
      const unrelated = generateKeyPairSync('ed25519').publicKey;
      expect(verifyMenderRequest(BODY, sig, unrelated)).toBe(false);
    });
  }

  it('signs the exact bytes: a body with a trailing newline is a different message', () => {
    const key = vector('ecdsa-p256.key');
    const sig = signMenderRequest(BODY, key);
    expect(verifyMenderRequest(`${BODY}\n`, sig, vector('ecdsa-p256.pub'))).toBe(false);
  });

  it('signs Uint8Array bodies (views into a larger buffer) over just the viewed bytes', () => {
    const backing = new TextEncoder().encode(`xxxx${BODY}yyyy`);
    const view = backing.subarray(4, backing.length - 4);
    const sig = signMenderRequest(view, vector('rsa2048.key'));
    expect(verifyMenderRequest(BODY, sig, vector('rsa2048.pub'))).toBe(true);
    expect(opensslVerifies('rsa', vector('rsa2048.pub'), BODY, sig)).toBe(true);
  });

  it('produces deterministic RSA and Ed25519 signatures and DER-encoded ECDSA', () => {
    expect(signMenderRequest(BODY, vector('rsa2048.key'))).toBe(
      signMenderRequest(BODY, vector('rsa2048.key')),
    );
    expect(signMenderRequest(BODY, vector('ed25519.key'))).toBe(
      signMenderRequest(BODY, vector('ed25519.key')),
    );
    const rsa = Buffer.from(signMenderRequest(BODY, vector('rsa3072.key')), 'base64');
    expect(rsa).toHaveLength(384);
    const ed = Buffer.from(signMenderRequest(BODY, vector('ed25519.key')), 'base64');
    expect(ed).toHaveLength(64);
    const ec = Buffer.from(signMenderRequest(BODY, vector('ecdsa-p256.key')), 'base64');
    expect(ec[0]).toBe(0x30);
    expect(ec[1]).toBe(ec.length - 2);
    const parsed = openssl(['asn1parse', '-inform', 'DER'], ec).toString();
    expect(parsed.match(/INTEGER/g)).toHaveLength(2);
  });
});

describe('signMenderRequest against OpenSSL (generated keys)', () => {
  for (const type of ['rsa', 'ecdsa-p256', 'ed25519'] as DeviceKeyType[]) {
    it(`${type}: a generated key signs what openssl verifies, and verifies what openssl signs`, async () => {
      const key = await generateDeviceKey(type === 'rsa' ? { type, bits: 2048 } : { type });
      const sig = signMenderRequest(BODY, key.privateKey);
      expect(opensslVerifies(type, key.publicKeyPem, BODY, sig)).toBe(true);
      const theirs = opensslSign(type, key.privateKeyPem, BODY);
      expect(verifyMenderRequest(BODY, theirs, key.publicKey)).toBe(true);
      expect(verifyMenderRequest(BODY, theirs, key.publicKeyPem)).toBe(true);
    });
  }

  it('P-384 and P-521 sign with a SHA-256 digest, as the Mender server verifies them', () => {
    for (const curve of ['P-384', 'P-521']) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
      const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const sig = signMenderRequest(BODY, privateKey);
      expect(opensslVerifies('ec', toSpkiPem(privateKey), BODY, sig)).toBe(true);
      expect(verifyMenderRequest(BODY, opensslSign('ec', keyPem, BODY), privateKey)).toBe(true);
    }
  });
});

describe('verifyMenderRequest on hostile input', () => {
  const pub = vector('ecdsa-p256.pub');
  // ECDSA signatures are random and their DER length varies: pick one whose base64 has padding and
  // a '+' or '/', so that the unpadded and URL-safe variants below really differ from it.
  let good = signMenderRequest(BODY, vector('ecdsa-p256.key'));
  while (!good.endsWith('=') || !/[+/]/.test(good)) good = signMenderRequest(BODY, vector('ecdsa-p256.key'));

  it('returns false for truncated, garbage, unpadded or empty signatures without throwing', () => {
    const cases = [
      '',
      '   ',
      'not base64!!',
      good.slice(0, -4),
      good.slice(0, 10),
      good.replace(/=+$/, ''),
      `${good}AAAA`,
      Buffer.from('garbage').toString('base64'),
      Buffer.alloc(72).toString('base64'),
      good.replace(/\+/g, '-').replace(/\//g, '_'),
      '====',
      '\u0000',
    ];
    for (const sig of cases) {
      expect(verifyMenderRequest(BODY, sig, pub)).toBe(false);
    }
    expect(verifyMenderRequest(BODY, 42 as unknown as string, pub)).toBe(false);
  });

  it('accepts surrounding whitespace from a header value but nothing else', () => {
    expect(verifyMenderRequest(BODY, ` ${good}\t`, pub)).toBe(true);
    expect(verifyMenderRequest(BODY, `${good.slice(0, 8)} ${good.slice(8)}`, pub)).toBe(false);
  });

  it('rejects flipped bits in RSA and Ed25519 signatures', () => {
    for (const name of ['rsa2048', 'ed25519']) {
      const sig = Buffer.from(signMenderRequest(BODY, vector(`${name}.key`)), 'base64');
      sig[sig.length - 1] = (sig[sig.length - 1] ?? 0) ^ 0x01;
      expect(verifyMenderRequest(BODY, sig.toString('base64'), vector(`${name}.pub`))).toBe(false);
    }
  });

  it('rejects an ECDSA signature in raw r||s (IEEE P1363) form: Mender wants DER', () => {
    const key = createPrivateKey(vector('ecdsa-p256.key'));
    const p1363 = sign('sha256', Buffer.from(BODY), { key, dsaEncoding: 'ieee-p1363' });
    expect(p1363).toHaveLength(64);
    expect(verify('sha256', Buffer.from(BODY), { key, dsaEncoding: 'ieee-p1363' }, p1363)).toBe(true);
    expect(verifyMenderRequest(BODY, p1363.toString('base64'), pub)).toBe(false);
  });

  it('rejects non-canonical ECDSA DER: trailing bytes or a long-form length', () => {
    const der = Buffer.from(good, 'base64');
    expect(verifyMenderRequest(BODY, Buffer.concat([der, Buffer.from([0])]).toString('base64'), pub)).toBe(
      false,
    );
    const longForm = Buffer.concat([Buffer.from([0x30, 0x81, der[1] ?? 0]), der.subarray(2)]);
    expect(verifyMenderRequest(BODY, longForm.toString('base64'), pub)).toBe(false);
  });

  it('throws a KeyError only for an unusable key', () => {
    expect(() => verifyMenderRequest(BODY, good, 'garbage')).toThrow(KeyError);
    expect(() => verifyMenderRequest(BODY, good, createSecretKey(Buffer.alloc(32)))).toThrow(KeyError);
  });
});

describe('signMenderRequest key checks', () => {
  it('refuses a public key with ERR_KEY_NOT_PRIVATE', () => {
    const pub = createPublicKey(loadPrivateKey(vector('rsa2048.key')));
    expect(() => signMenderRequest(BODY, vector('rsa2048.pub'))).toThrow(
      expect.objectContaining({ code: 'ERR_KEY_NOT_PRIVATE' }),
    );
    expect(() => signMenderRequest(BODY, pub)).toThrow(
      expect.objectContaining({ code: 'ERR_KEY_NOT_PRIVATE' }),
    );
  });

  it('refuses an unsupported private key with ERR_KEY_UNSUPPORTED', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    expect(() => signMenderRequest(BODY, privateKey)).toThrow(
      expect.objectContaining({ code: 'ERR_KEY_UNSUPPORTED' }),
    );
  });
});
