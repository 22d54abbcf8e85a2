import { generateKeyPairSync } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import {
  ArtifactError,
  type ArtifactErrorCode,
  type ReadArtifactOptions,
  readArtifact,
  validateArtifact,
  verifyArtifactFile,
} from '@otakit/core';
import {
  type CraftEntry,
  chunked,
  craftArtifact,
  HEADER_INFO,
  sha256,
  tar,
  vectorPath,
} from '@otakit/test-support';
import { describe, expect, it } from 'vitest';

async function rejection(data: Uint8Array, options?: ReadArtifactOptions): Promise<ArtifactError> {
  const err = await readArtifact(chunked(data, 4096), options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ArtifactError);
  return err as ArtifactError;
}

async function expectCode(
  data: Uint8Array,
  code: ArtifactErrorCode,
  member?: string,
  options?: ReadArtifactOptions,
) {
  const err = await rejection(data, options);
  expect(err.code).toBe(code);
  if (member !== undefined) expect(err.member).toBe(member);
  return err;
}

describe('readArtifact on crafted artifacts', () => {
  it('reads a minimal module-image', async () => {
    const info = await readArtifact(chunked(craftArtifact(), 1000));
    expect(info.artifactName).toBe('crafted-1');
    expect(info.files).toEqual([
      { payloadIndex: 0, name: 'config.txt', size: 10, sha256: sha256('key=value\n'), augmented: false },
    ]);
    expect(info.provides).toEqual({
      artifact_name: 'crafted-1',
      'rootfs-image.test-module.version': 'crafted-1',
    });
  });

  it('reads an uncompressed artifact delivered one byte at a time', async () => {
    const data = craftArtifact({ gzip: false, files: [{ name: 'a.bin', data: 'x'.repeat(3000) }] });
    const info = await readArtifact(chunked(data, 1));
    expect(info.files[0]?.sha256).toBe(sha256('x'.repeat(3000)));
  });

  it('reads a gzip vector delivered one byte at a time', async () => {
    const data = readFileSync(vectorPath('module-small-rsa2048.mender'));
    const info = await readArtifact(chunked(data, 1));
    expect(info.artifactName).toBe('shared-small-1');
  });

  it('rejects a tampered payload with a checksum mismatch naming the file', async () => {
    const data = craftArtifact({
      gzip: false,
      manifest: undefined,
      edit: (members) => members,
    });
    const bad = Buffer.from(data);
    const at = bad.indexOf('key=value');
    bad[at] = 'K'.charCodeAt(0);
    await expectCode(bad, 'ERR_ARTIFACT_CHECKSUM_MISMATCH', 'data/0000/config.txt');
  });

  it.each([
    ['symlink', '2'],
    ['hard link', '1'],
    ['character device', '3'],
    ['block device', '4'],
    ['FIFO', '6'],
    ['directory', '5'],
  ])('rejects a %s in the data tar', async (_kind, type) => {
    const files: CraftEntry[] = [
      { name: 'config.txt', data: 'key=value\n' },
      { name: 'evil', type, linkname: '/etc/shadow' },
    ];
    await expectCode(craftArtifact({ files }), 'ERR_ARTIFACT_UNSUPPORTED_ENTRY', 'data/0000/evil');
  });

  it('rejects an absolute payload name', async () => {
    const unlisted = [{ name: '/etc/passwd', data: 'root' }];
    await expectCode(craftArtifact({ unlisted }), 'ERR_ARTIFACT_ABSOLUTE_PATH', 'data/0000//etc/passwd');
  });

  it('rejects a payload name with ..', async () => {
    const unlisted = [{ name: '../x', data: 'root' }];
    await expectCode(craftArtifact({ unlisted }), 'ERR_ARTIFACT_PATH_TRAVERSAL', 'data/0000/../x');
    const listed = [{ name: '../x', data: 'root' }];
    await expectCode(craftArtifact({ files: listed }), 'ERR_ARTIFACT_PATH_TRAVERSAL', 'manifest');
  });

  it('rejects an unlisted payload file', async () => {
    await expectCode(
      craftArtifact({ unlisted: [{ name: 'x.sh', data: 'x' }] }),
      'ERR_ARTIFACT_NOT_IN_MANIFEST',
      'data/0000/x.sh',
    );
    await expectCode(
      craftArtifact({ unlisted: [{ name: 'sub/x', data: 'x' }] }),
      'ERR_ARTIFACT_NOT_IN_MANIFEST',
      'data/0000/sub/x',
    );
  });

  it('rejects a manifest naming a payload in a sub-directory', async () => {
    const files = [{ name: 'sub/x', data: 'root' }];
    await expectCode(
      craftArtifact({ files, manifest: undefined }),
      'ERR_ARTIFACT_INVALID_MANIFEST',
      'manifest',
    );
  });

  it('rejects a payload file listed once but present twice', async () => {
    const files = [
      { name: 'config.txt', data: 'key=value\n' },
      { name: 'config.txt', data: 'key=value\n' },
    ];
    const manifestFor = craftArtifact({ files: [files[0]!] });
    expect(manifestFor.length).toBeGreaterThan(0);
    const header = gzipSync(
      tar([
        { name: 'header-info', data: JSON.stringify(HEADER_INFO) },
        { name: 'headers/0000/type-info', data: '{"type":"test-module"}' },
      ]),
    );
    const version = '{"format":"mender","version":3}';
    const manifest = `${sha256('key=value\n')}  data/0000/config.txt\n${sha256(header)}  header.tar.gz\n${sha256(version)}  version\n`;
    const data = tar([
      { name: 'version', data: version },
      { name: 'manifest', data: manifest },
      { name: 'header.tar.gz', data: header },
      { name: 'data/0000.tar.gz', data: gzipSync(tar(files)) },
    ]);
    await expectCode(data, 'ERR_ARTIFACT_DUPLICATE_ENTRY', 'data/0000/config.txt');
  });

  it('rejects a payload file with forbidden characters', async () => {
    const files = [{ name: 'a b', data: 'x' }];
    const header = gzipSync(
      tar([
        { name: 'header-info', data: JSON.stringify(HEADER_INFO) },
        { name: 'headers/0000/type-info', data: '{"type":"test-module"}' },
      ]),
    );
    const version = '{"format":"mender","version":3}';
    const manifest = `${sha256('x')}  data/0000/a\n${sha256(header)}  header.tar.gz\n${sha256(version)}  version\n`;
    const data = tar([
      { name: 'version', data: version },
      { name: 'manifest', data: manifest },
      { name: 'header.tar.gz', data: header },
      { name: 'data/0000.tar.gz', data: gzipSync(tar(files)) },
    ]);
    await expectCode(data, 'ERR_ARTIFACT_NOT_IN_MANIFEST', 'data/0000/a b');
  });

  it('rejects a duplicated outer member', async () => {
    const data = craftArtifact({ edit: (m) => [...m, m[m.length - 1]!] });
    await expectCode(data, 'ERR_ARTIFACT_DUPLICATE_ENTRY', 'data/0000.tar.gz');
  });

  it('rejects members in the wrong order', async () => {
    const data = craftArtifact({ edit: ([v, m, h, d]) => [v!, m!, d!, h!] });
    await expectCode(data, 'ERR_ARTIFACT_WRONG_ORDER', 'data/0000.tar.gz');
  });

  it('rejects an artifact that does not start with version', async () => {
    const data = craftArtifact({ edit: ([v, m, ...rest]) => [m!, v!, ...rest] });
    await expectCode(data, 'ERR_ARTIFACT_WRONG_ORDER', 'manifest');
  });

  it('rejects an unknown outer member', async () => {
    const data = craftArtifact({
      edit: (m) => [...m.slice(0, 3), { name: 'evil.sh', data: 'x' }, ...m.slice(3)],
    });
    await expectCode(data, 'ERR_ARTIFACT_UNEXPECTED_MEMBER', 'evil.sh');
  });

  it('rejects a symlink as an outer member', async () => {
    const data = craftArtifact({
      edit: (m) => [m[0]!, m[1]!, { name: 'manifest.sig', type: '2', linkname: '/etc/x' }, ...m.slice(2)],
    });
    await expectCode(data, 'ERR_ARTIFACT_UNSUPPORTED_ENTRY', 'manifest.sig');
  });

  it('rejects invalid JSON in version and header-info', async () => {
    await expectCode(craftArtifact({ version: '{"format":' }), 'ERR_ARTIFACT_INVALID_JSON', 'version');
    const header = craftArtifact({
      headerEntries: [{ name: 'header-info', data: '{nope' }],
    });
    await expectCode(header, 'ERR_ARTIFACT_INVALID_JSON', 'header.tar.gz/header-info');
  });

  it('rejects meta-data that is not an object', async () => {
    await expectCode(craftArtifact({ metaData: '[1,2]' }), 'ERR_ARTIFACT_INVALID_HEADER');
  });

  it('rejects header entries out of order and unknown ones', async () => {
    await expectCode(
      craftArtifact({
        headerEntries: [
          { name: 'headers/0000/type-info', data: '{"type":"test-module"}' },
          { name: 'header-info', data: JSON.stringify(HEADER_INFO) },
        ],
      }),
      'ERR_ARTIFACT_WRONG_ORDER',
    );
    await expectCode(
      craftArtifact({ headerExtra: [{ name: 'headers/0000/evil', data: '{}' }] }),
      'ERR_ARTIFACT_INVALID_HEADER',
    );
    await expectCode(
      craftArtifact({ headerExtra: [{ name: 'scripts/../../etc/x', data: 'x' }] }),
      'ERR_ARTIFACT_PATH_TRAVERSAL',
    );
    await expectCode(
      craftArtifact({ headerExtra: [{ name: 'headers/0000/type-info', data: '{"type":"test-module"}' }] }),
      'ERR_ARTIFACT_DUPLICATE_ENTRY',
    );
  });

  it('exposes state scripts with their content', async () => {
    const info = await readArtifact(
      chunked(
        craftArtifact({
          scripts: [{ name: 'scripts/ArtifactInstall_Enter_00', data: '#!/bin/sh\n', mode: 0o755 }],
        }),
        777,
      ),
    );
    expect(info.scripts).toEqual(['ArtifactInstall_Enter_00']);
    expect(Buffer.from(info.header.scripts[0]!.content).toString()).toBe('#!/bin/sh\n');
    expect(info.header.scripts[0]!.mode).toBe(0o755);
  });

  it('decodes header-info like mender-artifact: strict at the top and in artifact_provides, lenient in artifact_depends', async () => {
    const lenient = await readArtifact(
      chunked(
        craftArtifact({
          headerInfo: { ...HEADER_INFO, artifact_depends: { device_type: ['board-x'], future_key: ['x'] } },
        }),
        4096,
      ),
    );
    expect(lenient.depends).toEqual({ device_type: ['board-x'] });
    await expectCode(
      craftArtifact({
        headerInfo: { ...HEADER_INFO, artifact_provides: { artifact_name: 'a', extra: 'b' } },
      }),
      'ERR_ARTIFACT_INVALID_HEADER',
      'header.tar.gz/header-info',
    );
    await expectCode(
      craftArtifact({ headerInfo: { ...HEADER_INFO, payloads: [{ type: 'test-module', extra: 1 }] } }),
      'ERR_ARTIFACT_INVALID_HEADER',
    );
  });

  it('treats an empty artifact_group as no group', async () => {
    const info = await readArtifact(
      chunked(
        craftArtifact({
          headerInfo: { ...HEADER_INFO, artifact_provides: { artifact_name: 'g', artifact_group: '' } },
        }),
        4096,
      ),
    );
    expect(info.artifactGroup).toBeNull();
    expect(info.provides).toEqual({
      artifact_name: 'g',
      artifact_group: '',
      'rootfs-image.test-module.version': 'crafted-1',
    });
  });

  it('does not accept header entries under another spelling (./header-info)', async () => {
    await expectCode(
      craftArtifact({ headerEntries: [{ name: './header-info', data: JSON.stringify(HEADER_INFO) }] }),
      'ERR_ARTIFACT_WRONG_ORDER',
    );
  });

  it('rejects a provides key defined in both header-info and type-info', async () => {
    await expectCode(
      craftArtifact({ typeInfo: { type: 'test-module', artifact_provides: { artifact_name: 'other' } } }),
      'ERR_ARTIFACT_INVALID_HEADER',
    );
  });

  it('rejects a manifest line without its final newline', async () => {
    const good = craftArtifact();
    const text = Buffer.from(good).toString('latin1');
    expect(text.length).toBeGreaterThan(0);
    const data = craftArtifact({
      edit: (m) => m.map((e) => (e.name === 'manifest' ? { ...e, data: String(e.data).trimEnd() } : e)),
    });
    await expectCode(data, 'ERR_ARTIFACT_INVALID_MANIFEST', 'manifest');
  });
});

