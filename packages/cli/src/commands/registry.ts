/**
 * The command groups of `otakit`: one file per group, loaded only when its group runs.
 *
 * To add a group (say `otakit iot ...`): write `commands/iot.ts` exporting
 * `register(program: Command): void`, which adds the `iot` command and its subcommands to the
 * program, importing heavy dependencies inside actions (`await import(...)`) when `--help` does not
 * need them; then add one entry here. `otakit --help` lists the group from this table without
 * loading it.
 */
import type { Command } from 'commander';

/** What a command group's module exports. */
export interface CommandModule {
  /** Adds the group's top-level command (named as in {@link CommandGroup.name}) to the program. */
  register(program: Command): void;
}

/** One top-level command of `otakit`. */
export interface CommandGroup {
  /** The top-level command name (`otakit NAME ...`). */
  name: string;
  /** The one line `otakit --help` prints for it. */
  summary: string;
  /** Loads the module that registers it. */
  load(): Promise<CommandModule>;
}

/** Every top-level command, in the order `otakit --help` lists them. */
export const COMMAND_GROUPS: readonly CommandGroup[] = [
  {
    name: 'artifact',
    summary: 'read, validate, write and sign Mender Artifacts (flags as in mender-artifact)',
    load: () => import('./artifact.js'),
  },
  {
    name: 'login',
    summary: 'log in with an email and a password; prints the token (or saves it with --save)',
    load: () => import('./login.js'),
  },
  {
    name: 'devices',
    summary: 'device admission: list, preauthorize, accept, reject',
    load: () => import('./devices.js'),
  },
  {
    name: 'artifacts',
    summary: 'artifacts on the server: upload, list',
    load: () => import('./artifacts.js'),
  },
  {
    name: 'deploy',
    summary: 'deployments: create, status, abort, wait',
    load: () => import('./deploy.js'),
  },
  {
    name: 'rollout',
    summary: 'health-gated phased rollout: one deployment per phase',
    load: () => import('./rollout.js'),
  },
  {
    name: 'device',
    summary: 'the device agent: keys, the update daemon, standalone installs',
    load: () => import('./device.js'),
  },
  {
    name: 'iot',
    summary: 'the data plane: an IoT Core-compatible registry, synced into Mender with the same keys',
    load: () => import('./iot.js'),
  },
  {
    name: 'telemetry',
    summary: 'the telemetry store: query it, or ingest Pub/Sub push deliveries into it',
    load: () => import('./telemetry.js'),
  },
  {
    name: 'dashboard',
    summary: 'the live fleet page over both planes (devices, releases, deployments, telemetry, rollouts)',
    load: () => import('./dashboard.js'),
  },
  {
    name: 'sandbox',
    summary: 'a local Mender-compatible server for trying things out',
    load: () => import('./sandbox.js'),
  },
];
