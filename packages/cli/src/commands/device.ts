import { type DeviceKeyType, generateDeviceKey, KeyError, writePrivateKeyFile } from '@otakit/core';
import { type Command, Option } from 'commander';
import { CliError } from '../shared/errors.js';
import { action } from '../shared/failure.js';
import { collect, parseDuration, positiveNumber } from '../shared/flags.js';
import { withCa } from '../shared/network.js';
import { note, out, printJson } from '../shared/output.js';
import type { InstallFlags, RunFlags } from './device-agent.js';

/** Why `--type ed25519` warns. */
export const ED25519_WARNING =
  'warning: Cloud IoT Core refuses Ed25519 keys; this key works with Mender only (ecdsa-p256, the default, works with both)';

const seconds = (flag: string) => (value: string) => positiveNumber(value, flag);

/** `otakit device keygen`: a new device key, never over an existing file unless `--force`. */
async function keygen(opts: {
  type: DeviceKeyType;
  bits?: string;
  out: string;
  force?: boolean;
  json?: boolean;
}): Promise<void> {
  if (opts.bits !== undefined && opts.type !== 'rsa') {
    throw new CliError('ERR_CLI_USAGE', '--bits applies only to --type rsa');
  }
  const bits = opts.bits === undefined ? undefined : positiveNumber(opts.bits, '--bits');
  const key = await generateDeviceKey({ type: opts.type, ...(bits === undefined ? {} : { bits }) });
  try {
    await writePrivateKeyFile(opts.out, key.privateKeyPem, { overwrite: opts.force === true });
  } catch (err) {
    if (err instanceof KeyError && err.code === 'ERR_KEY_EXISTS') {
      throw new CliError(
        'ERR_CLI_KEY_EXISTS',
        `${opts.out} already exists (a device key is the device's identity); pass --force to replace it`,
        { cause: err },
      );
    }
    throw err;
  }
  if (opts.type === 'ed25519') note(ED25519_WARNING);
  if (opts.json) printJson({ type: key.type, path: opts.out, publicKey: key.publicKeyPem });
  else out(key.publicKeyPem);
}

/** Registers `otakit device keygen|run|install`. */
export function register(program: Command): void {
  const device = program
    .command('device')
    .description('the device agent: keys, the update daemon, standalone installs');

  device
    .command('keygen')
    .description('generate a device private key (mode 0600) and print its public key')
    .addOption(
      new Option(
        '--type <type>',
        'key type: ecdsa-p256 works with Mender and IoT Core; ed25519 with Mender only',
      )
        .choices(['ecdsa-p256', 'rsa', 'ed25519'])
        .default('ecdsa-p256'),
    )
    .option('--bits <n>', 'RSA modulus length (default 3072)')
    .requiredOption('--out <file>', 'where to write the private key (PEM); an existing file is refused')
    .option('--force', 'replace an existing key file')
    .option('--json', 'print {type, path, publicKey}')
    .action(action(keygen));

  withCa(
    device
      .command('run')
      .description(
        'run the update agent against a Mender server until SIGTERM; resumes an interrupted update',
      )
      .requiredOption('--server <url>', 'Mender server URL')
      .requiredOption('--key <file>', 'device private key (PEM)')
      .requiredOption('--data-dir <dir>', 'agent state directory')
      .requiredOption('--device-type <type>', 'device type')
      .option('--identity <k=v>', 'identity attribute (repeatable; a repeated key becomes a list)', collect)
      .option('--tenant-token <token>', 'hosted Mender tenant token')
      .option('--installer <spec>', 'simulated:DIR | modules:DIR | rootfs:A,B[,uboot|grub:ENV|file:ENV]')
      .option('--trusted-key <pem>', 'artifact verification public key file (repeatable)', collect)
      .option('--min-version <version>', 'refuse artifacts whose rootfs-image.version is below this')
      .option(
        '--poll-interval <duration>',
        'how often to ask for an update: 30m (default, as the Mender client), or 2s to try things out',
        (v: string) => parseDuration(v, '--poll-interval'),
        1_800_000,
      )
      .addOption(
        new Option('--update-poll <seconds>', 'update poll interval in seconds (prefer --poll-interval)')
          .argParser(seconds('--update-poll'))
          .hideHelp(),
      )
      .option('--inventory-poll <seconds>', 'inventory interval', seconds('--inventory-poll'), 28_800)
      .option('--retry-poll <seconds>', 'largest error backoff', seconds('--retry-poll'), 300)
      .option('--bandwidth <bytesPerSecond>', 'download bandwidth cap', seconds('--bandwidth'))
      .option('--scripts-dir <dir>', 'state scripts on the device (Download_Enter_00 ...)')
      .option(
        '--maintenance-window <HH:MM-HH:MM>',
        'install, reboot and commit only in this daily window (UTC)',
      )
      .option('--download-only', 'download and verify, then hold before install until SIGUSR1')
      .option(
        '--registry <name>',
        'IoT Core registry for telemetry, projects/P/locations/L/registries/R (or OTAKIT_IOT_REGISTRY)',
      )
      .option(
        '--iot-device-id <id>',
        'publish telemetry as this registry device, with the same key (identity defaults to device_id=ID)',
      )
      .option(
        '--iot-mqtt <url>',
        'IoT Core MQTT bridge, e.g. mqtts://mqtt.googleapis.com:8883 (or OTAKIT_IOT_MQTT)',
      )
      .option('--iot-http <url>', 'IoT Core HTTP bridge, used when an MQTT publish fails')
      .option(
        '--telemetry-interval <duration>',
        'how often telemetry is published (default 60s)',
        (v: string) => parseDuration(v, '--telemetry-interval'),
      )
      .option(
        '--telemetry-command <cmd>',
        'a command printing a JSON object of metrics, run for every message',
      )
      .option('--json', 'print each event as one JSON object per line'),
  ).action(
    action(async (opts: RunFlags & { updatePoll?: number }) => {
      const { runAgent } = await import('./device-agent.js');
      const pollInterval = opts.updatePoll === undefined ? opts.pollInterval : opts.updatePoll * 1000;
      await runAgent({ ...opts, pollInterval });
    }),
  );

  device
    .command('install')
    .description('install an artifact file through the update state machine, without a server')
    .argument('<file>', 'the .mender artifact')
    .option('--data-dir <dir>', 'agent state directory', './otakit-data')
    .option('--device-type <type>', 'device type (default: the data dir device_type file)')
    .option('--installer <spec>', 'simulated:DIR | modules:DIR | rootfs:A,B[,uboot|grub:ENV|file:ENV]')
    .option('--trusted-key <pem>', 'artifact verification public key file (repeatable)', collect)
    .option('--json', 'print {updateId, outcome, artifactName, error} (exit 3 when the install failed)')
    .action(
      action(async (file: string, opts: InstallFlags) => {
        const { installFile } = await import('./device-agent.js');
        await installFile(file, opts);
      }),
    );
}
