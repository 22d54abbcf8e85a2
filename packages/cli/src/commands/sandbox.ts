import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Sandbox } from '@otakit/sandbox';
import type { Command } from 'commander';
import { CliError } from '../shared/errors.js';
import { EXIT } from '../shared/exit-codes.js';
import { action } from '../shared/failure.js';
import { parsePort } from '../shared/flags.js';
import { out } from '../shared/output.js';

/** The sandbox's defaults (as `@otakit/sandbox` exports them; repeated here so `--help` does not load it). */
const DEFAULT_ADMIN_EMAIL = 'admin@otakit.local';

/** Options of `otakit sandbox start`. */
interface StartOptions {
  port: number;
  host: string;
  dataDir?: string;
  adminEmail: string;
  adminPassword?: string;
  log?: boolean;
  json?: boolean;
}

/** Resolves on the first SIGINT or SIGTERM. */
function untilInterrupted(): Promise<NodeJS.Signals> {
  return new Promise((resolvePromise) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolvePromise(signal);
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

/** The document `otakit sandbox start --json` prints once listening (one line). */
export function sandboxDocument(sandbox: Sandbox): Record<string, unknown> {
  return {
    mender: { url: sandbox.url, adminEmail: sandbox.adminEmail, adminPassword: sandbox.adminPassword },
    dataDir: sandbox.dataDir ?? null,
  };
}

/**
 * Checks that `--data-dir` can hold the sandbox's state: creates it when missing, and fails at once
 * with the reason when it is not a directory or not writable.
 *
 * @throws {@link CliError} `ERR_CLI_DATA_DIR` (exit 2).
 */
export async function checkDataDir(dir: string): Promise<void> {
  const unusable = (reason: string, cause?: unknown) =>
    new CliError('ERR_CLI_DATA_DIR', `--data-dir ${dir} is not usable: ${reason}`, {
      exitCode: EXIT.UNAVAILABLE,
      cause,
    });
  try {
    await mkdir(dir, { recursive: true });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw unusable(
      code === 'EEXIST' || code === 'ENOTDIR' ? 'not a directory' : (cause as Error).message,
      cause,
    );
  }
  if (!(await stat(dir)).isDirectory()) throw unusable('not a directory');
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (cause) {
    throw unusable('not writable', cause);
  }
}

/**
 * Registers `otakit sandbox start [--port 0|N] [--host H] [--data-dir DIR] [--admin-email E]
 * [--admin-password P] [--json]`: starts a local Mender-compatible server, prints its base URL and
 * admin credentials, and runs until SIGINT or SIGTERM. A port in use or an unusable data dir fails
 * at once (exit 2) with the reason.
 */
export function register(program: Command): void {
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
    .option('--admin-password <password>', 'admin password (default: otakit-sandbox)')
    .option('--log', 'log requests (as JSON lines, without tokens or link signatures) to stderr')
    .option('--json', 'once listening, print {mender: {url, adminEmail, adminPassword}, dataDir} on one line')
    .action(
      action(async (opts: StartOptions) => {
        const dataDir = opts.dataDir === undefined ? undefined : resolve(opts.dataDir);
        if (dataDir !== undefined) await checkDataDir(dataDir);
        const { DEFAULT_ADMIN_PASSWORD, startSandbox } = await import('@otakit/sandbox');
        let running: Sandbox;
        try {
          running = await startSandbox({
            port: opts.port,
            host: opts.host,
            adminEmail: opts.adminEmail,
            adminPassword: opts.adminPassword ?? DEFAULT_ADMIN_PASSWORD,
            ...(dataDir ? { dataDir } : {}),
            ...(opts.log ? { logger: { level: 'info' as const, stream: process.stderr } } : {}),
          });
        } catch (cause) {
          // The sandbox wraps the listen error (SANDBOX_START); the system code is on its cause.
          const listenError = (cause as { cause?: unknown }).cause ?? cause;
          const code = (listenError as NodeJS.ErrnoException).code;
          if (code === 'EADDRINUSE') {
            throw new CliError('ERR_CLI_PORT_IN_USE', `port ${opts.port} on ${opts.host} is already in use`, {
              exitCode: EXIT.UNAVAILABLE,
              cause,
            });
          }
          if (code === 'EACCES' || code === 'EADDRNOTAVAIL') {
            throw new CliError(
              'ERR_CLI_PORT_IN_USE',
              `cannot listen on ${opts.host}:${opts.port} (${code})`,
              {
                exitCode: EXIT.UNAVAILABLE,
                cause,
              },
            );
          }
          if ((cause as { code?: string }).code === 'SANDBOX_START') {
            throw new CliError(
              'ERR_CLI_PORT_IN_USE',
              `cannot listen on ${opts.host}:${opts.port}: ${(listenError as Error).message}`,
              {
                exitCode: EXIT.UNAVAILABLE,
                cause,
              },
            );
          }
          throw cause;
        }
        const stopped = untilInterrupted();
        if (opts.json) out(JSON.stringify(sandboxDocument(running)));
        else process.stdout.write(sandboxBanner(running));
        const signal = await stopped;
        process.stderr.write(`otakit sandbox: ${signal}, stopping\n`);
        await running.close();
      }),
    );
}
