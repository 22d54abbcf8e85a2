import { ConnectionError, OtakitError, TimeoutError } from '../errors.js';
import { backoffDelay } from '../util/backoff.js';
import { sleep } from '../util/sleep.js';
import { type AttemptSignal, abortReason, throwIfAborted } from './abort.js';
import { isOneShotBody } from './body.js';
import type { HttpClientOptions, HttpMethod, HttpRequest } from './types.js';

/** Methods retried without an idempotency key. */
export const IDEMPOTENT_METHODS: ReadonlySet<HttpMethod> = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);
/** Statuses worth another attempt (network errors are retried too). */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 502, 503, 504]);

/** The retry policy's defaults (see {@link RetryPolicy} and `HttpClientOptions.maxRetries`). */
const DEFAULTS = {
  maxRetries: 2,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 60_000,
} as const;

/** An attempt that failed in a way another attempt may fix. @internal */
export class RetryableFailure {
  constructor(
    readonly error: unknown,
    readonly reason: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {}
}

/** A retry about to be waited for. @internal */
export interface RetryNotice {
  /** The attempt that failed (1 for the first). */
  attempt: number;
  delayMs: number;
  reason: string;
  status?: number;
}

/**
 * Runs `attempt` until it succeeds, fails in a way no retry fixes, or the retries are used up:
 * exponential backoff with full jitter between attempts, or the server's `Retry-After` (up to
 * `retry.maxRetryAfterMs`, plus jitter). Only idempotent calls (or calls with an idempotency key)
 * whose body can be sent again are retried. An attempt signals a retryable failure by throwing a
 * {@link RetryableFailure}; its `error` is what the call rejects with once no retry is left.
 * @internal
 */
export async function withRetries<T>(
  req: HttpRequest,
  options: Pick<HttpClientOptions, 'maxRetries' | 'retry'>,
  attempt: (n: number) => Promise<T>,
  onRetry: (notice: RetryNotice) => void,
): Promise<T> {
  const maxRetries = req.maxRetries ?? options.maxRetries ?? DEFAULTS.maxRetries;
  const maxRetryAfterMs = options.retry?.maxRetryAfterMs ?? DEFAULTS.maxRetryAfterMs;
  const retryAllowed =
    !isOneShotBody(req.body) && (IDEMPOTENT_METHODS.has(req.method) || req.idempotencyKey !== undefined);

  for (let n = 1; ; n++) {
    throwIfAborted(req.signal);
    let failure: RetryableFailure;
    try {
      return await attempt(n);
    } catch (err) {
      if (!(err instanceof RetryableFailure)) throw err;
      failure = err;
    }
    if (!retryAllowed || n > maxRetries) throw failure.error;
    if (failure.retryAfterMs !== undefined && failure.retryAfterMs > maxRetryAfterMs) throw failure.error;
    const baseDelayMs = options.retry?.baseDelayMs ?? DEFAULTS.baseDelayMs;
    const delayMs =
      failure.retryAfterMs === undefined
        ? backoffDelay(n, { baseDelayMs, maxDelayMs: options.retry?.maxDelayMs ?? DEFAULTS.maxDelayMs })
        : // Never shorter than the server asked, plus up to `baseDelayMs` of jitter so a fleet told
          // the same instant does not come back in the same millisecond.
          failure.retryAfterMs + Math.round(Math.random() * baseDelayMs);
    onRetry({
      attempt: n,
      delayMs,
      reason: failure.reason,
      ...(failure.status === undefined ? {} : { status: failure.status }),
    });
    await sleep(delayMs, req.signal);
  }
}

/** Where an attempt failed, for the error it becomes. @internal */
export interface AttemptPlace {
  method: string;
  url: string;
  requestId: string;
  timeoutMs: number;
}

/**
 * What an attempt that threw `err` (no response, or a body that broke off) rejects with: the
 * caller's abort reason; an otakit error as is; a timeout or a connection error as a
 * {@link RetryableFailure}; a programmer error (bad arguments, a closed client) as is.
 * Disposes the attempt's signal.
 * @internal
 */
export function attemptFailure(
  err: unknown,
  scope: AttemptSignal,
  signal: AbortSignal | undefined,
  place: AttemptPlace,
): unknown {
  scope.dispose();
  if (scope.callerAborted) return abortReason(signal as AbortSignal);
  if (err instanceof OtakitError) return err;
  const where = { method: place.method, url: place.url, requestId: place.requestId, cause: err };
  if (scope.timedOut) {
    return new RetryableFailure(new TimeoutError({ ...where, timeoutMs: place.timeoutMs }), 'timeout');
  }
  if (isProgrammerError(err)) return err;
  return new RetryableFailure(new ConnectionError(where), `connection error (${errorCode(err)})`);
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'unknown';
}

/** Undici errors that another attempt cannot fix: bad arguments, or a closed client. */
const PERMANENT_UNDICI_CODES = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_DESTROYED',
  'UND_ERR_CLOSED',
]);

function isProgrammerError(err: unknown): boolean {
  return PERMANENT_UNDICI_CODES.has(errorCode(err)) || err instanceof TypeError;
}
