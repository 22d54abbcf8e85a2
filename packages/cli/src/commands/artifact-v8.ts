/**
 * V8 settings for `otakit artifact read|validate`, NOT applied yet: they must be set before the
 * CommonJS bundle is compiled from V8's code cache (src/bin.ts, before `requireWithCodeCache`),
 * because V8 tags a code cache with a hash of its flags: set from the command, after the bundle was
 * compiled, they made every run reject the cache written by the run before and write it again
 * (test/code-cache.test.ts fails). Set in bin.ts for the bundled commands, the cache is written and
 * read under the same flags (code-cache and start-up tests pass).
 *
 * Why: these commands spend their time in native code (SHA-256, zlib, the zstd WebAssembly module)
 * while a little JS runs per chunk. Measured (512 MiB random payload, RSA-3072 signed, peak RSS of
 * `otakit artifact validate -k`; set in bin.ts -> not set):
 * - uncompressed 47.9 -> 55.1 MiB, gzip 48.6 -> 57.1 MiB, zstd 56.1 -> 62.7 MiB; CPU time the same
 *   or lower (bench/artifact.bench.ts, paired with the hash limit).
 * - `--max-opt=1`: no optimising compiler (Maglev, TurboFan). The per-chunk functions (tar and
 *   chunk readers, `FileHandle.read`, `Buffer#subarray`) got TurboFan-compiled after a few hundred
 *   MiB, which paged in the compiler's code and zone memory (about 6 MiB) for no gain.
 * - `--semi-space-growth-factor=1`: the young generation keeps its initial size. It grew (to 2, then
 *   4 MiB per semi-space) from the allocations of module loading and of each chunk, and every page
 *   of it ends up touched (about 2 MiB).
 * `--max-semi-space-size` has no effect once the heap is set up, and `--liftoff-only` saved 0.9 MiB
 * on zstd for 3 % more CPU time (not included). V8 flags concern the whole process: the CLI runs
 * one command per process; the library (`@otakit/core`) never touches them.
 */
export function settleV8ForArtifactReads(): void {
  // Loaded here, not imported: `otakit --version` must not load node:v8 (Node >= 20.16 has this).
  const { setFlagsFromString } = process.getBuiltinModule('node:v8');
  setFlagsFromString('--max-opt=1');
  setFlagsFromString('--semi-space-growth-factor=1');
}