describe('limits', () => {
  it('refuses oversized metadata members', async () => {
    const data = craftArtifact();
    await expectCode(data, 'ERR_ARTIFACT_TOO_LARGE', 'manifest', { limits: { maxMetadataBytes: 100 } });
  });

  it('refuses an oversized header', async () => {
    const big = 'x'.repeat(64 * 1024);
    const data = craftArtifact({ scripts: [{ name: 'scripts/ArtifactInstall_Enter_00', data: big }] });
    await expectCode(data, 'ERR_ARTIFACT_TOO_LARGE', 'scripts/ArtifactInstall_Enter_00', {
      limits: { maxHeaderBytes: 32 * 1024 },
    });
  });

  it('stops a header compression bomb early', async () => {
    const bomb = new Uint8Array(8 * 1024 * 1024);
    const data = craftArtifact({ scripts: [{ name: 'scripts/ArtifactInstall_Enter_00', data: bomb }] });
    await expectCode(data, 'ERR_ARTIFACT_COMPRESSION_BOMB', 'header.tar.gz');
  });

  it('refuses too many payload files', async () => {
    const files = Array.from({ length: 5 }, (_, i) => ({ name: `f${i}`, data: `${i}` }));
    await expectCode(craftArtifact({ files }), 'ERR_ARTIFACT_TOO_LARGE', 'data/0000.tar.gz', {
      limits: { maxFiles: 3 },
    });
  });
});

