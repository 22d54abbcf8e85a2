import { abortReason } from '../http/abort.js';

/** Options of {@link sleep}. */
export interface SleepOptions {
  /** Do not keep the process alive for this timer alone (a daemon's idle wait). Default false. */
  unref?: boolean;
}

/**
 * Waits `ms` milliseconds. When `signal` aborts first, the timer is cleared and the promise rejects
 * with the signal's reason, so a caller's `controller.abort(myError)` surfaces as `myError`; a
 * plain `controller.abort()` (no reason, or the DOM's default `AbortError` DOMException) rejects with
 * an otakit `AbortError`, as every aborted otakit call does.
 *
 * @example
 * ```ts
 * await sleep(backoff.next(), signal)
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal, options: SleepOptions = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal as AbortSignal));
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    if (options.unref) timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
