import { readFile } from 'node:fs/promises';
import type { RolloutPhase } from '@otakit/management-client';
import type { Command } from 'commander';
import { clientFor, withConnection } from '../shared/connection.js';
import { CliError, usageError } from '../shared/errors.js';
import { EXIT } from '../shared/exit-codes.js';
import { action } from '../shared/failure.js';
import { collect, commaList, parseDuration } from '../shared/flags.js';
import { out, printJson } from '../shared/output.js';
import { progressBar } from '../shared/progress.js';

/** Parses a phase: `10%`, `25` (devices), `rest`; with an optional soak: `10%:5m`. */
export function parsePhase(text: string): RolloutPhase {
  const [size = '', soak] = text.split(':');
  const phase: RolloutPhase = {};
  if (size.endsWith('%')) {
    const percent = Number(size.slice(0, -1));
    if (!(percent > 0 && percent <= 100)) throw usageError(`--phase: bad percent in "${text}"`);
    phase.percent = percent;
  } else if (/^\d+$/.test(size)) {
    phase.count = Number(size);
    if (phase.count <= 0) throw usageError(`--phase: count must be positive in "${text}"`);
  } else if (size !== 'rest') {
    throw usageError(`--phase wants 10%, 25 or rest (optionally :soak like :5m), got "${text}"`);
  }
  if (soak !== undefined) phase.soak = parseDuration(soak, '--phase soak');
  return phase;
}

/** Registers `otakit rollout`. */
export function register(program: Command): void {
  withConnection(
    program
      .command('rollout')
      .description(
        'health-gated phased rollout: one deployment per phase, aborting when failures cross a threshold',
      )
      .requiredOption('--artifact <name>', 'artifact name (release) to roll out')
      .option('--name <name>', 'deployment name prefix')
      .option('--devices <ids>', 'comma-separated device ids')
      .option('--devices-file <file>', 'a file with one device id per line')
      .option('--group <group>', 'a static group')
      .requiredOption(
        '--phase <spec>',
        'a phase: 10%, 25 or rest, with an optional soak (10%:5m); repeatable',
        collect,
      )
      .option('--max-failure-rate <rate>', 'abort when failed/finished exceeds this (0..1)')
      .option('--min-finished <n>', 'judge the failure rate only after this many devices finished', '1')
      .option('--silent-after <duration>', 'abort when a phase makes no progress for this long (e.g. 30m)')
      .option('--poll-interval <duration>', 'how often to poll a phase', '5s')
      .option('--state <file>', 'persist the rollout state here and resume from it')
      .option('--json', 'print the final state as a JSON object'),
  ).action(
    action(
      async (
        opts: {
          artifact: string;
          name?: string;
          devices?: string;
          devicesFile?: string;
          group?: string;
          phase: string[];
          maxFailureRate?: string;
          minFinished: string;
          silentAfter?: string;
          pollInterval: string;
          state?: string;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        let devices: string[] | undefined;
        if (opts.devices !== undefined) devices = commaList(opts.devices);
        if (opts.devicesFile !== undefined) {
          const text = await readFile(opts.devicesFile, 'utf8').catch((err: Error) => {
            throw new CliError(
              'ERR_CLI_FILE',
              `cannot read --devices-file ${opts.devicesFile}: ${err.message}`,
            );
          });
          devices = [
            ...(devices ?? []),
            ...text
              .split(/\r?\n/)
              .map((s) => s.trim())
              .filter(Boolean),
          ];
        }
        if ((devices === undefined) === (opts.group === undefined)) {
          throw usageError('pass --devices/--devices-file or --group (one of them)');
        }
        const phases = opts.phase.map(parsePhase);
        let abortWhen: { failureRate: number; minFinished: number } | undefined;
        if (opts.maxFailureRate !== undefined) {
          const rate = Number(opts.maxFailureRate);
          if (!(rate >= 0 && rate <= 1)) throw usageError('--max-failure-rate wants a number in [0, 1]');
          const minFinished = Number(opts.minFinished);
          if (!Number.isInteger(minFinished) || minFinished < 1)
            throw usageError('--min-finished wants a positive integer');
          abortWhen = { failureRate: rate, minFinished };
        }
        const mgmt = await clientFor(cmd);
        const controller = new AbortController();
        const onSigint = () =>
          controller.abort(
            new CliError('ERR_CLI_INTERRUPTED', 'rollout interrupted (resume with the same --state)', {
              exitCode: EXIT.INTERRUPTED,
            }),
          );
        process.once('SIGINT', onSigint);
        const bar = progressBar('phase {phase} [{bar}] {value}/{total} finished');
        try {
          const rollout = mgmt.rollout({
            artifactName: opts.artifact,
            ...(opts.name ? { name: opts.name } : {}),
            ...(devices ? { devices } : { group: opts.group as string }),
            phases,
            ...(abortWhen ? { abortWhen } : {}),
            ...(opts.silentAfter ? { silentAfter: parseDuration(opts.silentAfter, '--silent-after') } : {}),
            pollInterval: parseDuration(opts.pollInterval, '--poll-interval'),
            ...(opts.state ? { stateFile: opts.state } : {}),
            signal: controller.signal,
          });
          const log = (line: string) => {
            if (!opts.json) process.stderr.write(`${line}\n`);
          };
          rollout.on('phase:start', (e) => {
            log(
              `phase ${e.phase + 1}: deployment ${e.deploymentId} on ${e.devices} devices${e.resumed ? ' (resumed)' : ''}`,
            );
            bar.start(e.devices, 0);
          });
          rollout.on('phase:statistics', (e) => bar.update(e.finished));
          rollout.on('phase:complete', (e) => {
            bar.stop();
            log(
              `phase ${e.phase + 1}: finished (${e.statistics.success ?? 0} succeeded, ${e.statistics.failure ?? 0} failed)`,
            );
          });
          rollout.on('phase:soak', (e) => log(`phase ${e.phase + 1}: soaking until ${e.until}`));
          rollout.on('phase:abort', (e) => {
            bar.stop();
            log(
              `phase ${e.phase + 1}: aborted (${e.reason}, failure rate ${(e.failureRate * 100).toFixed(1)}%)`,
            );
          });
          const result = await rollout;
          if (opts.json) printJson(result.state);
          else out(`rollout ${result.status}${result.reason ? ` (${result.reason})` : ''}`);
          if (result.status === 'aborted') process.exitCode = EXIT.FAILED;
        } finally {
          bar.stop();
          process.removeListener('SIGINT', onSigint);
          await mgmt.close();
        }
      },
    ),
  );
}
