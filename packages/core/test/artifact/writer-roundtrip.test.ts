/**
 * Round trips: whatever writeArtifact writes reads back identically through readArtifact, for every
 * combination of image type, compression and signing key, and the signature verifies with the
 * matching public key only.
 */

import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createReadStream, existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactError } from '../../src/artifact/errors.js';
import { readArtifact } from '../../src/artifact/reader.js';
import type { ArtifactInfo } from '../../src/artifact/types.js';
import { type WriteArtifactOptions, writeArtifact } from '../../src/artifact/writer.js';
import { ArtifactWriteError } from '../../src/artifact/writer-errors.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const keysDir = resolve(repoRoot, '../shared/vectors/keys');

let work: string;
const keys: Record<string, { priv: string | KeyObject; pub: string | KeyObject }> = {};

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'otakit-writer-rt-'));
  for (const name of ['rsa2048', 'rsa3072', 'ecdsa-p256']) {
    keys[name] = {
      priv: await readFile(join(keysDir, `${name}.key`), 'utf8'),
      pub: await readFile(join(keysDir, `${name}.pub`), 'utf8'),
    };
  }
  const rsa4096 = generateKeyPairSync('rsa', { modulusLength: 4096 });
  keys.rsa4096 = { priv: rsa4096.privateKey, pub: rsa4096.publicKey };
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  keys['ecdsa-generated'] = { priv: ec.privateKey, pub: ec.publicKey };
  await writeFile(join(work, 'rootfs.ext4'), pseudoRandom(300_000, 1));
  await writeFile(join(work, 'ArtifactInstall_Enter_00_prepare'), '#!/bin/sh\necho prepare\n', {
    mode: 0o755,
  });
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Deterministic bytes that compress only a little. */
function pseudoRandom(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = (x >>> 16) & 0xff;
  }
  return out;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

interface ReadBack {
  info: ArtifactInfo;
  contents: Map<string, Buffer>;
}

async function readBack(path: string, trustedKeys: (string | KeyObject)[] = []): Promise<ReadBack> {
  const contents = new Map<string, Buffer>();
  const info = await readArtifact(createReadStream(path), {
    trustedKeys,
    onPayloadFile: async (file) => {
      const chunks: Buffer[] = [];
      for await (const chunk of file.stream) chunks.push(chunk as Buffer);
      contents.set(file.name, Buffer.concat(chunks));
    },
  });
  return { info, contents };
}

const COMPRESSIONS = ['none', 'gzip', 'lzma', 'zstd_best'] as const;
const EXPECTED_KIND = { none: 'none', gzip: 'gzip', lzma: 'lzma', zstd_best: 'zstd' } as const;
const SIGNERS = [undefined, 'rsa2048', 'rsa3072', 'rsa4096', 'ecdsa-p256', 'ecdsa-generated'] as const;

function moduleOptions(): WriteArtifactOptions {
  return {
    type: 'module-image',
    moduleType: 'custom-module',
    artifactName: 'rt-module-1',
    deviceTypes: ['board-a', 'board-b'],
    artifactGroup: 'beta',
    artifactNameDepends: ['rt-module-0'],
    artifactGroupDepends: ['alpha', 'beta'],
    provides: { 'custom-module.channel': 'beta', 'vendor.build': '77' },
    depends: { 'vendor.hw': 'rev-b', 'vendor.any': ['x', 'y'] },
    clearsProvides: ['vendor.*'],
    metaData: {
      url: 'https://example.invalid/fw.bin',
      size: 123456,
      flags: ['a', 'b'],
      nested: { z: 1, a: 2 },
    },
    scripts: [
      join(work, 'ArtifactInstall_Enter_00_prepare'),
      { name: 'ArtifactCommit_Leave_50_report', content: '#!/bin/sh\nexit 0\n' },
    ],
    files: [
      join(work, 'rootfs.ext4'),
      { name: 'config.json', content: '{"a":1}\n' },
      { name: 'empty.bin', content: new Uint8Array(0) },
      {
        name: 'stream.bin',
        size: 70_000,
        stream: Readable.from([pseudoRandom(50_000, 2), pseudoRandom(20_000, 3)]),
      },
    ],
  };
}

function rootfsOptions(): WriteArtifactOptions {
  return {
    type: 'rootfs-image',
    artifactName: 'rt-rootfs-1',
    deviceTypes: ['qemux86-64'],
    artifactGroup: 'stable',
    provides: { 'custom.key': 'value-1' },
    depends: { 'custom.dep': 'needs-1' },
    clearsProvides: ['custom.*'],
    scripts: [{ name: 'ArtifactReboot_Enter_00', content: 'reboot-script' }],
    files: [join(work, 'rootfs.ext4')],
  };
}

