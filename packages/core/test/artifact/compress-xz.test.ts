/**
 * xz writing through the system `xz` program: its output is a standard .xz stream (the real `xz -d`
 * and our reader both decode it), a missing program gives a typed error that names what to install,
 * and a failed or aborted write leaves no output file, no temporary directory and no xz process.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCompressor } from '../../src/artifact/compress.js';
import { createXzProcessCompressor, XZ_COMMAND_ENV } from '../../src/artifact/compress-xz.js';
import { readArtifact } from '../../src/artifact/reader.js';
import { type WriteArtifactOptions, writeArtifact } from '../../src/artifact/writer.js';
import { ArtifactWriteError, XzUnavailableError } from '../../src/artifact/writer-errors.js';
import { xzChildren } from './decoder-children.js';

const vectors = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../../shared/vectors/artifacts');

let work: string;
const savedPath = process.env.PATH;
const savedXz = process.env[XZ_COMMAND_ENV];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'otakit-xz-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});
afterEach(() => {
  process.env.PATH = savedPath;
  if (savedXz === undefined) delete process.env[XZ_COMMAND_ENV];
  else process.env[XZ_COMMAND_ENV] = savedXz;
});

/** Deterministic bytes, half compressible (text), half not (hash output). */
function payload(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let off = 0;
  let n = seed;
  while (off < size) {
    const block =
      n % 2 === 0
        ? Buffer.from(`line ${n} of a config file, repeated often enough to compress\n`.repeat(64))
        : createHash('sha512').update(String(n)).digest();
    off += block.copy(out, off);
    n++;
  }
  return out;
}

/** A module-image written with xz into `work/NAME.mender`, its temporary files in `work/tmp-NAME`. */
async function writeXz(
  name: string,
  files: WriteArtifactOptions['files'],
  extra: Partial<WriteArtifactOptions> = {},
): Promise<{ file: string; tmp: string; err: unknown }> {
  const file = join(work, `${name}.mender`);
  const tmp = join(work, `tmp-${name}`);
  await mkdir(tmp);
  const err = await writeArtifact(
    {
      type: 'module-image',
      moduleType: 'single-file',
      artifactName: name,
      deviceTypes: ['dev'],
      compression: 'xz',
      tmpDir: tmp,
      files,
      ...extra,
    },
    file,
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { file, tmp, err };
}

async function compressWith(data: Buffer): Promise<Buffer> {
  const compressor = await createCompressor('xz');
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of compressor) chunks.push(chunk as Buffer);
  })();
  for (let off = 0; off < data.length; off += 65536) {
    if (!compressor.write(data.subarray(off, off + 65536)))
      await new Promise((r) => compressor.once('drain', r));
  }
  compressor.end();
  await collected;
  return Buffer.concat(chunks);
}

