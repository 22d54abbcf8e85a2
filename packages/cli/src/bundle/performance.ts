/**
 * The `performance` of the device bundle (injected by tsup.config.ts in place of the global):
 * core's HTTP client and the device client read `performance.now()` only, to measure durations.
 * Node 20's global `performance` is a lazy getter that loads `perf_hooks` (the performance timeline,
 * its observers, histograms and user timing: ~0.8 MiB of RSS in a bare `node`) on first read,
 * which the agent did on its first request. This one reads the same monotonic clock
 * (`process.hrtime`), in milliseconds since it was loaded.
 */

const origin = process.hrtime.bigint();

/** `performance.now()`: monotonic milliseconds, with sub-millisecond precision. */
export const performance = {
  now(): number {
    return Number(process.hrtime.bigint() - origin) / 1e6;
  },
};
