// node:fs's callback API, not node:fs/promises: node:fs is loaded with Node itself, where
// node:fs/promises (and the readline, watcher and dir modules it loads) added about 0.5 MiB to the
// peak RSS of `otakit artifact validate`.
import { close, fstat, open, read } from 'node:fs';

/**
 * Bytes read from a file at a time. Measured with `otakit artifact validate` of a 512 MiB
 * uncompressed artifact (bench/artifact.bench.ts, 3 paired runs, medians; peak RSS, CPU time over
 * the hash limit's): 3 x 512 KiB buffers 47.6 MiB, 1.12-1.17x; 3 x 256 KiB 46.7 MiB, 1.17x;
 * 2 x 256 KiB 46.5 MiB, 1.24x; 3 x 128 KiB 46.3 MiB, 1.32x.
 */
export const FILE_CHUNK_BYTES = 256 * 1024;
/**
 * The first read of a file is this long, each next one twice the last, up to the chunk size: an
 * artifact whose data member dd reads (see `range-decoder.ts`) is read here only up to that
 * member, a few KiB, and the pages of buffers never filled are never resident (0.3 MiB less peak
 * RSS for `otakit artifact validate` of a zstd artifact, measured).
 */
const FIRST_READ_BYTES = 64 * 1024;
/**
 * Buffers a {@link readFileChunks} source cycles through: the chunk handed out and the one being
 * read ahead.
 */
const RING = 2;

const openFile = (path: string) =>
  new Promise<number>((resolve, reject) => {
    open(path, 'r', (err, fd) => (err ? reject(err) : resolve(fd)));
  });

const fileSize = (fd: number) =>
  new Promise<number>((resolve, reject) => {
    fstat(fd, (err, stats) => (err ? reject(err) : resolve(stats.size)));
  });

const closeFile = (fd: number) =>
  new Promise<void>((resolve, reject) => {
    close(fd, (err) => (err ? reject(err) : resolve()));
  });

/**
 * The file behind a {@link readFileChunks} source, for readers that can use it directly: a
 * decoder that reads a member's bytes from the file itself (see `range-decoder.ts`), and a skip
 * over those bytes that does not read them.
 * @internal
 */
export interface FileAccess {
  /** The open file descriptor while the source is being read (`undefined` before and after). */
  readonly fd: number | undefined;
  /** The file's size when it was opened (0 before). */
  readonly size: number;
  /**
   * Makes the source's next chunk start `n` bytes after the end of the last chunk it handed out,
   * without reading the bytes in between. False, and nothing changes, when that is past the end
   * of the file (a truncated file: the caller reads on and meets the end).
   */
  skip(n: number): boolean;
}

/** The chunks of a file (see {@link readFileChunks}) and the file itself. @internal */
export type FileChunks = AsyncGenerator<Uint8Array> & { readonly file: FileAccess };

/**
 * The chunks of a file, read with positioned reads of {@link FILE_CHUNK_BYTES} (the first ones
 * shorter, from {@link FIRST_READ_BYTES}) while the previous chunk is being consumed (one read
 * ahead, so reading from disk overlaps with hashing and parsing).
 *
 * The chunks are LENT, as the decompressors' are: they are views into {@link RING} reused
 * buffers, so memory stays at two chunks whatever the file size, and a chunk stays intact only
 * until the consumer asks for the next one (which starts reading ahead into its buffer). A
 * consumer that keeps a chunk longer must copy it (the artifact reader copies what it keeps and
 * what it hands to an `onPayloadFile` consumer; its tar and decompressors are done with a chunk
 * when they ask for the next).
 *
 * `file` gives the open file to readers that can skip bytes without reading them, or read them
 * elsewhere (see {@link FileAccess}).
 * @internal
 */
export function readFileChunks(
  path: string,
  signal?: AbortSignal,
  chunkBytes = FILE_CHUNK_BYTES,
): FileChunks {
  let fd: number | undefined;
  let size = 0;
  /** End (in the file) of the last chunk handed out. */
  let delivered = 0;
  /** Where the next chunk must start, when a skip moved it. */
  let jumpTo: number | undefined;
  const file: FileAccess = {
    get fd() {
      return fd;
    },
    get size() {
      return size;
    },
    skip(n: number): boolean {
      const target = (jumpTo ?? delivered) + n;
      if (fd === undefined || target > size) return false;
      jumpTo = target;
      return true;
    },
  };
  async function* chunks(): AsyncGenerator<Uint8Array> {
    signal?.throwIfAborted();
    const opened = await openFile(path);
    fd = opened;
    const ring = Array.from({ length: RING }, () => Buffer.allocUnsafe(chunkBytes));
    let position = 0;
    let slot = 0;
    let readBytes = Math.min(FIRST_READ_BYTES, chunkBytes);
    const readNext = () => {
      const buffer = ring[slot]!;
      slot = (slot + 1) % RING;
      const length = readBytes;
      readBytes = Math.min(readBytes * 2, chunkBytes);
      return new Promise<Uint8Array>((resolve, reject) => {
        read(opened, buffer, 0, length, position, (err, bytesRead) => {
          if (err) return reject(err);
          position += bytesRead;
          resolve(buffer.subarray(0, bytesRead));
        });
      });
    };
    let pending: Promise<Uint8Array> | undefined;
    try {
      size = await fileSize(opened);
      pending = readNext();
      for (;;) {
        const chunk = await pending;
        pending = undefined;
        if (jumpTo !== undefined) {
          // The chunk read ahead is not wanted: read from where the skip leads instead.
          position = delivered = jumpTo;
          jumpTo = undefined;
          pending = readNext();
          continue;
        }
        if (chunk.length === 0) return;
        signal?.throwIfAborted();
        delivered += chunk.length;
        // Read ahead into the next buffer while this chunk is consumed.
        pending = readNext();
        yield chunk;
      }
    } finally {
      // A read still in flight must finish before its file descriptor closes.
      await pending?.catch(() => undefined);
      fd = undefined;
      await closeFile(opened);
    }
  }
  return Object.assign(chunks(), { file });
}
