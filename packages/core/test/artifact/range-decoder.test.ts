/**
 * zstd and xz data members of an artifact FILE decoded straight from the file (dd reads the
 * member's byte range into the decoder child): every vector reads the same as through a stream;
 * dd and the decoder really run (pid-logging wrappers); the decoder never sees a byte past the
 * member; truncated members, corrupt and foreign frames and a failing dd are typed errors; an
 * abort leaves no dd or decoder running; and a missing dd, a dd without the flags, or a missing
 * decoder fall back to the present paths.
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chunked, loadVectorManifest, readVectorKey, sha256, tar, vectorPath } from '@otakit/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { XZ_COMMAND_ENV } from '../../src/artifact/compress-xz.js';
import { ArtifactError } from '../../src/artifact/errors.js';
import { readFileChunks } from '../../src/artifact/file-source.js';
import {
  DD_COMMAND_ENV,
  decodeMemberFromFile,
  MIN_RAW_SHARE_FOR_DD,
} from '../../src/artifact/range-decoder.js';
import { readArtifact } from '../../src/artifact/reader.js';
import type { ArtifactInfo, ReadArtifactOptions } from '../../src/artifact/types.js';
import { verifyArtifactFile } from '../../src/artifact/validate.js';
import { writeArtifact } from '../../src/artifact/writer.js';
import { ZSTD_COMMAND_ENV, ZstdFrameCheck } from '../../src/artifact/zstd-process.js';
import {
  childrenNamed,
  decodeAll,
  type PidLoggingWrapper,
  pidLoggingWrapper,
  until,
} from './decoder-children.js';

const saved = Object.fromEntries(
  [DD_COMMAND_ENV, ZSTD_COMMAND_ENV, XZ_COMMAND_ENV].map((k) => [k, process.env[k]]),
);
let work: string;
let dd: PidLoggingWrapper;
let zstdWrapper: PidLoggingWrapper;
let xzWrapper: PidLoggingWrapper;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'otakit-range-decoder-test-'));
  dd = await pidLoggingWrapper(work, 'dd');
  zstdWrapper = await pidLoggingWrapper(work, 'zstd');
  xzWrapper = await pidLoggingWrapper(work, 'xz');
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});
afterEach(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  for (const w of [dd, zstdWrapper, xzWrapper]) await rm(w.log, { force: true });
});

/** Uses the wrappers: every dd, zstd and xz run logs its pid. */
function useWrappers(): void {
  process.env[DD_COMMAND_ENV] = dd.path;
  process.env[ZSTD_COMMAND_ENV] = zstdWrapper.path;
  process.env[XZ_COMMAND_ENV] = xzWrapper.path;
}

/** What a read gave: the name and files, or the error's code and member. */
type Outcome =
  | { name: string; files: [string, number, string][] }
  | { code: string; member: string | undefined };

/** What a read gave (an error must be an `ArtifactError`). */
async function outcome(read: Promise<ArtifactInfo>): Promise<Outcome> {
  try {
    const info = await read;
    return { name: info.artifactName, files: info.files.map((f) => [f.name, f.size, f.sha256]) };
  } catch (err) {
    expect(err).toBeInstanceOf(ArtifactError);
    const e = err as ArtifactError;
    return { code: e.code, member: e.member };
  }
}

/** The same read of a file through a stream and through the file. */
async function bothWays(path: string, options: ReadArtifactOptions = {}) {
  const stream = await outcome(readArtifact(createReadStream(path), options));
  const file = await outcome(verifyArtifactFile(path, options));
  return { stream, file };
}

