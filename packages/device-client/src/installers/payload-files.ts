import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
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

/**
 * Streams `stream` into `path` (created or truncated), hashing while writing, and fsyncs the file
 * before returning. The stream is destroyed on error so the producer is released.
 */
export async function writeStreamToFile(
  path: string,
  stream: Readable,
  signal?: AbortSignal,
): Promise<WrittenFile> {
  const fh = await open(path, 'w', 0o644);
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of stream) {
      throwIfAborted(signal);
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      hash.update(buf);
      let off = 0;
      while (off < buf.length) {
        const { bytesWritten } = await fh.write(buf, off, buf.length - off);
        off += bytesWritten;
      }
      size += buf.length;
    }
    await fh.sync();
  } catch (err) {
    stream.destroy();
    throw err;
  } finally {
    await fh.close();
  }
  return { size, sha256: hash.digest('hex') };
}

/**
 * Stores one payload file as `dir/<name>` ({@link writeStreamToFile}), after checking the name is a
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
  return writeStreamToFile(join(dir, file.name), file.stream, signal);
}
