import { KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  KeyError,
  loadPrivateKey,
  loadPublicKey,
  signMenderRequest,
  verifyMenderRequest,
} from '../../src/keys/index.js';
import { vector } from './fixtures.js';

/** Runs `fn` and returns 'key' for a KeyObject, the KeyError code for a KeyError; rethrows anything else. */
function outcome(fn: () => KeyObject): string {
  try {
    const key = fn();
    expect(key).toBeInstanceOf(KeyObject);
    return 'key';
  } catch (err) {
    if (err instanceof KeyError) return err.code;
    throw err;
  }
}

const FRAGMENTS = [
  '-----BEGIN ',
  '-----END ',
  'PUBLIC KEY',
  'PRIVATE KEY',
  'RSA PRIVATE KEY',
  'EC PRIVATE KEY',
  'ENCRYPTED PRIVATE KEY',
  'CERTIFICATE',
  '-----',
  '\n',
  '\r\n',
  'Proc-Type: 4,ENCRYPTED\n',
  'MIIB',
  'AAAA',
  '====',
  vector('ecdsa-p256.pub'),
  vector('ed25519.key'),
];

const pemLike = fc
  .array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 12 })), { maxLength: 24 })
  .map((parts) => parts.join(''));

describe('loaders on arbitrary input', () => {
  it('any string yields a key or a typed KeyError from loadPublicKey and loadPrivateKey', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), pemLike), (text) => {
        outcome(() => loadPublicKey(text));
        outcome(() => loadPrivateKey(text));
        outcome(() => loadPrivateKey(text, 'passphrase'));
      }),
      { numRuns: 400 },
    );
  });

  it('any byte string yields a key or a typed KeyError (DER path included)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        outcome(() => loadPublicKey(bytes));
        outcome(() => loadPrivateKey(bytes));
      }),
      { numRuns: 400 },
    );
  });

  it('finds the real key among arbitrary surrounding text', () => {
    fc.assert(
      fc.property(pemLike, pemLike, (before, after) => {
        const text = `${before.replaceAll('-----', '')}\n${vector('rsa2048.pub')}${after}`;
        expect(outcome(() => loadPublicKey(text))).toBe('key');
      }),
      { numRuns: 200 },
    );
  });

  it('rejects a megabyte of unterminated BEGIN lines with ERR_KEY_PARSE instead of hanging', () => {
    const hostile = '-----BEGIN PUBLIC KEY-----\nAAAA'.repeat(30_000);
    expect(outcome(() => loadPublicKey(hostile))).toBe('ERR_KEY_PARSE');
    expect(outcome(() => loadPrivateKey(hostile))).toBe('ERR_KEY_PARSE');
    const dashes = '-----BEGIN '.repeat(90_000);
    expect(outcome(() => loadPublicKey(dashes))).toBe('ERR_KEY_PARSE');
  });

  it('rejects input over the size cap with ERR_KEY_PARSE', () => {
    const huge = `${'#'.repeat(2 * 1024 * 1024)}\n${vector('rsa2048.pub')}`;
    expect(outcome(() => loadPublicKey(huge))).toBe('ERR_KEY_PARSE');
    expect(outcome(() => loadPublicKey(new TextEncoder().encode(huge)))).toBe('ERR_KEY_PARSE');
  });

  it('rejects input of the wrong runtime type with ERR_KEY_PARSE', () => {
    for (const input of [undefined, null, 42, {}, [1, 2, 3]]) {
      expect(outcome(() => loadPublicKey(input as never))).toBe('ERR_KEY_PARSE');
      expect(outcome(() => loadPrivateKey(input as never))).toBe('ERR_KEY_PARSE');
    }
  });
});

describe('verifyMenderRequest on arbitrary signatures', () => {
  const keys = ['rsa2048', 'ecdsa-p256', 'ed25519'].map((name) => ({
    pub: loadPublicKey(vector(`${name}.pub`)),
    priv: loadPrivateKey(vector(`${name}.key`)),
  }));

  it('returns false, never throws, for any string or base64 of any bytes', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b).toString('base64')),
        ),
        fc.string(),
        (signature, body) => {
          for (const { pub } of keys) expect(verifyMenderRequest(body, signature, pub)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('accepts a genuine signature for any body and rejects it after any single-byte change', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (body, at, flip) => {
          for (const { pub, priv } of keys) {
            const sig = signMenderRequest(body, priv);
            expect(verifyMenderRequest(body, sig, pub)).toBe(true);
            const changed = Uint8Array.from(body);
            const index = at % changed.length;
            changed[index] = (changed[index] ?? 0) ^ flip;
            expect(verifyMenderRequest(changed, sig, pub)).toBe(false);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
