import { type Command, Option } from 'commander';
import { withClient, withConnection } from '../shared/connection.js';
import { action } from '../shared/failure.js';
import { collect, parseIdentity } from '../shared/flags.js';
import { readPublicKeyFile } from '../shared/keys.js';
import { out, printJson, printTable } from '../shared/output.js';

const DEVICE_STATUSES = ['pending', 'accepted', 'rejected', 'preauthorized', 'noauth'];

/** Registers `otakit devices list|preauthorize|accept|reject|decommission`. */
export function register(program: Command): void {
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
      .description('preauthorize a device identity and public key; prints the device id')
      .requiredOption(
        '--identity <key=value>',
        'identity attribute (repeatable; a repeated key becomes a list)',
        collect,
      )
      .requiredOption('--pubkey <file>', 'the device public key, PEM (a private key is refused, never sent)')
      .option('--if-exists', 'succeed with the existing device when the identity is already known')
      .option('--json', 'print {id, created}'),
  ).action(
    action(
      async (
        opts: { identity: string[]; pubkey: string; ifExists?: boolean; json?: boolean },
        cmd: Command,
      ) => {
        const identity = parseIdentity(opts.identity);
        const pubkey = await readPublicKeyFile(opts.pubkey, '--pubkey');
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
