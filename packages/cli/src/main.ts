import type { Command } from 'commander';
import { commandName, isVersionRequest } from './argv.js';
import { COMMAND_GROUPS, type CommandGroup } from './commands/registry.js';
import { VERSION } from './version.js';

export { commandName } from './argv.js';

/**
 * Builds the `otakit` command tree. Every group is listed (for `--help`), but only the group named
 * by `argv` is loaded: its module and dependencies are imported now, the others never.
 */
export async function createProgram(argv: readonly string[] = []): Promise<Command> {
  const { Command } = await import('commander');
  const program = new Command('otakit')
    .description('OTA updates (Mender) and cloud telemetry (IoT Core) for Linux IoT devices')
    .version(VERSION)
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
      // Commander's own usage errors (unknown or missing option) get a code like every other error.
      outputError: (text, write) =>
        write(text.startsWith('otakit: ') ? text : `otakit: ERR_CLI_USAGE: ${text}`),
    });
  const name = commandName(argv);
  const selected: CommandGroup | undefined = COMMAND_GROUPS.find((g) => g.name === name);
  for (const group of COMMAND_GROUPS) {
    if (group === selected) (await group.load()).register(program);
    else program.command(group.name).description(group.summary);
  }
  return program;
}

/**
 * Runs the CLI with the given arguments (without `node` and the script path).
 * Resolves with the process exit code.
 */
export async function main(argv: string[]): Promise<number> {
  // `otakit --version` answers before loading anything, commander included (~7 MiB).
  if (isVersionRequest(argv)) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const { CommanderError } = await import('commander');
  const program = await createProgram(argv);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    throw err;
  }
}
