import { EventEmitter } from 'node:events';
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

/**
 * The signal of one attempt: aborts when the caller's signal aborts or when the per-attempt timeout
 * elapses, and remembers which. Listeners are removed by {@link AttemptSignal.dispose}, so a
 * long-lived caller signal does not collect one listener per request.
 *
 * It is an `EventEmitter` signal (`aborted`, `reason`, an `'abort'` event), which undici accepts in
 * place of an `AbortSignal`: one is made per attempt, and an `AbortController` with its EventTarget
 * costs several times more to make and to listen to. One `setTimeout` per attempt, cleared when the
 * attempt settles; the caller's signal is listened to only when there is one.
 * @internal
 */
export class AttemptSignal extends EventEmitter {
  /** Whether this attempt was aborted (by the caller or the timeout). Read by undici. */
  aborted = false;
  /** Why it was aborted. Read by undici, which destroys the request or body with it. */
  reason: unknown = undefined;
  readonly #caller: AbortSignal | undefined;
  #timer: NodeJS.Timeout | undefined;
  #timedOut = false;
  #onCallerAbort: (() => void) | undefined;

  constructor(caller: AbortSignal | undefined, timeoutMs: number) {
    super();
    this.#caller = caller;
    if (caller !== undefined) {
      if (caller.aborted) {
        this.#abort(abortReason(caller));
        return;
      }
      this.#onCallerAbort = (): void => {
        this.#clearTimer();
        this.#abort(abortReason(caller));
      };
      caller.addEventListener('abort', this.#onCallerAbort, { once: true });
    }
    if (Number.isFinite(timeoutMs) && timeoutMs > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#timedOut = true;
        this.#abort(new DOMException('attempt timed out', 'TimeoutError'));
      }, timeoutMs);
    }
  }

  /** The signal to hand to undici (this object). */
  get signal(): this {
    return this;
  }

  /** Whether the per-attempt timeout fired (and the caller had not aborted first). */
  get timedOut(): boolean {
    return this.#timedOut && !this.callerAborted;
  }

  /** Whether the caller's signal aborted. */
  get callerAborted(): boolean {
    return this.#caller?.aborted === true;
  }

  /** Whether the per-attempt timer is pending. @internal (tests) */
  get timerPending(): boolean {
    return this.#timer !== undefined;
  }

  /** Stops the timeout but keeps following the caller's signal (a streamed body being handed over). */
  stopTimer(): void {
    this.#clearTimer();
  }

  /** Stops the timeout and stops following the caller's signal. */
  dispose(): void {
    this.#clearTimer();
    if (this.#onCallerAbort !== undefined) {
      this.#caller?.removeEventListener('abort', this.#onCallerAbort);
      this.#onCallerAbort = undefined;
    }
  }

  #abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
