import { brandErrorClass, OtakitError } from '../errors.js';

/**
 * The codes a {@link KeyError} carries.
 *
 * - `ERR_KEY_PARSE`: the input is not a key in any accepted format (garbage, truncated PEM, bad DER).
 * - `ERR_KEY_UNSUPPORTED`: a well-formed key of a type Mender cannot use (DSA, X25519, Ed448, RSA-PSS,
 *   an EC curve other than P-256/P-384/P-521), or a secret key where an asymmetric one is needed.
 * - `ERR_KEY_NOT_PRIVATE`: a public key or certificate was given where a private key is needed.
 * - `ERR_KEY_ENCRYPTED`: the private key is encrypted and no passphrase was given.
 * - `ERR_KEY_PASSPHRASE`: the passphrase does not decrypt the private key.
 * - `ERR_KEY_OPTIONS`: invalid options, e.g. `bits` below 2048 or given for a non-RSA key type.
 * - `ERR_KEY_EXISTS`: the key file already exists and overwriting was not allowed.
 * - `ERR_KEY_FILE`: reading or writing a key file failed (the `cause` holds the system error).
 */
export type KeyErrorCode =
  | 'ERR_KEY_PARSE'
  | 'ERR_KEY_UNSUPPORTED'
  | 'ERR_KEY_NOT_PRIVATE'
  | 'ERR_KEY_ENCRYPTED'
  | 'ERR_KEY_PASSPHRASE'
  | 'ERR_KEY_OPTIONS'
  | 'ERR_KEY_EXISTS'
  | 'ERR_KEY_FILE';

/**
 * Thrown when a key cannot be loaded, generated, written or used. Messages never contain key
 * material.
 *
 * @example
 * ```ts
 * try { loadPrivateKey(pem) } catch (err) {
 *   if (err instanceof KeyError && err.code === 'ERR_KEY_ENCRYPTED') askForPassphrase()
 * }
 * ```
 */
export class KeyError extends OtakitError {
  /** Which kind of key failure this is. */
  declare readonly code: KeyErrorCode;

  constructor(code: KeyErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
brandErrorClass(KeyError, 'KeyError');

/** The `code` of a Node.js system or crypto error (`ENOENT`, `ERR_MISSING_PASSPHRASE`), if any. @internal */
export function nodeErrorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err
    ? String((err as { code: unknown }).code)
    : undefined;
}
