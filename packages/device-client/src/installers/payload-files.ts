import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { assertSafeFileName, throwIfAborted } from './durable-fs.js';
import type { PayloadFile } from './types.js';

/**
 * Keeps a payload stream that fails before anyone reads it (the connection drops while the module
 * is still starting) from crashing the process with an unhandled 'error' event. The error is not
 * lost: whoever consumes the stream later sees it (pipeline and async iteration report a stream
 * that already errored).
 */
export function guardStream(stream: Readable): void {
  stream.on('error', () => {});
}

/** What {@link writeStreamToFile} wrote. */
export interface WrittenFile {
  size: number;
  sha256: string;
}

/** Options of {@link writePayloadFile}. */
export interface WritePayloadOptions {
  /**
   * How the target is opened when nothing of the file is in place yet: `'w'` creates or truncates a
   * regular file (default), `'r+'` writes into an existing one (a block device).
   */
  flags?: 'w' | 'r+';
  signal?: AbortSignal | undefined;
}

/**
 * Streams a payload file into `path` from offset 0 and fsyncs it before returning, with the
 * SHA-256 of what it wrote: the file's verified {@link PayloadFile.sha256} when it carries one
 * (the stream ended, so its bytes matched it), else hashed here from every byte. When the file
 * carries a {@link PayloadFile.placement} it is adopted: the agent's checkpoints fsync the written
 * prefix through it and, after a restart, the bytes already in place are not written again (the
 * stream still delivers them, and the reader hashes them). The stream is destroyed on error so the
 * producer is released.
 *
 * Measured (bench/device.bench.ts, 256 MiB): hashing here as well as in the reader took ~0.2 s of
 * the agent's ~2 s download+verify+install, on the one thread that also parses and writes.
 */
export async function writePayloadFile(
  path: string,
  file: Pick<PayloadFile, 'stream' | 'placement' | 'sha256'>,
  options: WritePayloadOptions = {},
): Promise<WrittenFile> {
  const { stream, placement, sha256: verified } = file;
  let fh: FileHandle | undefined;
  let closed = false;
  /** Leading bytes of the file at `path`: written (when not yet synced) or in place. */
  let written = 0;
  let durable = 0;
  let syncing: Promise<unknown> = Promise.resolve();
  const sync = (): Promise<number> => {
    const run = syncing.then(async () => {
      if (!fh || closed) return durable;
      const n = written;
      await fh.sync();
      durable = Math.max(durable, n);
      return durable;
    });
    syncing = run.catch(() => {});
    return run;
  };
  const inPlace = placement?.adopt({ path, position: 0, sync }) ?? 0;
  written = inPlace;
  durable = inPlace;
  const hash = verified === undefined ? createHash('sha256') : undefined;
  let size = 0;
  try {
    fh = await open(path, inPlace > 0 ? 'r+' : (options.flags ?? 'w'), 0o644);
    for await (const chunk of stream) {
      throwIfAborted(options.signal);
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      hash?.update(buf);
      // Bytes below `inPlace` are already there: they are hashed, not written again.
      let off = Math.max(0, Math.min(buf.length, inPlace - size));
      while (off < buf.length) {
        const { bytesWritten } = await fh.write(buf, off, buf.length - off, size + off);
        off += bytesWritten;
      }
      size += buf.length;
      if (size > written) written = size;
    }
    if (inPlace > 0 && (options.flags ?? 'w') === 'w') await fh.truncate(size);
    await sync();
  } catch (err) {
    stream.destroy();
    throw err;
  } finally {
    await syncing;
    closed = true;
    await fh?.close();
  }
  return { size, sha256: hash ? hash.digest('hex') : (verified as string) };
}

/**
 * Streams `stream` into `path` (created or truncated), hashing while writing, and fsyncs the file
 * before returning. The stream is destroyed on error so the producer is released.
 */
export function writeStreamToFile(
  path: string,
  stream: Readable,
  signal?: AbortSignal,
): Promise<WrittenFile> {
  return writePayloadFile(path, { stream }, { signal });
}

/**
 * Stores one payload file as `dir/<name>` ({@link writePayloadFile}, adopting its placement), after checking the name is a
 * plain base name and the context is not aborted; on a refusal the stream is destroyed, so the
 * producer is released.
 */
export async function storePayloadFile(
  dir: string,
  file: PayloadFile,
  signal?: AbortSignal,
): Promise<WrittenFile> {
  guardStream(file.stream);
  try {
    throwIfAborted(signal);
    assertSafeFileName(file.name);
  } catch (err) {
    file.stream.destroy();
    throw err;
  }
  return writePayloadFile(join(dir, file.name), file, { signal });
}
