import { type ByteReader, truncated } from './byte-reader.js';
import { ArtifactError } from './errors.js';

/** The kind of a tar entry. @internal */
export type TarEntryKind =
  | 'file'
  | 'directory'
  | 'symlink'
  | 'hardlink'
  | 'char-device'
  | 'block-device'
  | 'fifo'
  | 'other';

/** One entry of a tar archive, as read from its header(s). @internal */
export interface TarEntry {
  name: string;
  size: number;
  kind: TarEntryKind;
  /** The raw type flag. */
  typeflag: string;
  mode: number;
}

const BLOCK = 512;
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Streaming reader of a POSIX tar archive (ustar, GNU and PAX extensions for long names and
 * sizes) from a {@link ByteReader}. One entry at a time; an entry's body is streamed, never
 * buffered; the rest of an unread body is skipped by the next {@link TarReader.next} call.
 * The end of the archive must be marked by two zero blocks.
 * @internal
 */
export class TarReader {
  private remaining = 0;
  private padding = 0;
  private finished = false;
  private current = '';

  /**
   * @param input the bytes of the archive
   * @param archive the member name used in errors (e.g. `data/0000.tar.gz`, or `artifact` for the outer tar)
   * @param maxMetadataBytes the largest PAX or GNU long-name record accepted
   */
  constructor(
    private readonly input: ByteReader,
    readonly archive: string,
    private readonly maxMetadataBytes: number,
  ) {}

  /** The next entry, or `null` at the end-of-archive marker. */
  async next(): Promise<TarEntry | null> {
    if (this.finished) return null;
    await this.skipRest();
    let longName: string | undefined;
    let paxPath: string | undefined;
    let paxSize: number | undefined;
    for (;;) {
      const block = await this.input.readExact(BLOCK, this.archive);
      if (isZeroTarBlock(block)) {
        const second = await this.input.readExact(BLOCK, this.archive);
        if (!isZeroTarBlock(second)) throw this.invalid('a single zero block inside the archive');
        if (longName !== undefined || paxPath !== undefined || paxSize !== undefined) {
          throw this.invalid('extended header without an entry');
        }
        this.finished = true;
        return null;
      }
      const header = this.parseHeader(block);
      if (header.typeflag === 'g') {
        throw new ArtifactError('ERR_ARTIFACT_UNSUPPORTED_ENTRY', 'a global extended header is not allowed', {
          member: this.archive,
        });
      }
      if (header.typeflag === 'x' || header.typeflag === 'L' || header.typeflag === 'K') {
        if (header.size > this.maxMetadataBytes) {
          throw new ArtifactError('ERR_ARTIFACT_TOO_LARGE', `tar extended header of ${header.size} bytes`, {
            member: this.archive,
          });
        }
        // Parsed before reading on: the body may be a view into a buffer the source reuses.
        const body = await this.input.readExact(header.size, this.archive);
        if (header.typeflag === 'x') {
          const records = parsePax(body, this.archive);
          if (records.path !== undefined) paxPath = records.path;
          if (records.size !== undefined) paxSize = records.size;
        } else if (header.typeflag === 'L') {
          longName = decodeName(trimNul(body), this.archive);
        }
        await this.input.skip(pad(header.size), this.archive);
        continue;
      }
      const name = paxPath ?? longName ?? header.name;
      const size = paxSize ?? header.size;
      const entry: TarEntry = { ...header, name, size };
      // Entries without data (links, devices, directories) still may carry a size in odd archives;
      // only regular files have bodies per POSIX, but we follow the size field like GNU tar does
      // for everything except links and devices.
      const hasBody = entry.kind === 'file' || entry.kind === 'other' || entry.kind === 'directory';
      this.remaining = hasBody ? size : 0;
      this.padding = hasBody ? pad(size) : 0;
      this.current = name;
      return entry;
    }
  }

  /** Streams the body of the current entry in chunks (subarrays of the input; copy to keep). */
  async *body(maxChunk = 1 << 20): AsyncGenerator<Uint8Array> {
    const member = this.current;
    while (this.remaining > 0) {
      const chunk = await this.input.readSome(Math.min(this.remaining, maxChunk));
      if (chunk === undefined) throw truncated(member);
      this.remaining -= chunk.length;
      yield chunk;
    }
    await this.skipPadding();
  }

  /**
   * Where the unread rest of the current entry's body lies: its offset in the input (counted from
   * the input's first byte) and its length. The next {@link TarReader.next} skips it.
   */
  bodyRange(): { offset: number; size: number } {
    return { offset: this.input.position, size: this.remaining };
  }

  /** Reads the whole body of the current entry, which must not be larger than `max` bytes. */
  async readBody(max: number, what: string): Promise<Uint8Array> {
    if (this.remaining > max) {
      throw new ArtifactError(
        'ERR_ARTIFACT_TOO_LARGE',
        `${what} of ${this.remaining} bytes exceeds the limit of ${max}`,
        {
          member: this.current,
        },
      );
    }
    // Copied before reading on: the reader may hand out views into a buffer the source reuses.
    const out = Uint8Array.prototype.slice.call(await this.input.readExact(this.remaining, this.current));
    this.remaining = 0;
    await this.skipPadding();
    return out;
  }

  private async skipPadding(): Promise<void> {
    if (this.padding > 0) {
      const n = this.padding;
      this.padding = 0;
      await this.input.skip(n, this.current);
    }
  }

  private async skipRest(): Promise<void> {
    if (this.remaining > 0) {
      const n = this.remaining;
      this.remaining = 0;
      await this.input.skip(n, this.current);
    }
    await this.skipPadding();
  }

