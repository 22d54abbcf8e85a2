import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Pids of this process's children running the program `name` (read from /proc). */
export async function childrenNamed(name: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid ...
    const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
    if (m && m[1] === name && Number(m[2]) === process.pid) pids.push(Number(entry));
  }
  return pids;
}

/** Pids of this process's children running `xz`. */
export function xzChildren(): Promise<number[]> {
  return childrenNamed('xz');
}

/** A shell wrapper around a real decoder program that logs the pid of every run. */
export interface PidLoggingWrapper {
  /** The wrapper script, `<dir>/<program>-wrapper.sh`: it appends its pid to `log`, then `exec`s the program (same pid). */
  path: string;
  /** The log file the pids go to (deleting it starts a new count). */
  log: string;
  /** The pids logged so far. */
  pids(): Promise<number[]>;
}

/** Writes a {@link PidLoggingWrapper} for `program` into `dir`. */
export async function pidLoggingWrapper(dir: string, program: string): Promise<PidLoggingWrapper> {
  const log = join(dir, `${program}.log`);
  const path = join(dir, `${program}-wrapper.sh`);
  await writeFile(path, `#!/bin/sh\necho $$ >> '${log}'\nexec ${program} "$@"\n`);
  await chmod(path, 0o755);
  return {
    path,
    log,
    async pids() {
      const text = await readFile(log, 'utf8').catch(() => '');
      return text.split('\n').filter(Boolean).map(Number);
    },
  };
}
