/**
 * One streaming decompressor interface for the four compressions of a Mender Artifact: none, gzip
 * (node:zlib), xz/lzma (`xz-decompress`, WebAssembly xz-embedded) and zstd (reference libzstd
 * as WebAssembly, see `zstd.ts`). Every decoder hands out bounded slices and lets the event loop run.
 * The compression of a member is decided by its name suffix only, as mender-artifact does.
 */

import { createGunzip, type Gunzip } from 'node:zlib';
import xzDecompress from 'xz-decompress';
import { ArtifactError } from './errors.js';
import { unzstd } from './zstd.js';

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
