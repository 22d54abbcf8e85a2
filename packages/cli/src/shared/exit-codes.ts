/**
 * The one exit-code table of the `otakit` command (documented in the CLI README, "Exit codes").
 * Every command ends with one of these; scripts can `case $?` on them.
 */
export const EXIT = {
  /** Success. */
  OK: 0,
  /** Bad usage or input: a missing or invalid flag, an unreadable file, a key of the wrong kind. */
  USAGE: 1,
  /**
   * The command could not be carried out here and now: the server refused it or could not be
   * reached, a port is in use, a directory is unusable.
   */
  UNAVAILABLE: 2,
  /** The work ran and failed: devices failed a deployment, a rollout aborted, an install failed. */
  FAILED: 3,
  /** Gave up waiting (`deploy wait --timeout`). */
  TIMEOUT: 4,
  /** An invalid artifact: malformed, tampered with, or not signed by one of the given keys (as mender-artifact). */
  INVALID_ARTIFACT: 5,
  /** Interrupted by SIGINT (Ctrl+C). */
  INTERRUPTED: 130,
} as const;

/** A value of {@link EXIT}. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
