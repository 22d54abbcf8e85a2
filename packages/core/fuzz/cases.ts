/**
 * One fuzz case: a corpus artifact, mutated deterministically from (seed, index), read three ways
 * (no key, the seed's key, diagnosing), each outcome classified.
 */

import { gzipSync } from 'node:zlib';
import { chunked, sha256 } from '../../../test-support/craft.js';
import {
  paxLengthBomb,
  zstdRawFrame,
  zstdRleZerosFrame,
  zstdSequenceBombFrame,
  zstdSkippableFrame,
} from '../../../test-support/hostile.js';
import { ArtifactError } from '../src/artifact/errors.js';
import { readArtifact } from '../src/artifact/reader.js';
import { validateArtifact } from '../src/artifact/validate.js';
import { archive, type Member, members, type Seed, signedView } from './seeds.js';

/** What a case ended as. */
export type Verdict = 'ok' | 'untyped' | 'false-accept' | 'harness-error';

/** The result of one case. */
export interface CaseResult {
  verdict: Verdict;
  /** The mutations applied, for reproduction. */
  mutations: string[];
  seed: string;
  /** For failures: the error or the differing view. */
  detail?: string;
}

/** A small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, list: readonly T[]): T => list[int(r, list.length)]!;

let gzipBomb: Uint8Array | undefined;
/** 16 MiB of zeros, gzip-compressed (16 KiB); made once, by {@link prepareCases} before timing starts. */
function zerosGzip(): Uint8Array {
  gzipBomb ??= gzipSync(Buffer.alloc(16 * 1024 * 1024));
  return gzipBomb;
}

/** Builds the shared crafted inputs, so that no case pays for them. */
export function prepareCases(): void {
  zerosGzip();
}

/** Rewrites a numeric/text field of the tar header of member `index` of an archive, fixing its checksum. */
function rewriteTarHeader(bytes: Uint8Array, r: Rand): { bytes: Uint8Array; what: string } {
  const out = Buffer.from(bytes);
  const offsets: number[] = [];
  for (let pos = 0; pos + 512 <= out.length; ) {
    const block = out.subarray(pos, pos + 512);
    if (block.every((b) => b === 0)) break;
    offsets.push(pos);
    const size = Number.parseInt(block.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '') || '0', 8);
    if (!Number.isFinite(size)) break;
    pos += 512 + Math.ceil(size / 512) * 512;
  }
  if (offsets.length === 0) return { bytes: out, what: 'tar-header:none' };
  const at = pick(r, offsets);
  const h = out.subarray(at, at + 512);
  const field = int(r, 6);
  let what: string;
  if (field === 0) {
    const size = pick(r, [0, 1, 511, 513, 0o77777777777, 2 ** 33, int(r, 100000)]);
    h.fill(0, 124, 136);
    h.write(`${size.toString(8).padStart(11, '0').slice(-11)}\0`, 124, 'latin1');
    what = `size=${size}`;
  } else if (field === 1) {
    h.fill(0, 124, 136);
    h[124] = 0x80;
    for (let i = 0; i < 11; i++) h[125 + i] = int(r, 256);
    what = 'size=base256';
  } else if (field === 2) {
    const flag = pick(r, ['1', '2', '3', '5', 'x', 'L', 'K', 'g', 'S', 'Z']);
    h.write(flag, 156, 'latin1');
    what = `type=${flag}`;
  } else if (field === 3) {
    const name = pick(r, [
      '../evil',
      '/abs',
      'data/0001.tar',
      'header.tar.bz2',
      'manifest',
      'version',
      'a/b/c',
      '',
    ]);
    h.fill(0, 0, 100);
    h.write(name, 0, 'latin1');
    what = `name=${name}`;
  } else if (field === 4) {
    h.write(pick(r, ['ustar\0', 'ustar ', 'xxxxx\0']), 257, 'latin1');
    h.fill(0x41, 345, 345 + int(r, 155));
    what = 'magic/prefix';
  } else {
    h[148 + int(r, 8)] = int(r, 256);
    what = 'checksum-field';
    return { bytes: out, what };
  }
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return { bytes: out, what: `tar-header:${what}` };
}

/** A PAX header with random (often hostile) records. */
function paxHeader(r: Rand): Uint8Array {
  const kind = int(r, 3);
  if (kind === 0) return paxLengthBomb(pick(r, [20, 1000, 130_000, 200_000]));
  const record = pick(r, ['path=../../etc/passwd', 'size=99999999999999999999', 'size=-1', 'path=', 'x']);
  const text = Buffer.from(` ${record}\n`);
  const len = text.length + String(text.length + 2).length;
  const body = Buffer.concat([Buffer.from(String(kind === 1 ? len : len + int(r, 5) - 2)), text]);
  return archive([{ name: 'PaxHeaders/x', data: body }]).subarray(
    0,
    512 + Math.ceil(body.length / 512) * 512,
  );
}

