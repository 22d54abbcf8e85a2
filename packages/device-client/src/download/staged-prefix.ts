import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { DeviceError, DeviceErrorCodes } from '../errors.js';

/**
 * A payload file whose bytes an installer keeps (e.g. in the inactive slot): the staged copy of
 * artifact bytes `[start, start + size)` is `path` from `position`, not the staging file.
 */
export interface PlacedSpan {
  payloadIndex: number;
  name: string;
  /** Artifact offset of the file's first byte. */
  start: number;
  size: number;
  /** Where the installer writes the file. */
  path: string;
  /** Offset in `path` of the file's first byte. */
  position: number;
}

/** What is known of a partly downloaded artifact, kept beside the staged bytes. */
export interface StagingMeta {
  /** Which update the bytes belong to. */
  key: string;
  /** Bytes of the artifact known to be on disk (fsynced before this was written). */
  committedBytes: number;
  /** Full size of the artifact, when the server said. */
  totalBytes?: number | undefined;
  /** `ETag` (strong) or `Last-Modified` of the first response, sent as `If-Range`. */
  validator?: string | undefined;
  /**
   * Payload files held by installers instead of the staging file, in artifact order. The staging
   * file holds every other artifact byte, in order.
   */
  placed?: PlacedSpan[] | undefined;
}

/**
 * Streams the committed prefix of a staged download: the staging file's bytes (`partPath`) and, for
 * payload files placed with installers, the bytes already at their targets, in artifact order.
 * @throws DeviceError `ERR_DEVICE_DOWNLOAD` when a piece cannot be read or ends early (never a gap).
 * @internal
 */
export async function* readStagedPrefix(
  meta: StagingMeta | undefined,
  partPath: string,
): AsyncGenerator<Buffer> {
  const end = meta?.committedBytes ?? 0;
  const placed = meta?.placed ?? [];
  let pos = 0;
  let filePos = 0;
  const pieces: { from: number; to: number; path: string; at: number }[] = [];
  for (const p of placed) {
    if (p.start > pos) {
      pieces.push({ from: pos, to: p.start, path: partPath, at: filePos });
    }
    filePos += p.start - pos;
    const to = Math.min(p.start + p.size, end);
    pieces.push({ from: p.start, to, path: p.path, at: p.position });
    pos = p.start + p.size;
  }
  if (end > pos) pieces.push({ from: pos, to: end, path: partPath, at: filePos });
  for (const piece of pieces) {
    if (piece.to <= piece.from) continue;
    const want = piece.to - piece.from;
    let got = 0;
    const stream = createReadStream(piece.path, {
      start: piece.at,
      end: piece.at + want - 1,
      highWaterMark: 1 << 20,
    });
    try {
      for await (const chunk of stream) {
        const buf = chunk as Buffer;
        got += buf.byteLength;
        yield buf;
      }
    } catch (err) {
      throw new DeviceError(DeviceErrorCodes.DOWNLOAD, `cannot read the staged download from ${piece.path}`, {
        cause: err,
      });
    }
    if (got < want) {
      // The installer may already have been told these bytes are in place: never go on past a gap.
      throw new DeviceError(
        DeviceErrorCodes.DOWNLOAD,
        `the staged download lost bytes (${piece.path} ended ${want - got} bytes early)`,
      );
    }
  }
}

/** Whether `path` (a file or a block device) has at least `length` bytes. @internal */
export async function hasBytes(path: string, length: number): Promise<boolean> {
  if (length === 0) return true;
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(path, 'r');
    const { bytesRead } = await fh.read(Buffer.alloc(1), 0, 1, length - 1);
    return bytesRead === 1;
  } catch {
    return false;
  } finally {
    await fh?.close();
  }
}

/** Bytes of the staging file that hold the artifact prefix `[0, end)`. @internal */
export function stagedLength(end: number, placed: readonly PlacedSpan[]): number {
  let n = end;
  for (const p of placed) n -= Math.max(0, Math.min(p.start + p.size, end) - p.start);
  return n;
}
