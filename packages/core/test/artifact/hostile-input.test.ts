/**
 * Hostile inputs from issue 11: decompressor bombs (zstd sequences, skippable and later frames
 * with huge windows, data after the tar end), PAX length fields that overflowed the stack, an
 * unsigned augment that retargeted a signed artifact, data in an empty-payload artifact, and the
 * legacy rootfs-image type-info of mender-artifact 3.9-4.3.
 */

import { generateKeyPairSync } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import {
  ArtifactError,
  type ArtifactErrorCode,
  checkCompatibility,
  type ReadArtifactOptions,
  readArtifact,
} from '@otakit/core';
import {
  type CraftEntry,
  chunked,
  craftArtifact,
  HEADER_INFO,
  paxLengthBomb,
  sha256,
  tar,
  zstdRawFrame,
  zstdRleZerosFrame,
  zstdSequenceBombFrame,
  zstdSkippableFrame,
} from '@otakit/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ZSTD_COMMAND_ENV } from '../../src/artifact/zstd-process.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const trusted: ReadArtifactOptions = { trustedKeys: [rsa.publicKey] };
const FILES: CraftEntry[] = [{ name: 'config.txt', data: 'key=value\n' }];

/** A signed artifact whose (unsigned) data member is replaced by `data` named `data/0000.tar<suffix>`. */
function withDataMember(data: Uint8Array, suffix = '.zst', files = FILES): Uint8Array {
  return craftArtifact({
    gzip: false,
    files,
    signWith: rsa.privateKey,
    edit: (members) =>
      members.map((m) => (m.name === 'data/0000.tar' ? { name: `data/0000.tar${suffix}`, data } : m)),
  });
}

async function outcome(data: Uint8Array, options: ReadArtifactOptions = trusted) {
  return readArtifact(chunked(data, 64 * 1024), options).then(
    (info) => ({ info, error: undefined }),
    (error: unknown) => ({ info: undefined, error }),
  );
}

async function expectCode(data: Uint8Array, code: ArtifactErrorCode, options?: ReadArtifactOptions) {
  const { error } = await outcome(data, options);
  expect(error).toBeInstanceOf(ArtifactError);
  expect((error as ArtifactError).code).toBe(code);
  return error as ArtifactError;
}

