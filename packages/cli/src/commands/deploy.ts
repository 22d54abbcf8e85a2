import type { Command } from 'commander';
import { withClient, withConnection } from '../shared/connection.js';
import { CliError, usageError } from '../shared/errors.js';
import { EXIT } from '../shared/exit-codes.js';
import { action } from '../shared/failure.js';
import { commaList, positiveNumber } from '../shared/flags.js';
import { out, printJson, printTable } from '../shared/output.js';
import { progressBar } from '../shared/progress.js';

/** Registers `otakit deploy create|status|abort|wait`. */
export function register(program: Command): void {
  const deploy = program.command('deploy').description('deployments: create, status, abort, wait');

  withConnection(
    deploy
      .command('create')
      .description('create a deployment; prints its id')
      .requiredOption('--name <name>', 'deployment name')
      .requiredOption('--artifact <name>', 'artifact name (release) to deploy')
      .option('--devices <ids>', 'comma-separated device ids')
      .option('--group <group>', 'a static group')
      .option('--all', 'all accepted devices')
      .option('--force', 'install even where already installed')
      .option('--json', 'print the deployment as a JSON object'),
  ).action(
    action(
      async (
        opts: {
          name: string;
          artifact: string;
          devices?: string;
          group?: string;
          all?: boolean;
          force?: boolean;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        const targets = [opts.devices !== undefined, opts.group !== undefined, opts.all === true].filter(
          Boolean,
        );
        if (targets.length !== 1) throw usageError('pass exactly one of --devices, --group, --all');
        const devices = opts.devices === undefined ? undefined : commaList(opts.devices);
        if (devices !== undefined && devices.length === 0) throw usageError('--devices is empty');
        await withClient(cmd, async (mgmt) => {
          const id = await mgmt.deployments.create({
            name: opts.name,
            artifactName: opts.artifact,
            ...(devices ? { devices } : {}),
            ...(opts.group ? { group: opts.group } : {}),
            ...(opts.all ? { all: true } : {}),
            ...(opts.force ? { forceInstallation: true } : {}),
          });
          if (opts.json) printJson(await mgmt.deployments.get(id));
          else out(id);
        });
      },
    ),
  );

  withConnection(
    deploy
      .command('status <id>')
      .description('show a deployment and its statistics')
      .option('--json', 'print a JSON object'),
  ).action(
    action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      await withClient(cmd, async (mgmt) => {
        const [deployment, statistics] = await Promise.all([
          mgmt.deployments.get(id),
          mgmt.deployments.statistics(id),
        ]);
        if (opts.json) return printJson({ ...deployment, statistics });
        out(`${deployment.id}  ${deployment.name}  ${deployment.artifact_name}  ${deployment.status}`);
        printTable(
          ['STATE', 'DEVICES'],
          Object.entries(statistics)
            .filter(([, n]) => typeof n === 'number' && n > 0)
            .map(([k, n]) => [k, n as number]),
        );
      });
    }),
  );

  withConnection(
    deploy.command('abort <id>').description('abort a deployment').option('--json', 'print a JSON object'),
  ).action(
    action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      await withClient(cmd, async (mgmt) => {
        await mgmt.deployments.abort(id);
        if (opts.json) printJson({ id, status: 'aborted' });
        else out(`${id}: aborted`);
      });
    }),
  );

  withConnection(
    deploy
      .command('wait <id>')
      .description('wait until a deployment finishes (exit 3 when devices failed, 4 on --timeout)')
      .option('--interval <ms>', 'first poll interval in ms', '1000')
      .option('--timeout <ms>', 'give up after this many ms')
      .option('--json', 'print the final deployment and statistics as a JSON object'),
  ).action(
    action(async (id: string, opts: { interval: string; timeout?: string; json?: boolean }, cmd: Command) => {
      const interval = positiveNumber(opts.interval, '--interval');
      const timeout = opts.timeout === undefined ? undefined : positiveNumber(opts.timeout, '--timeout');
      const { finishedCount, totalCount } = await import('@otakit/management-client');
      await withClient(cmd, async (mgmt) => {
        const bar = progressBar('deploy [{bar}] {value}/{total} finished | {detail}');
        const wait = mgmt.deployments.waitFor(id, {
          interval,
          ...(timeout === undefined ? {} : { signal: AbortSignal.timeout(timeout) }),
        });
        let started = false;
        wait.on('statistics', ({ statistics, deployment }) => {
          const total = totalCount(statistics);
          const done = finishedCount(statistics);
          if (!started) bar.start(total, done);
          started = true;
          bar.update(done, total);
          if (!process.stderr.isTTY && !opts.json) {
            process.stderr.write(
              `${deployment.status}: ${done}/${total} finished, ${statistics.failure ?? 0} failed\n`,
            );
          }
        });
        let final: Awaited<typeof wait>;
        try {
          final = await wait;
        } catch (err) {
          if (err instanceof DOMException && err.name === 'TimeoutError') {
            throw new CliError('ERR_CLI_TIMEOUT', `deployment ${id} did not finish within ${timeout} ms`, {
              exitCode: EXIT.TIMEOUT,
            });
          }
          throw err;
        } finally {
          bar.stop();
        }
        const failed = final.statistics.failure ?? 0;
        if (opts.json) printJson({ ...final.deployment, statistics: final.statistics });
        else out(`${id}: finished, ${final.statistics.success ?? 0} succeeded, ${failed} failed`);
        if (failed > 0) process.exitCode = EXIT.FAILED;
      });
    }),
  );
}
