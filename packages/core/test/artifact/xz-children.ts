import { readdir, readFile } from 'node:fs/promises';

/** Pids of this process's children running `xz` (read from /proc). */
export async function xzChildren(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid ...
    const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
    if (m && m[1] === 'xz' && Number(m[2]) === process.pid) pids.push(Number(entry));
  }
  return pids;
}
