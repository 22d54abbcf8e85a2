/**
 * Minimal USTAR writer, byte-compatible with what Go's `archive/tar` (used by mender-artifact)
 * writes for regular files: 512-byte headers, octal numeric fields, `ustar\0` + `00` magic, no PAX
 * records, two zero blocks at the end and no padding to a record size.
 */

/** Size of a tar block. */
export const TAR_BLOCK = 512;

/** The largest size an 11-digit octal field holds; bigger sizes use GNU base-256 encoding. */
const MAX_OCTAL_SIZE = 0o77777777777;

/** The tar metadata of one regular-file entry. */
export interface TarEntryHeader {
  /** The entry name (at most 100 bytes, or a path that splits into a 155-byte prefix and a name). */
  name: string;
  /** Content size in bytes. */
  size: number;
  /** Permission bits; default 0o600. */
  mode?: number;
  /** Modification time in seconds since the epoch; default 0. */
  mtime?: number;
  /** Owner user name (Go writes `root` for files taken from disk, empty for generated members). */
  uname?: string;
  /** Owner group name. */
  gname?: string;
}

function writeString(buf: Buffer, offset: number, length: number, value: string, field: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new RangeError(`tar ${field} too long: ${value}`);
  bytes.copy(buf, offset);
}

function writeOctal(buf: Buffer, offset: number, length: number, value: number): void {
  // length-1 octal digits, zero padded, then NUL (as Go's formatOctal).
  const digits = value.toString(8).padStart(length - 1, '0');
  buf.write(digits, offset, length - 1, 'ascii');
  buf[offset + length - 1] = 0;
}

function writeBase256(buf: Buffer, offset: number, length: number, value: number): void {
  let v = BigInt(value);
  for (let i = offset + length - 1; i > offset; i--) {
    buf[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  buf[offset] = 0x80;
}

function splitName(name: string): { prefix: string; name: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest.length > 0) {
      return { prefix, name: rest };
    }
  }
  throw new RangeError(`tar name too long: ${name}`);
}

/** Encodes the 512-byte USTAR header of a regular file. */
export function encodeTarHeader(entry: TarEntryHeader): Buffer {
  if (!Number.isSafeInteger(entry.size) || entry.size < 0) {
    throw new RangeError(`invalid tar entry size: ${entry.size}`);
  }
  const buf = Buffer.alloc(TAR_BLOCK);
  const { prefix, name } = splitName(entry.name);
  writeString(buf, 0, 100, name, 'name');
  writeOctal(buf, 100, 8, entry.mode ?? 0o600);
  writeOctal(buf, 108, 8, 0); // uid
  writeOctal(buf, 116, 8, 0); // gid
  if (entry.size > MAX_OCTAL_SIZE) writeBase256(buf, 124, 12, entry.size);
  else writeOctal(buf, 124, 12, entry.size);
  writeOctal(buf, 136, 12, Math.max(0, Math.floor(entry.mtime ?? 0)));
  buf.fill(0x20, 148, 156); // checksum field counts as spaces
  buf[156] = 0x30; // '0' regular file
  buf.write('ustar\0', 257, 'ascii');
  buf.write('00', 263, 'ascii');
  writeString(buf, 265, 32, entry.uname ?? '', 'uname');
  writeString(buf, 297, 32, entry.gname ?? '', 'gname');
  writeOctal(buf, 329, 8, 0); // devmajor
  writeOctal(buf, 337, 8, 0); // devminor
  writeString(buf, 345, 155, prefix, 'prefix');
  let sum = 0;
  for (const byte of buf) sum += byte;
  // Six octal digits, NUL, space: the layout Go and GNU tar use.
  buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return buf;
}

/** The zero bytes that pad an entry of `size` bytes to a whole block. */
export function tarPadding(size: number): Buffer {
  const rest = size % TAR_BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : TAR_BLOCK - rest);
}

/** The end-of-archive marker: two zero blocks. */
export function tarTrailer(): Buffer {
  return Buffer.alloc(2 * TAR_BLOCK);
}

/** A whole small entry (header, content, padding) as one buffer. */
export function tarEntry(entry: Omit<TarEntryHeader, 'size'>, content: Uint8Array): Buffer {
  return Buffer.concat([
    encodeTarHeader({ ...entry, size: content.length }),
    content,
    tarPadding(content.length),
  ]);
}
