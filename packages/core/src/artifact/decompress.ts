/**
 * One streaming decompressor interface for the four compressions of a Mender Artifact: none, gzip
 * (node:zlib), xz/lzma (the system `xz` program, else `xz-decompress`, WebAssembly xz-embedded)
 * and zstd (the system `zstd` program, else reference libzstd as WebAssembly, see `zstd.ts`). Every decoder hands out bounded
 * slices and lets the event loop run.
 * The compression of a member is decided by its name suffix only, as mender-artifact does.
 */

import { xzCommand } from './compress-xz.js';
import { ArtifactError } from './errors.js';
import { type GunzipOptions, gunzipChunks } from './gunzip.js';
import { startXzDecoder, unxzWithChild } from './xz-process.js';
import { unzstd as unzstdWasm, unzstdLent as unzstdWasmLent } from './zstd.js';
import { startZstdDecoder, unzstdWithChild, zstdCommand } from './zstd-process.js';

/** The compression of an artifact member: none, gzip (`.gz`), xz (`.xz`, called `lzma` by Mender) or zstd (`.zst`). */
export type ArtifactCompression = 'none' | 'gzip' | 'lzma' | 'zstd';

/**
 * A streaming decompressor: turns the chunks of a compressed member into the chunks of its content.
 * It pulls its input lazily (never more than it needs to produce the next output) and, when it
 * finishes or fails, has stopped reading its input. `signal`: when it aborts, a decoder that runs
 * as a child process is killed at once (even while the input is stalled) and the decompressor
 * fails with the signal's reason.
 */
export type Decompressor = (
  input: AsyncIterable<Uint8Array>,
  member: string,
  signal?: AbortSignal,
) => AsyncGenerator<Uint8Array>;

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

/** Output slice of gzip decoding for {@link decompressor} (node:zlib's default). */
const GUNZIP_SLICE_BYTES = 16 * 1024;
/**
 * Output slice of gzip decoding of payload data ({@link payloadDecompressor}): each slice is one
 * call into zlib and one turn through the tar reader and the hash.
 */
const PAYLOAD_GUNZIP_SLICE_BYTES = 256 * 1024;

/** A gzip {@link Decompressor} with zlib's errors as `ArtifactError`s. */
function gunzipWith(options: GunzipOptions): Decompressor {
  return async function* gunzip(input, member) {
    try {
      yield* gunzipChunks(input, options);
    } catch (err) {
      throw decompressionError(member, err);
    }
  };
}

const gunzip = gunzipWith({ sliceBytes: GUNZIP_SLICE_BYTES, lend: false });
const gunzipLent = gunzipWith({ sliceBytes: PAYLOAD_GUNZIP_SLICE_BYTES, lend: true });

/**
 * The decompressor the reader uses for payload data: like {@link decompressor}, but the chunks
 * it yields may be views into buffers it reuses (each valid until the next is asked for), and
 * are larger. For consumers that hash or parse each chunk at once, or copy it.
 * @internal
 */
export function payloadDecompressor(compression: ArtifactCompression): Decompressor {
  switch (compression) {
    case 'gzip':
      return gunzipLent;
    case 'zstd':
      return unzstdLent;
    case 'lzma':
      return unxzLent;
    default:
      return decompressor(compression);
  }
}

type XzReadableStreamClass = typeof import('xz-decompress').XzReadableStream;
let xzReadableStream: Promise<XzReadableStreamClass> | undefined;

/**
 * `xz-decompress`, loaded on first use (it instantiates its WebAssembly decoder when imported).
 * A CommonJS module: under Node's ESM loader its exports are the namespace's `default`, under a
 * CommonJS loader (the CJS build, tsx) they are the namespace itself.
 */
function loadXzReadableStream(): Promise<XzReadableStreamClass> {
  xzReadableStream ??= import('xz-decompress').then((mod) => {
    const m = mod as unknown as {
      XzReadableStream?: XzReadableStreamClass;
      default?: { XzReadableStream?: XzReadableStreamClass };
    };
    const found = m.XzReadableStream ?? m.default?.XzReadableStream;
    if (found === undefined) throw new Error('xz-decompress has no XzReadableStream export');
    return found;
  });
  return xzReadableStream;
}

/**
 * xz: the system `xz` program as a child process (see `xz-process.ts`), or, when none can be
 * started, the WebAssembly decoder.
 */
function unxzWith(lend: boolean): Decompressor {
  return async function* unxz(input, member, signal) {
    const decoder = await startXzDecoder(xzCommand());
    if (decoder) yield* unxzWithChild(decoder, input, member, lend, signal);
    else yield* unxzWasm(input, member);
  };
}

const unxz = unxzWith(false);
const unxzLent = unxzWith(true);

/**
 * zstd: the system `zstd` program as a child process (see `zstd-process.ts`), or, when none can
 * be started, libzstd as WebAssembly (`zstd.ts`).
 */
function unzstdWith(lend: boolean): Decompressor {
  return async function* unzstd(input, member, signal) {
    const decoder = await startZstdDecoder(zstdCommand());
    if (decoder) yield* unzstdWithChild(decoder, input, member, lend, signal);
    else yield* (lend ? unzstdWasmLent : unzstdWasm)(input, member);
  };
}

const unzstd = unzstdWith(false);
const unzstdLent = unzstdWith(true);

/** xz through `xz-decompress` (xz-embedded compiled to WebAssembly). @internal */
export async function* unxzWasm(
  input: AsyncIterable<Uint8Array>,
  member: string,
): AsyncGenerator<Uint8Array> {
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
  const reader = new (await loadXzReadableStream())(source).getReader();
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
