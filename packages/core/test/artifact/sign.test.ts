/**
 * signArtifact: re-signing existing artifacts without touching their payloads, and signManifest's
 * encodings.
 */

import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { loadVectorManifest, readVectorKey, vectorPath } from '@otakit/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactError } from '../../src/artifact/errors.js';
import { readArtifact } from '../../src/artifact/reader.js';
import { signArtifact, signManifest } from '../../src/artifact/sign.js';
import { ArtifactWriteError } from '../../src/artifact/writer-errors.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'otakit-sign-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Outer members as [name, raw header+content+padding bytes]. */
function members(buf: Buffer): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  let off = 0;
  while (off + 512 <= buf.length && !buf.subarray(off, off + 512).every((b) => b === 0)) {
    const name = buf
      .subarray(off, off + 100)
      .toString('utf8')
      .replace(/\0.*$/s, '');
    const size = Number.parseInt(
      buf
        .subarray(off + 124, off + 136)
        .toString('ascii')
        .replace(/\0.*$/s, '')
        .trim(),
      8,
    );
    const end = off + 512 + Math.ceil(size / 512) * 512;
    out.push([name, buf.subarray(off, end)]);
    off = end;
  }
  return out;
}

const unsignedValid = loadVectorManifest().filter(
  (v) =>
    v.kind === 'valid' &&
    v.signed_with === null &&
    v.details?.signed === false &&
    v.mender_artifact_agrees !== false,
);

describe('signArtifact', () => {
  it('has unsigned valid vectors to sign', () => {
    expect(unsignedValid.length).toBeGreaterThanOrEqual(5);
  });

  describe.each(unsignedValid.map((v) => [v.file] as const))('%s', (file) => {
    it.each(['rsa2048', 'rsa3072', 'ecdsa-p256'])(
      'signed with %s verifies with its key only, payloads untouched',
      async (key) => {
        const input = vectorPath(file);
        const output = join(work, `${key}-${file}`);
        const result = await signArtifact(input, output, readVectorKey(`../keys/${key}.key`));
        expect(result.replaced).toBe(false);

        const before = members(await readFile(input));
        const after = members(await readFile(output));
        // manifest.sig inserted right after manifest; every other member copied byte for byte.
        expect(after.map(([n]) => n)).toEqual([
          ...before.slice(0, 2).map(([n]) => n),
          'manifest.sig',
          ...before.slice(2).map(([n]) => n),
        ]);
        const withoutSig = after.filter(([n]) => n !== 'manifest.sig');
        for (let i = 0; i < before.length; i++) expect(withoutSig[i]![1].equals(before[i]![1])).toBe(true);

        const info = await readArtifact(createReadStream(output), {
          trustedKeys: [readVectorKey(`../keys/${key}.pub`)],
        });
        expect(info.signatureVerified).toBe(true);
        for (const other of ['rsa2048', 'rsa3072', 'ecdsa-p256'].filter((k) => k !== key)) {
          await expect(
            readArtifact(createReadStream(output), { trustedKeys: [readVectorKey(`../keys/${other}.pub`)] }),
          ).rejects.toMatchObject({ code: 'ERR_ARTIFACT_BAD_SIGNATURE' });
        }
      },
    );
  });

  it('refuses an already signed artifact unless forced, then replaces the signature', async () => {
    const signed = vectorPath('module-small-rsa2048.mender');
    const err = await signArtifact(
      signed,
      join(work, 'x.mender'),
      readVectorKey('../keys/ecdsa-p256.key'),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactWriteError);
    expect((err as ArtifactWriteError).code).toBe('ERR_ARTIFACT_ALREADY_SIGNED');

    const out = join(work, 'resigned.mender');
    const result = await signArtifact(signed, out, readVectorKey('../keys/ecdsa-p256.key'), { force: true });
    expect(result.replaced).toBe(true);
    expect(members(await readFile(out)).map(([n]) => n)).toEqual(
      members(await readFile(signed)).map(([n]) => n),
    );
    const info = await readArtifact(createReadStream(out), {
      trustedKeys: [readVectorKey('../keys/ecdsa-p256.pub')],
    });
    expect(info.signatureVerified).toBe(true);
    await expect(
      readArtifact(createReadStream(out), { trustedKeys: [readVectorKey('../keys/rsa2048.pub')] }),
    ).rejects.toMatchObject({ code: 'ERR_ARTIFACT_BAD_SIGNATURE' });
  });

  it('writes manifest.sig with mode 0644 like mender-artifact sign', async () => {
    const out = join(work, 'mode.mender');
    await signArtifact(
      vectorPath('module-no-files-unsigned.mender'),
      out,
      readVectorKey('../keys/rsa3072.key'),
    );
    const ours = members(await readFile(out)).find(([n]) => n === 'manifest.sig')![1];
    const tool = members(await readFile(vectorPath('signed-later-rsa3072.mender'))).find(
      ([n]) => n === 'manifest.sig',
    )![1];
    // RSA PKCS#1 v1.5 is deterministic: same key, same manifest, same signature and member bytes.
    expect(ours.equals(tool)).toBe(true);
  });

  it('reads its input from a stream as well', async () => {
    const bytes = await readFile(vectorPath('compress-none.mender'));
    const out = join(work, 'from-stream.mender');
    await signArtifact(
      Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]),
      out,
      readVectorKey('../keys/rsa2048.key'),
    );
    const info = await readArtifact(createReadStream(out), {
      trustedKeys: [readVectorKey('../keys/rsa2048.pub')],
    });
    expect(info.signatureVerified).toBe(true);
  });

  it('rejects inputs that are not artifacts with a typed error and leaves no output', async () => {
    const bytes = await readFile(vectorPath('module-small-unsigned.mender'));
    const cases: [string, Buffer, string][] = [
      ['not a tar', Buffer.alloc(2048, 0x41), 'ERR_ARTIFACT_INVALID_TAR'],
      ['empty', Buffer.alloc(0), 'ERR_ARTIFACT_TRUNCATED'],
      ['cut in the manifest', bytes.subarray(0, 1200), 'ERR_ARTIFACT_TRUNCATED'],
      ['cut in the data', bytes.subarray(0, bytes.length - 1500), 'ERR_ARTIFACT_TRUNCATED'],
      [
        'manifest first',
        Buffer.concat([bytes.subarray(512 * 2, 512 * 4), bytes]),
        'ERR_ARTIFACT_WRONG_ORDER',
      ],
      ['only zero blocks', Buffer.alloc(1024), 'ERR_ARTIFACT_MISSING_MEMBER'],
    ];
    for (const [what, input, code] of cases) {
      const out = join(work, 'bad.mender');
      const err = await signArtifact(Readable.from([input]), out, readVectorKey('../keys/rsa2048.key')).catch(
        (e: unknown) => e,
      );
      expect(err, what).toBeInstanceOf(ArtifactError);
      expect((err as ArtifactError).code, what).toBe(code);
      await expect(readFile(out), what).rejects.toMatchObject({ code: 'ENOENT' });
    }
  });
});

