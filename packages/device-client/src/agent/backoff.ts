/** Options of {@link PollBackoff}. */
export interface PollBackoffOptions {
  /** Smallest interval (ms). Mender: 60 s. */
  minMs: number;
  /** Largest interval (ms). Mender: `RetryPollIntervalSeconds`, 300 s. */
  maxMs: number;
  /** Times each interval is used before it doubles. Mender: 3. */
  repeats?: number;
  /** Random source (tests). */
  random?: () => number;
}

/**
 * The backoff of the daemon loop after errors, as Mender's `ExponentialBackoff`: each interval is
 * used 3 times, then doubled, up to the cap; each wait is drawn with full jitter (uniform in
 * `[0, interval]`) so a fleet that lost its server does not come back all at once.
 */
export class PollBackoff {
  readonly #o: Required<PollBackoffOptions>;
  #failures = 0;

  constructor(options: PollBackoffOptions) {
    this.#o = { repeats: 3, random: Math.random, ...options };
  }

  /** The ceiling of the next wait (before jitter). */
  get interval(): number {
    const { minMs, maxMs, repeats } = this.#o;
    return Math.min(maxMs, minMs * 2 ** Math.floor(this.#failures / repeats));
  }

  /** Failures since the last success. */
  get failures(): number {
    return this.#failures;
  }

  /** The next wait (ms) after a failure. */
  next(): number {
    const ceiling = this.interval;
    this.#failures++;
    return Math.round(this.#o.random() * ceiling);
  }

  /** Call after a success. */
  reset(): void {
    this.#failures = 0;
  }
}
