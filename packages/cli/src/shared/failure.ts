/**
 * The one failure printer: every command's errors become one `otakit: CODE: message` line on stderr
 * (never a stack trace, never a token) and an exit code from {@link EXIT}.
 */
import {
  ApiError,
  ConnectionError,
  NotFoundError,
  OtakitError,
  TimeoutError,
  UnauthorizedError,
} from '@otakit/core';
import { type Command, CommanderError } from 'commander';
import { CliError } from './errors.js';
import { EXIT, type ExitCode } from './exit-codes.js';

/** What a failure prints and how the command exits. */
export interface Failure {
  /** The stable error code, e.g. `ERR_CLI_USAGE`, `ERR_HTTP_UNAUTHORIZED`, `ERR_ARTIFACT_CHECKSUM_MISMATCH`. */
  code: string;
  /** One line, without the `otakit: CODE: ` prefix. */
  message: string;
  /** The exit code. */
  exitCode: ExitCode;
}

/** Options of {@link action}. */
export interface ActionOptions {
  /**
   * Decides the exit code of an `OtakitError` this command knows better (the artifact commands tell
   * a caller's mistake from an invalid artifact), given the action's arguments; `undefined` falls
   * back to the default table.
   */
  exitCodeOf?: (err: OtakitError, args: unknown[]) => ExitCode | undefined | Promise<ExitCode | undefined>;
  /** The hint added to a 401 (default: the token was refused; `login` says the credentials were). */
  unauthorizedHint?: string;
}

const DEFAULT_401_HINT = 'the server refused the token: run `otakit login` or pass a valid --token';

/** Options of {@link describeFailure}. */
export interface DescribeOptions {
  /** The hint added to a 401 (see {@link ActionOptions.unauthorizedHint}). */
  unauthorizedHint?: string | undefined;
  /** The exit code of an `OtakitError` that is not an API, connection or CLI error (default 1). */
  otakitExitCode?: ExitCode | undefined;
}

/** Turns any error into the {@link Failure} the CLI prints. */
export function describeFailure(err: unknown, options: DescribeOptions = {}): Failure {
  if (err instanceof CliError) return { code: err.code, message: err.message, exitCode: err.exitCode };
  if (err instanceof ApiError) {
    const hint =
      err instanceof UnauthorizedError
        ? ` (${options.unauthorizedHint ?? DEFAULT_401_HINT})`
        : err instanceof NotFoundError
          ? ' (not found)'
          : '';
    return { code: err.code, message: `${err.message}${hint}`, exitCode: EXIT.UNAVAILABLE };
  }
  if (err instanceof ConnectionError || err instanceof TimeoutError) {
    return { code: err.code, message: err.message, exitCode: EXIT.UNAVAILABLE };
  }
  if (err instanceof OtakitError) {
    return { code: err.code, message: err.message, exitCode: options.otakitExitCode ?? EXIT.USAGE };
  }
  if (err instanceof DOMException && err.name === 'TimeoutError') {
    return { code: 'ERR_CLI_TIMEOUT', message: err.message, exitCode: EXIT.TIMEOUT };
  }
  return { code: 'ERR_CLI', message: err instanceof Error ? err.message : String(err), exitCode: EXIT.USAGE };
}

/** The line {@link action} prints for a failure. */
export function formatFailure(failure: Failure): string {
  return `otakit: ${failure.code}: ${failure.message}\n`;
}

/**
 * Wraps a command's action: a thrown error is printed by {@link formatFailure} on stderr and ends
 * the command with its exit code (as a silent `CommanderError` that `main` turns into the exit code).
 */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
  options: ActionOptions = {},
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof CommanderError) throw err;
      const otakitExitCode =
        err instanceof OtakitError && !(err instanceof CliError) && options.exitCodeOf
          ? await options.exitCodeOf(err, args)
          : undefined;
      const failure = describeFailure(err, { unauthorizedHint: options.unauthorizedHint, otakitExitCode });
      process.stderr.write(formatFailure(failure));
      throw new CommanderError(failure.exitCode, failure.code, failure.message);
    }
  };
}

/** The command an action was called for: commander passes it last. */
export function commandOf(args: unknown[]): Command {
  return args[args.length - 1] as Command;
}
