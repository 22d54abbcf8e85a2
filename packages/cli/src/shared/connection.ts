/** The Mender server and token of the management commands, and their client. */
import type { ManagementClient } from '@otakit/management-client';
import type { Command } from 'commander';
import { VERSION } from '../version.js';
import { readConfig } from './config.js';
import { usageError } from './errors.js';
import { transportOptions, withCa } from './network.js';

/** The user agent of the CLI's requests. */
export const USER_AGENT = `otakit-cli/${VERSION}`;

/** Adds `--server`, `--token` and `--ca` to a management command. */
export function withConnection(cmd: Command): Command {
  return withCa(
    cmd
      .option('--server <url>', 'Mender server URL (or OTAKIT_SERVER, or the saved login)')
      .option('--token <token>', 'management token (or OTAKIT_TOKEN, or the saved login)'),
  );
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
    throw usageError('no server: pass --server URL, set OTAKIT_SERVER, or run `otakit login --save`');
  }
  try {
    new URL(server);
  } catch {
    throw usageError(`not a URL: --server ${server}`);
  }
  return { server, token };
}

/**
 * A management client for a command, with the proxy and `--ca` applied. Loads
 * `@otakit/management-client` only now. With `auth` it logs in with credentials; without, it
 * requires a token.
 */
export async function clientFor(
  cmd: Command,
  auth?: { email: string; password: string },
): Promise<ManagementClient> {
  const { server, token } = await resolveConnection(cmd);
  if (auth === undefined && (token === undefined || token === '')) {
    throw usageError('no token: pass --token T, set OTAKIT_TOKEN, or run `otakit login --save`');
  }
  const transport = await transportOptions(cmd.optsWithGlobals<{ ca?: string }>().ca);
  const { ManagementClient } = await import('@otakit/management-client');
  return new ManagementClient({
    serverUrl: server,
    auth: auth ?? (token as string),
    userAgent: USER_AGENT,
    ...transport,
  });
}

/** Runs `fn` with a {@link clientFor} client and closes it. */
export async function withClient<T>(cmd: Command, fn: (mgmt: ManagementClient) => Promise<T>): Promise<T> {
  const mgmt = await clientFor(cmd);
  try {
    return await fn(mgmt);
  } finally {
    await mgmt.close();
  }
}