// Both zstd decoders: the system `zstd` program (the default where it is installed) and the
// WebAssembly fallback (forced by naming a program that cannot be started).
describe.each([
  ['the zstd program', undefined],
  ['the WebAssembly fallback', '/nonexistent/otakit-test/zstd'],
] as const)('zstd decoding is bounded, through %s', (_decoder, command) => {
  const saved = process.env[ZSTD_COMMAND_ENV];
  beforeEach(() => {
    if (command === undefined) delete process.env[ZSTD_COMMAND_ENV];
    else process.env[ZSTD_COMMAND_ENV] = command;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env[ZSTD_COMMAND_ENV];
    else process.env[ZSTD_COMMAND_ENV] = saved;
  });

  it('reads a signed artifact whose data tar is raw zstd frames (the crafting is sound)', async () => {
    const plain = tar(FILES);
    const data = Buffer.concat([zstdRawFrame(plain.subarray(0, 700)), zstdRawFrame(plain.subarray(700))]);
    const { info, error } = await outcome(withDataMember(data));
    expect(error).toBeUndefined();
    expect(info?.files.map((f) => f.name)).toEqual(['config.txt']);
  });

  it('refuses a block declaring ~98,000 maximal sequences instead of copying gigabytes', async () => {
    const err = await expectCode(withDataMember(zstdSequenceBombFrame()), 'ERR_ARTIFACT_DECOMPRESSION');
    expect(err.member).toBe('data/0000.tar.zst');
  });

  it('checks the window of a frame that follows a skippable frame', async () => {
    const data = Buffer.concat([zstdSkippableFrame(16), zstdRawFrame(tar(FILES), 31)]);
    await expectCode(withDataMember(data), 'ERR_ARTIFACT_TOO_LARGE');
  });

  it('checks the window of every later frame', async () => {
    const plain = tar(FILES);
    const data = Buffer.concat([zstdRawFrame(plain.subarray(0, 512)), zstdRawFrame(plain.subarray(512), 30)]);
    await expectCode(withDataMember(data), 'ERR_ARTIFACT_TOO_LARGE');
  });

  it('accepts a frame whose window is exactly the 128 MiB limit', async () => {
    const { error } = await outcome(withDataMember(zstdRawFrame(tar(FILES), 27)));
    expect(error).toBeUndefined();
  });

  it('refuses decompressed data beyond the end of the tar archive (output bounded by the tar headers)', async () => {
    // A valid data tar followed by 64 MiB of zeros in 32 KiB of RLE blocks.
    const data = Buffer.concat([zstdRawFrame(tar(FILES)), zstdRleZerosFrame(64 * 1024 * 1024)]);
    await expectCode(withDataMember(data), 'ERR_ARTIFACT_COMPRESSION_BOMB');
  });

  it('lets timers run and honours an AbortSignal while decoding a large expansion', async () => {
    // One payload file of 4 GiB of zeros, 128 KiB of input: decoding it all would take many seconds.
    const size = 4 * 1024 * 1024 * 1024;
    const header = tar([{ name: 'zeros.bin', size, data: '' }]).subarray(0, 512);
    const data = Buffer.concat([zstdRawFrame(header), zstdRleZerosFrame(size + 1024)]);
    const artifact = craftArtifact({
      gzip: false,
      files: [{ name: 'zeros.bin', data: '' }],
      signWith: rsa.privateKey,
      edit: (members) =>
        members.map((m) => (m.name === 'data/0000.tar' ? { name: 'data/0000.tar.zst', data } : m)),
    });
    const controller = new AbortController();
    let ticks = 0;
    let delivered = 0;
    // Aborts once decoding is under way (a child decoder takes a few ticks to start) and timers
    // kept firing meanwhile.
    const ticker = setInterval(() => {
      ticks++;
      if (ticks >= 3 && delivered > 0) controller.abort(new Error('stopped by the test'));
    }, 10);
    const result = await readArtifact(chunked(artifact, 64 * 1024), {
      signal: controller.signal,
      onPayloadFile: async (file) => {
        for await (const chunk of file.stream) delivered += (chunk as Buffer).length;
      },
    }).then(
      () => 'resolved',
      (err: unknown) => (err as Error).message,
    );
    clearInterval(ticker);
    expect(result).toBe('stopped by the test');
    expect(ticks).toBeGreaterThanOrEqual(3);
    expect(delivered).toBeGreaterThan(0);
    expect(delivered).toBeLessThan(size);
  });
});

describe('length fields are bounded before use', () => {
  for (const where of ['outer', 'header', 'data'] as const) {
    it(`a PAX length field of 130,000 digits in the ${where} tar is a typed error`, async () => {
      const bomb = paxLengthBomb(130_000);
      let artifact: Uint8Array;
      if (where === 'outer') {
        artifact = Buffer.concat([bomb, craftArtifact()]);
      } else if (where === 'data') {
        artifact = withDataMember(Buffer.concat([bomb, tar(FILES)]), '');
      } else {
        const headerTar = Buffer.concat([
          bomb,
          tar([
            { name: 'header-info', data: JSON.stringify(HEADER_INFO) },
            { name: 'headers/0000/type-info', data: JSON.stringify({ type: 'test-module' }) },
          ]),
        ]);
        artifact = craftArtifact({
          gzip: false,
          edit: (members) =>
            members.map((m) => {
              if (m.name === 'header.tar') return { name: 'header.tar', data: headerTar };
              if (m.name === 'manifest') {
                const text = String(m.data).replace(/^[0-9a-f]{64}(?= {2}header\.tar\n)/m, sha256(headerTar));
                return { name: 'manifest', data: text };
              }
              return m;
            }),
        });
      }
      const { error } = await outcome(artifact, { limits: { maxMetadataBytes: 1024 * 1024 } });
      expect(error).toBeInstanceOf(ArtifactError);
      expect((error as ArtifactError).code).toBe('ERR_ARTIFACT_INVALID_TAR');
    });
  }
});

