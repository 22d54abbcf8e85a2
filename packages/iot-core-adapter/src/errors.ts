import { ApiError, brandErrorClass, OtakitError } from '@otakit/core';

/**
 * The codes an {@link IotCoreError} carries.
 *
 * - `ERR_IOTCORE_KEY_UNSUPPORTED`: the key cannot sign IoT Core JWTs (only RSA → RS256 and ECDSA
 *   P-256 → ES256; Ed25519 and other curves are refused by IoT Core).
 * - `ERR_IOTCORE_CREDENTIAL`: a registry credential cannot be read (bad PEM, unknown format, key type
 *   not matching the format).
 * - `ERR_IOTCORE_OPTIONS`: invalid options (a JWT lifetime over 24 h, a missing project id…).
 * - `ERR_IOTCORE_SYNC_EMPTY_REGISTRY`: a sync would remove every managed device because the registry
 *   listed none (set `allowEmptyRegistry` when that is meant).
 * - `ERR_IOTCORE_CLOSED`: the device client was closed.
 */
export type IotCoreErrorCode =
  | 'ERR_IOTCORE_KEY_UNSUPPORTED'
  | 'ERR_IOTCORE_CREDENTIAL'
  | 'ERR_IOTCORE_OPTIONS'
  | 'ERR_IOTCORE_SYNC_EMPTY_REGISTRY'
  | 'ERR_IOTCORE_CLOSED';

/**
 * An error of the IoT Core adapter. HTTP failures are `@otakit/core` `ApiError`s instead; read the
 * Google status name of one with {@link rpcStatusOf}.
 *
 * @example
 * ```ts
 * try { mintIotCoreJwt({ privateKey, projectId }) } catch (err) {
 *   if (err instanceof IotCoreError && err.code === 'ERR_IOTCORE_KEY_UNSUPPORTED') useAnotherKey()
 * }
 * ```
 */
export class IotCoreError extends OtakitError {
  /** Which failure this is. */
  declare readonly code: IotCoreErrorCode;

  constructor(code: IotCoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
brandErrorClass(IotCoreError, 'IotCoreError');

/**
 * The Google status name (`NOT_FOUND`, `ALREADY_EXISTS`, `INVALID_ARGUMENT`, …) of an `ApiError`
 * whose body is a Google error (`{error: {code, message, status}}`), else undefined.
 *
 * @example
 * ```ts
 * try { await registry.devices.create(device) } catch (err) {
 *   if (rpcStatusOf(err) === 'ALREADY_EXISTS') return
 *   throw err
 * }
 * ```
 */
export function rpcStatusOf(err: unknown): string | undefined {
  if (!(err instanceof ApiError)) return undefined;
  const body = err.body as { error?: { status?: unknown } } | undefined;
  const status = typeof body === 'object' && body !== null ? body.error?.status : undefined;
  return typeof status === 'string' ? status : undefined;
}

/** The Google error message of an `ApiError`, if its body is a Google error. */
export function rpcMessageOf(err: unknown): string | undefined {
  if (!(err instanceof ApiError)) return undefined;
  const body = err.body as { error?: { message?: unknown } } | undefined;
  const message = typeof body === 'object' && body !== null ? body.error?.message : undefined;
  return typeof message === 'string' ? message : undefined;
}
