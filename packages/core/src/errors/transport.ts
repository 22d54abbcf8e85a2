/**
 * Errors of the transport, where no error status was read: the connection, the timeout, the
 * caller's abort, and a successful response whose body cannot be read as asked.
 */

import { redactUrl } from '../http/redact.js';
import { brandErrorClass, ErrorCodes, OtakitError, type OtakitErrorOptions } from './base.js';

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