/** Replaces the 'x' typeflag of a PAX header block built by {@link archive}. */
function asPax(block: Uint8Array): Uint8Array {
  const out = Buffer.from(block);
  if (out[156] === 0x78) return out;
  out[156] = 0x78;
  out.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += out[i]!;
  out.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return out;
}

/** Crafted decompressor input for a member, with the suffix it must carry. */
function bombMember(r: Rand, plainTar: Uint8Array): { data: Uint8Array; suffix: string; what: string } {
  switch (int(r, 6)) {
    case 0:
      return { data: zstdSequenceBombFrame(), suffix: '.zst', what: 'zstd-sequences' };
    case 1:
      return {
        data: Buffer.concat([zstdSkippableFrame(int(r, 64)), zstdRawFrame(plainTar, pick(r, [28, 31, 40]))]),
        suffix: '.zst',
        what: 'zstd-skippable-big-window',
      };
    case 2:
      return {
        data: Buffer.concat([
          zstdRawFrame(plainTar.subarray(0, 512)),
          zstdRawFrame(plainTar.subarray(512), 30),
        ]),
        suffix: '.zst',
        what: 'zstd-second-frame-window',
      };
    case 3:
      return {
        data: Buffer.concat([zstdRawFrame(plainTar), zstdRleZerosFrame(32 * 1024 * 1024)]),
        suffix: '.zst',
        what: 'zstd-trailing-zeros',
      };
    case 4:
      return {
        data: Buffer.concat([gzipSync(plainTar), zerosGzip()]),
        suffix: '.gz',
        what: 'gzip-trailing-zeros',
      };
    default:
      return { data: zstdRleZerosFrame(32 * 1024 * 1024), suffix: '.zst', what: 'zstd-all-zeros' };
  }
}

/** Applies one random mutation. */
function mutate(bytes: Uint8Array, r: Rand): { bytes: Uint8Array; what: string } {
  const kind = int(r, 10);
  const buf = Buffer.from(bytes);
  if (kind <= 1) {
    const flips = 1 + int(r, 8);
    for (let i = 0; i < flips; i++) buf[int(r, buf.length)]! ^= 1 << int(r, 8);
    return { bytes: buf, what: `flip*${flips}` };
  }
  if (kind === 2) {
    const at = int(r, buf.length);
    return { bytes: buf.subarray(0, at), what: `truncate@${at}` };
  }
  if (kind === 3) {
    const at = int(r, buf.length);
    const insert = Buffer.alloc(1 + int(r, 600));
    for (let i = 0; i < insert.length; i++) insert[i] = r() < 0.5 ? 0 : int(r, 256);
    return {
      bytes: Buffer.concat([buf.subarray(0, at), insert, buf.subarray(at)]),
      what: `insert@${at}+${insert.length}`,
    };
  }
  if (kind === 4) {
    const at = int(r, buf.length);
    const n = 1 + int(r, 16);
    for (let i = 0; i < n && at + i < buf.length; i++) buf[at + i] = int(r, 256);
    return { bytes: buf, what: `overwrite@${at}+${n}` };
  }
  if (kind === 5) return rewriteTarHeader(buf, r);
  const list = members(bytes);
  if (list.length === 0) return { bytes: buf, what: 'noop' };
  if (kind === 6) {
    // Member order and presence.
    const op = int(r, 3);
    const i = int(r, list.length);
    const j = int(r, list.length);
    if (op === 0) [list[i], list[j]] = [list[j]!, list[i]!];
    else if (op === 1) list.splice(j, 0, list[i]!);
    else list.splice(i, 1);
    return { bytes: archive(list), what: `members:${['swap', 'duplicate', 'drop'][op]}:${i},${j}` };
  }
  if (kind === 7) {
    // A PAX header before a member of the outer tar or of an uncompressed inner tar.
    const i = int(r, list.length);
    const target = list[i]!;
    const pax = asPax(paxHeader(r));
    if (/\.tar$/.test(target.name) && r() < 0.5) {
      const inner = Buffer.concat([pax, target.data]);
      list[i] = { name: target.name, data: inner };
      return { bytes: archive(list), what: `pax-inner:${target.name}` };
    }
    const outer = Buffer.from(archive(list));
    let pos = 0;
    for (let k = 0; k < i; k++) pos += 512 + Math.ceil(list[k]!.data.length / 512) * 512;
    return {
      bytes: Buffer.concat([outer.subarray(0, pos), pax, outer.subarray(pos)]),
      what: `pax-outer@${i}`,
    };
  }
  if (kind === 8) {
    // Crafted decompressor input in place of the data or header member (renamed to its suffix).
    const dataIndex = list.findIndex((m) => m.name.startsWith(r() < 0.7 ? 'data/' : 'header'));
    const i = dataIndex === -1 ? list.length - 1 : dataIndex;
    const plain = archive([{ name: 'a.bin', data: Buffer.from('x') }]);
    const bomb = bombMember(r, plain);
    const base = list[i]!.name.replace(/\.tar(\.gz|\.xz|\.zst)?$/, '.tar');
    list[i] = { name: `${base}${bomb.suffix}`, data: bomb.data };
    return { bytes: archive(list), what: `bomb:${bomb.what}:${base}` };
  }
  // Rewrite a JSON document or a manifest line and re-hash so reading gets past the checksums.
  const manifest = list.find((m) => m.name === 'manifest');
  const header = list.find((m) => m.name === 'header.tar');
  if (!manifest || !header) return mutate(bytes, r);
  const inner = members(header.data);
  if (inner.length === 0) return mutate(bytes, r);
  const doc = int(r, inner.length);
  const replacement = pick(r, [
    '{"__proto__":{"polluted":1},"constructor":{"prototype":{}}}',
    `${'['.repeat(100000)}${']'.repeat(100000)}`,
    '{"payloads":[{"type":null}],"artifact_provides":{"artifact_name":"x"},"artifact_depends":{"device_type":["d"]}}',
    '{"type":""}',
    '{"payloads":[],"artifact_provides":{"artifact_name":"x"},"artifact_depends":{"device_type":["d"]}}',
    `"${'a'.repeat(2_000_000)}"`,
    '1e99999',
    '\u0000\uffff',
    '{"type":"x","artifact_provides":{"a":["b"]},"artifact_depends":{"__proto__":"x"}}',
  ]);
  inner[doc] = { name: inner[doc]!.name, data: Buffer.from(replacement) };
  const newHeader = archive(inner);
  header.data = newHeader;
  manifest.data = Buffer.from(
    Buffer.from(manifest.data)
      .toString('latin1')
      .replace(/^[0-9a-f]{64}(?= {2}header\.tar\n)/m, sha256(newHeader)),
    'latin1',
  );
  return { bytes: archive(list as Member[]), what: `json:${inner[doc]!.name}` };
}

