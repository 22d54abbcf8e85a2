/**
 * Streaming gzip decoding with node:zlib's native inflate, driven synchronously slice by slice.
 *
 * Why not a `zlib.Gunzip` stream: each output slice of a stream is a round trip to libuv's thread
 * pool plus a fresh buffer. Measured on a 64 MiB random payload (bench/artifact.bench.ts), the
 * stream took 2.5-3x the CPU time of inflating into one reused buffer, and its garbage buffers
 * raised peak RSS by 10-30 MiB. Here the zlib handle inflates into a single output buffer, the way
 * node:zlib's own `gunzipSync` drives it; the event loop gets a turn every few milliseconds.
 *
 * The handle is node:zlib's (`_handle.writeSync`, `_writeState`: unchanged from Node 10 to 24). If a
 * future Node lacks them, the stream is used instead.
 */

import { constants, createGunzip, type Gunzip } from 'node:zlib';
import { workSlicer } from './time-slice.js';

interface ZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
}

/** How {@link gunzipChunks} hands out its output. @internal */
export interface GunzipOptions {
  /** Largest output slice. */
  sliceBytes: number;
  /**
   * Hand out views into one reused buffer (each valid until the next one is asked for) instead of
   * copies. Only for consumers that use each slice at once (hashing, parsing) or copy it.
   */
  lend: boolean;
  /** Use node:zlib's stream interface even where the handle is there (tests of the fallback). */
  stream?: boolean;
}

/**
 * Decompresses a gzip stream (concatenated members too, as `gunzip` does). Input after the end of
 * the stream that is not another member is ignored, as node:zlib does. Throws zlib's error (with
 * its `code`) on corrupt or truncated data; the caller turns it into an `ArtifactError`.
 * @internal
 */
export async function* gunzipChunks(
  input: AsyncIterable<Uint8Array>,
  options: GunzipOptions,
): AsyncGenerator<Uint8Array> {
  const z = createGunzip({ chunkSize: Math.max(options.sliceBytes, constants.Z_MIN_CHUNK) });
  const handle = (z as unknown as { _handle?: Partial<ZlibHandle> })._handle;
  const state = (z as unknown as { _writeState?: Uint32Array })._writeState;
  if (options.stream || typeof handle?.writeSync !== 'function' || !(state instanceof Uint32Array)) {
    yield* gunzipStream(z, input);
    return;
  }
  let failure: unknown;
  z.on('error', (err) => {
    failure ??= err;
  });
  const out = Buffer.allocUnsafe(options.sliceBytes);
  const empty = new Uint8Array(0);
  const turnIfDue = workSlicer();
  /** Inflates `chunk`, yielding output slices; returns false once the gzip stream has ended. */
  async function* feed(chunk: Uint8Array, flush: number): AsyncGenerator<Uint8Array, boolean> {
    let inOff = 0;
    let inLen = chunk.length;
    for (;;) {
      (handle as ZlibHandle).writeSync(flush, chunk, inOff, inLen, out, 0, out.length);
      if (failure !== undefined || z.errored) throw failure ?? z.errored;
      const outLeft = state![0]!;
      const inLeft = state![1]!;
      const produced = out.length - outLeft;
      inOff += inLen - inLeft;
      inLen = inLeft;
      if (produced > 0)
        yield options.lend ? out.subarray(0, produced) : Buffer.from(out.subarray(0, produced));
      await turnIfDue();
      // Output space left over: zlib wanted no more input, either because it used it all or
      // because the stream ended (with input to spare).
      if (outLeft !== 0) return inLeft === 0;
    }
  }
  try {
    for await (const chunk of input) {
      if (chunk.length === 0) continue;
      if (!(yield* feed(chunk, constants.Z_NO_FLUSH))) return;
    }
    // Finish: zlib reports a stream that stops inside a member ("unexpected end of file").
    yield* feed(empty, constants.Z_FINISH);
  } finally {
    z.destroy();
  }
}

/** The same through node:zlib's stream interface (for a Node without the handle used above). */
async function* gunzipStream(z: Gunzip, input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
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
    throw inputError ?? err;
  } finally {
    if (!z.destroyed) z.destroy();
    await pump;
  }
  if (inputError !== undefined) throw inputError;
}