describe('signatures', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const ed = generateKeyPairSync('ed25519');
  const pem = (k: typeof rsa) => k.publicKey.export({ type: 'spki', format: 'pem' }) as string;

  it('verifies RSA and ECDSA P-256 signatures with PEM or KeyObject keys', async () => {
    const a = await readArtifact(chunked(craftArtifact({ signWith: rsa.privateKey }), 999), {
      trustedKeys: [pem(p256), pem(rsa)],
    });
    expect(a.signed && a.signatureVerified).toBe(true);
    const b = await readArtifact(chunked(craftArtifact({ signWith: p256.privateKey }), 999), {
      trustedKeys: [p256.publicKey],
    });
    expect(b.signatureVerified).toBe(true);
  });

  it('refuses an unsigned artifact when keys are trusted', async () => {
    await expectCode(craftArtifact(), 'ERR_ARTIFACT_MISSING_SIGNATURE', 'manifest.sig', {
      trustedKeys: [pem(rsa)],
    });
  });

  it('refuses a signature by another key', async () => {
    await expectCode(
      craftArtifact({ signWith: p256.privateKey }),
      'ERR_ARTIFACT_BAD_SIGNATURE',
      'manifest.sig',
      {
        trustedKeys: [pem(rsa)],
      },
    );
  });

  it('reports P-384 and Ed25519 keys as unsupported', async () => {
    await expectCode(
      craftArtifact({ signWith: p256.privateKey }),
      'ERR_ARTIFACT_UNSUPPORTED_KEY',
      'manifest.sig',
      {
        trustedKeys: [pem(p384), pem(ed)],
      },
    );
  });

  it('refuses a signed artifact when a signature is required but no key is given', async () => {
    await expectCode(
      craftArtifact({ signWith: rsa.privateKey }),
      'ERR_ARTIFACT_NO_VERIFIER',
      'manifest.sig',
      {
        requireSignature: true,
      },
    );
  });

  it('rejects an unparseable trusted key before reading', async () => {
    await expectCode(craftArtifact(), 'ERR_ARTIFACT_INVALID_KEY', '', { trustedKeys: ['not a key'] });
  });

  it('checks the signature before acting on the header: a bad signature wins over a broken header', async () => {
    const data = craftArtifact({
      signWith: rsa.privateKey,
      headerEntries: [{ name: 'header-info', data: '{broken' }],
    });
    await expectCode(data, 'ERR_ARTIFACT_BAD_SIGNATURE', 'manifest.sig', { trustedKeys: [pem(p256)] });
  });
});

