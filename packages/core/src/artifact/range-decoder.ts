/**
 * Decoding a zstd or xz data member straight from the artifact file: when the artifact is a file
 * (not a stream), `dd` reads the member's exact byte range from it into the decoder child's input
 * (see `startDecoderProcess`'s feeder), so this process neither reads nor forwards the
 * compressed bytes; it only reads the decoded ones, parses the inner tar and hashes the payload.
 *
 * Why: through the child, incompressible data went file → this process → socket → decoder →
 * socket → this process, and this process paid for the read, the write and the read back on top
 * of the hash. Measured with `otakit artifact validate -k` of a random-payload zstd artifact
 * (bench/artifact.bench.ts; see the core README, "xz and zstd reading from a file").
 *
 * The decoder never sees a byte past the member: dd is given its offset and length
 * (`iflag=skip_bytes,count_bytes skip=OFFSET count=LENGTH`), from the outer tar header, and reads
 * from its own descriptor of the same open file (`/proc/self/fd/N`, so a file renamed or replaced
 * meanwhile is not read instead). Arguments are numbers in an argv array: no path, no shell. The
 * zstd frame check (foreign frames refused) is made before dd starts, by reading only the frame
 * and block headers from the file.
 *
 * Anything missing (no dd that takes those flags, no `/proc`, no decoder program, a member that
 * runs past the end of the file, a stream source) keeps today's path: the reader feeds the
 * decoder itself, or the WebAssembly decoder decodes.
 */

import { close, open, readSync } from 'node:fs';
import { xzCommand } from './compress-xz.js';
import { type ArtifactCompression, payloadDecompressor } from './decompress.js';
import { ArtifactError } from './errors.js';
import type { FileAccess } from './file-source.js';
import { workSlicer } from './time-slice.js';
import { startXzDecoder, unxzWithChild } from './xz-process.js';
import { startZstdDecoder, unzstdWithChild, ZstdFrameCheck, zstdCommand } from './zstd-process.js';

/** The environment variable that names the dd program to run (default: `dd` on `PATH`). */
export const DD_COMMAND_ENV = 'OTAKIT_DD';

/** The dd program that reads members from the file: `$OTAKIT_DD`, else `dd` on `PATH`. @internal */
export function ddCommand(): string {
  return process.env[DD_COMMAND_ENV] || 'dd';
}

/**
 * dd's block size: each read from the file and write into the decoder's input socket. 128 KiB,
 * zstd's block size: 1 MiB measured no faster (512 MiB random zstd payload, 9 paired runs:
 * 1.50x and 1.55x the hash limit) and costs dd 0.9 MiB more.
 */
const DD_BLOCK_BYTES = 128 * 1024;

/** Bytes read at a time while walking the zstd frame and block headers in the file. */
const WALK_READ_BYTES = 4096;

/**
 * zstd's asynchronous I/O (zstd 1.5.3 and later: reads and writes in threads of their own) turned
 * off: between two sockets it only adds thread switches. Measured on a 512 MiB random zstd
 * payload (9 paired runs): validate 1.39x the hash limit instead of 1.53x, the children's CPU
 * time 0.36 s instead of 0.44 s. Earlier versions refuse the option: it is probed.
 */
const ZSTD_NO_ASYNC_IO = '--no-asyncio';

/** Outcomes of {@link probe}, by command and arguments (each run once per process). */
const probes = new Map<string, Promise<boolean>>();

/** Whether `command ...args` runs and exits with 0 (on an empty input); once per process. */
function probe(command: string, args: readonly string[]): Promise<boolean> {
  const key = JSON.stringify([command, ...args]);
  let outcome = probes.get(key);
  if (outcome === undefined) {
    outcome = import('node:child_process').then(
      ({ spawn }) =>
        new Promise<boolean>((resolve) => {
          const child = spawn(command, args, { stdio: 'ignore' });
          child.once('error', () => resolve(false));
          child.once('close', (code) => resolve(code === 0));
        }),
    );
    probes.set(key, outcome);
  }
  return outcome;
}

/**
 * Whether `command` runs and takes `iflag=skip_bytes,count_bytes` (GNU coreutils; BusyBox
 * builds may lack `count_bytes`).
 */
const rangeReaderWorks = (command: string) =>
  probe(command, ['iflag=skip_bytes,count_bytes', 'count=0', 'status=none']);

/** Whether the zstd program `command` takes {@link ZSTD_NO_ASYNC_IO} (`-V`: prints its version). */
const zstdTakesNoAsyncIo = (command: string) => probe(command, [ZSTD_NO_ASYNC_IO, '-V']);

const openFile = (path: string) =>
  new Promise<number | undefined>((resolve) => {
    open(path, 'r', (err, fd) => resolve(err ? undefined : fd));
  });

/**
 * dd feeds zstd only when at least this share of the member is raw (stored) blocks, i.e. for
 * incompressible data, where the reader saves reading and forwarding as many bytes as it hashes.
 * On compressible data zstd is the bottleneck, the reader has time to spare, and dd cost more than
 * it saved: 512 MiB of text-like payload (123.7 MiB of zstd), paired runs at a load average of 2-4:
 * validate 1.09-1.12x slower through dd.
 */
export const MIN_RAW_SHARE_FOR_DD = 0.5;

