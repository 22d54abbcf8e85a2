/** The command-line arguments as the entry points see them, before commander parses them. */

/** Root options that take a value: their value is not a command name. */
const ROOT_OPTIONS_WITH_VALUE = new Set(['--server', '--token']);

/**
 * The top-level command an argument list runs (`undefined` for none, e.g. `--version` or `--help`):
 * the first argument that is neither a root option nor a root option's value. `help NAME` names
 * `NAME`.
 */
export function commandName(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') return argv[i + 1];
    if (ROOT_OPTIONS_WITH_VALUE.has(arg)) {
      i++;
      continue;
    }
    if (arg.startsWith('-')) continue;
    return arg === 'help' ? argv[i + 1] : arg;
  }
  return undefined;
}

/** Whether the arguments only ask for the version (`otakit --version`, `otakit -V`). */
export function isVersionRequest(argv: readonly string[]): boolean {
  return argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V');
}
