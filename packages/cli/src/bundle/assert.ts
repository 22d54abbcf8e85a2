/**
 * `node:assert` for the undici of the device bundle (see ./undici.ts and tsup.config.ts), which
 * calls only `assert(value)` and `assert(value, message)` on its own invariants. Node's module
 * costs ~3 MiB of resident memory once loaded (it pulls in the error diffing and inspection
 * machinery; measured with `node --expose-gc`, RSS after `gc()`), for calls that never fail
 * unless undici has a bug. This one throws the same kind of error: an `AssertionError` with
 * `code` `ERR_ASSERTION`, `actual`, `expected` `true` and `operator` `==`.
 */

/** The error a failed {@link assert} throws, shaped as Node's `assert.AssertionError`. */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
  readonly code = 'ERR_ASSERTION';
  readonly actual: unknown;
  readonly expected = true;
  readonly operator = '==';
  readonly generatedMessage: boolean;

  constructor(options: { message?: string | Error | undefined; actual: unknown }) {
    const generatedMessage = options.message === undefined;
    super(
      generatedMessage
        ? `The expression evaluated to a falsy value:\n\n  assert(${String(options.actual)})\n`
        : String(options.message),
    );
    this.actual = options.actual;
    this.generatedMessage = generatedMessage;
  }
}

/**
 * Throws unless `value` is truthy: the message's `Error` itself when `message` is one (as Node's
 * `assert` does), else an {@link AssertionError}.
 */
function ok(value: unknown, message?: string | Error): asserts value {
  if (value) return;
  if (message instanceof Error) throw message;
  throw new AssertionError({ message, actual: value });
}

/**
 * `assert`, with `assert.ok`, `assert.strict` and `assert.AssertionError` as Node's has them: the
 * module the bundle gives undici's `require('node:assert')`.
 */
export const assert: typeof ok & {
  ok: typeof ok;
  strict: typeof ok;
  AssertionError: typeof AssertionError;
} = Object.assign(ok, { ok, strict: ok, AssertionError });
