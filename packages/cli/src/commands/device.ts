import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  type DeviceKeyType,
  generateDeviceKey,
  OtakitError,
  readPrivateKeyFile,
  writePrivateKeyFile,
} from '@otakit/core';
import {
  type Bootloader,
  DeviceClient,
  type DeviceClientOptions,
  type DeviceIdentity,
  DualRootfsInstaller,
  FileBootloader,
  GrubBootloader,
  type Installer,
  ProvidesStore,
  SimulatedInstaller,
  UBootBootloader,
  UpdateModuleInstaller,
} from '@otakit/device-client';
import { type Command, CommanderError, Option } from 'commander';

/** A user error of the device commands (bad flag value, unreadable file). */
class DeviceCliError extends OtakitError {}

function fail(command: Command, err: unknown): never {
  if (err instanceof CommanderError) throw err;
  if (err instanceof OtakitError)
    command.error(`otakit: ${err.code}: ${err.message}`, { exitCode: 1, code: err.code });
  const message = err instanceof Error ? err.message : String(err);
  command.error(`otakit: ERR_CLI: ${message}`, { exitCode: 1, code: 'ERR_CLI' });
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Parses `k=v` pairs; a repeated key becomes an array (as Mender's identity scripts). @internal */
export function parseIdentity(pairs: string[]): DeviceIdentity {
  // A Map, then Object.fromEntries: `__proto__`, `constructor` and `prototype` are ordinary keys.
  const values = new Map<string, string[]>();
  for (const pair of pairs) {
    const i = pair.indexOf('=');
    if (i <= 0)
      throw new DeviceCliError('ERR_CLI_USAGE', `--identity expects key=value, got ${JSON.stringify(pair)}`);
    const key = pair.slice(0, i);
    values.set(key, [...(values.get(key) ?? []), pair.slice(i + 1)]);
  }
  return Object.fromEntries([...values].map(([k, v]) => [k, v.length === 1 ? (v[0] as string) : v]));
}

/**
 * Builds the installer of `--installer`: `simulated:DIR`, `modules:DIR` (Mender update modules),
 * or `rootfs:PART_A,PART_B[,uboot|grub:ENVFILE|file:ENVFILE]`.
 * @internal
 */
export function parseInstaller(spec: string): Installer {
  const i = spec.indexOf(':');
  const kind = i === -1 ? spec : spec.slice(0, i);
  const arg = i === -1 ? '' : spec.slice(i + 1);
  if (kind === 'simulated' && arg) return new SimulatedInstaller({ dir: resolve(arg) });
  if (kind === 'modules' && arg) return new UpdateModuleInstaller({ modulesDir: resolve(arg) });
  if (kind === 'rootfs') {
    const [a, b, boot = 'uboot'] = arg.split(',');
    if (a && b) {
      let bootloader: Bootloader;
      if (boot === 'uboot') bootloader = new UBootBootloader();
      else if (boot.startsWith('grub:')) bootloader = new GrubBootloader({ envFile: boot.slice(5) });
      else if (boot.startsWith('file:')) bootloader = new FileBootloader({ file: boot.slice(5) });
      else
        throw new DeviceCliError(
          'ERR_CLI_USAGE',
          `unknown bootloader ${boot} (uboot, grub:ENVFILE, file:ENVFILE)`,
        );
      return new DualRootfsInstaller({ partitions: { a, b }, bootloader });
    }
  }
  throw new DeviceCliError(
    'ERR_CLI_USAGE',
    `--installer must be simulated:DIR, modules:DIR or rootfs:PART_A,PART_B[,uboot|grub:ENV|file:ENV], got ${spec}`,
  );
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new DeviceCliError('ERR_CLI_USAGE', `expected a positive number of seconds, got ${value}`);
  return n;
}

function stamp(): string {
  return new Date().toISOString();
}

/** Prints the agent's events, one line each. */
function logEvents(client: DeviceClient, print: (line: string) => void): void {
  let lastTenth = -1;
  client.events.on('auth:pending', (e) =>
    print(`device pending acceptance; retrying in ${Math.round(e.retryInMs / 1000)} s`),
  );
  client.events.on('auth:accepted', () => print('authenticated'));
  client.events.on('inventory:sent', () => print('inventory sent'));
  client.events.on('update:check', (e) =>
    print(e.deploymentId ? `deployment ${e.deploymentId}: ${e.artifactName}` : 'no update'),
  );
  client.events.on('update:start', (e) => {
    lastTenth = -1;
    print(`${e.resumed ? 'resuming' : 'starting'} update ${e.updateId}`);
  });
  client.events.on('state:enter', (e) => print(`state ${e.state}`));
  client.events.on('deployment:status', (e) =>
    print(`status ${e.status}${e.error ? ` not sent: ${e.error}` : ''}`),
  );
  client.events.on('download:progress', (e) => {
    if (!e.totalBytes) return;
    const tenth = Math.floor((e.bytes / e.totalBytes) * 10);
    if (tenth !== lastTenth) {
      lastTenth = tenth;
      print(`download ${tenth * 10} % (${e.bytes}/${e.totalBytes} bytes)`);
    }
  });
  client.events.on('download:retry', (e) =>
    print(`download: ${e.reason}; resuming at ${e.offset} in ${e.delayMs} ms`),
  );
  client.events.on('update:paused', (e) => print(`paused ${e.point}: ${e.reason}`));
  client.events.on('health:result', (e) =>
    print(`health ${e.results.map((r) => `${r.name}=${r.ok ? 'ok' : `failed (${r.error})`}`).join(' ')}`),
  );
  client.events.on('update:done', (e) =>
    print(`update ${e.updateId} ${e.outcome}${e.error ? `: ${e.error}` : ''}`),
  );
  client.events.on('agent:error', (e) =>
    print(`error: ${e.error instanceof Error ? e.error.message : String(e.error)}`),
  );
}

/** Registers the device commands on the `otakit` program. */
export function registerDeviceCommands(program: Command): void {
  const device = program
    .command('device')
    .description('the device agent: keys, the update daemon, standalone installs');

  device
    .command('keygen')
    .description('generate a device private key (mode 0600) and print its public key')
    .addOption(
      new Option('--type <type>', 'key type').choices(['rsa', 'ecdsa-p256', 'ed25519']).default('ed25519'),
    )
    .requiredOption('--out <file>', 'where to write the private key (PEM)')
    .action(async (opts: { type: DeviceKeyType; out: string }, command: Command) => {
      try {
        const key = await generateDeviceKey({ type: opts.type });
        await writePrivateKeyFile(opts.out, key.privateKeyPem);
        process.stdout.write(key.publicKeyPem.endsWith('\n') ? key.publicKeyPem : `${key.publicKeyPem}\n`);
      } catch (err) {
        fail(command, err);
      }
    });

  device
    .command('run')
    .description('run the update agent against a Mender server until SIGTERM; resumes an interrupted update')
    .requiredOption('--server <url>', 'Mender server URL')
    .requiredOption('--key <file>', 'device private key (PEM)')
    .requiredOption('--data-dir <dir>', 'agent state directory')
    .requiredOption('--device-type <type>', 'device type')
    .option('--identity <k=v...>', 'identity attributes (repeat a key for a list)')
    .option('--tenant-token <token>', 'hosted Mender tenant token')
    .option('--installer <spec>', 'simulated:DIR | modules:DIR | rootfs:A,B[,uboot|grub:ENV|file:ENV]')
    .option('--trusted-key <pem>', 'artifact verification public key (repeatable)', collect)
    .option('--min-version <version>', 'refuse artifacts whose rootfs-image.version is below this')
    .option('--update-poll <seconds>', 'update poll interval', seconds, 1800)
    .option('--inventory-poll <seconds>', 'inventory interval', seconds, 28_800)
    .option('--retry-poll <seconds>', 'largest error backoff', seconds, 300)
    .option('--bandwidth <bytesPerSecond>', 'download bandwidth cap', (v) => seconds(v))
    .option('--scripts-dir <dir>', 'state scripts on the device (Download_Enter_00 ...)')
    .option(
      '--maintenance-window <HH:MM-HH:MM>',
      'install, reboot and commit only in this daily window (UTC)',
    )
    .option('--download-only', 'download and verify, then hold before install until SIGUSR1')
    .action(async (opts: RunFlags, command: Command) => {
      try {
        await runAgent(opts);
      } catch (err) {
        fail(command, err);
      }
    });

  device
    .command('install')
    .description('install an artifact file through the update state machine, without a server')
    .argument('<file>', 'the .mender artifact')
    .option('--data-dir <dir>', 'agent state directory', './otakit-data')
    .option('--device-type <type>', 'device type (default: the data dir device_type file)')
    .option('--installer <spec>', 'simulated:DIR | modules:DIR | rootfs:A,B[,uboot|grub:ENV|file:ENV]')
    .option('--trusted-key <pem>', 'artifact verification public key (repeatable)', collect)
    .action(async (file: string, opts: InstallFlags, command: Command) => {
      try {
        const code = await installFile(file, opts);
        if (code !== 0) process.exitCode = code;
      } catch (err) {
        fail(command, err);
      }
    });
}

interface RunFlags {
  server: string;
  key: string;
  dataDir: string;
  deviceType: string;
  identity?: string[];
  tenantToken?: string;
  installer?: string;
  trustedKey?: string[];
  minVersion?: string;
  updatePoll: number;
  inventoryPoll: number;
  retryPoll: number;
  bandwidth?: number;
  scriptsDir?: string;
  maintenanceWindow?: string;
  downloadOnly?: boolean;
}

/** Parses `HH:MM-HH:MM` (UTC). @internal */
export function parseWindow(value: string): { start: string; end: string; utc: true } {
  const m = /^(\d{1,2}:\d{2})-(\d{1,2}:\d{2})$/.exec(value);
  if (!m) throw new DeviceCliError('ERR_CLI_USAGE', `--maintenance-window expects HH:MM-HH:MM, got ${value}`);
  return { start: m[1]!, end: m[2]!, utc: true };
}

interface InstallFlags {
  dataDir: string;
  deviceType?: string;
  installer?: string;
  trustedKey?: string[];
}

async function trustedKeys(paths: string[] | undefined): Promise<string[] | undefined> {
  if (!paths?.length) return undefined;
  return Promise.all(paths.map((p) => readFile(p, 'utf8')));
}

async function runAgent(opts: RunFlags): Promise<void> {
  const dataDir = resolve(opts.dataDir);
  const identity = parseIdentity(opts.identity ?? []);
  if (Object.keys(identity).length === 0)
    throw new DeviceCliError('ERR_CLI_USAGE', 'give at least one --identity k=v');
  const keys = await trustedKeys(opts.trustedKey);
  const options: DeviceClientOptions = {
    serverUrl: opts.server,
    privateKey: await readPrivateKeyFile(opts.key),
    identity,
    deviceType: opts.deviceType,
    dataDir,
    installers: [parseInstaller(opts.installer ?? `simulated:${join(dataDir, 'device')}`)],
    poll: {
      updateIntervalMs: opts.updatePoll * 1000,
      inventoryIntervalMs: opts.inventoryPoll * 1000,
      retry: { baseDelayMs: Math.min(60, opts.retryPoll) * 1000, maxDelayMs: opts.retryPoll * 1000 },
    },
    ...(opts.tenantToken ? { tenantToken: opts.tenantToken } : {}),
    policy: {
      ...(keys ? { trustedKeys: keys } : {}),
      ...(opts.minVersion ? { minVersion: opts.minVersion } : {}),
    },
    ...(opts.bandwidth ? { download: { bytesPerSecond: opts.bandwidth } } : {}),
    ...(opts.scriptsDir ? { stateScripts: { scriptsDir: resolve(opts.scriptsDir) } } : {}),
    pause: {
      ...(opts.maintenanceWindow ? { maintenanceWindow: parseWindow(opts.maintenanceWindow) } : {}),
      ...(opts.downloadOnly ? { downloadOnly: true } : {}),
    },
  };
  const client = new DeviceClient(options);
  const print = (line: string) => process.stdout.write(`${stamp()} ${line}\n`);
  logEvents(client, print);
  const ac = new AbortController();
  const stop = (signal: string) => {
    print(`${signal}: stopping`);
    ac.abort();
  };
  const onTerm = () => stop('SIGTERM');
  const onInt = () => stop('SIGINT');
  const onUsr1 = () => {
    print('SIGUSR1: proceeding with held updates');
    client.proceed();
  };
  process.once('SIGTERM', onTerm);
  process.once('SIGINT', onInt);
  process.on('SIGUSR1', onUsr1);
  print(`agent started: server ${opts.server}, data dir ${dataDir}`);
  try {
    await client.run({ signal: ac.signal });
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    process.off('SIGUSR1', onUsr1);
    await client.close();
  }
  print('agent stopped');
}

async function installFile(file: string, opts: InstallFlags): Promise<number> {
  const dataDir = resolve(opts.dataDir);
  const deviceType = opts.deviceType ?? (await new ProvidesStore(dataDir).readDeviceType());
  if (!deviceType) {
    throw new DeviceCliError('ERR_CLI_USAGE', `no --device-type given and no device_type file in ${dataDir}`);
  }
  const keys = await trustedKeys(opts.trustedKey);
  const client = new DeviceClient({
    deviceType,
    dataDir,
    installers: [parseInstaller(opts.installer ?? `simulated:${join(dataDir, 'device')}`)],
    ...(keys ? { policy: { trustedKeys: keys } } : {}),
  });
  const print = (line: string) => process.stdout.write(`${stamp()} ${line}\n`);
  logEvents(client, print);
  try {
    const pending = await client.resume();
    if (pending) print(`finished the interrupted update ${pending.updateId}: ${pending.outcome}`);
    const result = await client.installFromFile(file);
    return result.outcome === 'success' ? 0 : 1;
  } finally {
    await client.close();
  }
}
