/**
 * The decoders (gzip, zstd) work synchronously on each slice of input; this lets the event loop
 * run between slices, so a long payload does not hold up timers and I/O.
 */

/** Most synchronous work between two turns of the event loop, in milliseconds. */
const SLICE_MS = 4;

/**
 * A clock of synchronous work. Each call returns a promise of one turn of the event loop (after
 * pending I/O and timers) once more than {@link SLICE_MS} of work went by since the last turn,
 * and `undefined` otherwise (`await` it either way).
 * @internal
 */
export function workSlicer(): () => Promise<void> | undefined {
  let since = Date.now();
  return () => {
    if (Date.now() - since <= SLICE_MS) return undefined;
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      since = Date.now();
    });
  };
}