/**
 * The walk decides after this many bytes of the member whether it is compressible (then it stops:
 * the present path checks the frames on the way) or goes on to the end. Walking 512 MiB took
 * 26-42 ms on 2 loaded cores; a compressible member pays about 1 MiB's worth.
 */
const WALK_SAMPLE_BYTES = 1024 * 1024;

/**
 * Walks the zstd frames of `size` bytes at `offset` of the file with {@link ZstdFrameCheck},
 * reading only the frame and block headers (and what shares their 4 KiB), with synchronous reads
 * (the bytes are read again by dd moments later: they are in the page cache) in slices of a few
 * milliseconds. Stops at the end of the range (what a block claims beyond it is the decoder's to
 * find truncated). Returns whether at least {@link MIN_RAW_SHARE_FOR_DD} of the member is raw
 * blocks; false already after {@link WALK_SAMPLE_BYTES} when that much is not (the rest is not
 * walked then).
 * @throws {ArtifactError} `ERR_ARTIFACT_DECOMPRESSION` at a frame that is not a zstd frame
 */
async function mostlyRawZstd(
  fd: number,
  offset: number,
  size: number,
  member: string,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const frames = new ZstdFrameCheck(member);
  const buffer = Buffer.allocUnsafe(WALK_READ_BYTES);
  const slice = workSlicer();
  const end = offset + size;
  let sampled = false;
  for (let position = offset; position < end; ) {
    if (!sampled && position - offset >= WALK_SAMPLE_BYTES) {
      sampled = true;
      if (frames.rawBlockBytes < (position - offset) * MIN_RAW_SHARE_FOR_DD) return false;
    }
    const n = readSync(fd, buffer, 0, Math.min(WALK_READ_BYTES, end - position), position);
    if (n === 0) break;
    frames.feed(buffer.subarray(0, n));
    position += n + frames.takeSkip();
    signal?.throwIfAborted();
    await slice();
  }
  return frames.rawBlockBytes >= size * MIN_RAW_SHARE_FOR_DD;
}

/** The failure of dd (the decoder did not fail): the member could not be read from the file. */
function rangeReaderFailure(member: string): (why: string) => ArtifactError {
  return (why) =>
    new ArtifactError(
      'ERR_ARTIFACT_DECOMPRESSION',
      `reading the compressed member from the file failed (${why})`,
      {
        member,
      },
    );
}

/**
 * Decodes a zstd or xz data member of an artifact file (see the top of this file): from the file
 * through dd when it can, else from `body` (the member's bytes as the outer tar reads them) as
 * `payloadDecompressor` does. The chunks are lent. The caller's outer tar must skip the member's
 * bytes afterwards without reading them (a {@link FileAccess} skip), as dd read them.
 *
 * Errors are those of the decoder (see `unzstdWithChild`, `unxzWithChild`), and
 * `ERR_ARTIFACT_DECOMPRESSION` when dd fails; an abort of `signal` kills dd and the decoder.
 * @param range where the member's bytes are in the file
 * @internal
 */
export async function* decodeMemberFromFile(
  compression: ArtifactCompression,
  file: FileAccess,
  range: { offset: number; size: number },
  body: AsyncIterable<Uint8Array>,
  member: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<Uint8Array> {
  const fd = file.fd;
  const zstd = compression === 'zstd';
  const inFile =
    (zstd || compression === 'lzma') &&
    fd !== undefined &&
    range.size > 0 &&
    range.offset + range.size <= file.size;
  // dd's own open file description (its offset is dd's to move), of the very file being read.
  const own = inFile ? await openFile(`/proc/self/fd/${fd}`) : undefined;
  if (own === undefined) {
    yield* payloadDecompressor(compression)(body, member, signal);
    return;
  }
  let decoder: Awaited<ReturnType<typeof startZstdDecoder>>;
  try {
    const command = ddCommand();
    const zstdProgram = zstdCommand();
    // Compressible zstd data keeps the present path (see MIN_RAW_SHARE_FOR_DD), without probing
    // anything; so does a member when no usable dd is found. The probes run once per process each.
    const worthIt = !zstd || (await mostlyRawZstd(own, range.offset, range.size, member, signal));
    if (!worthIt || !(await rangeReaderWorks(command))) decoder = undefined;
    else {
      const feeder = {
        command,
        args: [
          'iflag=skip_bytes,count_bytes',
          `skip=${range.offset}`,
          `count=${range.size}`,
          `bs=${DD_BLOCK_BYTES}`,
          'status=none',
        ],
        stdin: own,
      };
      decoder = await (zstd
        ? startZstdDecoder(
            zstdProgram,
            feeder,
            (await zstdTakesNoAsyncIo(zstdProgram)) ? [ZSTD_NO_ASYNC_IO] : [],
          )
        : startXzDecoder(xzCommand(), feeder));
    }
  } finally {
    // dd has its own copy.
    close(own, () => undefined);
  }
  if (decoder === undefined) {
    // No usable dd, or compressible zstd data: the present path (the reader feeds the decoder).
    // No decoder program: the WebAssembly decoder, from the reader's bytes.
    yield* payloadDecompressor(compression)(body, member, signal);
    return;
  }
  // Without a feeder (dd could not be started after all), the decoder reads the reader's bytes.
  const input = decoder.feeder ? undefined : body;
  const failed = rangeReaderFailure(member);
  yield* zstd
    ? unzstdWithChild(decoder, input, member, true, signal, failed)
    : unxzWithChild(decoder, input, member, true, signal, failed);
}
