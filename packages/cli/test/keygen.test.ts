/** `otakit device keygen`: the default key type, the other types, and never overwriting a key. */

import { createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyType, loadPrivateKey, publicKeysEqual } from '@otakit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from './helpers.js';

const fresh = () => mkdtemp(join(tmpdir(), 'otakit-cli-keygen-'));

describe('otakit device keygen', () => {
  afterEach(() => {
    process.exitCode = undefined;
  });

  it('writes an ECDSA P-256 key by default (the key both Mender and IoT Core accept)', async () => {
    const out = join(await fresh(), 'device.key');
    const r = await run('device', 'keygen', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const pem = await readFile(out, 'utf8');
    expect(pem).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    expect(keyType(loadPrivateKey(pem))).toBe('ecdsa-p256');
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    expect(publicKeysEqual(loadPrivateKey(pem), r.stdout)).toBe(true);
  });

  it('writes RSA 3072 with --type rsa, and other sizes with --bits', async () => {
    const dir = await fresh();
    const r = await run('device', 'keygen', '--type', 'rsa', '--out', join(dir, 'rsa.key'), '--json');
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { type: string; path: string; publicKey: string };
    expect(doc).toMatchObject({ type: 'rsa', path: join(dir, 'rsa.key') });
    const key = createPrivateKey(await readFile(join(dir, 'rsa.key')));
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(3072);
    expect(publicKeysEqual(key, doc.publicKey)).toBe(true);
    const small = await run(
      'device',
      'keygen',
      '--type',
      'rsa',
      '--bits',
      '2048',
      '--out',
      join(dir, 'r2.key'),
    );
    expect(small.code, small.stderr).toBe(0);
    expect(createPrivateKey(await readFile(join(dir, 'r2.key'))).asymmetricKeyDetails?.modulusLength).toBe(
      2048,
    );
    const wrong = await run('device', 'keygen', '--bits', '2048', '--out', join(dir, 'ec.key'));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^otakit: ERR_CLI_USAGE: --bits applies only to --type rsa/);
  });

  it('writes ed25519 on request, with a warning on stderr that IoT Core refuses it', async () => {
    const out = join(await fresh(), 'ed.key');
    const r = await run('device', 'keygen', '--type', 'ed25519', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(keyType(loadPrivateKey(await readFile(out)))).toBe('ed25519');
    expect(r.stderr).toMatch(/^warning: Cloud IoT Core refuses Ed25519 keys/);
    expect(r.stdout).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  });

  it('refuses to overwrite an existing key file unless --force', async () => {
    const out = join(await fresh(), 'device.key');
    await writeFile(out, 'the old identity', { mode: 0o600 });
    const refused = await run('device', 'keygen', '--out', out);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^otakit: ERR_CLI_KEY_EXISTS: .*device\.key already exists.*--force/);
    expect(refused.stdout).toBe('');
    expect(await readFile(out, 'utf8')).toBe('the old identity');

    const forced = await run('device', 'keygen', '--out', out, '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(keyType(loadPrivateKey(await readFile(out)))).toBe('ecdsa-p256');
  });
});
