/**
 * Structural checks of the writer against artifacts made by the real mender-artifact tool: the
 * payload files are taken out of a vector, written again with the same options, and the outer
 * member order, tar header bytes of generated members, header member order, header-info,
 * type-info and meta-data bytes and the manifest's payload lines must come out the same.
 */

import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTarHeader } from '../../src/artifact/tar-write.js';
import { parseTarHeader } from '../../src/artifact/tar-write-copy.js';
import { type WriteArtifactOptions, writeArtifact } from '../../src/artifact/writer.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const vectorsDir = resolve(repoRoot, '../shared/vectors/artifacts');

interface Entry {
  name: string;
  header: Buffer;
  mode: number;
  size: number;
  content: Buffer;
}

/** An independent, minimal tar parser (regular files only) used as the oracle. */
function parseTar(buf: Buffer): Entry[] {
  const out: Entry[] = [];
  let off = 0;
  while (off + 512 <= buf.length) {
    const header = buf.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const str = (a: number, b: number) => header.subarray(a, b).toString('utf8').replace(/\0.*$/s, '');
    const name = str(0, 100);
    const prefix = str(345, 500);
    const size = Number.parseInt(str(124, 136).trim() || '0', 8);
    const mode = Number.parseInt(str(100, 108).trim() || '0', 8);
    const content = buf.subarray(off + 512, off + 512 + size);
    out.push({ name: prefix ? `${prefix}/${name}` : name, header, mode, size, content });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

function decompress(name: string, data: Buffer): Buffer {
  if (name.endsWith('.gz')) return gunzipSync(data);
  if (name.endsWith('.zst')) return Buffer.from(zstdDecompress(data));
  if (name.endsWith('.tar')) return data;
  throw new Error(`test cannot decompress ${name}`);
}

interface Parsed {
  outer: Entry[];
  header: Entry[];
  data: Entry[];
  manifest: string;
}

function parseArtifact(buf: Buffer): Parsed {
  const outer = parseTar(buf);
  const h = outer.find((e) => e.name.startsWith('header.tar'))!;
  const d = outer.find((e) => e.name.startsWith('data/'))!;
  return {
    outer,
    header: parseTar(decompress(h.name, h.content)),
    data: parseTar(decompress(d.name, d.content)),
    manifest: outer.find((e) => e.name === 'manifest')!.content.toString(),
  };
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'otakit-writer-layout-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Rewrites `vector` with `options` (payload files and scripts taken from the vector). */
async function rewrite(vector: string, options: Omit<WriteArtifactOptions, 'files' | 'scripts'>) {
  const ref = parseArtifact(await readFile(join(vectorsDir, vector)));
  const files = ref.data.map((e) => ({ name: e.name, content: e.content }));
  const scripts = ref.header
    .filter((e) => e.name.startsWith('scripts/'))
    .map((e) => ({ name: e.name.slice('scripts/'.length), content: e.content, mode: e.mode }));
  const out = join(work, vector);
  const written = await writeArtifact({ ...options, files, scripts }, out);
  return { ref, ours: parseArtifact(await readFile(out)), written };
}

function headerDoc(p: Parsed, name: string): string | undefined {
  return p.header.find((e) => e.name === name)?.content.toString();
}

function expectSameLayout(ref: Parsed, ours: Parsed): void {
  expect(ours.outer.map((e) => e.name)).toEqual(ref.outer.map((e) => e.name));
  expect(ours.header.map((e) => e.name)).toEqual(ref.header.map((e) => e.name));
  for (const name of ['header-info', 'headers/0000/type-info', 'headers/0000/meta-data']) {
    expect(headerDoc(ours, name), name).toEqual(headerDoc(ref, name));
  }
  // Generated members carry the same tar header bytes as Go's archive/tar writes.
  const refVersion = ref.outer.find((e) => e.name === 'version')!;
  const ourVersion = ours.outer.find((e) => e.name === 'version')!;
  expect(ourVersion.header.equals(refVersion.header)).toBe(true);
  expect(ourVersion.content.equals(refVersion.content)).toBe(true);
  // Payload manifest lines are identical (content, names, order); header line uses the same name.
  const lines = (m: string) => m.split('\n').filter((l) => l.includes('  data/'));
  expect(lines(ours.manifest)).toEqual(lines(ref.manifest));
  const names = (m: string) =>
    m
      .trim()
      .split('\n')
      .map((l) => l.split('  ')[1]);
  expect(names(ours.manifest)).toEqual(names(ref.manifest));
  expect(ours.data.map((e) => [e.name, e.size])).toEqual(ref.data.map((e) => [e.name, e.size]));
  for (const e of ours.data) {
    const line = ours.manifest.split('\n').find((l) => l.endsWith(`  data/0000/${e.name}`))!;
    expect(line.slice(0, 64)).toBe(createHash('sha256').update(e.content).digest('hex'));
  }
}

describe('writer layout matches mender-artifact', () => {
  it('rootfs-image with defaults (rootfs-gzip-unsigned)', async () => {
    const { ref, ours } = await rewrite('rootfs-gzip-unsigned.mender', {
      type: 'rootfs-image',
      artifactName: 'shared-rootfs-1',
      deviceTypes: ['qemux86-64'],
    });
    expectSameLayout(ref, ours);
  });

  it('rootfs-image signed with every header option and scripts (rootfs-all-options-rsa2048)', async () => {
    const { ref, ours } = await rewrite('rootfs-all-options-rsa2048.mender', {
      type: 'rootfs-image',
      artifactName: 'shared-rootfs-5',
      deviceTypes: ['raspberrypi4', 'raspberrypi5', 'rpi-cm4'],
      artifactNameDepends: ['shared-rootfs-4', 'shared-rootfs-3'],
      artifactGroupDepends: ['group-a', 'group-b'],
      artifactGroup: 'stable',
      provides: { 'custom.key': 'value-1' },
      depends: { 'custom.dep': 'needs-1' },
      clearsProvides: ['custom.*'],
      softwareName: 'os',
      softwareVersion: '1.2.3',
      compression: 'zstd_fast',
      signingKey: await readFile(resolve(vectorsDir, '../keys/rsa2048.key')),
    });
    expectSameLayout(ref, ours);
    const refScripts = ref.header.filter((e) => e.name.startsWith('scripts/'));
    const ourScripts = ours.header.filter((e) => e.name.startsWith('scripts/'));
    expect(ourScripts.map((e) => [e.name, e.mode, e.content.toString()])).toEqual(
      refScripts.map((e) => [e.name, e.mode, e.content.toString()]),
    );
  });

  it('rootfs-image with legacy flags (rootfs-legacy-flags-unsigned)', async () => {
    const { ref, ours } = await rewrite('rootfs-legacy-flags-unsigned.mender', {
      type: 'rootfs-image',
      artifactName: 'shared-rootfs-legacy',
      deviceTypes: ['beaglebone', 'beaglebone-yocto'],
      legacyRootfsImageChecksum: true,
      noDefaultSoftwareVersion: true,
      noDefaultClearsProvides: true,
    });
    expectSameLayout(ref, ours);
  });

  it('rootfs-image without checksum provide, custom software fs/name (rootfs-no-checksum-provide-zstd)', async () => {
    const { ref, ours } = await rewrite('rootfs-no-checksum-provide-zstd.mender', {
      type: 'rootfs-image',
      artifactName: 'shared-rootfs-nocs',
      deviceTypes: ['qemux86-64'],
      noChecksumProvide: true,
      softwareFilesystem: 'data-fs',
      softwareName: 'appdata',
      softwareVersion: '7',
      compression: 'zstd_fastest',
    });
    expectSameLayout(ref, ours);
  });

  it('module-image, several files, meta-data, provides, depends, group, clears (module-multi-file-none-unsigned)', async () => {
    const ref = parseArtifact(await readFile(join(vectorsDir, 'module-multi-file-none-unsigned.mender')));
    const metaData = JSON.parse(headerDoc(ref, 'headers/0000/meta-data')!) as Record<string, unknown>;
    const { ours } = await rewrite('module-multi-file-none-unsigned.mender', {
      type: 'module-image',
      moduleType: 'custom-module',
      artifactName: 'shared-multi-1',
      deviceTypes: ['board-a'],
      metaData,
      compression: 'none',
      provides: { 'custom-module.channel': 'beta', 'vendor.build': '77' },
      depends: { 'vendor.hw': 'rev-b' },
      artifactNameDepends: ['shared-multi-0'],
      artifactGroupDepends: ['field'],
      artifactGroup: 'field',
      clearsProvides: ['vendor.*', 'custom-module.channel'],
    });
    expectSameLayout(ref, ours);
    // With no compression the header tar is byte-identical to the tool's apart from its members' tar
    // headers, so compare its length too.
    expect(ours.outer.find((e) => e.name === 'header.tar')!.size).toBe(
      ref.outer.find((e) => e.name === 'header.tar')!.size,
    );
  });

  it('module-image without files (module-no-files-unsigned)', async () => {
    const ref = parseArtifact(await readFile(join(vectorsDir, 'module-no-files-unsigned.mender')));
    const { ours } = await rewrite('module-no-files-unsigned.mender', {
      type: 'module-image',
      moduleType: 'script-runner',
      artifactName: 'shared-nofiles-1',
      deviceTypes: ['board-a'],
      metaData: JSON.parse(headerDoc(ref, 'headers/0000/meta-data')!) as Record<string, unknown>,
    });
    expectSameLayout(ref, ours);
    expect(ours.data).toEqual([]);
  });

  it('module-image signed with ECDSA, software name (module-1mib-zstd-rsa2048 layout)', async () => {
    const { ref, ours, written } = await rewrite('module-1mib-zstd-rsa2048.mender', {
      type: 'module-image',
      moduleType: 'blob-module',
      artifactName: 'shared-blob-1',
      deviceTypes: ['board-a'],
      compression: 'zstd_better',
      softwareName: 'fw',
      softwareVersion: '2024.01',
      signingKey: await readFile(resolve(vectorsDir, '../keys/rsa2048.key')),
    });
    expectSameLayout(ref, ours);
    expect(written.signed).toBe(true);
  });

  it('writes manifest and manifest.sig with the tar metadata the tool uses', async () => {
    const { ref, ours } = await rewrite('module-small-rsa2048.mender', {
      type: 'module-image',
      moduleType: 'small',
      artifactName: 'shared-small-1',
      deviceTypes: ['board-s'],
      signingKey: await readFile(resolve(vectorsDir, '../keys/rsa2048.key')),
    });
    expectSameLayout(ref, ours);
    for (const name of ['manifest', 'manifest.sig']) {
      const a = ours.outer.find((e) => e.name === name)!.header;
      const b = ref.outer.find((e) => e.name === name)!.header;
      // Same bytes apart from the size and checksum fields.
      expect(Buffer.concat([a.subarray(0, 124), a.subarray(136, 148), a.subarray(156)])).toEqual(
        Buffer.concat([b.subarray(0, 124), b.subarray(136, 148), b.subarray(156)]),
      );
    }
    // The signature is base64 of a 2048-bit RSA signature, with no newline.
    const sig = ours.outer.find((e) => e.name === 'manifest.sig')!.content.toString();
    expect(sig).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(sig, 'base64').length).toBe(256);
    // The stream members end with exactly two zero blocks and no record padding.
    const raw = await readFile(join(work, 'module-small-rsa2048.mender'));
    expect(raw.length % 512).toBe(0);
    expect(raw.subarray(raw.length - 1024).every((b) => b === 0)).toBe(true);
    expect(raw.subarray(raw.length - 1536, raw.length - 1024).some((b) => b !== 0)).toBe(true);
  });
});

describe('tar headers', () => {
  it('encode sizes above 8 GiB in base-256 and long names with the USTAR prefix', () => {
    for (const size of [0, 1, 0o77777777777, 0o77777777777 + 1, 20 * 1024 ** 3 + 5]) {
      const parsed = parseTarHeader(encodeTarHeader({ name: 'data/0000.tar', size }));
      expect(parsed).toMatchObject({ name: 'data/0000.tar', size, type: '0' });
    }
    const long = `${'d'.repeat(120)}/${'f'.repeat(90)}`;
    expect(parseTarHeader(encodeTarHeader({ name: long, size: 3 }))!.name).toBe(long);
    expect(() => encodeTarHeader({ name: 'x'.repeat(101), size: 0 })).toThrow(RangeError);
    expect(() => encodeTarHeader({ name: 'x', size: -1 })).toThrow(RangeError);
  });
});