/** The outer tar members of an artifact: name, body offset and size. */
function members(bytes: Buffer): { name: string; offset: number; size: number }[] {
  const out: { name: string; offset: number; size: number }[] = [];
  for (let offset = 0; bytes[offset] !== 0; ) {
    const name = bytes.toString('latin1', offset, offset + 100).replace(/\0.*$/s, '');
    const size = Number.parseInt(bytes.toString('latin1', offset + 124, offset + 136), 8);
    out.push({ name, offset: offset + 512, size });
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Rebuilds an artifact with its members edited (the manifest untouched). */
function rebuild(
  bytes: Buffer,
  edit: (m: { name: string; data: Uint8Array }[]) => { name: string; data: Uint8Array }[],
) {
  const list = members(bytes).map((m) => ({
    name: m.name,
    data: bytes.subarray(m.offset, m.offset + m.size),
  }));
  return Buffer.from(tar(edit(list)));
}

const zstdCli = (data: Uint8Array, ...args: string[]): Buffer =>
  execFileSync('zstd', ['-c', '-q', ...args], { input: data, maxBuffer: 256 << 20 });
const xzCli = (data: Uint8Array): Buffer =>
  execFileSync('xz', ['-c', '-1'], { input: data, maxBuffer: 256 << 20 });

/** A module-image artifact file with one payload file, in `compression`. */
async function artifactFile(
  name: string,
  compression: 'zstd' | 'lzma',
  content: Uint8Array,
): Promise<string> {
  const file = join(work, name);
  await writeArtifact(
    {
      type: 'module-image',
      moduleType: 'test-module',
      artifactName: name.replace(/\W/g, '-'),
      deviceTypes: ['test-device'],
      compression,
      tmpDir: work,
      files: [{ name: 'payload.bin', content }],
    },
    file,
  );
  return file;
}

/**
 * An artifact file with `size` random bytes of payload, quick to make: written with a one-byte
 * payload, then its data member and manifest line replaced (xz at preset 0).
 */
async function largeArtifactFile(name: string, compression: 'zstd' | 'lzma', size: number): Promise<string> {
  const path = await artifactFile(`small-${name}`, compression, Buffer.from('x'));
  const content = randomBytes(size);
  const inner = tar([{ name: 'payload.bin', data: content }]);
  const data =
    compression === 'zstd'
      ? zstdCli(inner, '-1')
      : execFileSync('xz', ['-c', '-0'], { input: inner, maxBuffer: 256 << 20 });
  const suffix = compression === 'zstd' ? '.zst' : '.xz';
  const large = rebuild(await readFile(path), (list) =>
    list.map((m) => {
      if (m.name === `data/0000.tar${suffix}`) return { ...m, data };
      if (m.name !== 'manifest') return m;
      const text = Buffer.from(m.data)
        .toString('utf8')
        .replace(/^[0-9a-f]{64}(?= {2}data\/0000\/payload\.bin$)/m, sha256(content));
      return { ...m, data: Buffer.from(text) };
    }),
  );
  const file = join(work, name);
  await writeFile(file, large);
  return file;
}

/** Half text, half random: both compressed and raw blocks. */
function mixed(size: number): Buffer {
  const text = Buffer.from('a line of a log file that repeats\n'.repeat(Math.ceil(size / 68)));
  return Buffer.concat([text.subarray(0, size >> 1), randomBytes(size - (size >> 1))]);
}

describe('reading zstd and xz members straight from the artifact file', () => {
  const vectors = loadVectorManifest();
  const compressed = vectors.filter((v) => v.compression === 'zstd' || v.compression === 'lzma');

  it('has zstd and xz vectors to check', () => {
    expect(compressed.filter((v) => v.compression === 'zstd').length).toBeGreaterThanOrEqual(7);
    expect(compressed.filter((v) => v.compression === 'lzma').length).toBeGreaterThanOrEqual(3);
  });

  it.each(vectors.map((v) => [v.file, v] as const))(
    '%s reads the same from the file as from a stream',
    async (_file, vector) => {
      useWrappers();
      const keys = Object.keys(vector.expected.verify_with);
      const options = { trustedKeys: keys.slice(0, 1).map(readVectorKey) };
      const { stream, file } = await bothWays(vectorPath(vector.file), options);
      expect(file).toEqual(stream);
    },
  );

  it.each(compressed.map((v) => [v.file, v] as const))(
    '%s: the data member goes through dd when it is xz or mostly raw zstd blocks',
    async (_file, vector) => {
      useWrappers();
      await dd.pids(); // the probe of this dd may have run in an earlier test
      await rm(dd.log, { force: true });
      const keys = Object.keys(vector.expected.verify_with);
      const result = await outcome(
        verifyArtifactFile(vectorPath(vector.file), { trustedKeys: keys.slice(0, 1).map(readVectorKey) }),
      );
      if ('code' in result && result.code !== 'ERR_ARTIFACT_CHECKSUM_MISMATCH') return;
      // The read reached the data member: dd read it unless it is compressible zstd data.
      const bytes = await readFile(vectorPath(vector.file));
      const data = members(bytes).find((m) => m.name.startsWith('data/0000.tar'))!;
      const frames = new ZstdFrameCheck(data.name);
      frames.feed(bytes.subarray(data.offset, data.offset + data.size));
      const viaDd = vector.compression === 'lzma' || frames.rawBlockBytes >= data.size * MIN_RAW_SHARE_FOR_DD;
      if (viaDd) expect((await dd.pids()).length).toBeGreaterThanOrEqual(1);
      else expect(await dd.pids()).toEqual([]);
      const decoder = vector.compression === 'zstd' ? zstdWrapper : xzWrapper;
      // The header's decoder and the data member's.
      expect((await decoder.pids()).length).toBeGreaterThanOrEqual(2);
      await until(
        () => childrenNamed('dd'),
        (pids) => pids.length === 0,
      );
    },
  );

  it('a compressible zstd payload is fed by the reader (dd would cost more than it saves)', async () => {
    useWrappers();
    const content = Buffer.from('a line of a log file that repeats, with a counter\n'.repeat(60_000));
    const path = await artifactFile('compressible.mender', 'zstd', content);
    await dd.pids();
    await rm(dd.log, { force: true });
    await rm(zstdWrapper.log, { force: true });
    const { stream, file } = await bothWays(path);
    expect(file).toEqual(stream);
    expect('files' in file && file.files[0]![1]).toBe(content.length);
    // Two reads, each with the header's zstd and the data member's; no dd.
    expect(await zstdWrapper.pids()).toHaveLength(4);
    expect(await dd.pids()).toEqual([]);
  });

  it.each(['zstd', 'lzma'] as const)(
    'a multi-MiB %s payload of raw and compressed blocks reads the same both ways',
    async (compression) => {
      useWrappers();
      const content = mixed(6 * 1024 * 1024 + 5);
      const path = await artifactFile(`big-${compression}.mender`, compression, content);
      const { stream, file } = await bothWays(path);
      expect(file).toEqual(stream);
      expect('files' in file && file.files[0]![1]).toBe(content.length);
      expect((await dd.pids()).length).toBeGreaterThanOrEqual(1);
    },
  );
});

describe('decodeMemberFromFile', () => {
  /** Decodes `size` bytes at `offset` of `path` from the file (the fallback body: those bytes). */
  async function decodeRange(
    path: string,
    compression: 'zstd' | 'lzma',
    offset: number,
    size: number,
    signal?: AbortSignal,
  ): Promise<Buffer> {
    const chunks = readFileChunks(path);
    // Opens the file.
    await chunks.next();
    const bytes = await readFile(path);
    try {
      return await decodeAll(
        decodeMemberFromFile(
          compression,
          chunks.file,
          { offset, size },
          chunked(bytes.subarray(offset, offset + size), 4096),
          'data/0000.tar.zst',
          signal,
        ),
      );
    } finally {
      await chunks.return(undefined);
    }
  }

  it('decodes only the range: a valid frame right after it is never read', async () => {
    useWrappers();
    const first = randomBytes(300_000);
    const second = Buffer.from('after the member '.repeat(1000));
    const frameA = zstdCli(first);
    const path = join(work, 'two-frames.bin');
    await writeFile(path, Buffer.concat([Buffer.alloc(1536, 7), frameA, zstdCli(second)]));
    expect((await decodeRange(path, 'zstd', 1536, frameA.length)).equals(first)).toBe(true);
    expect((await dd.pids()).length).toBeGreaterThanOrEqual(1);
  });

  it('decodes only the range of an xz stream followed by another', async () => {
    useWrappers();
    const first = mixed(400_000);
    const streamA = xzCli(first);
    const path = join(work, 'two-xz.bin');
    await writeFile(path, Buffer.concat([Buffer.alloc(512), streamA, xzCli(Buffer.from('more'))]));
    expect((await decodeRange(path, 'lzma', 512, streamA.length)).equals(first)).toBe(true);
    expect((await dd.pids()).length).toBeGreaterThanOrEqual(1);
  });

  it('refuses a foreign frame in the range before dd or zstd start', async () => {
    useWrappers();
    await dd.pids();
    const frame = zstdCli(randomBytes(10_000));
    const foreign = xzCli(Buffer.from('not zstd'));
    const path = join(work, 'foreign.bin');
    await writeFile(path, Buffer.concat([frame, foreign]));
    // The probe of the wrapper may run (once per process); the member's dd must not.
    await decodeRange(path, 'zstd', 0, frame.length).catch(() => undefined);
    await rm(dd.log, { force: true });
    await rm(zstdWrapper.log, { force: true });
    const err = await decodeRange(path, 'zstd', 0, frame.length + foreign.length).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactError);
    expect((err as ArtifactError).code).toBe('ERR_ARTIFACT_DECOMPRESSION');
    expect((err as ArtifactError).message).toMatch(/not a zstd frame/);
    expect(await dd.pids()).toEqual([]);
    expect(await zstdWrapper.pids()).toEqual([]);
  });

  it('turns a corrupt frame into ERR_ARTIFACT_DECOMPRESSION (a raw block fails its frame checksum)', async () => {
    useWrappers();
    const frame = zstdCli(randomBytes(300_000), '--check');
    frame[Math.floor(frame.length / 2)]! ^= 0xff;
    const path = join(work, 'corrupt.bin');
    await writeFile(path, frame);
    await dd.pids();
    await rm(dd.log, { force: true });
    const err = await decodeRange(path, 'zstd', 0, frame.length).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactError);
    expect((err as ArtifactError).code).toBe('ERR_ARTIFACT_DECOMPRESSION');
    expect((err as ArtifactError).message).toMatch(/checksum/i);
    expect((await dd.pids()).length).toBeGreaterThanOrEqual(1);
  });

  it('turns a range that ends inside a frame into ERR_ARTIFACT_DECOMPRESSION', async () => {
    useWrappers();
    const frame = zstdCli(randomBytes(200_000));
    const path = join(work, 'cut.bin');
    await writeFile(path, frame);
    const err = await decodeRange(path, 'zstd', 0, frame.length - 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactError);
    expect((err as ArtifactError).code).toBe('ERR_ARTIFACT_DECOMPRESSION');
  });

  it('reports a dd that fails as ERR_ARTIFACT_DECOMPRESSION naming dd', async () => {
    // Takes the flags (the probe passes), copies the range, then fails.
    const failing = join(work, 'failing-dd.sh');
    await writeFile(
      failing,
      '#!/bin/sh\ndd "$@" || exit 1\n[ "$2" = count=0 ] || { echo "read error" >&2; exit 3; }\n',
    );
    await chmod(failing, 0o755);
    process.env[DD_COMMAND_ENV] = failing;
    const frame = zstdCli(randomBytes(50_000));
    const path = join(work, 'dd-fails.bin');
    await writeFile(path, frame);
    const err = await decodeRange(path, 'zstd', 0, frame.length).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactError);
    expect((err as ArtifactError).code).toBe('ERR_ARTIFACT_DECOMPRESSION');
    expect((err as ArtifactError).message).toMatch(/failing-dd\.sh exited with status 3: read error/);
  });
});