describe('streaming', () => {
  it('hands each payload file to the consumer as a stream after the header is verified', async () => {
    const big = Buffer.alloc(300_000, 7);
    const data = craftArtifact({
      files: [
        { name: 'a.bin', data: big },
        { name: 'b.txt', data: 'hello' },
      ],
    });
    const seen: { name: string; size: number; text: string; typeInfoType: unknown }[] = [];
    const info = await readArtifact(chunked(data, 1024), {
      onPayloadFile: async (file, header) => {
        const parts: Buffer[] = [];
        for await (const chunk of file.stream) parts.push(chunk as Buffer);
        const all = Buffer.concat(parts);
        seen.push({
          name: file.name,
          size: all.length,
          text: file.name === 'b.txt' ? all.toString() : sha256(all),
          typeInfoType: header.payloads[0]?.typeInfo.type,
        });
      },
    });
    expect(seen).toEqual([
      { name: 'a.bin', size: 300_000, text: sha256(big), typeInfoType: 'test-module' },
      { name: 'b.txt', size: 5, text: 'hello', typeInfoType: 'test-module' },
    ]);
    expect(info.files.map((f) => f.name)).toEqual(['a.bin', 'b.txt']);
  });

  it('errors the payload stream and rejects on a checksum mismatch', async () => {
    const data = Buffer.from(
      craftArtifact({ gzip: false, files: [{ name: 'a.bin', data: 'A'.repeat(2000) }] }),
    );
    data[data.indexOf('AAAA') + 10] = 0x42;
    let streamError: unknown;
    const err = await readArtifact(chunked(data, 512), {
      onPayloadFile: async (file) => {
        try {
          for await (const _ of file.stream) {
            // consume
          }
        } catch (e) {
          streamError = e;
        }
      },
    }).catch((e: unknown) => e);
    expect((err as ArtifactError).code).toBe('ERR_ARTIFACT_CHECKSUM_MISMATCH');
    expect((streamError as ArtifactError).code).toBe('ERR_ARTIFACT_CHECKSUM_MISMATCH');
  });

  it('drains a payload stream the consumer never touched', async () => {
    const data = craftArtifact({ files: [{ name: 'a.bin', data: Buffer.alloc(1_000_000, 1) }] });
    const info = await readArtifact(chunked(data, 65536), { onPayloadFile: () => undefined });
    expect(info.files[0]?.size).toBe(1_000_000);
  });

  it('rejects with the consumer error when the consumer fails', async () => {
    const data = craftArtifact({ files: [{ name: 'a.bin', data: Buffer.alloc(1_000_000, 1) }] });
    const boom = new Error('disk full');
    const err = await readArtifact(chunked(data, 65536), {
      onPayloadFile: async (file) => {
        file.stream.destroy();
        throw boom;
      },
    }).catch((e: unknown) => e);
    expect(err).toBe(boom);
  });

  it('reads from a Node Readable', async () => {
    const info = await readArtifact(Readable.from([Buffer.from(craftArtifact())]));
    expect(info.artifactName).toBe('crafted-1');
  });

  it('rejects with the abort reason when aborted', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    async function* slow() {
      yield craftArtifact().subarray(0, 1024);
      controller.abort(reason);
      await new Promise(() => undefined); // never delivers more
    }
    await expect(readArtifact(slow(), { signal: controller.signal })).rejects.toBe(reason);
  });

  it('rejects every truncation of a vector with ERR_ARTIFACT_TRUNCATED', async () => {
    for (const file of [
      'module-small-rsa2048.mender',
      'compress-lzma.mender',
      'compress-zstd-fast.mender',
      'compress-none.mender',
    ]) {
      const data = readFileSync(vectorPath(file));
      // Every 512-byte boundary and a spread of unaligned offsets.
      const cuts = new Set<number>();
      for (let i = 0; i < data.length; i += 512) cuts.add(i);
      for (let i = 1; i < data.length; i += 997) cuts.add(i);
      for (const cut of cuts) {
        const err = await readArtifact(chunked(data.subarray(0, cut), 700)).catch((e: unknown) => e);
        expect(err, `${file} cut at ${cut}`).toBeInstanceOf(ArtifactError);
        expect((err as ArtifactError).code, `${file} cut at ${cut}`).toBe('ERR_ARTIFACT_TRUNCATED');
      }
    }
  });
});

