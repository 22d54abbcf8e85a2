import { readFile } from 'node:fs/promises';
import type {
  Device,
  RegistryClient,
  RemovalPolicy,
  ServiceAccountKey,
  SyncReport,
} from '@otakit/iot-core-adapter';
import type { Command } from 'commander';
import { clientFor, USER_AGENT, withConnection } from '../shared/connection.js';
import { CliError, usageError } from '../shared/errors.js';
import { EXIT } from '../shared/exit-codes.js';
import { action } from '../shared/failure.js';
import { parseRegistryName } from '../shared/flags.js';
import { transportOptions, withCa } from '../shared/network.js';
import { out, printJson, printTable } from '../shared/output.js';

/** The adapter, loaded when an action runs (never for `--help`). */
const adapter = () => import('@otakit/iot-core-adapter');

interface IotFlags {
  ca?: string;
  iotUrl?: string;
  iotToken?: string;
  registry?: string;
  serviceAccount?: string;
  json?: boolean;
}

/** Adds the data-plane connection flags to a command. */
function withIotConnection(cmd: Command, ca = true): Command {
  return (ca ? withCa(cmd) : cmd)
    .option('--iot-url <url>', 'IoT Core-compatible API root (or OTAKIT_IOT_URL; default Google)')
    .option('--iot-token <token>', 'bearer token for the device manager API (or OTAKIT_IOT_TOKEN)')
    .option('--service-account <file>', 'a Google service-account JSON key instead of a token')
    .option('--registry <name>', 'projects/P/locations/L/registries/R (or OTAKIT_IOT_REGISTRY)')
    .option('--json', 'print JSON');
}

/** The registry client for a command: flags, then environment. */
export async function registryFor(cmd: Command): Promise<RegistryClient> {
  const o = cmd.optsWithGlobals<IotFlags>();
  const name = o.registry ?? process.env.OTAKIT_IOT_REGISTRY;
  if (!name) {
    throw usageError(
      'no registry: pass --registry projects/P/locations/L/registries/R or set OTAKIT_IOT_REGISTRY',
    );
  }
  const { project, location, registry } = parseRegistryName(name, '--registry');
  const { RegistryClient, serviceAccountAuth } = await adapter();
  let auth: string | (() => Promise<string>);
  if (o.serviceAccount) {
    let key: ServiceAccountKey;
    try {
      key = JSON.parse(await readFile(o.serviceAccount, 'utf8')) as ServiceAccountKey;
    } catch (cause) {
      const why = (cause as Error).message;
      throw new CliError('ERR_CLI_FILE', `cannot read --service-account ${o.serviceAccount}: ${why}`, {
        cause,
      });
    }
    auth = serviceAccountAuth(key);
  } else {
    const token = o.iotToken ?? process.env.OTAKIT_IOT_TOKEN;
    if (!token) throw usageError('no IoT token: pass --iot-token, --service-account or set OTAKIT_IOT_TOKEN');
    auth = token;
  }
  const baseUrl = o.iotUrl ?? process.env.OTAKIT_IOT_URL;
  const transport = await transportOptions(o.ca);
  return new RegistryClient({
    project,
    location,
    registry,
    auth,
    userAgent: USER_AGENT,
    ...transport,
    ...(baseUrl ? { baseUrl } : {}),
  });
}

async function withRegistry<T>(cmd: Command, fn: (r: RegistryClient) => Promise<T>): Promise<T> {
  const registry = await registryFor(cmd);
  try {
    return await fn(registry);
  } catch (err) {
    // The registry's own words ("Device dev-b already exists") say more than the HTTP status.
    const { rpcMessageOf, rpcStatusOf } = await adapter();
    const status = rpcStatusOf(err);
    const message = rpcMessageOf(err);
    if (status !== undefined && message !== undefined) {
      throw new CliError('ERR_CLI_FAILED', `registry: ${status}: ${message}`, {
        exitCode: EXIT.UNAVAILABLE,
        cause: err,
      });
    }
    throw err;
  } finally {
    await registry.close();
  }
}

/** A device as the CLI prints it. */
function deviceRow(d: Device) {
  return {
    id: d.id,
    numId: d.numId,
    blocked: d.blocked === true,
    credentials: d.credentials?.length ?? 0,
    lastEventTime: d.lastEventTime,
    lastStateTime: d.lastStateTime,
  };
}

