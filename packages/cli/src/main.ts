import { Command, CommanderError } from 'commander';

/** Builds the `otakit` command tree. */
export function createProgram(): Command {
  const program = new Command('otakit')
    .description('OTA updates (Mender) and cloud telemetry (IoT Core) for Linux IoT devices')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
    });
  return program;
}

/**
 * Runs the CLI with the given arguments (without `node` and the script path).
 * Resolves with the process exit code.
 */
export async function main(argv: string[]): Promise<number> {
  const program = createProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    throw err;
  }
}
