/**
 * Streaming zstd decoding with reference libzstd (1.5.7, decoder only) compiled to WebAssembly
 * (`packages/core/zstd-wasm/build.sh`). Chosen over fzstd by measurement (see the core README):
 * libzstd refuses a block that would produce more than 128 KiB, so one decode call does at most
 * one block's work (well under a millisecond), where fzstd spins for minutes on a crafted block.
 *
 * Bounds: every frame (later frames included; skippable frames are skipped) may ask for at most
 * {@link MAX_ZSTD_WINDOW_LOG}; output comes in slices of at most 128 KiB; the decoder yields to the
 * event loop every few milliseconds, so timers and `AbortSignal`s keep firing.
 */

import { ArtifactError } from './errors.js';
import { workSlicer } from './time-slice.js';

/** Largest zstd window accepted: 2^27 bytes = 128 MiB (mender-artifact's own decoder limit is the same order). */
export const MAX_ZSTD_WINDOW_LOG = 27;
/** Input slice copied into the decoder at a time (the size of the module's input buffer). */
const IN_SIZE = 64 * 1024;
/** Output slice (the size of the module's output buffer). */
const OUT_SIZE = 128 * 1024;

/** The bits of the WebAssembly API used here (not in @types/node 20's globals). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface WasmMemory {
  readonly buffer: ArrayBuffer;
}

interface ZstdExports {
  memory: WasmMemory;
  otz_create(windowLogMax: number): number;
  otz_free(): void;
  otz_in_buffer(): number;
  otz_out_buffer(): number;
  otz_in_pos(): number;
  otz_out_pos(): number;
  otz_decompress(inSize: number, outMax: number): number;
  otz_error_name(code: number): number;
  otz_error_code(code: number): number;
}

/** `ZSTD_error_frameParameter_windowTooLarge` (zstd_errors.h). */
const ZSTD_ERROR_WINDOW_TOO_LARGE = 16;

let compiled: Promise<object> | undefined;

/**
 * A fresh decoder instance: its memory (the window) is released with it. The module (113 KB of
 * base64) is imported on the first zstd payload, not with the artifact reader: the CLI's
 * `artifact read` of a gzip or uncompressed artifact neither parses nor keeps it.
 */
async function instantiate(): Promise<ZstdExports> {
  compiled ??= import('./zstd-wasm-module.js')
    .then(({ ZSTD_WASM_BASE64 }) => new wasm.Module(Buffer.from(ZSTD_WASM_BASE64, 'base64')))
    .catch((err: unknown) => {
      compiled = undefined;
      throw err;
    });
  return new wasm.Instance(await compiled, {}).exports as unknown as ZstdExports;
}

function cString(memory: WasmMemory, ptr: number): string {
  const bytes = new Uint8Array(memory.buffer, ptr);
  const end = bytes.indexOf(0);
  return Buffer.from(bytes.subarray(0, end === -1 ? 0 : end)).toString('latin1');
}

/**
 * Decompresses a zstd stream (one or more frames) chunk by chunk.
 * @throws {ArtifactError} `ERR_ARTIFACT_TOO_LARGE` for a frame whose window exceeds 128 MiB,
 *   `ERR_ARTIFACT_DECOMPRESSION` for corrupt data or a stream that ends inside a frame
 * @internal
 */
export function unzstd(input: AsyncIterable<Uint8Array>, member: string): AsyncGenerator<Uint8Array> {
  return decode(input, member, false);
}

/**
 * {@link unzstd} lending its output: each slice is a view into the decoder's memory, valid until
 * the next slice is asked for.
 * @internal
 */
export function unzstdLent(input: AsyncIterable<Uint8Array>, member: string): AsyncGenerator<Uint8Array> {
  return decode(input, member, true);
}

async function* decode(
  input: AsyncIterable<Uint8Array>,
  member: string,
  lend: boolean,
): AsyncGenerator<Uint8Array> {
  const z = await instantiate();
  if (z.otz_create(MAX_ZSTD_WINDOW_LOG) !== 0) {
    throw new ArtifactError('ERR_ARTIFACT_DECOMPRESSION', 'cannot create a zstd decoder', { member });
  }
  const inPtr = z.otz_in_buffer();
  const outPtr = z.otz_out_buffer();
  const turnIfDue = workSlicer();
  // Last result of a decode call: 0 = a frame ended and was flushed; > 0 = inside a frame.
  let last = 1;
  let sawInput = false;
  const step = (inSize: number): Uint8Array | undefined => {
    const before = inSize >= 0 ? 0 : z.otz_in_pos();
    const ret = z.otz_decompress(inSize, OUT_SIZE) >>> 0;
    const code = z.otz_error_code(ret);
    if (code !== 0) {
      const why = cString(z.memory, z.otz_error_name(ret));
      if (code === ZSTD_ERROR_WINDOW_TOO_LARGE) {
        throw new ArtifactError(
          'ERR_ARTIFACT_TOO_LARGE',
          `a zstd frame asks for a window larger than the limit of ${2 ** MAX_ZSTD_WINDOW_LOG} bytes`,
          { member },
        );
      }
      throw new ArtifactError('ERR_ARTIFACT_DECOMPRESSION', `corrupt compressed data (zstd: ${why})`, {
        member,
      });
    }
    const produced = z.otz_out_pos();
    // 0 = a frame ended and is flushed; a call that moved nothing says nothing new.
    if (ret === 0 || produced > 0 || z.otz_in_pos() > before) last = ret;
    if (produced === 0) return undefined;
    const view = new Uint8Array(z.memory.buffer, outPtr, produced);
    return lend ? view : view.slice();
  };
  try {
    for await (const chunk of input) {
      for (let off = 0; off < chunk.length; off += IN_SIZE) {
        const piece = chunk.subarray(off, Math.min(off + IN_SIZE, chunk.length));
        sawInput = true;
        new Uint8Array(z.memory.buffer, inPtr, piece.length).set(piece);
        let inSize = piece.length;
        for (;;) {
          const out = step(inSize);
          inSize = -1;
          if (out) yield out;
          await turnIfDue();
          // Done with this slice once it is consumed and the output buffer was not filled.
          if (z.otz_in_pos() >= piece.length && (out?.length ?? 0) < OUT_SIZE) break;
        }
      }
    }
    // Flush what the decoder still holds.
    for (;;) {
      const out = step(-1);
      if (!out) break;
      yield out;
    }
    if (!sawInput || last !== 0) {
      throw new ArtifactError('ERR_ARTIFACT_DECOMPRESSION', 'unexpected end of zstd stream', { member });
    }
  } finally {
    z.otz_free();
  }
}
