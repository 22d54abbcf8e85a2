/**
 * Errors for HTTP error statuses: {@link ApiError} and one subclass per meaningful status, and
 * {@link apiErrorFromResponse}, which picks the class for a response. Each status keeps a real
 * class (its own name, TSDoc and `instanceof`); the classes differ only in code and fields.
 */

import { redactUrl } from '../http/redact.js';
import { parseRetryAfter } from '../http/retry-after.js';
import { brandErrorClass, ErrorCodes, OtakitError, type OtakitErrorOptions } from './base.js';

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
