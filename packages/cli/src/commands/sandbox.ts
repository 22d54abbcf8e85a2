import { DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD, type Sandbox, startSandbox } from '@otakit/sandbox';
import { type Command, InvalidArgumentError } from 'commander';

/** Options of `otakit sandbox start`. */
interface StartOptions {
  port: number;
  host: string;
  dataDir?: string;
  adminEmail: string;
  adminPassword: string;
  log?: boolean;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535)
    throw new InvalidArgumentError('must be an integer from 0 to 65535');
  return n;
}

/** Resolves on the first SIGINT or SIGTERM. */
function untilInterrupted(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** The banner `otakit sandbox start` prints once listening. */
export function sandboxBanner(sandbox: Sandbox): string {
  return [
    `otakit sandbox listening on ${sandbox.url}`,
    `  admin email:    ${sandbox.adminEmail}`,
    `  admin password: ${sandbox.adminPassword}`,
    `  data dir:       ${sandbox.dataDir ?? '(in memory)'}`,
    'Press Ctrl+C to stop.',
    '',
  ].join('\n');
}

/**
 * Registers the sandbox commands on the `otakit` program:
 * `otakit sandbox start [--port 0|N] [--host H] [--data-dir DIR] [--admin-email E] [--admin-password P]`
 * starts a local Mender-compatible server, prints its base URL and admin credentials, and runs until
 * SIGINT or SIGTERM.
 */
export function registerSandboxCommands(program: Command): void {
  const sandbox = program
    .command('sandbox')
    .description('a local Mender-compatible server for trying things out');
  sandbox
    .command('start')
    .description('start the sandbox server and run until interrupted')
    .option('--port <port>', 'port to listen on (0 picks a free one)', parsePort, 0)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option(
      '--data-dir <dir>',
      'keep devices, tokens, inventory, deployments and artifacts here across restarts',
    )
    .option('--admin-email <email>', 'admin e-mail for basic-auth login', DEFAULT_ADMIN_EMAIL)
    .option('--admin-password <password>', 'admin password', DEFAULT_ADMIN_PASSWORD)
    .option('--log', 'log requests (as JSON lines, without tokens or link signatures) to stderr')
    .action(async (opts: StartOptions) => {
      const running = await startSandbox({
        port: opts.port,
        host: opts.host,
        adminEmail: opts.adminEmail,
        adminPassword: opts.adminPassword,
        ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
        ...(opts.log ? { logger: { level: 'info' as const, stream: process.stderr } } : {}),
      });
      const stopped = untilInterrupted();
      process.stdout.write(sandboxBanner(running));
      const signal = await stopped;
      process.stderr.write(`otakit sandbox: ${signal}, stopping\n`);
      await running.close();
    });
}
