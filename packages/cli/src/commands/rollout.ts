import { readFile } from 'node:fs/promises';
import {
  type GateDecision,
  type ReleaseGate,
  type RolloutPhase,
  telemetryDeviceIds,
} from '@otakit/management-client';
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

/**
 * The gate decisions as a table: one row per gate with the cohorts' numbers.
 * @internal
 */
export function gateTable(phase: number, decisions: readonly GateDecision[]): string {
  const n = (v: number | undefined) =>
    v === undefined ? '-' : Number.isInteger(v) ? String(v) : v.toFixed(3);
  const rows = decisions.map((d) => [
    `phase ${phase + 1}`,
    d.gate,
    d.verdict,
    `${n(d.updated.value)} (${d.updated.samples})`,
    d.baseline ? `${n(d.baseline.value)} (${d.baseline.samples})` : '-',
    n(d.limit),
  ]);
  const head = ['PHASE', 'GATE', 'VERDICT', 'UPDATED (N)', 'BASELINE (N)', 'LIMIT'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [head, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
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
      .option(
        '--gate <spec>',
        "a release health gate metric:stat:rule, e.g. 'cpu_temp:p95:+10%' or 'errors:rate:<0.01' (optionally @minSamples); repeatable",
        collect,
      )
      .option('--telemetry-url <url>', "the telemetry read API the gates read (e.g. the sandbox's)")
      .option(
        '--telemetry-token <token>',
        'bearer token of the telemetry read API (or OTAKIT_TELEMETRY_TOKEN)',
      )
      .option(
        '--baseline-group <group>',
        'compare with this static group (a control group) instead of the devices not yet updated',
      )
      .option('--rollback', 'on a regression, deploy back to each updated device the release it ran before')
      .option('--gate-timeout <duration>', 'how long a phase may wait for enough samples past its soak', '5m')
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
          gate?: string[];
          telemetryUrl?: string;
          telemetryToken?: string;
          baselineGroup?: string;
          rollback?: boolean;
          gateTimeout: string;
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
        let gates: ReleaseGate[] | undefined;
        if (opts.gate !== undefined && opts.gate.length > 0) {
          const { parseGate } = await import('@otakit/management-client');
          gates = opts.gate.map((g) => {
            try {
              return parseGate(g);
            } catch (err) {
              throw usageError(`--gate: ${(err as Error).message}`);
            }
          });
          if (opts.telemetryUrl === undefined)
            throw usageError('--gate needs --telemetry-url (where the telemetry is read)');
          if (phases.slice(0, -1).some((p) => !(p.soak && p.soak > 0))) {
            throw usageError(
              'with --gate every phase but the last needs a soak window, e.g. --phase 10%:10m',
            );
          }
        } else if (opts.rollback) {
          throw usageError('--rollback needs at least one --gate');
        }
        const mgmt = await clientFor(cmd);
        let telemetry: { close(): Promise<void> } | undefined;
        let health: import('@otakit/management-client').ReleaseHealthSource | undefined;
        let baselineDevices: string[] | undefined;
        if (gates) {
          const { TelemetryHttpClient, releaseHealthSource } = await import('@otakit/telemetry');
          const token = opts.telemetryToken ?? process.env.OTAKIT_TELEMETRY_TOKEN;
          const client = new TelemetryHttpClient({
            baseUrl: opts.telemetryUrl as string,
            ...(token ? { auth: () => token } : {}),
          });
          telemetry = client;
          health = releaseHealthSource(client, { deviceIdsOf: telemetryDeviceIds(mgmt.devices) });
          if (opts.baselineGroup) {
            baselineDevices = [];
            for await (const id of mgmt.inventory.groups.devices(opts.baselineGroup))
              baselineDevices.push(id);
          }
        }
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
            ...(gates && health
              ? {
                  gates,
                  health,
                  onRegression: opts.rollback ? ('abort-and-rollback' as const) : ('abort' as const),
                  gateTimeout: parseDuration(opts.gateTimeout, '--gate-timeout'),
                  ...(baselineDevices ? { baselineDevices } : {}),
                }
              : {}),
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
          rollout.on('gate:decision', (e) => {
            log(`phase ${e.phase + 1}: gates say ${e.verdict}`);
            log(gateTable(e.phase, e.decisions));
          });
          rollout.on('rollback:start', (e) =>
            log(
              `rollback: ${e.deployments.map((d) => `${d.devices} devices back to ${d.artifactName} (deployment ${d.deploymentId})`).join('; ')}`,
            ),
          );
          rollout.on('rollback:complete', (e) => log(`rollback ${e.status}`));
          const result = await rollout;
          if (opts.json) printJson(result.state);
          else out(`rollout ${result.status}${result.reason ? ` (${result.reason})` : ''}`);
          if (result.status === 'aborted') process.exitCode = EXIT.FAILED;
        } finally {
          bar.stop();
          process.removeListener('SIGINT', onSigint);
          await mgmt.close();
          await telemetry?.close();
        }
      },
    ),
  );
}