async function settle<T>(p: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  return p.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 300) : String(err).slice(0, 300);
}

/** Runs case `index` of the run seeded `runSeed` over the corpus. */
export async function runCase(seeds: Seed[], runSeed: number, index: number): Promise<CaseResult> {
  const r = rng((runSeed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const seed = pick(r, seeds);
  let bytes: Uint8Array = seed.bytes;
  const mutations: string[] = [];
  const count = 1 + int(r, 3);
  for (let i = 0; i < count; i++) {
    const m = mutate(bytes, r);
    bytes = m.bytes;
    mutations.push(m.what);
  }
  // At most ~20,000 chunks per read: the cost of tiny chunks is the harness's, not the reader's.
  const chunk = Math.max(pick(r, [1, 7, 512, 4096, 65536, 1 << 20]), Math.ceil(bytes.length / 20_000));
  const base: CaseResult = { verdict: 'ok', mutations, seed: seed.label };
  const plain = await settle(readArtifact(chunked(bytes, chunk)));
  if (plain.error !== undefined && !(plain.error instanceof ArtifactError)) {
    return { ...base, verdict: 'untyped', detail: `readArtifact: ${describeError(plain.error)}` };
  }
  if (seed.publicKey) {
    const keyed = await settle(readArtifact(chunked(bytes, chunk), { trustedKeys: [seed.publicKey] }));
    if (keyed.error !== undefined && !(keyed.error instanceof ArtifactError)) {
      return { ...base, verdict: 'untyped', detail: `readArtifact(key): ${describeError(keyed.error)}` };
    }
    if (keyed.value && signedView(keyed.value) !== seed.view) {
      return { ...base, verdict: 'false-accept', detail: signedView(keyed.value).slice(0, 500) };
    }
  }
  const diag = await settle(
    validateArtifact(chunked(bytes, chunk), { keys: seed.publicKey ? [seed.publicKey] : [] }),
  );
  if (diag.error !== undefined) {
    return { ...base, verdict: 'untyped', detail: `validateArtifact: ${describeError(diag.error)}` };
  }
  return base;
}
