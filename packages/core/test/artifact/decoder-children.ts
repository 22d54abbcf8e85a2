/**
 * What the tests of the child-process decoders (xz, zstd) share: their children and socket
 * directories, a wrapper that logs the pid of every run, a payload, and chunked input and output.
 */

import { createHash } from 'node:crypto';
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chunked } from '@otakit/test-support';

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

/** Entries of the temporary directory that the `name` reader creates (`otakit-<name>-*`, its socket directories). */
export async function socketDirs(name: 'unxz' | 'unzstd'): Promise<string[]> {
  return (await readdir(tmpdir())).filter((entry) => entry.startsWith(`otakit-${name}-`));
}

/** Bytes that are half text, half hash output (so the decoder has both kinds of block to decode). */
export function payload(size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let off = 0, n = 0; off < size; n++) {
    const block =
      n % 2 === 0
        ? Buffer.from(`row ${n}: a line of a log file that repeats\n`.repeat(32))
        : createHash('sha512').update(String(n)).digest();
    off += block.copy(out, off);
  }
  return out;
}

/** `data` in chunks of `size` bytes (4 KiB unless told). */
export function chunks(data: Uint8Array, size = 4096): AsyncGenerator<Uint8Array> {
  return chunked(data, size);
}

/** All of a decoder's output, copied (its chunks may be lent). */
export async function decodeAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** Polls `read` until `done` holds (a wrapper logs its pid when the child starts; a killed child is gone once Node has reaped it). */
export async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
