import type { Command } from 'commander';

/** Registers the management commands on the `otakit` program. */
export function registerManagementCommands(_program: Command): void {}
