import { createPrivateKey, createPublicKey } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  generateDeviceKey,
  KeyError,
  loadOrCreateDeviceKey,
  publicKeysEqual,
  readPrivateKeyFile,
  toSpkiPem,
  writePrivateKeyFile,
} from '../../src/keys/index.js';
import { tempDir, vector } from './fixtures.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

let seq = 0;
function freshDir(): string {
  const dir = join(tmp.dir, `case-${seq++}`);
  mkdirSync(dir);
  return dir;
}

const mode = (path: string): number => statSync(path).mode & 0o777;

describe('writePrivateKeyFile', () => {
  it('writes a KeyObject with mode 0600 and the content round-trips', async () => {
    const dir = freshDir();
    const path = join(dir, 'device.key');
    const key = await generateDeviceKey({ type: 'ecdsa-p256' });
    await writePrivateKeyFile(path, key.privateKey);
    expect(mode(path)).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toBe(key.privateKeyPem);
    const loaded = await readPrivateKeyFile(path);
    expect(publicKeysEqual(loaded, key.publicKey)).toBe(true);
    expect(readdirSync(dir)).toEqual(['device.key']);
  });

  it('writes PEM text exactly as given', async () => {
    const dir = freshDir();
    const path = join(dir, 'k.pem');
    await writePrivateKeyFile(path, vector('rsa3072.key'));
    expect(readFileSync(path, 'utf8')).toBe(vector('rsa3072.key'));
    expect(mode(path)).toBe(0o600);
  });

  it('is 0600 even under a permissive umask', async () => {
    const dir = freshDir();
    const path = join(dir, 'k.pem');
    const previous = process.umask(0o000);
    try {
      await writePrivateKeyFile(path, vector('ed25519.key'));
    } finally {
      process.umask(previous);
    }
    expect(mode(path)).toBe(0o600);
  });

  it('replaces an existing world-readable file atomically: new content, mode 0600, no temp files left', async () => {
    const dir = freshDir();
    const path = join(dir, 'device.key');
    writeFileSync(path, 'old content');
    chmodSync(path, 0o644);
    const before = statSync(path).ino;
    await writePrivateKeyFile(path, vector('ed25519.key'));
    expect(readFileSync(path, 'utf8')).toBe(vector('ed25519.key'));
    expect(mode(path)).toBe(0o600);
    expect(statSync(path).ino).not.toBe(before);
    expect(readdirSync(dir)).toEqual(['device.key']);
  });

  it('with overwrite: false refuses an existing file with ERR_KEY_EXISTS and leaves it untouched', async () => {
    const dir = freshDir();
    const path = join(dir, 'device.key');
    writeFileSync(path, vector('rsa2048.key'));
    const err = await writePrivateKeyFile(path, vector('ed25519.key'), { overwrite: false }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KeyError);
    expect((err as KeyError).code).toBe('ERR_KEY_EXISTS');
    expect(readFileSync(path, 'utf8')).toBe(vector('rsa2048.key'));
    expect(readdirSync(dir)).toEqual(['device.key']);
  });

  it('with overwrite: false creates a missing file', async () => {
    const dir = freshDir();
    const path = join(dir, 'device.key');
    await writePrivateKeyFile(path, vector('ed25519.key'), { overwrite: false });
    expect(readFileSync(path, 'utf8')).toBe(vector('ed25519.key'));
    expect(mode(path)).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['device.key']);
  });

  it('refuses a public key or garbage and writes nothing', async () => {
    const dir = freshDir();
    const path = join(dir, 'device.key');
    for (const [input, code] of [
      [vector('rsa2048.pub'), 'ERR_KEY_NOT_PRIVATE'],
      ['garbage', 'ERR_KEY_PARSE'],
    ] as const) {
      const err = await writePrivateKeyFile(path, input).catch((e: unknown) => e);
      expect((err as KeyError).code).toBe(code);
    }
    const pub = createPublicKey(createPrivateKey(vector('ed25519.key')));
    const err = await writePrivateKeyFile(path, pub).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyError);
    expect((err as KeyError).code).toBe('ERR_KEY_NOT_PRIVATE');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('reports a missing directory as ERR_KEY_FILE', async () => {
    const path = join(tmp.dir, 'no-such-dir', 'device.key');
    const err = await writePrivateKeyFile(path, vector('ed25519.key')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyError);
    expect((err as KeyError).code).toBe('ERR_KEY_FILE');
    expect((err as KeyError).message).not.toContain('PRIVATE');
  });
});

describe('readPrivateKeyFile', () => {
  it('reports a missing file as ERR_KEY_FILE with the system error as cause', async () => {
    const err = await readPrivateKeyFile(join(tmp.dir, 'missing.key')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyError);
    expect((err as KeyError).code).toBe('ERR_KEY_FILE');
    expect(((err as KeyError).cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('loads each vector file', async () => {
    for (const name of ['rsa2048', 'rsa3072', 'ecdsa-p256', 'ecdsa-p384', 'ed25519']) {
      const dir = freshDir();
      const path = join(dir, `${name}.key`);
      writeFileSync(path, vector(`${name}.key`));
      expect(toSpkiPem(await readPrivateKeyFile(path))).toBe(vector(`${name}.pub`));
    }
  });
});

describe('loadOrCreateDeviceKey', () => {
  it('creates the key (and its directory) on first boot, then loads the same key', async () => {
    const path = join(freshDir(), 'state', 'device.key');
    const first = await loadOrCreateDeviceKey(path, { type: 'ed25519' });
    expect(first.created).toBe(true);
    expect(first.type).toBe('ed25519');
    expect(mode(path)).toBe(0o600);
    const second = await loadOrCreateDeviceKey(path, { type: 'ed25519' });
    expect(second.created).toBe(false);
    expect(second.publicKeyPem).toBe(first.publicKeyPem);
  });

  it('keeps an existing key of another type rather than replacing it', async () => {
    const dir = freshDir();
    const path = join(dir, 'device.key');
    writeFileSync(path, vector('rsa2048.key'), { mode: 0o600 });
    const key = await loadOrCreateDeviceKey(path, { type: 'ed25519' });
    expect(key.created).toBe(false);
    expect(key.type).toBe('rsa');
    expect(key.publicKeyPem).toBe(vector('rsa2048.pub'));
  });

  it('refuses to replace a corrupt key file', async () => {
    const dir = freshDir();
    const path = join(dir, 'device.key');
    writeFileSync(path, 'corrupt');
    const err = await loadOrCreateDeviceKey(path).catch((e: unknown) => e);
    expect((err as KeyError).code).toBe('ERR_KEY_PARSE');
    expect(readFileSync(path, 'utf8')).toBe('corrupt');
  });

  it('gives concurrent first boots one key', async () => {
    const dir = freshDir();
    const path = join(dir, 'device.key');
    const keys = await Promise.all(
      Array.from({ length: 6 }, () => loadOrCreateDeviceKey(path, { type: 'ecdsa-p256' })),
    );
    const onDisk = toSpkiPem(readFileSync(path, 'utf8'));
    for (const key of keys) expect(key.publicKeyPem).toBe(onDisk);
    expect(keys.filter((k) => k.created)).toHaveLength(1);
    expect(readdirSync(dir)).toEqual(['device.key']);
  });
});