async function expectRoundTrip(options: WriteArtifactOptions, signer: string | undefined, file: string) {
  const written = await writeArtifact(options, file);
  const rootfs = await readFile(join(work, 'rootfs.ext4'));
  const trusted = signer ? [keys[signer]!.pub] : [];
  const { info, contents } = await readBack(file, trusted);

  expect(info.formatVersion).toBe(3);
  expect(info.artifactName).toBe(options.artifactName);
  expect(info.deviceTypes).toEqual(options.deviceTypes);
  expect(info.artifactGroup).toBe(options.artifactGroup ?? null);
  expect(info.compression).toBe(EXPECTED_KIND[options.compression as keyof typeof EXPECTED_KIND]);
  expect(info.signed).toBe(signer !== undefined);
  expect(info.signatureVerified).toBe(signer !== undefined);
  expect(info.augmented).toBe(false);
  expect(info.payloadTypes).toEqual([options.type === 'rootfs-image' ? 'rootfs-image' : options.moduleType]);

  // Provides and depends, merged the way the client does.
  const typeInfo = written.typeInfo as { artifact_provides?: Record<string, string> };
  expect(info.provides).toEqual({
    artifact_name: options.artifactName,
    ...(options.artifactGroup ? { artifact_group: options.artifactGroup } : {}),
    ...typeInfo.artifact_provides,
  });
  for (const [k, v] of Object.entries(options.provides ?? {})) expect(info.provides[k]).toBe(v);
  expect(info.depends).toEqual({
    ...(options.artifactNameDepends?.length ? { artifact_name: options.artifactNameDepends } : {}),
    device_type: options.deviceTypes,
    ...(options.artifactGroupDepends?.length ? { artifact_group: options.artifactGroupDepends } : {}),
    ...options.depends,
  });
  expect(info.clearsProvides.slice(0, options.clearsProvides?.length ?? 0)).toEqual(
    options.clearsProvides ?? [],
  );

  // Header: scripts with content, meta-data.
  const expectedScripts =
    options.type === 'module-image'
      ? ['ArtifactInstall_Enter_00_prepare', 'ArtifactCommit_Leave_50_report']
      : ['ArtifactReboot_Enter_00'];
  expect(info.scripts).toEqual(expectedScripts);
  expect(info.header.scripts.map((s) => Buffer.from(s.content).toString())).toEqual(
    options.type === 'module-image'
      ? ['#!/bin/sh\necho prepare\n', '#!/bin/sh\nexit 0\n']
      : ['reboot-script'],
  );
  expect(info.header.payloads[0]!.metaData).toEqual(options.metaData ?? null);

  // Files: names, sizes, digests and content.
  expect(info.files.map((f) => ({ name: f.name, size: f.size, sha256: f.sha256 }))).toEqual(written.files);
  expect(contents.get('rootfs.ext4')!.equals(rootfs)).toBe(true);
  if (options.type === 'module-image') {
    expect(info.files.map((f) => f.name)).toEqual(['rootfs.ext4', 'config.json', 'empty.bin', 'stream.bin']);
    expect(contents.get('config.json')!.toString()).toBe('{"a":1}\n');
    expect(contents.get('empty.bin')!.length).toBe(0);
    expect(
      contents.get('stream.bin')!.equals(Buffer.concat([pseudoRandom(50_000, 2), pseudoRandom(20_000, 3)])),
    ).toBe(true);
  } else {
    expect(info.provides['rootfs-image.checksum']).toBe(sha256(rootfs));
  }
  return written;
}

