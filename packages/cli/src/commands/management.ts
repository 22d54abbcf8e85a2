import { readFile } from 'node:fs/promises';
import { finishedCount, ManagementClient, totalCount } from '@otakit/management-client';
import { type Command, Option } from 'commander';
import {
  CliError,
  clientFor,
  configPath,
  readConfig,
  resolveConnection,
  withConnection,
  writeConfig,
} from './management-config.js';
import { action, out, printJson, printTable, progressBar } from './management-output.js';
import { registerRolloutCommand } from './management-rollout.js';

const DEVICE_STATUSES = ['pending', 'accepted', 'rejected', 'preauthorized', 'noauth'];

/** Registers the management commands (login, devices, artifacts, deploy, rollout) on the `otakit` program. */
export function registerManagementCommands(program: Command): void {
  registerLogin(program);
  registerDevices(program);
  registerArtifacts(program);
  registerDeploy(program);
  registerRolloutCommand(program);
}

function registerLogin(program: Command): void {
  withConnection(
    program
      .command('login')
      .description('log in with an email and a password; prints the token (or saves it with --save)')
      .requiredOption('--email <email>', 'user email')
      .option('--password <password>', 'user password (or OTAKIT_PASSWORD)')
      .option('--save', 'store the server and token in the config file (mode 0600) for later calls'),
  ).action(
    action(async (opts: { email: string; password: string; save?: boolean }, cmd: Command) => {
      const { server } = await resolveConnection(cmd);
      const mgmt = new ManagementClient({
        serverUrl: server,
        auth: { email: opts.email, password: opts.password },
      });
      try {
        const token = await mgmt.token();
        if (token === undefined || token === '') throw new CliError('the server returned an empty token');
        if (opts.save) {
          const path = configPath();
          await writeConfig({ ...(await readConfig(path)), server, token }, path);
          out(`logged in; token saved to ${path}`);
        } else {
          out(token);
        }
      } finally {
        await mgmt.close();
      }
    }),
  );
}

/** Runs `fn` with a client for the command and closes it. */
async function withClient<T>(cmd: Command, fn: (mgmt: ManagementClient) => Promise<T>): Promise<T> {
  const mgmt = await clientFor(cmd);
  try {
    return await fn(mgmt);
  } finally {
    await mgmt.close();
  }
}

