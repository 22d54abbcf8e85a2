/**
 * V8 settings for `otakit artifact read|validate`, set by src/bin.ts for every command the
 * CommonJS bundle runs (`artifact ...`, `--help`) before the bundle is compiled from V8's code
 * cache: V8 tags a code cache with a hash of its flags, so set from the command, after the bundle
 * was compiled, they made every run reject the cache written by the run before and write it again
 * (test/code-cache.test.ts caught it); set for some bundled commands only, the cache would flip
 * whenever commands alternate.
 *
 * Why: these commands spend their time in native code (SHA-256, zlib, the zstd WebAssembly module)
 * while a little JS runs per chunk. Measured with bench/artifact.bench.ts (512 MiB random payload,
 * RSA-3072 signed, 3 paired repetitions, load average 4-7 on 2 shared cores), set in bin.ts vs not:
 *
 * | compression | peak RSS          | wall / hash limit | CPU / hash limit |
 * | ----------- | ----------------- | ----------------- | ---------------- |
 * | none        | 48.4 vs 56.4 MiB  | 0.84x vs 1.20x    | 1.28x vs 1.32x   |
 * | gzip        | 49.0 vs 58.1 MiB  | 1.40x vs 1.80x    | 1.58x vs 1.67x   |
 * | zstd        | 56.9 vs 60.8 MiB  | 1.37x vs 1.72x    | 1.50x vs 1.81x   |
 *
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
