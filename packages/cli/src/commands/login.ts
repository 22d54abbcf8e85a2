import type { Command } from 'commander';
import { configPath, readConfig, writeConfig } from '../shared/config.js';
import { clientFor, resolveConnection, withConnection } from '../shared/connection.js';
import { CliError } from '../shared/errors.js';
import { EXIT } from '../shared/exit-codes.js';
import { action } from '../shared/failure.js';
import { out, printJson } from '../shared/output.js';
import { resolvePassword } from '../shared/password.js';

/** Registers `otakit login`. */
export function register(program: Command): void {
  withConnection(
    program
      .command('login')
      .description('log in with an email and a password; prints the token (or saves it with --save)')
      .requiredOption('--email <email>', 'user email')
      .option('--password <password>', 'user password (else OTAKIT_PASSWORD, else a prompt on a terminal)')
      .option('--save', 'store the server and token in the config file (mode 0600) for later calls')
      .option('--json', 'print {server, token} (or {server, saved} with --save)'),
  ).action(
    action(
      async (opts: { email: string; password?: string; save?: boolean; json?: boolean }, cmd: Command) => {
        const { server } = await resolveConnection(cmd);
        const password = await resolvePassword(opts.password);
        const mgmt = await clientFor(cmd, { email: opts.email, password });
        try {
          const token = await mgmt.token();
          if (token === undefined || token === '') {
            throw new CliError('ERR_CLI_FAILED', 'the server returned an empty token', {
              exitCode: EXIT.UNAVAILABLE,
            });
          }
          if (opts.save) {
            const path = configPath();
            await writeConfig({ ...(await readConfig(path)), server, token }, path);
            if (opts.json) printJson({ server, saved: path });
            else out(`logged in; token saved to ${path}`);
          } else if (opts.json) {
            printJson({ server, token });
          } else {
            out(token);
          }
        } finally {
          await mgmt.close();
        }
      },
      { unauthorizedHint: 'the server refused these credentials: check --email and the password' },
    ),
  );
}
