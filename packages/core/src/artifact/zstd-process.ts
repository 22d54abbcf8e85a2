/**
 * zstd decoding through the system `zstd` program (Zstandard CLI) as a child process (see
 * `decoder-process.ts`). Preferred over the WebAssembly libzstd of `zstd.ts` by measurement (see
 * the core README, "xz and zstd reading"): compiling and running WebAssembly cost the reader about 8 MiB
 * of peak RSS (V8's WebAssembly compiler, the module's memory with the window), where the child
 * costs it about 1.5 MiB and holds the window itself. When no `zstd` can be started, the reader
 * falls back to the WebAssembly decoder.
 */

import {
  type DecoderProcess,
  decodeWithProcess,
  type FeederSpec,
  programFailure,
  startDecoderProcess,
} from './decoder-process.js';
import { ArtifactError } from './errors.js';
import { MAX_ZSTD_WINDOW_LOG } from './zstd.js';

/** The environment variable that names the zstd program to run (default: `zstd` on `PATH`). */
export const ZSTD_COMMAND_ENV = 'OTAKIT_ZSTD';

/** The zstd program to read with: `$OTAKIT_ZSTD`, else `zstd` on `PATH`. @internal */
export function zstdCommand(): string {
  return process.env[ZSTD_COMMAND_ENV] || 'zstd';
}

/**
 * Starts `command --decompress` with the same window limit as the WebAssembly decoder
 * (2^{@link MAX_ZSTD_WINDOW_LOG} bytes, `--memory`); `undefined` when it cannot be started.
 * `feeder`: a program that writes zstd's input (see `startDecoderProcess`); `extraArgs` go after
 * the others.
 * @internal
 */
export function startZstdDecoder(
  command: string,
  feeder?: FeederSpec,
  extraArgs: readonly string[] = [],
): Promise<DecoderProcess | undefined> {
  return startDecoderProcess(
    command,
    ['--decompress', '--stdout', '--quiet', `--memory=${2 ** MAX_ZSTD_WINDOW_LOG}`, ...extraArgs],
    'unzstd',
    feeder,
  );
}

/**
 * Decodes a zstd stream with a started decoder. `lend`: hand out views into the reused output
 * buffer (each valid until the next is asked for) instead of copies. An error of the input, or the
 * reason of `signal` (which kills zstd at once), is rethrown as it is; zstd's own failures become `ArtifactError`s: `ERR_ARTIFACT_TOO_LARGE` for a
 * frame whose window exceeds the limit, `ERR_ARTIFACT_DECOMPRESSION` otherwise (corrupt data, a
 * stream that ends inside a frame, an empty stream, anything after the last frame that is not one).
 * When the decoder has a feeder, `input` is not read: the caller walks the frames itself
 * ({@link ZstdFrameCheck}) before the feeder starts, and a failure of the feeder becomes what
 * `feederFailure` makes of it.
 * @internal
 */
export function unzstdWithChild(
  decoder: DecoderProcess,
  input: AsyncIterable<Uint8Array> | undefined,
  member: string,
  lend: boolean,
  signal?: AbortSignal,
  feederFailure?: (why: string) => ArtifactError,
): AsyncGenerator<Uint8Array> {
  const frames = new ZstdFrameCheck(member);
  const failure = programFailure(
    member,
    decoder.command,
    /window size larger than maximum|requires too much memory/i,
    `a zstd frame asks for a window larger than the limit of ${2 ** MAX_ZSTD_WINDOW_LOG} bytes`,
  );
  return decodeWithProcess(decoder, input, lend, failure, {
    check: (chunk) => frames.feed(chunk),
    signal,
    ...(feederFailure ? { feederFailure } : {}),
  });
}

