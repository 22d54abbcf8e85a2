import { AbortError } from '../errors.js';

/**
 * What an aborted call rejects with: the caller's `signal.reason` when they gave one, else an
 * otakit {@link AbortError}. A plain `controller.abort()` leaves the DOM's default `AbortError`
 * DOMException as the reason; that counts as "no reason given".
 * @internal
 */
export function abortReason(signal: AbortSignal): unknown {
  const reason: unknown = signal.reason;
  if (reason === undefined || (reason instanceof DOMException && reason.name === 'AbortError')) {
    return new AbortError(undefined, reason === undefined ? undefined : { cause: reason });
  }
  return reason;
}

/** Throws {@link abortReason} when `signal` is aborted. @internal */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

/** Waits `ms`, rejecting early with {@link abortReason} when `signal` aborts. @internal */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The signal of one attempt: aborts when the caller's signal aborts or when the per-attempt timeout
 * elapses, and remembers which. Listeners are removed by {@link AttemptSignal.dispose}, so a
 * long-lived caller signal does not collect one listener per request.
 * @internal
 */
export class AttemptSignal {
  readonly #controller = new AbortController();
  readonly #caller: AbortSignal | undefined;
  #timer: NodeJS.Timeout | undefined;
  #timedOut = false;
  readonly #onCallerAbort = (): void => {
    this.#clearTimer();
    this.#controller.abort(abortReason(this.#caller as AbortSignal));
  };

  constructor(caller: AbortSignal | undefined, timeoutMs: number) {
    this.#caller = caller;
    if (caller?.aborted) {
      this.#controller.abort(abortReason(caller));
      return;
    }
    caller?.addEventListener('abort', this.#onCallerAbort, { once: true });
    if (Number.isFinite(timeoutMs) && timeoutMs > 0) {
      this.#timer = setTimeout(() => {
        this.#timedOut = true;
        this.#controller.abort(new DOMException('attempt timed out', 'TimeoutError'));
      }, timeoutMs);
    }
  }

  /** The combined signal to hand to undici. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Whether the per-attempt timeout fired (and the caller had not aborted first). */
  get timedOut(): boolean {
    return this.#timedOut && !this.callerAborted;
  }

  /** Whether the caller's signal aborted. */
  get callerAborted(): boolean {
    return this.#caller?.aborted === true;
  }

  /** Stops the timeout but keeps following the caller's signal (a streamed body being handed over). */
  stopTimer(): void {
    this.#clearTimer();
  }

  /** Stops the timeout and stops following the caller's signal. */
  dispose(): void {
    this.#clearTimer();
    this.#caller?.removeEventListener('abort', this.#onCallerAbort);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
