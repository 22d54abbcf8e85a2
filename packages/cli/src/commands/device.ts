import type { Command } from 'commander';

/** Registers the device commands on the `otakit` program. */
export function registerDeviceCommands(_program: Command): void {}
