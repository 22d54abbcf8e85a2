import { Command, CommanderError } from 'commander';
import { registerArtifactCommands } from './commands/artifact.js';
import { registerDeviceCommands } from './commands/device.js';
import { registerIotCommands } from './commands/iot.js';
import { registerManagementCommands } from './commands/management.js';
import { registerSandboxCommands } from './commands/sandbox.js';

/** Builds the `otakit` command tree. */
export function createProgram(): Command {
  const program = new Command('otakit')
    .description('OTA updates (Mender) and cloud telemetry (IoT Core) for Linux IoT devices')
    .version('0.1.0')
    // Global connection options for the management commands: `otakit --server URL devices list`.
    // Each management command also takes them after its name; positional parsing keeps the root's
    // options apart from a subcommand's own (such as `device run --server`).
    .option('--server <url>', 'Mender server URL for management commands (or OTAKIT_SERVER)')
    .option('--token <token>', 'management token (or OTAKIT_TOKEN)')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
    });
  registerArtifactCommands(program);
  registerManagementCommands(program);
  registerDeviceCommands(program);
  registerSandboxCommands(program);
  registerIotCommands(program);
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
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    throw err;
  }
}
