/**
 * The base of every error otakit throws. Switch on {@link OtakitError.code}.
 *
 * `instanceof` works across copies of the package (ESM and CJS builds loaded in one process, or two
 * installed versions): classes are branded with a global symbol and checked by `Symbol.hasInstance`.
 */

import { redactUrl } from './http/redact.js';
import { parseRetryAfter } from './http/retry-after.js';

const BRAND = Symbol.for('otakit.error.brand');

/**
 * Makes `instanceof` hold across separately loaded copies of a class (ESM and CJS builds) by
 * checking a brand string on the prototype chain instead of prototype identity.
 * Call once per class, right after its declaration.
 * @internal
 */
export function brandErrorClass(cls: abstract new (...args: never[]) => Error, name: string): void {
  Object.defineProperty(cls.prototype, BRAND, { value: name, enumerable: false, configurable: false });
  Object.defineProperty(cls, Symbol.hasInstance, {
    value(this: unknown, instance: unknown): boolean {
      if (typeof instance !== 'object' || instance === null) return false;
      let proto: object | null = instance as object;
      while (proto !== null) {
        if (Object.hasOwn(proto, BRAND) && (proto as Record<symbol, unknown>)[BRAND] === name) {
          return true;
        }
        proto = Object.getPrototypeOf(proto);
      }
      return false;
    },
    configurable: true,
  });
}

/** Options accepted by every otakit error. */
export interface OtakitErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * Base class of all otakit errors.
 *
 * @example
 * ```ts
 * try { await client.devices.get(id) } catch (err) {
 *   if (err instanceof OtakitError) console.error(err.code, err.message)
 * }
 * ```
 */
export class OtakitError extends Error {
  /** A stable, machine-readable identifier of the failure kind. */
  readonly code: string;

  constructor(code: string, message: string, options?: OtakitErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}
brandErrorClass(OtakitError, 'OtakitError');

// ---------------------------------------------------------------------------------------------------
// Codes
// ---------------------------------------------------------------------------------------------------

/**
 * The codes of the errors this module defines. The scheme, used across otakit: `ERR_` + the area +
 * the failure in upper snake case (like Node.js and jose), stable across versions, one per class.
 * HTTP status errors are `ERR_HTTP_<REASON>`; a status without its own class is `ERR_HTTP`.
 *
 * @example
 * ```ts
 * switch (err.code) {
 *   case ErrorCodes.NOT_FOUND: return undefined;
 *   case ErrorCodes.RATE_LIMITED: await sleep(err.retryAfterMs ?? 1000); break;
 * }
 * ```
 */
export const ErrorCodes = {
  /** An HTTP error status without a more specific class (e.g. 405, 415, 422). */
  HTTP: 'ERR_HTTP',
  BAD_REQUEST: 'ERR_HTTP_BAD_REQUEST',
  UNAUTHORIZED: 'ERR_HTTP_UNAUTHORIZED',
  FORBIDDEN: 'ERR_HTTP_FORBIDDEN',
  NOT_FOUND: 'ERR_HTTP_NOT_FOUND',
  CONFLICT: 'ERR_HTTP_CONFLICT',
  PRECONDITION_FAILED: 'ERR_HTTP_PRECONDITION_FAILED',
  PAYLOAD_TOO_LARGE: 'ERR_HTTP_PAYLOAD_TOO_LARGE',
  RATE_LIMITED: 'ERR_HTTP_RATE_LIMITED',
  SERVER: 'ERR_HTTP_SERVER',
  /** The server could not be reached or the connection broke before the response was read. */
  CONNECTION: 'ERR_CONNECTION',
  /** An attempt took longer than its timeout. */
  TIMEOUT: 'ERR_TIMEOUT',
  /** The caller aborted the call without giving an abort reason. */
  ABORTED: 'ERR_ABORTED',
  /** The server answered with a body that could not be read as asked (e.g. invalid JSON). */
  INVALID_RESPONSE: 'ERR_INVALID_RESPONSE',
} as const;

/** A code of {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

// ---------------------------------------------------------------------------------------------------
// API errors
// ---------------------------------------------------------------------------------------------------

/** The error body Mender services send: `{"error": "...", "request_id": "..."}` (plus extras). */
export interface MenderErrorBody {
  error: string;
  request_id?: string;
  [key: string]: unknown;
}

/** Whether `body` has the shape of a Mender error body. */
export function isMenderErrorBody(body: unknown): body is MenderErrorBody {
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as { error?: unknown }).error === 'string' &&
    ((body as { request_id?: unknown }).request_id === undefined ||
      typeof (body as { request_id?: unknown }).request_id === 'string')
  );
}

