import { brandErrorClass, OtakitError } from '@otakit/core';
import { EXIT, type ExitCode } from './exit-codes.js';

/**
 * The codes of {@link CliError}: `ERR_CLI_USAGE` (a flag value), `ERR_CLI_FILE` (a file that cannot be
 * read or written), `ERR_CLI_PRIVATE_KEY` (a private key where a public key is expected),
 * `ERR_CLI_KEY_EXISTS` (keygen would overwrite a key), `ERR_CLI_PASSWORD` (no password to log in
 * with), `ERR_CLI_PORT_IN_USE`, `ERR_CLI_DATA_DIR`, `ERR_CLI_TIMEOUT`, `ERR_CLI_INTERRUPTED`,
 * `ERR_CLI_FAILED` (the work ran and failed).
 */
export type CliErrorCode =
  | 'ERR_CLI_USAGE'
  | 'ERR_CLI_FILE'
  | 'ERR_CLI_PRIVATE_KEY'
  | 'ERR_CLI_KEY_EXISTS'
  | 'ERR_CLI_PASSWORD'
  | 'ERR_CLI_PORT_IN_USE'
  | 'ERR_CLI_DATA_DIR'
  | 'ERR_CLI_TIMEOUT'
  | 'ERR_CLI_INTERRUPTED'
  | 'ERR_CLI_FAILED';

/**
 * The one user-error type of the CLI: printed as one `otakit: CODE: message` line on stderr (no stack
 * trace) and ending the command with its {@link EXIT} code.
 */
export class CliError extends OtakitError {
  /** The process exit code (from {@link EXIT}). */
  readonly exitCode: ExitCode;

  constructor(code: CliErrorCode, message: string, options: { exitCode?: ExitCode; cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = options.exitCode ?? EXIT.USAGE;
  }
}
brandErrorClass(CliError, 'CliError');

/** A {@link CliError} `ERR_CLI_USAGE` (exit 1): a flag value the command cannot use. */
export function usageError(message: string): CliError {
  return new CliError('ERR_CLI_USAGE', message);
}
