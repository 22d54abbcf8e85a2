/**
 * Compressors for writing Mender Artifacts: none, gzip (node:zlib), xz (the system `xz` program,
 * see compress-xz.ts) and zstd (zstd compiled to WebAssembly, from `@bokuweb/zstd-wasm`). Every
 * compressor is a Node.js `Duplex` that holds a bounded amount of data. The WebAssembly module is
 * loaded on first use only.
 */

import { type Duplex, Transform, type TransformCallback } from 'node:stream';
import { createGzip, constants as zlibConstants } from 'node:zlib';
import { createXzProcessCompressor } from './compress-xz.js';
import { type ArtifactCompression, compressionSuffix } from './decompress.js';

/**
 * The compression ids `mender-artifact write --compression` accepts, plus `xz` as an alias of
 * `lzma` and `zstd` for `zstd_fast`.
 */
export type ArtifactCompressionId =
  | 'none'
  | 'gzip'
  | 'lzma'
  | 'xz'
  | 'zstd'
  | 'zstd_fastest'
  | 'zstd_fast'
  | 'zstd_better'
  | 'zstd_best';

/** Every id {@link createCompressor} accepts, in the order the CLI lists them. */
export const ARTIFACT_COMPRESSION_IDS: readonly ArtifactCompressionId[] = [
  'none',
  'gzip',
  'lzma',
  'xz',
  'zstd',
  'zstd_fastest',
  'zstd_fast',
  'zstd_better',
  'zstd_best',
];

/** Whether `id` is an {@link ArtifactCompressionId}. */
export function isArtifactCompressionId(id: string): id is ArtifactCompressionId {
  return (ARTIFACT_COMPRESSION_IDS as readonly string[]).includes(id);
}

/** The compression family of an id: `xz` is `lzma`, every `zstd_*` is `zstd`. */
export function compressionKind(id: ArtifactCompressionId): ArtifactCompression {
  if (id === 'xz') return 'lzma';
  if (id.startsWith('zstd')) return 'zstd';
  return id as ArtifactCompression;
}

/** The member-name suffix of a compression: `''`, `.gz`, `.xz` or `.zst`. */
export function compressionIdSuffix(id: ArtifactCompressionId): '' | '.gz' | '.xz' | '.zst' {
  return compressionSuffix(compressionKind(id));
}

/** zstd levels matching the four speeds of the klauspost encoder that mender-artifact uses. */
const ZSTD_LEVELS: Record<string, number> = {
  zstd_fastest: 1,
  zstd: 3,
  zstd_fast: 3,
  zstd_better: 7,
  zstd_best: 11,
};

/**
 * Input bytes per zstd frame. The WebAssembly encoder compresses whole buffers, so the stream is
 * written as a sequence of independent frames (the zstd format allows concatenated frames and
 * decoders read them as one stream), which bounds memory to about twice this size.
 */
export const ZSTD_FRAME_BYTES = 4 * 1024 * 1024;

interface ZstdModule {
  init(): Promise<void>;
  compress(buf: Uint8Array, level?: number): Uint8Array;
}

let zstdModule: Promise<ZstdModule> | undefined;
function loadZstd(): Promise<ZstdModule> {
  zstdModule ??= import('@bokuweb/zstd-wasm').then(async (mod) => {
    const m = ((mod as { default?: ZstdModule }).default ?? mod) as ZstdModule;
    await m.init();
    return m;
  });
  return zstdModule;
}

/** Splits its input into frames of {@link ZSTD_FRAME_BYTES} and compresses each one. */
class ZstdFrameCompressor extends Transform {
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  private frames = 0;

  constructor(
    private readonly zstd: ZstdModule,
    private readonly level: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      let rest = chunk;
      while (rest.length > 0) {
        const take = Math.min(rest.length, ZSTD_FRAME_BYTES - this.pendingBytes);
        this.pending.push(rest.subarray(0, take));
        this.pendingBytes += take;
        rest = rest.subarray(take);
        if (this.pendingBytes === ZSTD_FRAME_BYTES) this.emitFrame();
      }
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.pendingBytes > 0 || this.frames === 0) this.emitFrame();
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  private emitFrame(): void {
    const input = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending.length = 0;
    this.pendingBytes = 0;
    this.frames++;
    this.push(Buffer.from(this.zstd.compress(input, this.level)));
  }
}

/**
 * Creates a compressing stream for `id`: write plain bytes in, read compressed bytes out.
 * `none` gives a pass-through stream. xz (`lzma`) runs the system `xz` program and rejects with
 * `XzUnavailableError` when it cannot be started.
 *
 * @example
 * ```ts
 * await pipeline(createReadStream('data.tar'), await createCompressor('zstd_best'), createWriteStream('data.tar.zst'));
 * ```
 */
export async function createCompressor(id: ArtifactCompressionId): Promise<Duplex> {
  switch (compressionKind(id)) {
    case 'none':
      return new Transform({
        transform(chunk, _enc, done) {
          done(null, chunk);
        },
      });
    case 'gzip':
      return createGzip({ level: zlibConstants.Z_BEST_COMPRESSION });
    case 'lzma':
      return createXzProcessCompressor();
    case 'zstd':
      return new ZstdFrameCompressor(await loadZstd(), ZSTD_LEVELS[id] ?? 3);
  }
}