describe('writeArtifact round trips through readArtifact', () => {
  for (const type of ['module-image', 'rootfs-image'] as const) {
    for (const compression of COMPRESSIONS) {
      for (const signer of SIGNERS) {
        it(`${type}, ${compression}, ${signer ?? 'unsigned'}`, async () => {
          const options = type === 'module-image' ? moduleOptions() : rootfsOptions();
          options.compression = compression;
          if (signer) options.signingKey = keys[signer]!.priv;
          const file = join(work, `${type}-${compression}-${signer ?? 'unsigned'}.mender`);
          const written = await expectRoundTrip(options, signer, file);
          expect(written.members).toEqual([
            'version',
            'manifest',
            ...(signer ? ['manifest.sig'] : []),
            `header.tar${{ none: '', gzip: '.gz', lzma: '.xz', zstd_best: '.zst' }[compression]}`,
            `data/0000.tar${{ none: '', gzip: '.gz', lzma: '.xz', zstd_best: '.zst' }[compression]}`,
          ]);
          if (signer) {
            // Every other key refuses the signature.
            for (const other of Object.keys(keys).filter((k) => k !== signer)) {
              const err = await readBack(file, [keys[other]!.pub]).catch((e: unknown) => e);
              expect(err, other).toBeInstanceOf(ArtifactError);
              expect((err as ArtifactError).code).toBe('ERR_ARTIFACT_BAD_SIGNATURE');
            }
            // Any one matching key among several is enough.
            const all = Object.values(keys).map((k) => k.pub);
            expect((await readBack(file, all)).info.signatureVerified).toBe(true);
          } else {
            const err = await readBack(file, [keys.rsa2048!.pub]).catch((e: unknown) => e);
            expect((err as ArtifactError).code).toBe('ERR_ARTIFACT_MISSING_SIGNATURE');
          }
        });
      }
    }
  }

  it('writes the ECDSA signature as raw r||s (64 bytes), RSA as PKCS#1 v1.5 of the key size', async () => {
    for (const [signer, length] of [
      ['ecdsa-p256', 64],
      ['rsa2048', 256],
      ['rsa3072', 384],
      ['rsa4096', 512],
    ] as const) {
      const options = moduleOptions();
      options.signingKey = keys[signer]!.priv;
      const written = await writeArtifact(options, join(work, `sig-${signer}.mender`));
      expect(Buffer.from(written.signature!, 'base64').length, signer).toBe(length);
    }
  });

  it('writes bare defaults: module-image with no files and no meta-data', async () => {
    const file = join(work, 'bare.mender');
    const written = await writeArtifact(
      { type: 'module-image', moduleType: 'script-runner', artifactName: 'bare-1', deviceTypes: ['d'] },
      file,
    );
    expect(written.compression).toBe('gzip');
    const { info } = await readBack(file);
    expect(info.files).toEqual([]);
    expect(info.provides).toEqual({
      artifact_name: 'bare-1',
      'rootfs-image.script-runner.version': 'bare-1',
    });
    expect(info.clearsProvides).toEqual(['rootfs-image.script-runner.*']);
    expect(info.header.payloads[0]!.metaData).toBeNull();
  });

  it('streams a 9 MiB payload through zstd (several frames) and xz', async () => {
    const size = 9 * 1024 * 1024 + 7;
    for (const compression of ['zstd_fastest', 'lzma'] as const) {
      const file = join(work, `multi-frame-${compression}.mender`);
      async function* gen() {
        for (let sent = 0; sent < size; sent += 1024 * 1024) {
          yield pseudoRandom(Math.min(1024 * 1024, size - sent), sent);
        }
      }
      const written = await writeArtifact(
        {
          type: 'module-image',
          moduleType: 'blob',
          artifactName: 'big-1',
          deviceTypes: ['d'],
          compression,
          files: [{ name: 'big.bin', size, stream: gen() }],
        },
        file,
      );
      const hash = createHash('sha256');
      for await (const chunk of gen()) hash.update(chunk);
      expect(written.files[0]!.sha256).toBe(hash.digest('hex'));
      const { info } = await readBack(file);
      expect(info.files[0]).toMatchObject({ name: 'big.bin', size, sha256: written.files[0]!.sha256 });
    }
  });

  it('writes uncompressed artifacts of path payloads without a temporary file, in two passes', async () => {
    const options = moduleOptions();
    options.files = [join(work, 'rootfs.ext4'), { name: 'cfg', content: 'x=1\n' }];
    options.compression = 'none';
    options.tmpDir = join(work, 'no-such-dir');
    const file = join(work, 'direct.mender');
    const written = await writeArtifact(options, file);
    const { info, contents } = await readBack(file);
    expect(info.files).toMatchObject(written.files);
    expect(contents.get('rootfs.ext4')!.equals(await readFile(join(work, 'rootfs.ext4')))).toBe(true);
    // A compressed artifact (or a stream payload) does need the temporary directory.
    options.compression = 'gzip';
    await expect(writeArtifact(options, join(work, 'needs-tmp.mender'))).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });

  it('notices a payload file that changes between the hashing and the writing pass', async () => {
    for (const change of ['same-size', 'longer'] as const) {
      const payload = join(work, `changing-${change}.bin`);
      await writeFile(payload, pseudoRandom(10_000, 9));
      let changed = false;
      const sink = new PassThrough();
      sink.on('data', () => {
        if (changed) return;
        changed = true;
        writeFileSync(payload, change === 'same-size' ? pseudoRandom(10_000, 10) : pseudoRandom(10_001, 9));
      });
      const err = await writeArtifact(
        {
          type: 'module-image',
          moduleType: 'm',
          artifactName: 'a',
          deviceTypes: ['d'],
          compression: 'none',
          files: [payload],
        },
        sink,
      ).catch((e: unknown) => e);
      expect(err, change).toBeInstanceOf(ArtifactWriteError);
      expect((err as ArtifactWriteError).code).toBe('ERR_ARTIFACT_WRITE_PAYLOAD');
    }
  });

  it('writes to a stream as well as to a path', async () => {
    const chunks: Buffer[] = [];
    const sink = new PassThrough();
    sink.on('data', (c: Buffer) => chunks.push(c));
    const written = await writeArtifact(moduleOptions(), sink);
    const bytes = Buffer.concat(chunks);
    expect(bytes.length).toBe(written.bytes);
    const info = await readArtifact(Readable.from([bytes]));
    expect(info.artifactName).toBe('rt-module-1');
  });
});

