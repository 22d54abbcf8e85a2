/**
 * Walks the members of an outer artifact tar from a byte stream so that they can be copied
 * unchanged (used by `signArtifact`). It never buffers member content unless asked to.
 */

import { TAR_BLOCK } from './tar-write.js';

/** One member of a tar stream, as seen while copying. */
export interface TarCopyMember {
  /** The member name (USTAR prefix + name). */
  name: string;
  /** The type flag character (`'0'` for a regular file). */
  type: string;
  /** Content size in bytes. */
  size: number;
  /** The raw 512-byte header block. */
  header: Buffer;
}

/** Reads exact byte counts from an async iterable of chunks. */
export class ChunkReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  private async fill(n: number): Promise<void> {
    while (this.bufferedBytes < n && !this.done) {
      const next = await this.iterator.next();
      if (next.done) {
        this.done = true;
        break;
      }
      const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
      if (chunk.length === 0) continue;
      this.buffered.push(chunk);
      this.bufferedBytes += chunk.length;
    }
  }

  private take(n: number): Buffer {
    const all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.buffered = rest.length > 0 ? [rest] : [];
    this.bufferedBytes = rest.length;
    return out;
  }

  /** Reads exactly `n` bytes; resolves with fewer only at the end of the input. */
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    return this.take(Math.min(n, this.bufferedBytes));
  }

  /** Yields exactly `n` bytes in chunks as they arrive; throws if the input ends first. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.bufferedBytes === 0) await this.fill(1);
      if (this.bufferedBytes === 0) throw new RangeError('unexpected end of input');
      const out = this.take(Math.min(left, this.bufferedBytes));
      left -= out.length;
      yield out;
    }
  }

  /** Reads and returns whatever is left of the input (bounded by `limit` bytes). */
  async rest(limit: number): Promise<Buffer> {
    await this.fill(limit + 1);
    return this.take(Math.min(this.bufferedBytes, limit + 1));
  }
}

function parseNumeric(field: Buffer): number {
  if ((field[0]! & 0x80) !== 0) {
    let v = BigInt(field[0]! & 0x7f);
    for (let i = 1; i < field.length; i++) v = (v << 8n) | BigInt(field[i]!);
    return Number(v);
  }
  const text = field
    .toString('ascii')
    .replace(/[\0 ]+.*$/s, '')
    .trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new RangeError(`invalid tar numeric field: ${JSON.stringify(text)}`);
  return Number.parseInt(text, 8);
}

function cString(field: Buffer): string {
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString('utf8');
}

/** Parses a 512-byte header block; `null` for a zero block (end of archive). */
export function parseTarHeader(block: Buffer): TarCopyMember | null {
  if (block.every((b) => b === 0)) return null;
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  if (parseNumeric(block.subarray(148, 156)) !== sum) throw new RangeError('tar header checksum mismatch');
  const name = cString(block.subarray(0, 100));
  const magic = block.subarray(257, 263).toString('ascii');
  const prefix = magic.startsWith('ustar') ? cString(block.subarray(345, 500)) : '';
  return {
    name: prefix ? `${prefix}/${name}` : name,
    type: block[156] === 0 ? '0' : String.fromCharCode(block[156]!),
    size: parseNumeric(block.subarray(124, 136)),
    header: block,
  };
}
