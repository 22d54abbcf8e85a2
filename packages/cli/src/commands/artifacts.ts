import type { Command } from 'commander';
import { withClient, withConnection } from '../shared/connection.js';
import { CliError } from '../shared/errors.js';
import { EXIT } from '../shared/exit-codes.js';
import { action } from '../shared/failure.js';
import { out, printJson, printTable } from '../shared/output.js';
import { progressBar } from '../shared/progress.js';

/** Registers `otakit artifacts upload|list` (artifacts on the server). */
export function register(program: Command): void {
  const artifacts = program.command('artifacts').description('artifacts on the server: upload, list');

  withConnection(
    artifacts
      .command('upload <file>')
      .description('upload an artifact (streamed; progress bar on a terminal); prints its id')
      .option('--description <text>', 'artifact description')
      .option('--json', 'print {id}'),
  ).action(
    action(async (file: string, opts: { description?: string; json?: boolean }, cmd: Command) => {
      await withClient(cmd, async (mgmt) => {
        const bar = progressBar('upload [{bar}] {percentage}% | {value}/{total} bytes');
        const upload = mgmt.artifacts.upload(file, {
          ...(opts.description === undefined ? {} : { description: opts.description }),
        });
        upload.on('progress', ({ loaded, total }) => {
          if (loaded === 0) bar.start(total ?? 0);
          else bar.update(loaded);
        });
        const onSigint = () =>
          upload.abort(
            new CliError('ERR_CLI_INTERRUPTED', 'upload interrupted', { exitCode: EXIT.INTERRUPTED }),
          );
        process.once('SIGINT', onSigint);
        try {
          const { id } = await upload.then(
            (v) => v,
            (err: unknown) => {
              if ((err as { code?: string }).code === 'ENOENT') {
                throw new CliError('ERR_CLI_FILE', `cannot read ${file}`);
              }
              throw err;
            },
          );
          bar.stop();
          if (opts.json) printJson({ id });
          else out(id);
        } finally {
          bar.stop();
          process.removeListener('SIGINT', onSigint);
        }
      });
    }),
  );

  withConnection(
    artifacts.command('list').description('list artifacts').option('--json', 'print a JSON array'),
  ).action(
    action(async (opts: { json?: boolean }, cmd: Command) => {
      await withClient(cmd, async (mgmt) => {
        const all = await mgmt.artifacts.list({ perPage: 500 }).toArray();
        if (opts.json) return printJson(all);
        printTable(
          ['ID', 'NAME', 'DEVICE TYPES', 'SIZE', 'MODIFIED'],
          all.map((a) => [a.id, a.name, (a.device_types_compatible ?? []).join(','), a.size, a.modified]),
        );
      });
    }),
  );
}