describe('xz compression with the system xz', () => {
  it('writes a standard .xz stream that the real xz decodes, with a CRC64 check', async () => {
    const data = payload(3 * 1024 * 1024 + 11, 1);
    const xz = await compressWith(data);
    expect(xz.subarray(0, 6)).toEqual(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
    // Stream flags: check type 4 (CRC64).
    expect(xz[7]).toBe(0x04);
    expect(xz.length).toBeLessThan(data.length * 0.6);
    const decoded = execFileSync('xz', ['--decompress', '--stdout'], { input: xz, maxBuffer: 64 << 20 });
    expect(decoded.equals(data)).toBe(true);
  });

  it('writes xz artifacts that readArtifact verifies and whose members xz -t accepts', async () => {
    const data = payload(5 * 1024 * 1024, 2);
    const file = join(work, 'rt.mender');
    const written = await writeArtifact(
      {
        type: 'module-image',
        moduleType: 'single-file',
        artifactName: 'xz-1',
        deviceTypes: ['dev'],
        compression: 'xz',
        files: [{ name: 'blob.bin', content: data }],
      },
      file,
    );
    expect(written.compression).toBe('lzma');
    expect(written.members).toEqual(['version', 'manifest', 'header.tar.xz', 'data/0000.tar.xz']);
    const info = await readArtifact(createReadStream(file));
    expect(info.artifactName).toBe('xz-1');
    expect(info.files[0]).toMatchObject({
      name: 'blob.bin',
      size: data.length,
      sha256: createHash('sha256').update(data).digest('hex'),
    });
    // The outer tar's xz members, as the real tool (which reads standard .xz) sees them.
    const dir = join(work, 'rt-members');
    await mkdir(dir);
    execFileSync('tar', ['-xf', file, '-C', dir]);
    execFileSync('xz', ['-t', join(dir, 'header.tar.xz'), join(dir, 'data/0000.tar.xz')]);
    const inner = execFileSync('tar', ['-xJOf', join(dir, 'data/0000.tar.xz'), 'blob.bin'], {
      maxBuffer: 64 << 20,
    });
    expect(inner.equals(data)).toBe(true);
  });

  it('still reads the xz artifacts mender-artifact wrote', async () => {
    for (const name of ['compress-lzma', 'rootfs-lzma-rsa3072', 'module-directory-lzma-rsa3072']) {
      const info = await readArtifact(createReadStream(join(vectors, `${name}.mender`)));
      expect(info.compression).toBe('lzma');
      expect(info.files.length).toBeGreaterThan(0);
    }
  });

  it('reports an xz that fails as ERR_ARTIFACT_WRITE_COMPRESS and leaves no output', async () => {
    process.env[XZ_COMMAND_ENV] = '/bin/false';
    const { file, tmp, err } = await writeXz('failed', [{ name: 'a.bin', content: payload(1 << 20, 3) }]);
    expect(err).toBeInstanceOf(ArtifactWriteError);
    expect(err).not.toBeInstanceOf(XzUnavailableError);
    expect((err as ArtifactWriteError).code).toBe('ERR_ARTIFACT_WRITE_COMPRESS');
    expect((err as Error).message).toMatch(/\/bin\/false exited with status 1/);
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(tmp)).toEqual([]);
  });

  it('kills xz and removes everything when the write is aborted mid-payload', async () => {
    const controller = new AbortController();
    const size = 64 * 1024 * 1024;
    let sent = 0;
    async function* slow() {
      while (sent < size) {
        const chunk = payload(256 * 1024, sent);
        sent += chunk.length;
        if (sent >= 2 * 1024 * 1024 && !controller.signal.aborted) {
          // xz is running now: it is a child of this process until the abort kills it.
          expect((await xzChildren()).length).toBe(1);
          controller.abort();
        }
        yield chunk;
      }
    }
    const { file, tmp, err } = await writeXz('aborted', [{ name: 'big.bin', size, stream: slow() }], {
      signal: controller.signal,
    });
    expect((err as Error).name).toBe('AbortError');
    expect(sent).toBeLessThan(size);
    expect(await xzChildren()).toEqual([]);
    expect(await readdir(tmp)).toEqual([]);
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('kills xz when the stream is destroyed before its end', async () => {
    const compressor = await createXzProcessCompressor();
    compressor.write(payload(1 << 20, 4));
    expect((await xzChildren()).length).toBe(1);
    compressor.destroy();
    await new Promise((r) => compressor.once('close', r));
    expect(await xzChildren()).toEqual([]);
  });
});

describe('xz compression without an xz program', () => {
  it('refuses with XzUnavailableError naming what to install when xz is not on PATH', async () => {
    process.env.PATH = join(work, 'empty-bin');
    const err = await createCompressor('xz').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XzUnavailableError);
    expect(err).toBeInstanceOf(ArtifactWriteError);
    expect((err as XzUnavailableError).code).toBe('ERR_ARTIFACT_XZ_UNAVAILABLE');
    expect((err as XzUnavailableError).command).toBe('xz');
    expect((err as Error).message).toMatch(/ENOENT/);
    expect((err as Error).message).toMatch(/apt-get install xz-utils/);
    expect((err as Error).message).toMatch(/gzip or zstd/);
  });

  it('fails writeArtifact before writing anything, and names OTAKIT_XZ when it points nowhere', async () => {
    process.env[XZ_COMMAND_ENV] = join(work, 'no-such-xz');
    const file = join(work, 'unavailable.mender');
    const tmp = join(work, 'tmp-unavailable');
    await mkdir(tmp);
    const err = await writeArtifact(
      {
        type: 'rootfs-image',
        artifactName: 'xz-4',
        deviceTypes: ['dev'],
        compression: 'lzma',
        tmpDir: tmp,
        files: [{ name: 'rootfs.ext4', content: payload(4096, 5) }],
      },
      file,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XzUnavailableError);
    expect((err as XzUnavailableError).command).toBe(join(work, 'no-such-xz'));
    expect((err as Error).message).toMatch(/OTAKIT_XZ/);
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(tmp)).toEqual([]);
  });

  it('still compresses with gzip and zstd', async () => {
    process.env.PATH = join(work, 'empty-bin');
    for (const id of ['gzip', 'zstd_better'] as const) {
      const c = await createCompressor(id);
      const out: Buffer[] = [];
      await pipeline(
        (async function* () {
          yield payload(64 * 1024, 6);
        })(),
        c,
        async (source) => {
          for await (const chunk of source) out.push(chunk as Buffer);
        },
      );
      expect(Buffer.concat(out).length).toBeGreaterThan(0);
    }
    expect(spawnSync('xz', ['--version']).error).toMatchObject({ code: 'ENOENT' });
  });
});
