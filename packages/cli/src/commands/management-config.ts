import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ManagementClient } from '@otakit/management-client';
import type { Command } from 'commander';

/** What `otakit login --save` stores. */
export interface SavedConfig {
  server?: string;
  token?: string;
}

/** The config file: `$OTAKIT_CONFIG`, else `$XDG_CONFIG_HOME/otakit/config.json`, else `~/.config/otakit/config.json`. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OTAKIT_CONFIG) return env.OTAKIT_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'otakit', 'config.json');
}

/** Reads the saved config; empty when there is none. */
export async function readConfig(path = configPath()): Promise<SavedConfig> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as SavedConfig;
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch {
    return {};
  }
}

/** Writes the config readable by the owner only (0600). */
export async function writeConfig(config: SavedConfig, path = configPath()): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
}

/** Adds `--server` and `--token` to a command. */
export function withConnection(cmd: Command): Command {
  return cmd
    .option('--server <url>', 'Mender server URL (or OTAKIT_SERVER, or the saved login)')
    .option('--token <token>', 'management token (or OTAKIT_TOKEN, or the saved login)');
}

/** A user error: printed as one line, no stack trace. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** The server and token for a command: flags, then environment, then the saved login. */
export async function resolveConnection(
  cmd: Command,
): Promise<{ server: string; token: string | undefined }> {
  const opts = cmd.optsWithGlobals<{ server?: string; token?: string }>();
  const saved = await readConfig();
  // An empty variable counts as unset.
  const server = opts.server || process.env.OTAKIT_SERVER || saved.server;
  const token = opts.token || process.env.OTAKIT_TOKEN || saved.token;
  if (server === undefined || server === '') {
    throw new CliError('no server: pass --server URL, set OTAKIT_SERVER, or run `otakit login --save`');
  }
  try {
    new URL(server);
  } catch {
    throw new CliError(`not a URL: --server ${server}`);
  }
  return { server, token };
}

/** A management client for a command; requires a token. */
export async function clientFor(cmd: Command): Promise<ManagementClient> {
  const { server, token } = await resolveConnection(cmd);
  if (token === undefined || token === '') {
    throw new CliError('no token: pass --token T, set OTAKIT_TOKEN, or run `otakit login --save`');
  }
  return new ManagementClient({ serverUrl: server, auth: token, userAgent: 'otakit-cli/0.1.0' });
}
