/**
 * xz decoding through the system `xz` program (XZ Utils) as a child process (see
 * `decoder-process.ts`). Preferred over the WebAssembly decoder (`xz-decompress`) by measurement
 * (see the core README, "xz and zstd reading"): native liblzma decodes several times faster. When no `xz`
 * can be started, the reader falls back to the WebAssembly decoder.
 */

import {
  type DecoderProcess,
  decodeWithProcess,
  type FeederSpec,
  programFailure,
  startDecoderProcess,
} from './decoder-process.js';
import type { ArtifactError } from './errors.js';

/**
 * Most memory the child's decoder may use: 128 MiB (a stream made with `xz -9` needs 65 MiB; Mender
 * writes with an 8 MiB dictionary). A stream that needs more fails with `ERR_ARTIFACT_TOO_LARGE`.
 */
export const MAX_XZ_DECODER_BYTES = 128 * 1024 * 1024;

/**
 * Starts `command --decompress` (one thread, decoder memory capped at
 * {@link MAX_XZ_DECODER_BYTES}); `undefined` when it cannot be started. `feeder`: a program that
 * writes xz's input (see `startDecoderProcess`).
 * @internal
 */
export function startXzDecoder(command: string, feeder?: FeederSpec): Promise<DecoderProcess | undefined> {
  return startDecoderProcess(
    command,
    [
      '--decompress',
      '--stdout',
      '--format=xz',
      '--threads=1',
      `--memlimit-decompress=${MAX_XZ_DECODER_BYTES}`,
      '--no-warn',
    ],
    'unxz',
    feeder,
  );
}

/**
 * Decodes an xz stream with a started decoder. `lend`: hand out views into the reused output
 * buffer (each valid until the next is asked for) instead of copies. An error of the input, or the
 * reason of `signal` (which kills xz at once), is rethrown as it is; xz's own failures become `ArtifactError`s: `ERR_ARTIFACT_TOO_LARGE` when the
 * stream needs more than {@link MAX_XZ_DECODER_BYTES}, `ERR_ARTIFACT_DECOMPRESSION` otherwise.
 * When the decoder has a feeder, `input` is not read, and a failure of the feeder becomes what
 * `feederFailure` makes of it.
 * @internal
 */
export function unxzWithChild(
  decoder: DecoderProcess,
  input: AsyncIterable<Uint8Array> | undefined,
  member: string,
  lend: boolean,
  signal?: AbortSignal,
  feederFailure?: (why: string) => ArtifactError,
): AsyncGenerator<Uint8Array> {
  const failure = programFailure(
    member,
    decoder.command,
    /memory usage limit/i,
    `an xz stream needs more decoder memory than the limit of ${MAX_XZ_DECODER_BYTES} bytes`,
  );
  return decodeWithProcess(decoder, input, lend, failure, {
    signal,
    ...(feederFailure ? { feederFailure } : {}),
  });
}
