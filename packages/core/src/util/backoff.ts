/**
 * Options of every retrying thing in otakit (HTTP retries, the device's poll loop, download
 * resumes, status reports, MQTT reconnects): one shape, milliseconds everywhere.
 */
export interface BackoffOptions {
  /** The ceiling of the first wait (ms). */
  baseDelayMs: number;
  /** The largest ceiling (ms); waits never exceed it. */
  maxDelayMs: number;
  /** How much the ceiling grows at each step. Default 2. */
  factor?: number;
  /** How many attempts use each ceiling before it grows. Default 1 (Mender's poll loop uses 3). */
  repeats?: number;
  /**
   * How a wait is drawn below its ceiling: `'full'` uniform in `[0, ceiling]` (default, so a fleet
   * that lost its server does not come back at once), `'equal'` uniform in `[ceiling/2, ceiling]`,
   * `'none'` the ceiling itself.
   */
  jitter?: 'full' | 'equal' | 'none';
  /** The random source, in `[0, 1)` (tests inject a fixed one). Default `Math.random`. */
  random?: () => number;
}

/**
 * The ceiling of the wait before retry number `attempt` (1 for the first retry):
 * `min(maxDelayMs, baseDelayMs * factor ^ floor((attempt - 1) / repeats))`.
 */
export function backoffCeiling(attempt: number, options: BackoffOptions): number {
  const { baseDelayMs, maxDelayMs, factor = 2, repeats = 1 } = options;
  const step = Math.floor(Math.max(0, attempt - 1) / Math.max(1, repeats));
  // Cap the exponent so a long outage cannot overflow to Infinity or NaN.
  const grown = baseDelayMs * factor ** Math.min(step, 64);
  return Math.max(0, Math.min(maxDelayMs, Number.isFinite(grown) ? grown : maxDelayMs));
}

/**
 * The wait (ms, an integer) before retry number `attempt` (1-based), jittered as
 * {@link BackoffOptions.jitter} says.
 *
 * @example
 * ```ts
 * const wait = backoffDelay(3, { baseDelayMs: 500, maxDelayMs: 30_000 }) // in [0, 2000]
 * ```
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const ceiling = backoffCeiling(attempt, options);
  const random = options.random ?? Math.random;
  switch (options.jitter ?? 'full') {
    case 'none':
      return Math.round(ceiling);
    case 'equal':
      return Math.round(ceiling / 2 + (random() * ceiling) / 2);
    default:
      return Math.round(random() * ceiling);
  }
}

/**
 * A stateful {@link backoffDelay}: counts failures since the last success.
 *
 * @example
 * ```ts
 * const backoff = new Backoff({ baseDelayMs: 60_000, maxDelayMs: 300_000, repeats: 3 })
 * for (;;) {
 *   try { await poll(); backoff.reset() } catch { await sleep(backoff.next(), signal) }
 * }
 * ```
 */
export class Backoff {
  readonly #options: BackoffOptions;
  #failures = 0;

  constructor(options: BackoffOptions) {
    this.#options = options;
  }

  /** Failures since the last {@link Backoff.reset}. */
  get failures(): number {
    return this.#failures;
  }

  /** The ceiling of the next wait (before jitter). */
  get ceiling(): number {
    return backoffCeiling(this.#failures + 1, this.#options);
  }

  /** Records a failure and returns the wait (ms) before the next try. */
  next(): number {
    this.#failures++;
    return backoffDelay(this.#failures, this.#options);
  }

  /** Call after a success: the next failure waits the base delay again. */
  reset(): void {
    this.#failures = 0;
  }
}