function parseIdentity(values: string[]): Record<string, string> {
  // Object.fromEntries defines own keys: `--identity __proto__=x` is an attribute like any other.
  return Object.fromEntries(
    values.map((v) => {
      const at = v.indexOf('=');
      if (at <= 0) throw new CliError(`--identity wants key=value, got "${v}"`);
      return [v.slice(0, at), v.slice(at + 1)];
    }),
  );
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function registerDevices(program: Command): void {
  const devices = program
    .command('devices')
    .description('device admission: list, preauthorize, accept, reject');

  withConnection(
    devices
      .command('list')
      .description('list devices (all pages)')
      .addOption(new Option('--status <status>', 'only devices with this status').choices(DEVICE_STATUSES))
      .option('--json', 'print a JSON array'),
  ).action(
    action(async (opts: { status?: 'pending'; json?: boolean }, cmd: Command) => {
      await withClient(cmd, async (mgmt) => {
        const list = mgmt.devices.list({ ...(opts.status ? { status: opts.status } : {}), perPage: 500 });
        if (opts.json) {
          // Streamed element by element: memory stays flat for large fleets.
          let first = true;
          process.stdout.write('[');
          for await (const d of list) {
            process.stdout.write(`${first ? '\n' : ',\n'}  ${JSON.stringify(d)}`);
            first = false;
          }
          process.stdout.write(first ? ']\n' : '\n]\n');
          return;
        }
        const rows: Array<Array<string | undefined>> = [];
        for await (const d of list) {
          rows.push([d.id, d.status, JSON.stringify(d.identity_data ?? {}), d.created_ts]);
        }
        printTable(['ID', 'STATUS', 'IDENTITY', 'CREATED'], rows);
      });
    }),
  );

  withConnection(
    devices
      .command('preauthorize')
      .description('preauthorize a device identity and public key')
      .requiredOption('--identity <key=value>', 'identity attribute (repeatable)', collect)
      .requiredOption('--pubkey <file>', 'the device public key, PEM')
      .option('--if-exists', 'succeed with the existing device when the identity is already known')
      .option('--json', 'print a JSON object'),
  ).action(
    action(
      async (
        opts: { identity: string[]; pubkey: string; ifExists?: boolean; json?: boolean },
        cmd: Command,
      ) => {
        const identity = parseIdentity(opts.identity);
        let pubkey: string;
        try {
          pubkey = await readFile(opts.pubkey, 'utf8');
        } catch (err) {
          throw new CliError(`cannot read --pubkey ${opts.pubkey}: ${(err as Error).message}`);
        }
        await withClient(cmd, async (mgmt) => {
          const r = await mgmt.devices.preauthorize(
            { identity, pubkey },
            { ifExists: opts.ifExists ? 'return' : 'throw' },
          );
          if (opts.json) printJson({ id: r.id, created: r.created });
          else out(r.id);
        });
      },
    ),
  );

  const statusCommand = (name: 'accept' | 'reject' | 'decommission', description: string): void => {
    withConnection(
      devices.command(`${name} <deviceId>`).description(description).option('--json', 'print a JSON object'),
    ).action(
      action(async (deviceId: string, opts: { json?: boolean }, cmd: Command) => {
        await withClient(cmd, async (mgmt) => {
          await mgmt.devices[name](deviceId);
          if (opts.json) printJson({ id: deviceId, action: name, ok: true });
          else out(`${deviceId}: ${name === 'decommission' ? 'decommissioned' : `${name}ed`}`);
        });
      }),
    );
  };
  statusCommand('accept', 'accept a device (its pending auth set)');
  statusCommand('reject', 'reject a device');
  statusCommand('decommission', 'decommission a device');
}

function registerArtifacts(program: Command): void {
  const artifacts = program.command('artifacts').description('artifacts on the server: upload, list');

  withConnection(
    artifacts
      .command('upload <file>')
      .description('upload an artifact (streamed; progress bar on a terminal)')
      .option('--description <text>', 'artifact description')
      .option('--json', 'print a JSON object'),
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
        const onSigint = () => upload.abort(new CliError('upload interrupted', 130));
        process.once('SIGINT', onSigint);
        try {
          const { id } = await upload.then(
            (v) => v,
            (err: unknown) => {
              if ((err as { code?: string }).code === 'ENOENT') throw new CliError(`cannot read ${file}`);
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

function registerDeploy(program: Command): void {
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
        if (targets.length !== 1) throw new CliError('pass exactly one of --devices, --group, --all');
        const devices = opts.devices
          ?.split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
        if (devices !== undefined && devices.length === 0) throw new CliError('--devices is empty');
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
      .description('wait until a deployment finishes (exit 3 when devices failed)')
      .option('--interval <ms>', 'first poll interval in ms', '1000')
      .option('--timeout <ms>', 'give up after this many ms')
      .option('--json', 'print the final deployment and statistics as a JSON object'),
  ).action(
    action(async (id: string, opts: { interval: string; timeout?: string; json?: boolean }, cmd: Command) => {
      const interval = positiveNumber(opts.interval, '--interval');
      const timeout = opts.timeout === undefined ? undefined : positiveNumber(opts.timeout, '--timeout');
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
            throw new CliError(`deployment ${id} did not finish within ${timeout} ms`, 4);
          }
          throw err;
        } finally {
          bar.stop();
        }
        const failed = final.statistics.failure ?? 0;
        if (opts.json) printJson({ ...final.deployment, statistics: final.statistics });
        else out(`${id}: finished, ${final.statistics.success ?? 0} succeeded, ${failed} failed`);
        if (failed > 0) process.exitCode = 3;
      });
    }),
  );
}

/** Parses a positive number of a flag. */
export function positiveNumber(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new CliError(`${flag} wants a positive number, got "${value}"`);
  return n;
}
