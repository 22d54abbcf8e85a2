/** The saved login (`otakit login --save`). */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** What `otakit login --save` stores. */
export interface SavedConfig {
  server?: string;
  token?: string;
}

/** The config file: `$OTAKIT_CONFIG`, else `$XDG_CONFIG_HOME/otakit/config.json`, else `~/.config/otakit/config.json`. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OTAKIT_CONFIG) return env.OTAKIT_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'otakit', 'config.json');
}

/** Reads the saved config; empty when there is none. */
export async function readConfig(path = configPath()): Promise<SavedConfig> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as SavedConfig;
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch {
    return {};
  }
}

/** Writes the config readable by the owner only (0600). */
export async function writeConfig(config: SavedConfig, path = configPath()): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
}