/** What an {@link ApiError} is made from. */
export interface ApiErrorDetails extends OtakitErrorOptions {
  status: number;
  method: string;
  /** The URL requested. It is redacted (with `redactUrl`) before it is stored or printed. */
  url: string;
  /** The `X-MEN-RequestID` of the exchange; taken from a Mender error body when absent. */
  requestId?: string | undefined;
  /** The response body: parsed JSON when it was JSON, else the (size-capped) text, else undefined. */
  body?: unknown;
  /** For 429 (and 503): the server's `Retry-After`, in ms. */
  retryAfterMs?: number | undefined;
}

/**
 * An HTTP response with an error status (>= 400). Subclasses exist per meaningful status; others
 * are plain `ApiError` with code `ERR_HTTP`.
 *
 * @example
 * ```ts
 * try { await mgmt.devices.get(id) } catch (err) {
 *   if (err instanceof NotFoundError) return undefined
 *   if (err instanceof ApiError) console.error(err.status, err.requestId, err.serverMessage)
 *   throw err
 * }
 * ```
 */
export class ApiError extends OtakitError {
  /** The code of this class. */
  static readonly code: string = ErrorCodes.HTTP;
  /** The HTTP status. */
  readonly status: number;
  /** The HTTP method. */
  readonly method: string;
  /** The URL, with credentials and signed-URL secrets redacted. */
  readonly url: string;
  /** `X-MEN-RequestID` of the exchange (header, or the body's `request_id`): quote it to the server admin. */
  readonly requestId: string | undefined;
  /** The response body: a {@link MenderErrorBody} for Mender services, any parsed JSON, text, or undefined. */
  readonly body: unknown;
  /** The `error` text of a Mender error body, when there is one. */
  readonly serverMessage: string | undefined;

  constructor(details: ApiErrorDetails, code: string = ErrorCodes.HTTP) {
    const url = redactUrl(details.url);
    const serverMessage = isMenderErrorBody(details.body) ? details.body.error : undefined;
    const requestId =
      details.requestId ?? (isMenderErrorBody(details.body) ? details.body.request_id : undefined);
    const reason = serverMessage ?? (typeof details.body === 'string' ? truncate(details.body) : undefined);
    super(
      code,
      `${details.method} ${url} failed with HTTP ${details.status}${reason ? `: ${reason}` : ''}` +
        (requestId ? ` (request id ${requestId})` : ''),
      details,
    );
    this.status = details.status;
    this.method = details.method;
    this.url = url;
    this.requestId = requestId;
    this.body = details.body;
    this.serverMessage = serverMessage;
  }
}
brandErrorClass(ApiError, 'ApiError');

