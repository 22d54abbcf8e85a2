import { readdir, readFile } from 'node:fs/promises';

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
