/**
 * Named pipes for the update module `streams` tree: created with `mkfifo`, opened for writing
 * without blocking a libuv thread (poll with O_NONBLOCK until the module opens the read end), and
 * written through a libuv pipe so a slow module applies backpressure.
 */
import { constants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { InstallerError, InstallerErrorCodes } from '../errors.js';
import { runCommand } from '../run-command.js';

/** Creates a FIFO (mode 0600) with the `mkfifo` tool. */
export async function mkfifo(path: string): Promise<void> {
  const result = await runCommand(['mkfifo', '-m', '0600', '--', path], { timeoutMs: 30_000 });
  if (result.code !== 0) {
    throw new InstallerError(
      InstallerErrorCodes.MODULE_FAILED,
      `mkfifo ${path} failed: ${result.stderr.trim()}`,
    );
  }
}

/**
 * Waits until a reader opens the FIFO, then returns a writable socket on it. Returns undefined when
 * `gone()` becomes true first (the reader process exited). Polls with O_NONBLOCK (a blocking open
 * would hold a libuv thread for as long as the module takes), every 1 ms at first, backing off to
 * `maxIntervalMs` (default 50 ms) for a module that takes its time.
 */
export async function openFifoWriter(
  path: string,
  gone: () => boolean,
  maxIntervalMs = 50,
): Promise<Socket | undefined> {
  let interval = 1;
  for (;;) {
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
      if (gone()) return undefined;
      await sleep(interval);
      interval = Math.min(interval * 2, maxIntervalMs);
      continue;
    }
    return new Socket({ fd, readable: false, writable: true });
  }
}

/** Writes `data` (bytes or a stream) to the FIFO socket and closes it. */
export async function writeAndClose(socket: Socket, data: string | Readable): Promise<void> {
  if (typeof data === 'string') {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.end(data, () => resolve());
    });
    socket.destroy();
    return;
  }
  try {
    await pipeline(data, socket);
  } finally {
    socket.destroy();
  }
}