describe('decoders under concurrency and failure', () => {
  it('runs xz and zstd reads side by side, with failing ones in between, without blocking each other', async () => {
    const lzma = readFileSync(vectorPath('module-directory-lzma-rsa3072.mender'));
    const zstd = readFileSync(vectorPath('compress-zstd-better.mender'));
    const read = (data: Uint8Array) =>
      readArtifact(chunked(data, 333)).then(
        (info) => info.artifactName,
        (err: unknown) => (err as ArtifactError).code,
      );
    const results = await Promise.all([
      read(lzma),
      read(lzma.subarray(0, 3000)),
      read(zstd),
      read(lzma.subarray(0, lzma.length - 2000)),
      read(lzma),
      read(zstd.subarray(0, 4000)),
    ]);
    expect(results).toEqual([
      'shared-dir-1',
      'ERR_ARTIFACT_TRUNCATED',
      'shared-comp-zstd_better',
      'ERR_ARTIFACT_TRUNCATED',
      'shared-dir-1',
      'ERR_ARTIFACT_TRUNCATED',
    ]);
  });
});

describe('verifyArtifactFile and validateArtifact', () => {
  it('verifies a file by path', async () => {
    const info = await verifyArtifactFile(vectorPath('module-small-ecdsa256.mender'), {
      trustedKeys: [readFileSync(vectorPath('../keys/ecdsa-p256.pub'), 'utf8')],
    });
    expect(info.signatureVerified).toBe(true);
  });

  it('reports a checksum mismatch while still parsing everything', async () => {
    const v = await validateArtifact(createReadStream(vectorPath('tampered-header-byte.mender')), {
      keys: [readFileSync(vectorPath('../keys/rsa2048.pub'), 'utf8')],
    });
    expect(v).toMatchObject({ parse: 'ok', checksum: 'mismatch', verify: ['ok'], valid: false });
    expect(v.error?.code).toBe('ERR_ARTIFACT_CHECKSUM_MISMATCH');
    expect(v.error?.member).toBe('header.tar');
    expect(v.info?.artifactName).toBe('shared-tamper-X');
  });

  it('is valid without keys for an unsigned artifact, invalid with a key', async () => {
    const path = vectorPath('module-small-unsigned.mender');
    expect((await validateArtifact(createReadStream(path))).valid).toBe(true);
    const withKey = await validateArtifact(createReadStream(path), {
      keys: [readFileSync(vectorPath('../keys/rsa2048.pub'), 'utf8')],
    });
    expect(withKey).toMatchObject({ valid: false, verify: ['missing-signature'] });
  });
});

