// node:fs's callback API, not node:fs/promises: node:fs is loaded with Node itself, where
// node:fs/promises (and the readline, watcher and dir modules it loads) added about 0.5 MiB to the
// peak RSS of `otakit artifact validate`.
import { close, open, read } from 'node:fs';

/**
 * Bytes read from a file at a time. Measured with `otakit artifact validate` of a 512 MiB
 * uncompressed artifact (bench/artifact.bench.ts, 3 paired runs, medians; peak RSS, CPU time over
 * the hash limit's): 3 x 512 KiB buffers 47.6 MiB, 1.12-1.17x; 3 x 256 KiB 46.7 MiB, 1.17x;
 * 2 x 256 KiB 46.5 MiB, 1.24x; 3 x 128 KiB 46.3 MiB, 1.32x.
 */
export const FILE_CHUNK_BYTES = 256 * 1024;
/**
 * Buffers a {@link readFileChunks} source cycles through: the chunk handed out and the one being
 * read ahead.
 */
const RING = 2;

const openFile = (path: string) =>
  new Promise<number>((resolve, reject) => {
    open(path, 'r', (err, fd) => (err ? reject(err) : resolve(fd)));
  });

const closeFile = (fd: number) =>
  new Promise<void>((resolve, reject) => {
    close(fd, (err) => (err ? reject(err) : resolve()));
  });

/**
 * The chunks of a file, read with positioned reads of {@link FILE_CHUNK_BYTES} while the previous
 * chunk is being consumed (one read ahead, so reading from disk overlaps with hashing and parsing).
 *
 * The chunks are LENT, as the decompressors' are: they are views into {@link RING} reused
 * buffers, so memory stays at two chunks whatever the file size, and a chunk stays intact only
 * until the consumer asks for the next one (which starts reading ahead into its buffer). A
 * consumer that keeps a chunk longer must copy it (the artifact reader copies what it keeps and
 * what it hands to an `onPayloadFile` consumer; its tar and decompressors are done with a chunk
 * when they ask for the next).
 * @internal
 */
export async function* readFileChunks(
  path: string,
  signal?: AbortSignal,
  chunkBytes = FILE_CHUNK_BYTES,
): AsyncGenerator<Uint8Array> {
  signal?.throwIfAborted();
  const fd = await openFile(path);
  const ring = Array.from({ length: RING }, () => Buffer.allocUnsafe(chunkBytes));
  let position = 0;
  let slot = 0;
  const readNext = () => {
    const buffer = ring[slot]!;
    slot = (slot + 1) % RING;
    return new Promise<Uint8Array>((resolve, reject) => {
      read(fd, buffer, 0, chunkBytes, position, (err, bytesRead) => {
        if (err) return reject(err);
        position += bytesRead;
        resolve(buffer.subarray(0, bytesRead));
      });
    });
  };
  let pending: Promise<Uint8Array> | undefined = readNext();
  try {
    for (;;) {
      const chunk = await pending;
      pending = undefined;
      if (chunk.length === 0) return;
      signal?.throwIfAborted();
      // Read ahead into the next buffer while this chunk is consumed.
      pending = readNext();
      yield chunk;
    }
  } finally {
    // A read still in flight must finish before its file descriptor closes.
    await pending?.catch(() => undefined);
    await closeFile(fd);
  }
}