describe('JSON documents are bounded before they are parsed', () => {
  it('refuses meta-data nested 100,000 levels deep with a typed error, before parsing it', async () => {
    const deep = `{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const err = await expectCode(craftArtifact({ metaData: deep }), 'ERR_ARTIFACT_INVALID_JSON', {});
    expect(err.message).toMatch(/nested deeper than 32 levels/);
  });

  it('still reads JSON with brackets inside strings', async () => {
    const meta = JSON.stringify({ a: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["', b: ['x'] });
    const { info, error } = await outcome(craftArtifact({ metaData: meta }), {});
    expect(error).toBeUndefined();
    expect(info!.header.payloads[0]!.metaData).toEqual(JSON.parse(meta));
  });
});

/** A signed artifact plus an unsigned augment (manifest-augment + header-augment.tar.gz). */
function augmented(augmentHeaderInfo: unknown, augmentTypeInfo: unknown): Uint8Array {
  const augmentHeader = gzipSync(
    tar([
      { name: 'header-info', data: JSON.stringify(augmentHeaderInfo) },
      { name: 'headers/0000/type-info', data: JSON.stringify(augmentTypeInfo) },
    ]),
  );
  return craftArtifact({
    signWith: rsa.privateKey,
    edit: (members) => {
      const out: CraftEntry[] = [];
      for (const m of members) {
        out.push(m);
        if (m.name === 'manifest.sig') {
          out.push({ name: 'manifest-augment', data: `${sha256(augmentHeader)}  header-augment.tar.gz\n` });
        }
        if (m.name === 'header.tar.gz') out.push({ name: 'header-augment.tar.gz', data: augmentHeader });
      }
      return out;
    },
  });
}

describe('an unsigned augment only adds', () => {
  it('cannot retarget a signed artifact to another device type through its type-info depends', async () => {
    const data = augmented(HEADER_INFO, {
      type: 'test-module',
      artifact_depends: { device_type: ['evil-board'] },
    });
    const err = await expectCode(data, 'ERR_ARTIFACT_INVALID_HEADER');
    expect(err.member).toBe('header-augment');
  });

  it('cannot change the signed header-info depends or name', async () => {
    const evil = { ...HEADER_INFO, artifact_depends: { device_type: ['evil-board'] } };
    await expectCode(augmented(evil, { type: 'test-module' }), 'ERR_ARTIFACT_INVALID_HEADER');
    const renamed = { ...HEADER_INFO, artifact_provides: { artifact_name: 'other' } };
    await expectCode(augmented(renamed, { type: 'test-module' }), 'ERR_ARTIFACT_INVALID_HEADER');
  });

  it('cannot replace a signed type-info provides value', async () => {
    const data = augmented(HEADER_INFO, {
      type: 'test-module',
      artifact_provides: { 'rootfs-image.test-module.version': 'forged' },
    });
    await expectCode(data, 'ERR_ARTIFACT_INVALID_HEADER');
  });

  it('adds a delta depends such as rootfs-image.checksum, and compatibility still reads the signed device type', async () => {
    const checksum = 'ab'.repeat(32);
    const data = augmented(HEADER_INFO, {
      type: 'test-module',
      artifact_depends: { 'rootfs-image.checksum': checksum },
    });
    const { info, error } = await outcome(data);
    expect(error).toBeUndefined();
    expect(info!.depends['rootfs-image.checksum']).toBe(checksum);
    expect(info!.deviceTypes).toEqual(['board-x']);
    expect(() =>
      checkCompatibility(info!, {
        deviceType: 'evil-board',
        provides: { 'rootfs-image.checksum': checksum },
      }),
    ).toThrow(/device_type/);
    checkCompatibility(info!, { deviceType: 'board-x', provides: { 'rootfs-image.checksum': checksum } });
  });
});

describe('payload types', () => {
  it('refuses a data file in an empty-payload (bootstrap) artifact', async () => {
    const data = craftArtifact({
      signWith: rsa.privateKey,
      headerInfo: { ...HEADER_INFO, payloads: [{ type: null }] },
      typeInfo: { type: null },
    });
    const err = await expectCode(data, 'ERR_ARTIFACT_UNEXPECTED_MEMBER');
    expect(err.member).toBe('data/0000/config.txt');
    expect(err.message).toMatch(/can not find data file/);
  });

  it('still accepts an empty-payload artifact with an empty data tar', async () => {
    const data = craftArtifact({
      signWith: rsa.privateKey,
      files: [],
      headerInfo: { ...HEADER_INFO, payloads: [{ type: null }] },
      typeInfo: { type: null },
    });
    const { info, error } = await outcome(data);
    expect(error).toBeUndefined();
    expect(info!.payloadTypes).toEqual([null]);
  });

  it('accepts the empty type-info type mender-artifact 3.9-4.3 wrote for rootfs-image', async () => {
    const data = craftArtifact({
      signWith: rsa.privateKey,
      headerInfo: { ...HEADER_INFO, payloads: [{ type: 'rootfs-image' }] },
      typeInfo: { type: '', artifact_provides: { 'rootfs-image.version': 'crafted-1' } },
    });
    const { info, error } = await outcome(data);
    expect(error).toBeUndefined();
    expect(info!.payloadTypes).toEqual(['rootfs-image']);
    expect(info!.provides['rootfs-image.version']).toBe('crafted-1');
  });

  it('still refuses an empty type-info type for a module-image', async () => {
    const data = craftArtifact({ signWith: rsa.privateKey, typeInfo: { type: '' } });
    await expectCode(data, 'ERR_ARTIFACT_INVALID_HEADER');
  });
});

describe('JSON keys named like Object.prototype members are ordinary keys', () => {
  const keys = ['__proto__', 'constructor', 'prototype'];
  const json = (entries: [string, unknown][]) =>
    `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;

  it('round-trips them in provides, depends, clears and meta-data', async () => {
    const typeInfo = `{"type":"test-module","artifact_provides":${json(keys.map((k) => [k, `p-${k}`]))},"artifact_depends":${json(keys.map((k) => [k, [`d-${k}`]]))},"clears_artifact_provides":${JSON.stringify(keys)}}`;
    const metaData = json(keys.map((k) => [k, [k]]));
    const data = craftArtifact({
      headerEntries: [
        { name: 'header-info', data: JSON.stringify(HEADER_INFO) },
        { name: 'headers/0000/type-info', data: typeInfo },
        { name: 'headers/0000/meta-data', data: metaData },
      ],
    });
    const { info, error } = await outcome(data, {});
    expect(error).toBeUndefined();
    for (const k of keys) {
      expect(Object.hasOwn(info!.provides, k)).toBe(true);
      expect(Object.getOwnPropertyDescriptor(info!.provides, k)?.value).toBe(`p-${k}`);
      expect(Object.getOwnPropertyDescriptor(info!.depends, k)?.value).toEqual([`d-${k}`]);
      expect(Object.getOwnPropertyDescriptor(info!.header.payloads[0]!.metaData, k)?.value).toEqual([k]);
    }
    expect(Object.getPrototypeOf(info!.provides)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(info!.depends)).toBe(Object.prototype);
    expect(info!.clearsProvides).toEqual(keys);
  });
});
