/**
 * One streaming decompressor interface for the four compressions of a Mender Artifact: none, gzip
 * (node:zlib), xz/lzma (`xz-decompress`, WebAssembly xz-embedded) and zstd (`fzstd`, pure JS).
 * The compression of a member is decided by its name suffix only, as mender-artifact does.
 */

import { createGunzip, type Gunzip } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import xzDecompress from 'xz-decompress';
import { ArtifactError } from './errors.js';

/** The compression of an artifact member: none, gzip (`.gz`), xz (`.xz`, called `lzma` by Mender) or zstd (`.zst`). */
export type ArtifactCompression = 'none' | 'gzip' | 'lzma' | 'zstd';

/**
 * A streaming decompressor: turns the chunks of a compressed member into the chunks of its content.
 * It pulls its input lazily (never more than it needs to produce the next output) and, when it
 * finishes or fails, has stopped reading its input.
 */
export type Decompressor = (input: AsyncIterable<Uint8Array>, member: string) => AsyncGenerator<Uint8Array>;

const SUFFIXES: Record<string, ArtifactCompression> = {
  '': 'none',
  '.gz': 'gzip',
  '.xz': 'lzma',
  '.zst': 'zstd',
};

/** The file name suffix Mender uses for a compression (`''`, `.gz`, `.xz`, `.zst`). */
export function compressionSuffix(compression: ArtifactCompression): '' | '.gz' | '.xz' | '.zst' {
  switch (compression) {
    case 'none':
      return '';
    case 'gzip':
      return '.gz';
    case 'lzma':
      return '.xz';
    case 'zstd':
      return '.zst';
  }
}

/** The compression a suffix (`''`, `.gz`, `.xz`, `.zst`) stands for; `undefined` for any other. */
export function compressionFromSuffix(suffix: string): ArtifactCompression | undefined {
  return Object.hasOwn(SUFFIXES, suffix) ? SUFFIXES[suffix] : undefined;
}

/**
 * The streaming decompressor for a compression.
 *
 * @example
 * ```ts
 * for await (const chunk of decompressor('gzip')(compressedChunks, 'header.tar.gz')) use(chunk)
 * ```
 */
export function decompressor(compression: ArtifactCompression): Decompressor {
  switch (compression) {
    case 'none':
      return passThrough;
    case 'gzip':
      return gunzip;
    case 'lzma':
      return unxz;
    case 'zstd':
      return unzstd;
  }
}

async function* passThrough(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* input;
}

function decompressionError(member: string, cause: unknown): unknown {
  if (cause instanceof ArtifactError) return cause;
  if (cause instanceof Error && cause.name === 'AbortError') return cause;
  const why = cause instanceof Error ? cause.message : String(cause);
  return new ArtifactError('ERR_ARTIFACT_DECOMPRESSION', `corrupt compressed data (${why})`, {
    member,
    cause,
  });
}

async function* gunzip(input: AsyncIterable<Uint8Array>, member: string): AsyncGenerator<Uint8Array> {
  const z: Gunzip = createGunzip();
  let inputError: unknown;
  const waitDrain = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        z.off('drain', done);
        z.off('close', done);
        resolve();
      };
      z.on('drain', done);
      z.on('close', done);
    });
  const pump = (async () => {
    try {
      for await (const chunk of input) {
        if (z.destroyed) return;
        if (!z.write(chunk)) await waitDrain();
      }
      if (!z.destroyed) z.end();
    } catch (err) {
      inputError = err;
      z.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  })();
  try {
    for await (const out of z) yield out as Uint8Array;
  } catch (err) {
    throw decompressionError(member, inputError ?? err);
  } finally {
    if (!z.destroyed) z.destroy();
    await pump;
  }
  if (inputError !== undefined) throw decompressionError(member, inputError);
}

async function* unxz(input: AsyncIterable<Uint8Array>, member: string): AsyncGenerator<Uint8Array> {
  const iterator = input[Symbol.asyncIterator]();
  let inputError: unknown;
  const source = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await iterator.next();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        } catch (err) {
          inputError = err;
          controller.error(err);
        }
      },
      async cancel() {
        await iterator.return?.();
      },
    },
    { highWaterMark: 0 },
  );
  const reader = new xzDecompress.XzReadableStream(source).getReader();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value.length > 0) yield value;
    }
    finished = true;
  } catch (err) {
    throw decompressionError(member, inputError ?? err);
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/** zstd window sizes above this are refused (fzstd allocates the whole window up front). */
const MAX_ZSTD_WINDOW = 128 * 1024 * 1024;
/** Input is fed to fzstd in slices this big, which bounds the output of a single push. */
const ZSTD_SLICE = 1024;

async function* unzstd(input: AsyncIterable<Uint8Array>, member: string): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  let ended = false;
  const z = new ZstdDecompress((chunk, final) => {
    if (chunk.length > 0) out.push(chunk);
    if (final) ended = true;
  });
  let head: Uint8Array = new Uint8Array(0);
  let checked = false;
  try {
    for await (const chunk of input) {
      let data = chunk;
      if (!checked) {
        // Look at the first frame header before fzstd allocates its window.
        head = concat(head, data);
        if (head.length < 14) continue;
        checkZstdWindow(head, member);
        checked = true;
        data = head;
      }
      for (let i = 0; i < data.length; i += ZSTD_SLICE) {
        z.push(data.subarray(i, Math.min(i + ZSTD_SLICE, data.length)));
        while (out.length > 0) yield out.shift()!;
      }
    }
    if (!checked && head.length > 0) {
      checkZstdWindow(head, member);
      z.push(head);
    }
    z.push(new Uint8Array(0), true);
    while (out.length > 0) yield out.shift()!;
    if (!ended) throw new Error('unexpected end of zstd stream');
  } catch (err) {
    throw decompressionError(member, err);
  }
}

function checkZstdWindow(head: Uint8Array, member: string): void {
  // Zstandard frame magic 0xFD2FB528 (little endian); skippable frames are left to fzstd.
  if (head.length < 6 || head[0] !== 0x28 || head[1] !== 0xb5 || head[2] !== 0x2f || head[3] !== 0xfd) return;
  const flags = head[4]!;
  const singleSegment = (flags >> 5) & 1;
  const fcsFlag = flags >> 6;
  let window: number;
  if (singleSegment) {
    const dictBytes = [0, 1, 2, 4][flags & 3]!;
    const fcsBytes = fcsFlag === 0 ? 1 : 1 << fcsFlag;
    let size = 0;
    const start = 5 + dictBytes;
    for (let i = fcsBytes - 1; i >= 0; i--) size = size * 256 + (head[start + i] ?? 0);
    if (fcsFlag === 1) size += 256;
    window = size;
  } else {
    const descriptor = head[5]!;
    const base = 2 ** (10 + (descriptor >> 3));
    window = base + (base / 8) * (descriptor & 7);
  }
  if (window > MAX_ZSTD_WINDOW) {
    throw new ArtifactError(
      'ERR_ARTIFACT_TOO_LARGE',
      `zstd window of ${window} bytes exceeds the limit of ${MAX_ZSTD_WINDOW}`,
      { member },
    );
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
