/**
 * zstd decoding through the system `zstd` program (Zstandard CLI) as a child process (see
 * `decoder-process.ts`). Preferred over the WebAssembly libzstd of `zstd.ts` by measurement (see
 * the core README, "zstd reading"): compiling and running WebAssembly cost the reader about 8 MiB
 * of peak RSS (V8's WebAssembly compiler, the module's memory with the window), where the child
 * costs it about 1.5 MiB and holds the window itself. When no `zstd` can be started, the reader
 * falls back to the WebAssembly decoder.
 */

import { type DecoderProcess, decodeWithProcess, startDecoderProcess } from './decoder-process.js';
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
 * @internal
 */
export function startZstdDecoder(command: string): Promise<DecoderProcess | undefined> {
  return startDecoderProcess(
    command,
    ['--decompress', '--stdout', '--quiet', `--memory=${2 ** MAX_ZSTD_WINDOW_LOG}`],
    'unzstd',
  );
}

/**
 * Decodes a zstd stream with a started decoder. `lend`: hand out views into the reused output
 * buffer (each valid until the next is asked for) instead of copies. An error of the input is
 * rethrown as it is; zstd's own failures become `ArtifactError`s: `ERR_ARTIFACT_TOO_LARGE` for a
 * frame whose window exceeds the limit, `ERR_ARTIFACT_DECOMPRESSION` otherwise (corrupt data, a
 * stream that ends inside a frame, an empty stream, anything after the last frame that is not one).
 * @internal
 */
export function unzstdWithChild(
  decoder: DecoderProcess,
  input: AsyncIterable<Uint8Array>,
  member: string,
  lend: boolean,
): AsyncGenerator<Uint8Array> {
  return decodeWithProcess(decoder, input, lend, (why) => zstdError(member, decoder.command, why));
}

function zstdError(member: string, command: string, why: string): ArtifactError {
  if (/window size larger than maximum|requires too much memory/i.test(why)) {
    return new ArtifactError(
      'ERR_ARTIFACT_TOO_LARGE',
      `a zstd frame asks for a window larger than the limit of ${2 ** MAX_ZSTD_WINDOW_LOG} bytes (${command}: ${why})`,
      { member },
    );
  }
  return new ArtifactError('ERR_ARTIFACT_DECOMPRESSION', `corrupt compressed data (${command} ${why})`, {
    member,
  });
}