describe('hostile members and failures through the file', () => {
  it('a data member cut off by the end of the file is ERR_ARTIFACT_TRUNCATED, as from a stream, without dd', async () => {
    useWrappers();
    const path = await artifactFile('to-cut.mender', 'zstd', mixed(2 * 1024 * 1024));
    const bytes = await readFile(path);
    const data = members(bytes).find((m) => m.name === 'data/0000.tar.zst')!;
    const cut = join(work, 'cut.mender');
    await writeFile(cut, bytes.subarray(0, data.offset + (data.size >> 1)));
    await rm(dd.log, { force: true });
    const { stream, file } = await bothWays(cut);
    expect(file).toEqual({ code: 'ERR_ARTIFACT_TRUNCATED', member: 'data/0000.tar.zst' });
    expect(file).toEqual(stream);
    expect(await dd.pids()).toEqual([]);
  });

  it('an inner tar whose end is in a zstd frame of the next member reads as truncated: the decoder stops at the member', async () => {
    useWrappers();
    const content = randomBytes(100_000);
    const path = await artifactFile('split.mender', 'zstd', content);
    const bytes = await readFile(path);
    const innerTar = tar([{ name: 'payload.bin', data: content }]);
    const cutAt = 60_000;
    const split = join(work, 'split-next.mender');
    await writeFile(
      split,
      rebuild(bytes, (list) => [
        ...list.filter((m) => m.name !== 'data/0000.tar.zst'),
        { name: 'data/0000.tar.zst', data: zstdCli(innerTar.subarray(0, cutAt)) },
        { name: 'data/0001.tar.zst', data: zstdCli(innerTar.subarray(cutAt)) },
      ]),
    );
    const { stream, file } = await bothWays(split);
    expect(file).toEqual(stream);
    expect(file).toEqual({ code: 'ERR_ARTIFACT_TRUNCATED', member: 'payload.bin' });
  });

  it('a valid member followed by a member holding a zstd frame: the payload verifies, the next member is refused', async () => {
    useWrappers();
    const content = mixed(300_000);
    const path = await artifactFile('followed.mender', 'zstd', content);
    const bytes = await readFile(path);
    const followed = join(work, 'followed-next.mender');
    await writeFile(
      followed,
      rebuild(bytes, (list) => [...list, { name: 'data/0001.tar.zst', data: zstdCli(randomBytes(100_000)) }]),
    );
    const { stream, file } = await bothWays(followed);
    expect(file).toEqual(stream);
    expect(file).toEqual({ code: 'ERR_ARTIFACT_UNEXPECTED_MEMBER', member: 'data/0001.tar.zst' });
  });

  it('a foreign frame after the zstd frames of the data member is refused, as from a stream', async () => {
    useWrappers();
    const path = await artifactFile('foreign.mender', 'zstd', mixed(200_000));
    const bytes = await readFile(path);
    const foreign = join(work, 'foreign-frame.mender');
    await writeFile(
      foreign,
      rebuild(bytes, (list) =>
        list.map((m) =>
          m.name === 'data/0000.tar.zst'
            ? { ...m, data: Buffer.concat([m.data, xzCli(Buffer.alloc(10))]) }
            : m,
        ),
      ),
    );
    const { stream, file } = await bothWays(foreign);
    expect(file).toEqual(stream);
    expect(file).toEqual({ code: 'ERR_ARTIFACT_DECOMPRESSION', member: 'data/0000.tar.zst' });
  });

  it.each(['zstd', 'lzma'] as const)(
    'an abort mid-payload kills dd and the %s decoder: no child is left',
    async (compression) => {
      useWrappers();
      // Enough that dd is still blocked on the decoder's input when the first payload chunk comes.
      const size = (compression === 'zstd' ? 24 : 8) * 1024 * 1024;
      const path = await largeArtifactFile(`abort-${compression}.mender`, compression, size);
      await rm(dd.log, { force: true });
      const decoder = compression === 'zstd' ? zstdWrapper : xzWrapper;
      await rm(decoder.log, { force: true });
      const controller = new AbortController();
      const reason = new Error('stop');
      let running: { dd: number[]; decoder: number[] } = { dd: [], decoder: [] };
      const read = verifyArtifactFile(path, {
        signal: controller.signal,
        onPayloadFile: async (f) => {
          for await (const _ of f.stream) {
            running = {
              dd: await childrenNamed('dd'),
              decoder: await childrenNamed(compression === 'zstd' ? 'zstd' : 'xz'),
            };
            controller.abort(reason);
            break;
          }
        },
      });
      await expect(read).rejects.toBe(reason);
      // Both ran for the data member while the payload streamed...
      const ddPids = await dd.pids();
      expect(running.decoder).toHaveLength(1);
      expect(ddPids).toContain(running.dd[0]);
      expect((await decoder.pids()).at(-1)).toBe(running.decoder[0]);
      // ...and both are killed at once (the read rejects on the abort without waiting for them):
      // gone once Node has reaped them.
      const gone = (pid: number) => !existsSync(`/proc/${pid}`);
      await until(
        async () => [...running.dd, ...running.decoder].every(gone),
        (done) => done,
      );
      expect(await childrenNamed('dd')).toEqual([]);
      expect(await childrenNamed(compression === 'zstd' ? 'zstd' : 'xz')).toEqual([]);
      // The artifact is valid: read to the end, it verifies.
      expect((await verifyArtifactFile(path)).files[0]!.size).toBe(size);
    },
  );

  it('an abort kills dd itself: a dd that would outlive the decoder is gone too', async () => {
    // Passes the probe; on a member, copies it ignoring a closed output, then sleeps (same pid).
    const stubborn = join(work, 'stubborn-dd.sh');
    const log = `${stubborn}.log`;
    await writeFile(
      stubborn,
      `#!/bin/sh\n[ "$2" = count=0 ] && exec dd "$@"\necho $$ >> '${log}'\ntrap '' PIPE\ndd "$@"\nexec sleep 60\n`,
    );
    await chmod(stubborn, 0o755);
    process.env[DD_COMMAND_ENV] = stubborn;
    process.env[ZSTD_COMMAND_ENV] = zstdWrapper.path;
    const path = await largeArtifactFile('abort-stubborn.mender', 'zstd', 24 * 1024 * 1024);
    const controller = new AbortController();
    const reason = new Error('stop');
    const read = verifyArtifactFile(path, {
      signal: controller.signal,
      onPayloadFile: async (f) => {
        for await (const _ of f.stream) {
          controller.abort(reason);
          break;
        }
      },
    });
    await expect(read).rejects.toBe(reason);
    const [pid] = (await readFile(log, 'utf8')).trim().split('\n').map(Number);
    await until(
      async () => existsSync(`/proc/${pid}`),
      (alive) => !alive,
    );
  });

  it('decodes from the file with a zstd older than --no-asyncio (it is probed, not assumed)', async () => {
    const older = join(work, 'older-zstd.sh');
    await writeFile(
      older,
      `#!/bin/sh\nfor a in "$@"; do [ "$a" = --no-asyncio ] && { echo "Incorrect parameter: $a" >&2; exit 1; }; done\necho $$ >> '${older}.log'\nexec zstd "$@"\n`,
    );
    await chmod(older, 0o755);
    process.env[DD_COMMAND_ENV] = dd.path;
    process.env[ZSTD_COMMAND_ENV] = older;
    const content = mixed(1024 * 1024);
    const path = await artifactFile('older-zstd.mender', 'zstd', content);
    await rm(dd.log, { force: true });
    await rm(`${older}.log`, { force: true });
    const read = await outcome(verifyArtifactFile(path));
    // The header's zstd and the data member's ran (the probe exits before logging), dd read the
    // member.
    expect((await readFile(`${older}.log`, 'utf8')).trim().split('\n')).toHaveLength(2);
    expect((await dd.pids()).length).toBeGreaterThanOrEqual(1);
    expect(read).toEqual(await outcome(readArtifact(createReadStream(path))));
    expect('files' in read && read.files[0]![1]).toBe(content.length);
  });

  it('falls back when dd is missing, when dd lacks the flags, and when zstd is missing', async () => {
    const content = mixed(1024 * 1024);
    const path = await artifactFile('fallback.mender', 'zstd', content);
    process.env[ZSTD_COMMAND_ENV] = zstdWrapper.path;
    const expected = await outcome(readArtifact(createReadStream(path)));
    expect('files' in expected).toBe(true);
    // Through dd (which runs the probes of dd and zstd, once per process).
    process.env[DD_COMMAND_ENV] = dd.path;
    expect(await outcome(verifyArtifactFile(path))).toEqual(expected);

    // No dd: zstd reads the reader's bytes.
    process.env[DD_COMMAND_ENV] = '/nonexistent/otakit-test/dd';
    await rm(zstdWrapper.log, { force: true });
    expect(await outcome(verifyArtifactFile(path))).toEqual(expected);
    expect(await zstdWrapper.pids()).toHaveLength(2);

    // A dd that refuses the flags (an old BusyBox): the same.
    const old = join(work, 'old-dd.sh');
    await writeFile(old, `#!/bin/sh\necho $$ >> '${old}.log'\necho "dd: invalid iflag" >&2\nexit 1\n`);
    await chmod(old, 0o755);
    process.env[DD_COMMAND_ENV] = old;
    expect(await outcome(verifyArtifactFile(path))).toEqual(expected);
    // Probed once per process; never run on the member.
    expect((await readFile(`${old}.log`, 'utf8')).trim().split('\n')).toHaveLength(1);
    expect(await outcome(verifyArtifactFile(path))).toEqual(expected);
    expect((await readFile(`${old}.log`, 'utf8')).trim().split('\n')).toHaveLength(1);

    // No zstd: the WebAssembly decoder, whatever dd is (its probe runs once, before this read).
    process.env[DD_COMMAND_ENV] = dd.path;
    expect(await outcome(verifyArtifactFile(path))).toEqual(expected);
    process.env[ZSTD_COMMAND_ENV] = '/nonexistent/otakit-test/zstd';
    await rm(dd.log, { force: true });
    expect(await outcome(verifyArtifactFile(path))).toEqual(expected);
    expect(await dd.pids()).toEqual([]);
  });
});
