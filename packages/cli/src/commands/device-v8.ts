/**
 * V8 settings of `otakit device ...`, set by src/bin.ts before the device bundle loads (and, for
 * `device run`, {@link AGENT_WASM_FLAGS} by commands/device-agent.ts before the first request). V8
 * flags concern the whole process: the CLI runs one command per process; the libraries never
 * touch them.
 *
 * `--max-opt=0` until the first update starts: an idle agent's JavaScript runs in V8's
 * interpreter only. Measured with the idle agent (`device run`, polling every second, paired runs,
 * RSS median over 60-90 s): after ~40 s of polling V8 optimised the hottest functions of the poll
 * (undici's request writer, core's request loop) with TurboFan, which paged in 1.3 MiB more of
 * TurboFan's own machine code (file-backed RSS: the compiler is part of the node binary) and kept
 * optimised code and its metadata; Sparkplug's baseline code calls builtins through V8's second
 * mapping of them (short builtin calls), paging in ~0.6 MiB more. Idle RSS: 53.5 MiB by default,
 * 52.7 with `--max-opt=1` (Sparkplug), 52.6 with `--max-opt=2`, 52.1 with `--max-opt=0`. A poll
 * every few seconds (minutes, in the field) gives an optimising compiler nothing worth its memory.
 * An update is another matter: an agent with `--max-opt=1` throughout took ~7 % longer to
 * download, verify and install 256 MiB (bench/device.bench.ts, 5 paired rounds, load ~4), so
 * `device run` lifts the limit when its first update starts ({@link optimiseFromFirstUpdate});
 * the bench measures that agent against the same agent without flags, in the same run.
 *
 * Settings measured and left out (no effect on idle RSS, or unsafe when set at run time):
 * `--semi-space-growth-factor=1` (the young generation had not grown past its first step),
 * `--optimize-for-size`, `--heap-growing-percent=10`, `--bytecode-old-age=1`,
 * `--compact-on-every-full-gc`, `--lazy-new-space-shrinking`, `--no-sparkplug` alone,
 * `--wasm-lazy-compilation`; `--single-threaded-gc` set at run time aborted the process in its
 * next incremental marking (a V8 fatal error in cppgc). `--no-short-builtin-calls` saved ~0.5 MiB
 * given on node's command line, but V8 maps the builtins when the isolate starts, before any code
 * of ours can set a flag.
 */
export const DEVICE_V8_FLAGS: readonly string[] = ['--max-opt=0'];

/**
 * What `device run` sets when its first update starts: V8's default `--max-opt` (every tier), so
 * that an update runs as fast as without {@link DEVICE_V8_FLAGS}. Functions V8 optimises then stay
 * optimised; the agent does not go back to the idle setting (a rootfs update reboots it anyway).
 *
 * `--max-opt=0` set at run time also turns `--turbofan` and `--sparkplug` off (V8 applies a
 * flag's implications when it is set), and raising `--max-opt` again does not turn them back on:
 * with `--max-opt=999` alone no function was ever optimised again (test/device-v8.test.ts checks
 * it with V8's own optimisation status), and the agent downloaded, verified and installed 256 MiB
 * ~9 % slower than one without flags (bench/device.bench.ts, 5 paired rounds: raw/agent 0.710
 * against 0.776). So both compilers are named.
 */
export const UPDATE_V8_FLAGS: readonly string[] = ['--max-opt=999', '--turbofan', '--sparkplug'];

/**
 * `otakit device run` compiles WebAssembly (undici's HTTP parser, the zstd decoder) with V8's
 * baseline compiler only. Measured with bench/device.bench.ts's agent: optimising llhttp's parser
 * in the background took the agent's RSS from 72 to 101 MiB for a moment a second after start-up,
 * and left it ~9 MiB higher idling; the baseline code costs a 64 MiB zstd payload ~8 % decoding
 * time. Set before the first request. (`device run` now sends over core's `transport: 'node'`,
 * so undici's parser is compiled only when a proxy is set; the zstd decoder, where no `zstd`
 * program can be started, still is.)
 */
export const AGENT_WASM_FLAGS: readonly string[] = ['--liftoff-only'];

function setFlags(flags: readonly string[]): void {
  // `process.getBuiltinModule`, not an import: `otakit --version` must not load node:v8.
  const { setFlagsFromString } = process.getBuiltinModule('node:v8');
  for (const flag of flags) setFlagsFromString(flag);
}

/** Sets {@link DEVICE_V8_FLAGS}: src/bin.ts, before it loads the device bundle. */
export function settleV8ForDevice(): void {
  setFlags(DEVICE_V8_FLAGS);
}

/** Sets {@link AGENT_WASM_FLAGS}: `otakit device run`, before its first request. */
export function baselineWasmOnly(): void {
  setFlags(AGENT_WASM_FLAGS);
}

/**
 * Sets {@link UPDATE_V8_FLAGS} when `events` (a device client's) first emits `update:start`, which
 * comes before the update's download (a resumed one included).
 */
export function optimiseFromFirstUpdate(events: {
  once(event: 'update:start', listener: () => void): unknown;
}): void {
  events.once('update:start', () => setFlags(UPDATE_V8_FLAGS));
}