  private parseHeader(block: Uint8Array): TarEntry {
    return parseTarHeader(block, this.archive);
  }

  private invalid(message: string): ArtifactError {
    return new ArtifactError('ERR_ARTIFACT_INVALID_TAR', message, { member: this.archive });
  }
}

/**
 * Parses one ustar/GNU tar header block (checksum, size in octal or base-256, type flag, name with
 * its ustar prefix). Extended headers (PAX, GNU long names) are entries of their own, not applied
 * here: {@link TarReader} applies them.
 *
 * @param archive the member name used in errors
 * @throws {@link ArtifactError} `ERR_ARTIFACT_INVALID_TAR` on a bad checksum, size or name.
 * @internal
 */
export function parseTarHeader(block: Uint8Array, archive: string): TarEntry {
  const invalid = (message: string) =>
    new ArtifactError('ERR_ARTIFACT_INVALID_TAR', message, { member: archive });
  if (block.length !== BLOCK) throw invalid('a tar header is 512 bytes');
  const stored = parseNumber(block.subarray(148, 156));
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored === undefined || (stored !== unsigned && stored !== signed)) {
    throw invalid('not a tar archive or a corrupt tar header (checksum mismatch)');
  }
  const size = parseNumber(block.subarray(124, 136));
  if (size === undefined) throw invalid('invalid size field in a tar header');
  const mode = parseNumber(block.subarray(100, 108)) ?? 0;
  const typeflag = String.fromCharCode(block[156]!);
  const magic = String.fromCharCode(...block.subarray(257, 263));
  let name = decodeName(trimNul(block.subarray(0, 100)), archive);
  if (magic === 'ustar\0') {
    const prefix = decodeName(trimNul(block.subarray(345, 500)), archive);
    if (prefix) name = `${prefix}/${name}`;
  }
  return { name, size, mode, typeflag, kind: kindOf(typeflag, name) };
}

function kindOf(typeflag: string, name: string): TarEntryKind {
  switch (typeflag) {
    case '0':
    case '\0':
    case '7':
      return name.endsWith('/') ? 'directory' : 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '3':
      return 'char-device';
    case '4':
      return 'block-device';
    case '5':
      return 'directory';
    case '6':
      return 'fifo';
    default:
      return 'other';
  }
}

function pad(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

const ZERO_BLOCK = new Uint8Array(BLOCK);

/**
 * Whether a 512-byte block is all zeros: a native compare (a byte loop here is the one hot function
 * V8 optimised when reading an artifact, which alone cost the CLI ~4 MiB of peak RSS).
 * @internal
 */
export function isZeroTarBlock(block: Uint8Array): boolean {
  return block.length === BLOCK && Buffer.compare(block, ZERO_BLOCK) === 0;
}

function trimNul(bytes: Uint8Array): Uint8Array {
  const end = bytes.indexOf(0);
  return end === -1 ? bytes : bytes.subarray(0, end);
}

function decodeName(bytes: Uint8Array, archive: string): string {
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    throw new ArtifactError('ERR_ARTIFACT_INVALID_TAR', 'a tar entry name is not valid UTF-8', {
      member: archive,
      cause,
    });
  }
}

/** Parses an octal (NUL/space terminated) or base-256 numeric field; undefined when invalid. */
function parseNumber(field: Uint8Array): number | undefined {
  if (field.length > 0 && (field[0]! & 0x80) !== 0) {
    if ((field[0]! & 0x40) !== 0) return undefined; // negative
    let value = field[0]! & 0x3f;
    for (let i = 1; i < field.length; i++) {
      value = value * 256 + field[i]!;
      if (value > Number.MAX_SAFE_INTEGER) return undefined;
    }
    return value;
  }
  let text = '';
  for (const b of field) {
    if (b === 0) break;
    text += String.fromCharCode(b);
  }
  text = text.trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return undefined;
  const value = Number.parseInt(text, 8);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Most digits a PAX record length may have (a record can never be longer than the 1 MiB-bounded body anyway). */
const PAX_LENGTH_DIGITS = 16;

/** Parses PAX extended header records (`"<len> <key>=<value>\n"`). */
function parsePax(body: Uint8Array, archive: string): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  let pos = 0;
  const bad = () =>
    new ArtifactError('ERR_ARTIFACT_INVALID_TAR', 'malformed PAX extended header', { member: archive });
  while (pos < body.length) {
    if (body[pos] === 0) break;
    // The length field is decimal digits then a space; it can never need more digits than the
    // body is long, and is read without spreading the bytes into a call (a 130,000-digit field
    // would overflow the stack).
    let len = 0;
    let space = pos;
    for (; space < body.length && body[space] !== 0x20; space++) {
      const digit = body[space]! - 0x30;
      if (digit < 0 || digit > 9 || space - pos >= PAX_LENGTH_DIGITS) throw bad();
      len = len * 10 + digit;
    }
    if (space === pos || space === body.length) throw bad();
    const end = pos + len;
    if (len <= space - pos + 1 || end > body.length || body[end - 1] !== 0x0a) throw bad();
    const record = decodeName(body.subarray(space + 1, end - 1), archive);
    const eq = record.indexOf('=');
    if (eq === -1) throw bad();
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    if (key === 'path') out.path = value;
    else if (key === 'size') {
      if (value.length > PAX_LENGTH_DIGITS || !/^[0-9]+$/.test(value)) throw bad();
      const size = Number.parseInt(value, 10);
      if (!Number.isSafeInteger(size)) throw bad();
      out.size = size;
    }
    pos = end;
  }
  return out;
}
