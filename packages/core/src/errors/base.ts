/**
 * The base of every error otakit throws, its brand and the codes of core's errors. Switch on
 * {@link OtakitError.code}.
 *
 * `instanceof` works across copies of the package (ESM and CJS builds loaded in one process, or two
 * installed versions): classes are branded with a global symbol and checked by `Symbol.hasInstance`.
 */

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
