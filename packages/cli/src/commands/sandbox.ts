import type { Command } from 'commander';

/** Registers the sandbox commands on the `otakit` program. */
export function registerSandboxCommands(_program: Command): void {}