describe('signature verdicts of cut files', () => {
  it('judges manifest.sig as soon as it is read, even when the file ends right after it', async () => {
    const data = readFileSync(vectorPath('module-small-rsa2048.mender'));
    // Members: version (512+512), manifest (512+512), manifest.sig (512+512): cut at the next header.
    const cut = data.subarray(0, 3 * 1024 + 100);
    const v = await validateArtifact(chunked(cut, 512), {
      keys: [
        readFileSync(vectorPath('../keys/rsa2048.pub'), 'utf8'),
        readFileSync(vectorPath('../keys/ecdsa-p256.pub'), 'utf8'),
      ],
    });
    expect(v).toMatchObject({ parse: 'error', checksum: 'n/a', verify: ['ok', 'bad-signature'] });
    expect(v.error?.code).toBe('ERR_ARTIFACT_TRUNCATED');
  });
});

describe('format details', () => {
  it('exposes the v2 files header', async () => {
    const info = await readArtifact(createReadStream(vectorPath('rootfs-v2-unsigned.mender')));
    expect(info.formatVersion).toBe(2);
    expect(info.header.payloads[0]?.files).toEqual(['rootfs-a.ext4']);
    expect(info.augmented).toBe(false);
  });

  it('flags the augmented (unsigned) parts of an augmented artifact', async () => {
    const info = await readArtifact(createReadStream(vectorPath('module-augmented-gzip-rsa2048.mender')), {
      trustedKeys: [readFileSync(vectorPath('../keys/rsa2048.pub'), 'utf8')],
    });
    expect(info.signatureVerified).toBe(true);
    expect(info.augmented).toBe(true);
    expect(info.files.map((f) => [f.name, f.augmented])).toEqual([
      ['blob-64k.bin', false],
      ['aug-delta.bin', true],
    ]);
    expect(info.header.augmented?.payloads[0]?.typeInfo).toEqual({
      type: 'delta-mod',
      artifact_depends: { 'delta.base': 'xyz' },
      artifact_provides: { 'delta.src': 'abc' },
    });
    expect(info.header.augmented?.payloads[0]?.metaData).not.toBeNull();
  });

  it('exposes meta-data and clears_provides', async () => {
    const info = await readArtifact(createReadStream(vectorPath('module-multi-file-none-unsigned.mender')));
    expect(info.header.payloads[0]?.metaData).not.toBeNull();
    expect(info.clearsProvides).toEqual(expect.arrayContaining(['vendor.*', 'custom-module.channel']));
    expect(info.artifactGroup).toBe('field');
  });
});

describe('unsupported keys', () => {
  it('are reported as unsupported-key whatever the artifact (unsigned, broken)', async () => {
    const keys = ['../keys/ed25519.pub', '../keys/ecdsa-p384.pub', '../keys/rsa2048.pub'].map((k) =>
      readFileSync(vectorPath(k), 'utf8'),
    );
    const unsigned = await validateArtifact(createReadStream(vectorPath('module-small-unsigned.mender')), {
      keys,
    });
    expect(unsigned.verify).toEqual(['unsupported-key', 'unsupported-key', 'missing-signature']);
    const broken = await validateArtifact(createReadStream(vectorPath('truncated-in-manifest.mender')), {
      keys,
    });
    expect(broken.verify).toEqual(['unsupported-key', 'unsupported-key', 'error']);
  });
});
