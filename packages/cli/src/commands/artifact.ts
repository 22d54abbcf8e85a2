import type { Command } from 'commander';

/** Registers the artifact commands on the `otakit` program. */
export function registerArtifactCommands(_program: Command): void {}