describe('writeArtifact refuses what mender-artifact refuses', () => {
  const cases: [string, (o: WriteArtifactOptions) => void][] = [
    ['an empty artifact name', (o) => (o.artifactName = '')],
    ['whitespace in the artifact name', (o) => (o.artifactName = 'a b')],
    ['no device type', (o) => (o.deviceTypes = [])],
    ['a payload name with a slash', (o) => (o.files = [{ name: '../etc/passwd', content: 'x' }])],
    ['a payload name with a space', (o) => (o.files = [{ name: 'a b', content: 'x' }])],
    ['a payload name longer than a tar name', (o) => (o.files = [{ name: 'x'.repeat(101), content: 'x' }])],
    [
      'a state script name longer than a tar name',
      (o) => (o.scripts = [{ name: `ArtifactInstall_Enter_00_${'x'.repeat(80)}`, content: 'x' }]),
    ],
    [
      'duplicate payload names',
      (o) =>
        (o.files = [
          { name: 'a', content: 'x' },
          { name: 'a', content: 'y' },
        ]),
    ],
    ['a bad state script name', (o) => (o.scripts = [{ name: 'Download_Enter_00', content: 'x' }])],
    [
      'duplicate scripts',
      (o) =>
        (o.scripts = [
          { name: 'ArtifactInstall_Enter_00', content: 'x' },
          { name: 'ArtifactInstall_Enter_00', content: 'y' },
        ]),
    ],
    ['a provides key of header-info', (o) => (o.provides = { artifact_name: 'x' })],
    ['a depends key of header-info', (o) => (o.depends = { device_type: 'x' })],
    ['meta-data that is not an object', (o) => (o.metaData = [1, 2] as never)],
    ['a module-image without module type', (o) => delete o.moduleType],
    ['an unknown compression', (o) => (o.compression = 'bzip2' as never)],
  ];
  for (const [what, mutate] of cases) {
    it(`refuses ${what}`, async () => {
      const options = moduleOptions();
      mutate(options);
      const out = join(work, 'refused.mender');
      const err = await writeArtifact(options, out).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ArtifactWriteError);
      expect((err as ArtifactWriteError).code).toBe('ERR_ARTIFACT_WRITE_OPTIONS');
      expect(existsSync(out)).toBe(false);
    });
  }

  it('refuses a rootfs-image with other than one file', async () => {
    const options = rootfsOptions();
    options.files = [join(work, 'rootfs.ext4'), { name: 'second', content: 'x' }];
    await expect(writeArtifact(options, join(work, 'r.mender'))).rejects.toMatchObject({
      code: 'ERR_ARTIFACT_WRITE_OPTIONS',
    });
  });

  it('fails and leaves no output when a stream is shorter or longer than declared', async () => {
    for (const size of [10, 1000]) {
      const options = moduleOptions();
      options.files = [{ name: 'short.bin', size, stream: Readable.from([Buffer.alloc(100)]) }];
      const out = join(work, 'short.mender');
      await expect(writeArtifact(options, out)).rejects.toMatchObject({ code: 'ERR_ARTIFACT_WRITE_PAYLOAD' });
      expect(existsSync(out)).toBe(false);
    }
  });

  it('refuses keys Mender cannot verify (P-384, Ed25519, RSA-PSS) and public keys', async () => {
    const bad = [
      await readFile(join(keysDir, 'ecdsa-p384.key'), 'utf8'),
      await readFile(join(keysDir, 'ed25519.key'), 'utf8'),
      generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey,
      keys.rsa2048!.pub,
    ];
    for (const signingKey of bad) {
      const options = moduleOptions();
      options.signingKey = signingKey;
      await expect(writeArtifact(options, join(work, 'badkey.mender'))).rejects.toMatchObject({
        code: 'ERR_ARTIFACT_SIGN_KEY',
      });
    }
  });
});
