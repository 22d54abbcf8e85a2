import { brandErrorClass, OtakitError } from '@otakit/core';

/**
 * The codes a {@link SandboxError} carries (`ERR_<AREA>_<FAILURE>`, like every otakit code).
 *
 * - `ERR_SANDBOX_STATE`: the data directory holds unreadable state (`state.json`, `secrets.json`).
 * - `ERR_SANDBOX_START`: the server could not start (the port is taken, its admin token could not
 *   be minted).
 */
export type SandboxErrorCode = 'ERR_SANDBOX_STATE' | 'ERR_SANDBOX_START';

/** Thrown by the sandbox when it cannot start or its state cannot be loaded or saved. */
export class SandboxError extends OtakitError {
  /** Which failure this is. */
  declare readonly code: SandboxErrorCode;

  constructor(code: SandboxErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
brandErrorClass(SandboxError, 'SandboxError');

/**
 * An HTTP error raised inside a route handler; rendered as `{error, request_id}` with `status`.
 * @internal
 */
export class HttpError extends Error {
  readonly status: number;
  /** A body to send instead of the standard error object (e.g. the 409 device on preauthorize). */
  readonly body: unknown;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    message: string,
    options?: { body?: unknown; headers?: Record<string, string> },
  ) {
    super(message);
    this.status = status;
    this.body = options?.body;
    this.headers = options?.headers ?? {};
  }
}

/** 400 with the given message. @internal */
export const badRequest = (message: string): HttpError => new HttpError(400, message);
/** 404 with the given message. @internal */
export const notFound = (message = 'not found'): HttpError => new HttpError(404, message);
/** 401 with the given message. @internal */
export const unauthorized = (message = 'unauthorized'): HttpError => new HttpError(401, message);
