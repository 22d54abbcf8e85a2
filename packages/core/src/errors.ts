/**
 * The base of every error otakit throws. Switch on {@link OtakitError.code}.
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
