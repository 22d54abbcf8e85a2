/**
 * The fuzz corpus: artifacts written by core's own writer (every compression, unsigned and signed
 * with RSA and ECDSA, module and rootfs images, state scripts, meta-data), plus augmented and
 * multi-payload artifacts assembled from the same parts. Deterministic, built once per process.
 */

import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ARTIFACT_COMPRESSION_IDS } from '../src/artifact/compress.js';
import { type ArtifactInfo, readArtifact } from '../src/artifact/index.js';
import { writeArtifact } from '../src/artifact/writer.js';
import { type CraftEntry, chunked, sha256, tar } from '../test/artifact/craft.js';

/** One corpus artifact and what a reader must see when it is intact. */
export interface Seed {
  label: string;
  bytes: Uint8Array;
  /** The public key that verifies it, when signed. */
  publicKey?: KeyObject;
  /** The signed view of the intact artifact (see {@link signedView}). */
  view: string;
}

/** Outer tar members of an artifact: name and content. */
export interface Member {
  name: string;
  data: Uint8Array;
}

/** Splits a tar archive into its regular members (ustar names, octal sizes; what the writers emit). */
export function members(archive: Uint8Array): Member[] {
  const out: Member[] = [];
  let pos = 0;
  while (pos + 512 <= archive.length) {
    const block = archive.subarray(pos, pos + 512);
    if (block.every((b) => b === 0)) break;
    const text = (from: number, to: number) =>
      Buffer.from(block.subarray(from, to)).toString('latin1').replace(/\0.*$/s, '');
    const prefix = text(345, 500);
    const name = prefix ? `${prefix}/${text(0, 100)}` : text(0, 100);
    const size = Number.parseInt(text(124, 136).trim() || '0', 8);
    out.push({ name, data: archive.subarray(pos + 512, pos + 512 + size) });
    pos += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Builds a tar archive from members. */
export function archive(list: Member[]): Uint8Array {
  // Names longer than a ustar header holds (after a mutation) are cut to their last 100 bytes.
  const fit = (name: string) => {
    const ascii = name.replace(/[^\x20-\x7e]/g, '?');
    return ascii.length <= 100 ? ascii : ascii.slice(-100);
  };
  return tar(list.map((m): CraftEntry => ({ name: fit(m.name), data: m.data })));
}

/**
 * What the signature vouches for, as one string: name, group, device types, payload types, the
 * signed header documents, scripts, and the name and digest of every file the signed manifest
 * lists. An accepted artifact under a key must show exactly the seed's view.
 */
export function signedView(info: ArtifactInfo): string {
  return JSON.stringify({
    name: info.artifactName,
    group: info.artifactGroup,
    deviceTypes: info.deviceTypes,
    payloadTypes: info.payloadTypes,
    headerInfo: info.header.headerInfo,
    payloads: info.header.payloads.map((p) => [p.type, p.typeInfo, p.metaData, p.files]),
    scripts: info.header.scripts.map((s) => [s.name, sha256(s.content)]),
    files: info.files.filter((f) => !f.augmented).map((f) => [f.payloadIndex, f.name, f.sha256]),
  });
}

function signText(text: string, key: KeyObject): string {
  const sig =
    key.asymmetricKeyType === 'ec'
      ? sign('sha256', Buffer.from(text), { key, dsaEncoding: 'ieee-p1363' })
      : sign('sha256', Buffer.from(text), key);
  return sig.toString('base64');
}

/** Adds an unsigned augment (manifest-augment, header-augment, one augment file) to a none/gzip artifact. */
function augment(bytes: Uint8Array, gzip: boolean): Uint8Array {
  const sfx = gzip ? '.gz' : '';
  const z = (d: Uint8Array) => (gzip ? gzipSync(d) : d);
  const unz = (d: Uint8Array) => (gzip ? gunzipSync(d) : d);
  const list = members(bytes);
  const headerInfo = JSON.parse(
    Buffer.from(members(unz(list.find((m) => m.name === `header.tar${sfx}`)!.data))[0]!.data).toString(),
  ) as { payloads: { type: string }[] };
  const type = headerInfo.payloads[0]!.type;
  const augmentHeader = z(
    tar([
      { name: 'header-info', data: JSON.stringify(headerInfo) },
      {
        name: 'headers/0000/type-info',
        data: JSON.stringify({ type, artifact_depends: { 'rootfs-image.checksum': 'ab'.repeat(32) } }),
      },
    ]),
  );
  const augmentFile = Buffer.from('delta bytes\n');
  const out: Member[] = [];
  for (const m of list) {
    if (m.name === `data/0000.tar${sfx}`) {
      const inner = members(unz(m.data));
      inner.push({ name: 'delta.bin', data: augmentFile });
      out.push({ name: m.name, data: z(archive(inner)) });
      continue;
    }
    out.push(m);
    if (
      m.name === 'manifest.sig' ||
      (m.name === 'manifest' && !list.some((x) => x.name === 'manifest.sig'))
    ) {
      out.push({
        name: 'manifest-augment',
        data: Buffer.from(
          `${sha256(augmentFile)}  data/0000/delta.bin\n${sha256(augmentHeader)}  header-augment.tar${sfx}\n`,
        ),
      });
    }
    if (m.name === `header.tar${sfx}`) out.push({ name: `header-augment.tar${sfx}`, data: augmentHeader });
  }
  return archive(out);
}

/** A signed artifact with two payloads (module types `alpha` and `beta`), each with its own data tar. */
function multiPayload(key: KeyObject | undefined, gzip: boolean): Uint8Array {
  const sfx = gzip ? '.gz' : '';
  const z = (d: Uint8Array) => (gzip ? gzipSync(d) : d);
  const files = [
    [{ name: 'one.bin', data: Buffer.from('first payload\n') }],
    [
      { name: 'two.bin', data: Buffer.from('second payload\n') },
      { name: 'three.cfg', data: Buffer.from('x=1\n') },
    ],
  ];
  const header = z(
    tar([
      {
        name: 'header-info',
        data: JSON.stringify({
          payloads: [{ type: 'alpha' }, { type: 'beta' }],
          artifact_provides: { artifact_name: 'multi-1' },
          artifact_depends: { device_type: ['fuzz-board'] },
        }),
      },
      {
        name: 'headers/0000/type-info',
        data: JSON.stringify({ type: 'alpha', artifact_provides: { 'a.v': '1' } }),
      },
      {
        name: 'headers/0001/type-info',
        data: JSON.stringify({ type: 'beta', artifact_depends: { 'b.dep': ['x'] } }),
      },
      { name: 'headers/0001/meta-data', data: '{"k":"v"}' },
    ]),
  );
  const version = '{"format":"mender","version":3}';
  const manifest = [
    ...files.flatMap((list, i) => list.map((f) => `${sha256(f.data)}  data/000${i}/${f.name}\n`)),
    `${sha256(header)}  header.tar${sfx}\n`,
    `${sha256(version)}  version\n`,
  ].join('');
  const list: Member[] = [
    { name: 'version', data: Buffer.from(version) },
    { name: 'manifest', data: Buffer.from(manifest) },
  ];
  if (key) list.push({ name: 'manifest.sig', data: Buffer.from(signText(manifest, key)) });
  list.push({ name: `header.tar${sfx}`, data: header });
  files.forEach((f, i) => {
    list.push({ name: `data/000${i}.tar${sfx}`, data: z(archive(f)) });
  });
  return archive(list);
}

/** Builds the corpus (writes to a temporary directory, removed afterwards). */
export async function buildSeeds(): Promise<Seed[]> {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signers = [undefined, rsa, ec] as const;
  const work = await mkdtemp(join(tmpdir(), 'otakit-fuzz-'));
  const raw: { label: string; bytes: Uint8Array; publicKey?: KeyObject }[] = [];
  try {
    let n = 0;
    for (const compression of ARTIFACT_COMPRESSION_IDS) {
      for (const signer of signers) {
        const out = join(work, `${n++}.mender`);
        const rootfs = n % 4 === 0;
        await writeArtifact(
          {
            type: rootfs ? 'rootfs-image' : 'module-image',
            moduleType: 'fuzz-module',
            artifactName: `fuzz-${n}`,
            deviceTypes: ['fuzz-board', 'other-board'],
            artifactGroup: 'g',
            provides: JSON.parse('{"fuzz.key":"v","__proto__":"p","constructor":"c"}') as Record<
              string,
              string
            >,
            depends: { 'fuzz.dep': ['a', 'b'] },
            clearsProvides: ['fuzz.*'],
            ...(rootfs ? {} : { metaData: { a: 1, b: ['x', 2] } }),
            scripts: [{ name: 'ArtifactInstall_Enter_00_hello', content: '#!/bin/sh\necho hi\n' }],
            files: rootfs
              ? [{ name: 'rootfs.ext4', content: Buffer.alloc(3000, n) }]
              : [
                  { name: 'a.bin', content: Buffer.from(`payload ${n}\n`.repeat(40)) },
                  { name: 'b.cfg', content: Buffer.from('k=v\n') },
                ],
            compression,
            ...(signer ? { signingKey: signer.privateKey } : {}),
          },
          out,
        );
        raw.push({
          label: `${rootfs ? 'rootfs' : 'module'}-${compression}-${signer ? signer.publicKey.asymmetricKeyType : 'unsigned'}`,
          bytes: new Uint8Array(await readFile(out)),
          ...(signer ? { publicKey: signer.publicKey } : {}),
        });
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const base = (c: string, s: string) => raw.find((r) => r.label.endsWith(`-${c}-${s}`))!;
  for (const [c, gzip] of [
    ['none', false],
    ['gzip', true],
  ] as const) {
    const signed = base(c, 'rsa');
    raw.push({
      label: `augmented-${c}-rsa`,
      bytes: augment(signed.bytes, gzip),
      publicKey: signed.publicKey!,
    });
    raw.push({ label: `augmented-${c}-unsigned`, bytes: augment(base(c, 'unsigned').bytes, gzip) });
    raw.push({
      label: `multi-${c}-rsa`,
      bytes: multiPayload(rsa.privateKey, gzip),
      publicKey: rsa.publicKey,
    });
    raw.push({ label: `multi-${c}-unsigned`, bytes: multiPayload(undefined, gzip) });
  }
  const seeds: Seed[] = [];
  for (const r of raw) {
    const info = await readArtifact(
      chunked(r.bytes, 65536),
      r.publicKey ? { trustedKeys: [r.publicKey] } : {},
    );
    seeds.push({ ...r, view: signedView(info) });
  }
  return seeds;
}
