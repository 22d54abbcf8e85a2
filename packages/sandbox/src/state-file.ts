import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { SandboxError } from './errors.js';
import { dict, emptyState, type SandboxState, STATE_MAPS } from './state.js';

/** Writes a file atomically: a temporary file, fsync, then rename over the target. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Reads `state.json`; an empty state when there is none. Throws `ERR_SANDBOX_STATE` when unreadable. */
export function loadState(path: string): SandboxState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw new SandboxError('ERR_SANDBOX_STATE', `cannot read ${path}`, { cause: err });
  }
  try {
    const parsed = JSON.parse(text) as SandboxState;
    if (parsed.version !== 1) throw new Error(`unsupported state version ${String(parsed.version)}`);
    const state = emptyState();
    for (const key of STATE_MAPS) {
      (state as unknown as Record<string, unknown>)[key] = dict(
        (parsed as unknown as Record<string, Record<string, unknown>>)[key],
      );
    }
    return state;
  } catch (err) {
    throw new SandboxError('ERR_SANDBOX_STATE', `cannot parse ${path}`, { cause: err });
  }
}