/** Registers `otakit iot devices …` and `otakit iot sync` on the program. */
export function register(program: Command): void {
  const iot = program
    .command('iot')
    .description(
      'the data plane: a Cloud IoT Core-compatible registry, joined to Mender with the same device keys',
    );
  const devices = iot.command('devices').description('devices in the registry');

  withIotConnection(
    devices
      .command('create <id>')
      .description('creates a device whose credential is the public half of the given key')
      .requiredOption(
        '--public-key <file>',
        'a public key PEM, or the device private key (only its public half is sent)',
      )
      .option('--blocked', 'create it blocked'),
  ).action(
    action(
      async (id: string, opts: { publicKey: string; blocked?: boolean; json?: boolean }, cmd: Command) => {
        const { toDeviceCredential } = await adapter();
        let credential: ReturnType<typeof toDeviceCredential>;
        try {
          credential = toDeviceCredential(await readFile(opts.publicKey));
        } catch (cause) {
          throw new CliError('ERR_CLI_FILE', `${opts.publicKey}: ${(cause as Error).message}`, { cause });
        }
        const created = await withRegistry(cmd, (r) =>
          r.devices.create({ id, credentials: [credential], ...(opts.blocked ? { blocked: true } : {}) }),
        );
        if (opts.json) printJson(created);
        else out(`created ${created.id} (numId ${created.numId})`);
      },
    ),
  );

  withIotConnection(devices.command('list').description('lists the registry devices')).action(
    action(async (opts: { json?: boolean }, cmd: Command) => {
      const rows: ReturnType<typeof deviceRow>[] = [];
      await withRegistry(cmd, async (r) => {
        for await (const d of r.devices.list({
          fieldMask: ['credentials', 'blocked', 'last_event_time', 'last_state_time'],
        })) {
          rows.push(deviceRow(d));
        }
      });
      if (opts.json) printJson(rows);
      else
        printTable(
          ['ID', 'NUM ID', 'BLOCKED', 'KEYS', 'LAST EVENT'],
          rows.map((d) => [d.id, d.numId, d.blocked ? 'yes' : 'no', d.credentials, d.lastEventTime]),
        );
    }),
  );

  withIotConnection(devices.command('get <id>').description('shows one device')).action(
    action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const d = await withRegistry(cmd, (r) => r.devices.get(id));
      if (opts.json) printJson(d);
      else for (const [k, v] of Object.entries(deviceRow(d))) out(`${k}: ${v ?? ''}`);
    }),
  );

  for (const [verb, blocked] of [
    ['block', true],
    ['unblock', false],
  ] as const) {
    withIotConnection(
      devices
        .command(`${verb} <id>`)
        .description(`${verb}s a device (its connections are ${blocked ? 'refused' : 'allowed'})`),
    ).action(
      action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
        const d = await withRegistry(cmd, (r) => r.devices.patch(id, { blocked }));
        if (opts.json) printJson(d);
        else out(`${id} ${blocked ? 'blocked' : 'unblocked'}`);
      }),
    );
  }

  withIotConnection(devices.command('delete <id>').description('deletes a device from the registry')).action(
    action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      await withRegistry(cmd, (r) => r.devices.delete(id));
      if (opts.json) printJson({ deleted: id });
      else out(`deleted ${id}`);
    }),
  );

  // withConnection adds the Mender flags and --ca, which the registry client honours too.
  withConnection(
    withIotConnection(
      iot
        .command('sync')
        .description(
          'preauthorizes every registry device in Mender with the same key, idempotently, following key rotation, blocked and deleted devices',
        )
        .option('--watch', 'keep syncing every --interval seconds until interrupted')
        .option('--interval <seconds>', 'seconds between runs with --watch', '30')
        .option('--dry-run', 'report the changes without making them')
        .option('--on-blocked <policy>', 'reject | decommission | skip', 'reject')
        .option('--on-deleted <policy>', 'reject | decommission | skip', 'decommission'),
      false,
    ),
  ).action(
    action(
      async (
        opts: {
          watch?: boolean;
          interval: string;
          dryRun?: boolean;
          onBlocked: string;
          onDeleted: string;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        const interval = Number(opts.interval);
        if (!(interval > 0))
          throw usageError(`--interval wants a positive number of seconds, got "${opts.interval}"`);
        const policy = (name: string, v: string): RemovalPolicy => {
          if (v === 'reject' || v === 'decommission' || v === 'skip') return v;
          throw usageError(`--${name} wants reject, decommission or skip, got "${v}"`);
        };
        const onBlocked = policy('on-blocked', opts.onBlocked);
        const onDeleted = policy('on-deleted', opts.onDeleted);
        const { menderAdmission, preauthorizeFromRegistry } = await adapter();
        const registry = await registryFor(cmd);
        const mgmt = await clientFor(cmd);
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          for (;;) {
            const report = await preauthorizeFromRegistry({
              registry,
              mender: menderAdmission(mgmt),
              onBlocked,
              onDeleted,
              signal: stop.signal,
              ...(opts.dryRun ? { dryRun: true } : {}),
            });
            printReport(report, opts.json === true);
            if (!opts.watch || stop.signal.aborted) break;
            await new Promise<void>((resolve) => {
              const t = setTimeout(resolve, interval * 1000);
              stop.signal.addEventListener('abort', () => {
                clearTimeout(t);
                resolve();
              });
            });
            if (stop.signal.aborted) break;
          }
        } catch (err) {
          if (!stop.signal.aborted) throw err;
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          await registry.close();
          await mgmt.close();
        }
      },
    ),
  );
}

function printReport(report: SyncReport, json: boolean): void {
  if (json) {
    const errorText = (e: unknown) =>
      e instanceof Error ? e.message : e === undefined ? undefined : String(e);
    out(
      JSON.stringify({
        ...report,
        devices: report.devices.map((d) => ({ ...d, error: errorText(d.error) })),
      }),
    );
    return;
  }
  for (const d of report.devices) {
    if (d.changes.length === 0 && d.outcome !== 'failed') continue;
    const what = d.changes.map((c) => c.type).join(', ');
    const error = d.error instanceof Error ? d.error.message : d.error;
    out(
      `${d.deviceId ?? JSON.stringify(d.identity)}: ${d.outcome}${what ? ` (${what})` : ''}${error ? `: ${String(error)}` : ''}`,
    );
  }
  out(
    Object.entries(report.counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', '),
  );
}