describe('signManifest', () => {
  const manifest = Buffer.from('96bcd965947569404798bcbdb614f103db5a004eb6e364cfc162c146890ea35b  version\n');

  it('signs with ECDSA P-256 as raw r||s that verifies in IEEE P1363 form', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    for (let i = 0; i < 20; i++) {
      const sig = Buffer.from(signManifest(manifest, privateKey), 'base64');
      expect(sig.length).toBe(64);
      expect(verify('sha256', manifest, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    }
  });

  it('signs with RSA PKCS#1 v1.5 / SHA-256 from PEM (PKCS#1 and PKCS#8)', () => {
    for (const name of ['rsa2048', 'rsa3072']) {
      const sig = Buffer.from(signManifest(manifest, readVectorKey(`../keys/${name}.key`)), 'base64');
      const pub = createPublicKey(readVectorKey(`../keys/${name}.pub`));
      expect(verify('sha256', manifest, pub, sig)).toBe(true);
    }
  });

  it('refuses garbage, public keys and unsupported key types', () => {
    for (const key of [
      'not a key',
      readVectorKey('../keys/rsa2048.pub'),
      readVectorKey('../keys/ecdsa-p384.key'),
      readVectorKey('../keys/ed25519.key'),
      createPublicKey(readVectorKey('../keys/rsa2048.pub')),
    ]) {
      expect(() => signManifest(manifest, key)).toThrow(ArtifactWriteError);
    }
  });
});