const ZSTD_MAGIC = 0xfd2fb528;
/** Skippable frames: magic numbers 0x184D2A50 to 0x184D2A5F. */
const SKIPPABLE_MAGIC = 0x184d2a50;
/** Sizes of the Dictionary_ID field by Dictionary_ID_Flag, and of Frame_Content_Size by its flag. */
const DICT_ID_BYTES = [0, 1, 2, 4] as const;
const CONTENT_SIZE_BYTES = [0, 2, 4, 8] as const;

/**
 * Walks the frames of a zstd stream as it goes to the `zstd` program (RFC 8878: frame header,
 * block headers, checksum; skippable frames) and refuses any frame that is neither a zstd nor a
 * skippable frame. The zstd program also decodes gzip, xz and lz4 frames (without a memory limit
 * for xz), where the WebAssembly decoder and mender-artifact accept zstd only. Everything else
 * (corrupt blocks, a stream that ends inside a frame) is the decoder's to find.
 * @internal
 */
export class ZstdFrameCheck {
  private state: 'magic' | 'skippable-size' | 'frame-header' | 'block-header' = 'magic';
  /** Bytes to pass over before the next field (the rest of a header, a block, a checksum). */
  private skip = 0;
  private readonly field = new Uint8Array(4);
  private have = 0;
  private checksumBytes = 0;
  /** Bytes of raw (stored, incompressible) blocks seen so far: their block headers' sizes. */
  rawBlockBytes = 0;

  constructor(private readonly member: string) {}

  /**
   * The bytes after those fed so far that the check passes over (the rest of a block, a skippable
   * frame), handed to the caller, which does not feed them: the next byte fed is the one after
   * them. For a walk that reads only the headers (see `range-decoder.ts`).
   */
  takeSkip(): number {
    const n = this.skip;
    this.skip = 0;
    return n;
  }

  /** Checks the next bytes of the stream. @throws {ArtifactError} `ERR_ARTIFACT_DECOMPRESSION` */
  feed(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      const want = this.state === 'frame-header' ? 1 : this.state === 'block-header' ? 3 : 4;
      while (this.have < want && i < chunk.length) this.field[this.have++] = chunk[i++]!;
      if (this.have < want) return;
      this.have = 0;
      const f = this.field;
      switch (this.state) {
        case 'magic': {
          const magic = (f[0]! | (f[1]! << 8) | (f[2]! << 16) | (f[3]! << 24)) >>> 0;
          if (magic === ZSTD_MAGIC) this.state = 'frame-header';
          else if ((magic & 0xfffffff0) >>> 0 === SKIPPABLE_MAGIC) this.state = 'skippable-size';
          else {
            throw new ArtifactError(
              'ERR_ARTIFACT_DECOMPRESSION',
              'corrupt compressed data (not a zstd frame)',
              { member: this.member },
            );
          }
          break;
        }
        case 'skippable-size':
          this.skip = (f[0]! | (f[1]! << 8) | (f[2]! << 16) | (f[3]! << 24)) >>> 0;
          this.state = 'magic';
          break;
        case 'frame-header': {
          // Frame_Header_Descriptor: the sizes of the optional fields after it.
          const d = f[0]!;
          const singleSegment = (d >> 5) & 1;
          this.checksumBytes = ((d >> 2) & 1) * 4;
          this.skip =
            (singleSegment ? 0 : 1) +
            DICT_ID_BYTES[d & 3]! +
            (d >> 6 === 0 ? singleSegment : CONTENT_SIZE_BYTES[d >> 6]!);
          this.state = 'block-header';
          break;
        }
        case 'block-header': {
          const h = f[0]! | (f[1]! << 8) | (f[2]! << 16);
          const type = (h >> 1) & 3;
          // An RLE block carries one byte; raw and compressed blocks carry Block_Size bytes.
          this.skip = type === 1 ? 1 : h >>> 3;
          if (type === 0) this.rawBlockBytes += h >>> 3;
          if (h & 1) {
            this.skip += this.checksumBytes;
            this.state = 'magic';
          }
          break;
        }
      }
    }
  }
}