function truncate(text: string, max = 200): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max)}…` : oneLine;
}

/** HTTP 400: the request was malformed or failed validation. */
export class BadRequestError extends ApiError {
  static override readonly code: string = ErrorCodes.BAD_REQUEST;
  constructor(details: ApiErrorDetails) {
    super(details, ErrorCodes.BAD_REQUEST);
  }
}
brandErrorClass(BadRequestError, 'BadRequestError');

/** HTTP 401: no token, an expired token, or (device API) a device that is not accepted yet. */
export class UnauthorizedError extends ApiError {
  static override readonly code: string = ErrorCodes.UNAUTHORIZED;
  constructor(details: ApiErrorDetails) {
    super(details, ErrorCodes.UNAUTHORIZED);
  }
}
brandErrorClass(UnauthorizedError, 'UnauthorizedError');

/** HTTP 403: authenticated but not allowed (RBAC, plan limits, an expired signed link). */
export class ForbiddenError extends ApiError {
  static override readonly code: string = ErrorCodes.FORBIDDEN;
  constructor(details: ApiErrorDetails) {
    super(details, ErrorCodes.FORBIDDEN);
  }
}
brandErrorClass(ForbiddenError, 'ForbiddenError');

/** HTTP 404: the resource does not exist. */
export class NotFoundError extends ApiError {
  static override readonly code: string = ErrorCodes.NOT_FOUND;
  constructor(details: ApiErrorDetails) {
    super(details, ErrorCodes.NOT_FOUND);
  }
}
brandErrorClass(NotFoundError, 'NotFoundError');

/** HTTP 409: the request conflicts with the current state (duplicate, in use, changed request data). */
export class ConflictError extends ApiError {
  static override readonly code: string = ErrorCodes.CONFLICT;
  constructor(details: ApiErrorDetails) {
    super(details, ErrorCodes.CONFLICT);
  }
}
brandErrorClass(ConflictError, 'ConflictError');

/** HTTP 412: an `If-Match` ETag did not match (e.g. inventory tags changed meanwhile). */
export class PreconditionFailedError extends ApiError {
  static override readonly code: string = ErrorCodes.PRECONDITION_FAILED;
  constructor(details: ApiErrorDetails) {
    super(details, ErrorCodes.PRECONDITION_FAILED);
  }
}
brandErrorClass(PreconditionFailedError, 'PreconditionFailedError');

/** HTTP 413: the body exceeds the server's limit (Mender: 1 MiB on most JSON endpoints). */
export class PayloadTooLargeError extends ApiError {
  static override readonly code: string = ErrorCodes.PAYLOAD_TOO_LARGE;
  constructor(details: ApiErrorDetails) {
    super(details, ErrorCodes.PAYLOAD_TOO_LARGE);
  }
}
brandErrorClass(PayloadTooLargeError, 'PayloadTooLargeError');

/**
 * HTTP 429: rate limited. Thrown after the retries are used up, or at once when the server's
 * `Retry-After` is longer than the client's `retry.maxRetryAfterMs`.
 */
export class RateLimitError extends ApiError {
  static override readonly code: string = ErrorCodes.RATE_LIMITED;
  /** How long the server asked to wait (`Retry-After`) in ms, when it said. */
  readonly retryAfterMs: number | undefined;
  constructor(details: ApiErrorDetails) {
    super(details, ErrorCodes.RATE_LIMITED);
    this.retryAfterMs = details.retryAfterMs;
  }
}
brandErrorClass(RateLimitError, 'RateLimitError');

/** HTTP 5xx: the server failed (Mender says `"internal error"`; 502/503/504 come from proxies too). */
export class ServerError extends ApiError {
  static override readonly code: string = ErrorCodes.SERVER;
  /** The server's `Retry-After` in ms, when it sent one (503). */
  readonly retryAfterMs: number | undefined;
  constructor(details: ApiErrorDetails) {
    super(details, ErrorCodes.SERVER);
    this.retryAfterMs = details.retryAfterMs;
  }
}
brandErrorClass(ServerError, 'ServerError');

/** Input of {@link apiErrorFromResponse}. */
export interface ApiErrorResponse extends Omit<ApiErrorDetails, 'retryAfterMs'> {
  /** Response headers; `retry-after` and `x-men-requestid` are read from them. */
  headers?: Record<string, string | string[] | undefined>;
  /** Overrides the `Retry-After` read from `headers`. */
  retryAfterMs?: number | undefined;
}

/**
 * Builds the error class that matches an HTTP error status: 400 → {@link BadRequestError}, 401, 403,
 * 404, 409, 412, 413, 429 → {@link RateLimitError} (with `retryAfterMs` from `Retry-After`), 5xx →
 * {@link ServerError}, any other status → {@link ApiError}.
 *
 * @example
 * ```ts
 * throw apiErrorFromResponse({ status: 404, method: 'GET', url, body: { error: 'not found' } })
 * ```
 */
export function apiErrorFromResponse(response: ApiErrorResponse): ApiError {
  const headers = response.headers ?? {};
  const headerId = headers['x-men-requestid'];
  const details: ApiErrorDetails = {
    ...response,
    requestId: response.requestId ?? (Array.isArray(headerId) ? headerId[0] : headerId),
    retryAfterMs: response.retryAfterMs ?? parseRetryAfter(headers['retry-after']),
  };
  const { status } = response;
  switch (status) {
    case 400:
      return new BadRequestError(details);
    case 401:
      return new UnauthorizedError(details);
    case 403:
      return new ForbiddenError(details);
    case 404:
      return new NotFoundError(details);
    case 409:
      return new ConflictError(details);
    case 412:
      return new PreconditionFailedError(details);
    case 413:
      return new PayloadTooLargeError(details);
    case 429:
      return new RateLimitError(details);
    default:
      return status >= 500 && status <= 599 ? new ServerError(details) : new ApiError(details);
  }
}

// ---------------------------------------------------------------------------------------------------
// Transport errors
// ---------------------------------------------------------------------------------------------------

/** Where a transport error happened. */
export interface TransportErrorDetails extends OtakitErrorOptions {
  method: string;
  /** Redacted before it is stored. */
  url: string;
  /** The `X-MEN-RequestID` that was sent. */
  requestId?: string | undefined;
}

/**
 * The server could not be reached, or the connection broke before the response was complete
 * (refused, reset, DNS, TLS handshake). `cause` holds the underlying error.
 */
export class ConnectionError extends OtakitError {
  static readonly code: string = ErrorCodes.CONNECTION;
  readonly method: string;
  readonly url: string;
  readonly requestId: string | undefined;
  constructor(details: TransportErrorDetails) {
    const url = redactUrl(details.url);
    const cause = details.cause as { code?: unknown; message?: unknown } | undefined;
    const parts = [cause?.code, cause?.message].filter((p): p is string => typeof p === 'string' && p !== '');
    // A cause's message may quote a URL (proxy errors do): redact any it contains.
    const why =
      parts.length > 0
        ? parts.join(': ').replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi, (found) => redactUrl(found))
        : 'unknown cause';
    super(ErrorCodes.CONNECTION, `${details.method} ${url}: connection failed (${why})`, details);
    this.method = details.method;
    this.url = url;
    this.requestId = details.requestId;
  }
}
brandErrorClass(ConnectionError, 'ConnectionError');

/** An attempt took longer than its per-attempt `timeout`. */
export class TimeoutError extends OtakitError {
  static readonly code: string = ErrorCodes.TIMEOUT;
  readonly method: string;
  readonly url: string;
  readonly requestId: string | undefined;
  /** The timeout that elapsed, in ms. */
  readonly timeoutMs: number;
  constructor(details: TransportErrorDetails & { timeoutMs: number }) {
    const url = redactUrl(details.url);
    super(
      ErrorCodes.TIMEOUT,
      `${details.method} ${url}: no response within ${details.timeoutMs} ms`,
      details,
    );
    this.method = details.method;
    this.url = url;
    this.requestId = details.requestId;
    this.timeoutMs = details.timeoutMs;
  }
}
brandErrorClass(TimeoutError, 'TimeoutError');

/**
 * The caller aborted the call with `AbortController.abort()` and no reason. (With a reason,
 * `abort(reason)`, the call rejects with that reason itself.) Its `name` is `'AbortError'`, like
 * the DOM's, so `err.name === 'AbortError'` checks keep working.
 */
export class AbortError extends OtakitError {
  static readonly code: string = ErrorCodes.ABORTED;
  constructor(message = 'The operation was aborted', options?: OtakitErrorOptions) {
    super(ErrorCodes.ABORTED, message, options);
  }
}
brandErrorClass(AbortError, 'AbortError');

/** Where an {@link InvalidResponseError} happened. */
export interface InvalidResponseDetails extends TransportErrorDetails {
  status: number;
  /** What was wrong, e.g. `'invalid JSON'`. */
  reason: string;
}

/** A successful status with a body that cannot be read as asked: invalid JSON, or not a list when one was expected. */
export class InvalidResponseError extends OtakitError {
  static readonly code: string = ErrorCodes.INVALID_RESPONSE;
  readonly status: number;
  readonly method: string;
  readonly url: string;
  readonly requestId: string | undefined;
  constructor(details: InvalidResponseDetails) {
    const url = redactUrl(details.url);
    super(
      ErrorCodes.INVALID_RESPONSE,
      `${details.method} ${url}: HTTP ${details.status} with ${details.reason}` +
        (details.requestId ? ` (request id ${details.requestId})` : ''),
      details,
    );
    this.status = details.status;
    this.method = details.method;
    this.url = url;
    this.requestId = details.requestId;
  }
}
brandErrorClass(InvalidResponseError, 'InvalidResponseError');
